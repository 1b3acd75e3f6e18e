"""Submit stage: the only writer for the operator key.

Every transaction starts as an intent in the store (written before anything is sent). The
submitter owns the nonce, sends, waits for the receipt, bumps fees on a stuck transaction by
replacing it at the same nonce, and retries with backoff when the RPC is away. Proofs, reveals and
the node's own settlements are batched, many per transaction (settlements one owner per batch).

On restart, `recover()` looks at intents that were sent but not confirmed: a mined transaction is
recorded; otherwise the intent goes back to pending and the chain check in `Node` decides whether
it is still needed (the contracts refuse a second claim, proof or reveal for a replica anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
)

from oracle.chain import Chain
from oracle.errors import SubmitError
from oracle.store import Intent, Store

log = logging.getLogger(__name__)
BATCHED = {"proof": "submitProofs", "reveal": "reveal", "settle": "settleAndWithdraw"}
# Keeper calls anyone may make: when another node's transaction got there first, the contract says
# there is nothing left to do. That is the intent done (by someone else), not a failure.
DONE_BY_OTHERS = {"draw": "JobMarketNothingToDraw", "redraw": "JobMarketNothingToRedraw"}


def _batch_key(intent: Intent) -> str:
    """Intents that may share a transaction: settleAndWithdraw pays one owner per call."""
    return str(intent.payload.get("owner", "")).lower()


class Submitter:
    def __init__(
        self,
        chain: Chain,
        store: Store,
        key: LocalAccount,
        *,
        batch_size: int = 20,
        tx_timeout_s: float = 30.0,
        fee_bump: float = 1.25,
        max_attempts: int = 8,
        on_gas: Callable[[str, int], None] | None = None,
    ):
        self.chain, self.store, self.key = chain, store, key
        self.max_attempts = max_attempts
        self.batch_size, self.tx_timeout_s, self.fee_bump = batch_size, tx_timeout_s, fee_bump
        self.on_gas = on_gas or (lambda kind, gas: None)
        self._nonce: int | None = None
        self.touched: set[int] = set()

    @property
    def address(self) -> str:
        return self.key.address

    # ---------------------------------------------------------------- recovery
    def recover(self) -> None:
        """Settles intents left 'sent' by a crash or by an RPC error while waiting for the receipt."""
        for intent in self.store.intents("sent"):
            try:
                receipt = self.chain.w3.eth.get_transaction_receipt(intent.tx_hash)
            except TransactionNotFound:
                try:
                    self.chain.w3.eth.get_transaction(intent.tx_hash)
                    continue  # still in the mempool: looked at again on the next flush
                except TransactionNotFound:
                    pass
                log.info("intent %d (%s job %s): tx %s not mined; back to pending", intent.id, intent.kind,
                         intent.job_id, intent.tx_hash)
                self.store.finish([intent.id], "pending")
                continue
            status = "done" if receipt["status"] == 1 else "failed"
            self.store.finish([intent.id], status, None if status == "done" else "reverted", receipt["gasUsed"])

    # ---------------------------------------------------------------- sending
    def flush(self, still_needed: Callable[[Intent], bool]) -> int:
        """Sends every pending intent still needed; returns how many transactions were confirmed.
        `self.touched` is left holding the job ids whose intents settled, so the caller can look at
        those jobs again at once instead of a step later."""
        self.recover()  # a 'sent' intent here lost its receipt wait to an RPC error
        self.touched = set()
        pending = [i for i in self.store.intents("pending")]
        for intent in pending:
            if intent.kind not in BATCHED and not still_needed(intent):
                self.store.finish([intent.id], "obsolete")
        pending = [i for i in self.store.intents("pending")]
        groups = [[i] for i in pending if i.kind not in BATCHED]
        for kind in BATCHED:
            group = [i for i in pending if i.kind == kind]
            obsolete = [i.id for i in group if not still_needed(i)]
            if obsolete:
                self.store.finish(obsolete, "obsolete")
            group = [i for i in group if i.id not in obsolete]
            for key in sorted({_batch_key(i) for i in group}):
                same = [i for i in group if _batch_key(i) == key]
                groups += [same[start : start + self.batch_size] for start in range(0, len(same), self.batch_size)]
        if not groups:
            return 0
        # Pipelined: every transaction is sent (consecutive nonces, one fee quote) before any receipt
        # is awaited, so N claims cost one block's wait instead of N. Each intent is still recorded
        # before its send and marked 'sent' with its hash right after, so a crash or RPC error in
        # between leaves exactly what recover() already handles (look the hash up; else pending).
        nonce, fees = self._next_nonce(), self._fees()
        inflight = []
        for group in groups:
            sent = self._dispatch(group, nonce, fees)
            if sent is not None:
                inflight.append(sent)
                nonce += 1
        for sent in inflight:
            self._settle(*sent)
        return len(inflight)

    def _call(self, intents: list[Intent]) -> Any:
        m = self.chain.market
        kind = intents[0].kind
        if kind in ("claim", "accept"):
            fn = m.functions.claim if kind == "claim" else m.functions.acceptSeat
            return fn(intents[0].job_id, intents[0].node_id)
        if kind == "proof":
            # Our own proofs (we are the nodes' current operator and send them ourselves): one batch
            # with no signature; a key rotation cannot make it stale.
            items = [(i.job_id, i.node_id, bytes.fromhex(i.payload["commitment"])) for i in intents]
            return m.functions.submitProofs([(items, b"")])
        if kind == "settle":
            return m.functions.settleAndWithdraw([i.job_id for i in intents])
        if kind == "reveal":
            return m.functions.reveal(
                [(i.job_id, i.node_id, bytes.fromhex(i.payload["result"]), bytes.fromhex(i.payload["salt"]))
                 for i in intents]
            )
        if kind in ("finalize", "expire", "draw", "redraw"):
            return getattr(m.functions, kind)(intents[0].job_id)
        if kind == "accept_operator":
            return self.chain.registry.functions.acceptOperator(intents[0].node_id)
        if kind == "announce":
            return self.chain.registry.functions.announceEndpoint(intents[0].node_id, intents[0].payload["url"])
        if kind == "heartbeat":
            return self.chain.rewards.functions.heartbeat(intents[0].payload["node_ids"])
        raise SubmitError(f"unknown intent kind {kind!r}")

    def _dispatch(self, intents: list[Intent], nonce: int, fees: dict[str, int]):
        """Estimates and sends one transaction at `nonce`; None (and the intents failed) if the chain
        refuses it already at the estimate."""
        ids = [i.id for i in intents]
        kind = intents[0].kind
        call = self._call(intents)
        try:
            gas = int(call.estimate_gas({"from": self.address}) * 1.3) + 20_000
        except (ContractLogicError, ContractCustomError) as err:
            # The chain says no (someone else filled the job, a deadline passed...): nothing to send.
            reason = self._reason(err)
            log.info("%s job %s not sent: %s", kind, intents[0].job_id, reason)
            done = kind in DONE_BY_OTHERS and DONE_BY_OTHERS[kind] in reason
            self.store.finish(ids, "done" if done else "failed", reason)
            self.touched.update(i.job_id for i in intents if i.job_id is not None)
            return None
        tx_hash = self._sign_send(call, ids, gas, nonce, fees)
        return intents, call, gas, nonce, fees, tx_hash

    def _sign_send(self, call: Any, ids: list[int], gas: int, nonce: int, fees: dict[str, int]) -> str:
        tx = call.build_transaction({"from": self.address, "nonce": nonce, "gas": gas, "chainId": self.chain.chain_id, **fees})
        signed = self.key.sign_transaction(tx)
        tx_hash = self.chain.w3.eth.send_raw_transaction(signed.raw_transaction).hex()
        self.store.mark_sent(ids, tx_hash, nonce)
        return tx_hash

    def _settle(self, intents: list[Intent], call: Any, gas: int, nonce: int, fees: dict[str, int], tx_hash: str) -> None:
        ids = [i.id for i in intents]
        kind = intents[0].kind
        w3 = self.chain.w3
        for attempt in range(6):
            try:
                receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.tx_timeout_s, poll_latency=0.2)
                break
            except TimeExhausted:
                if attempt == 5:
                    raise SubmitError(f"{kind} transaction at nonce {nonce} not mined after fee bumps") from None
                fees = {k: int(v * self.fee_bump) + 1 for k, v in fees.items()}
                log.warning("%s tx %s stuck after %.0fs: replacing at nonce %d with higher fees (attempt %d)",
                            kind, tx_hash, self.tx_timeout_s, nonce, attempt + 1)
                tx_hash = self._sign_send(call, ids, gas, nonce, fees)
        self._nonce = max(self._nonce or 0, nonce + 1)
        self.touched.update(i.job_id for i in intents if i.job_id is not None)
        ok = receipt["status"] == 1
        used = int(receipt["gasUsed"])
        self.on_gas(kind, used)
        jobs = ",".join(str(i.job_id) for i in intents)
        if not ok and used >= gas * 0.95 and max(i.attempts for i in intents) + 1 < self.max_attempts:
            # Out of gas: the estimate was taken before other replicas' transactions changed what this
            # one does (the last reveal of a round settles and pays it). Back to pending: the next
            # flush asks the chain whether it is still needed and estimates again.
            log.warning("%s x%d for job(s) %s ran out of gas (%d of %d): retrying", kind, len(ids), jobs, used, gas)
            self.store.finish(ids, "pending", "out of gas", used)
            return
        self.store.finish(ids, "done" if ok else "failed", None if ok else "reverted", used)
        log.info("%s x%d for job(s) %s: %s, gas %d of %d", kind, len(ids), jobs, "mined" if ok else "REVERTED", used, gas)

    def _next_nonce(self) -> int:
        chain_nonce = self.chain.w3.eth.get_transaction_count(self.address, "pending")
        if self._nonce is not None and chain_nonce < self._nonce:
            # A transaction we saw mined is gone (a reorg dropped it): reusing our count would leave a
            # nonce gap that blocks every later transaction. The chain is the truth.
            log.warning("chain nonce %d is behind ours (%d): a reorg dropped a transaction", chain_nonce, self._nonce)
        self._nonce = chain_nonce
        return self._nonce

    def _fees(self) -> dict[str, int]:
        w3 = self.chain.w3
        base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
        tip = max(w3.eth.max_priority_fee, 0) if base else 0
        return {"maxFeePerGas": 2 * base + tip + 1, "maxPriorityFeePerGas": tip}


    def _reason(self, err: Exception) -> str:
        """The revert reason, with a custom error's name decoded from the contracts' ABIs."""
        reason = _reason(err)
        data = getattr(err, "data", None)
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            name = self._error_names().get(data[2:10].lower())
            if name:
                reason = f"{name}: {reason}"
        return reason

    def _error_names(self) -> dict[str, str]:
        if not hasattr(self, "_errors"):
            self._errors = {}
            for abi in self.chain.abis.values():
                for e in abi:
                    if e.get("type") == "error":
                        sig = f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"
                        self._errors[keccak(text=sig)[:4].hex()] = e["name"]
        return self._errors


def _reason(err: Exception) -> str:
    data = getattr(err, "data", None)
    msg = getattr(err, "message", None) or str(err)
    return f"{msg} ({data})" if data and str(data) not in msg else msg
