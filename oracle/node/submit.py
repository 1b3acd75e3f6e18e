"""Submit stage: the only writer for the operator key.

Every transaction starts as an intent in the store (written before anything is sent). The
submitter owns the nonce, sends, waits for the receipt, bumps fees on a stuck transaction by
replacing it at the same nonce, and retries with backoff when the RPC is away. Proofs, reveals and
the node's own settlements are batched, many per transaction (settlements one owner per batch).
Gas limits: `eth_estimateGas`, or our own receipts for proof and settlement batches (gas_limits.py).

Job terms. Claims, settlements and keeper expiries name their job by its terms, which the node's
store kept from the job's `JobCreated` (calls.py builds every call from them). An intent whose
job's terms the store does not have, or which no longer hash to its id, is never sent: it is
dropped (`failed`, with the reason) and an error logged, and the rest of its batch goes on.

Confirmations and reorgs. With `confirmations` = 0 an intent is done at its receipt. Otherwise a
successful receipt makes it `mined` (block number and hash recorded) and every flush looks again:
done once `confirmations` blocks are on top of that block and it is still the canonical one; if a
reorg took the transaction out of the chain first, the intent goes back to `sent` (the transaction
is back in the mempool) or to `pending`, and the node's chain check decides whether it is still
needed, so a dropped claim, proof or reveal is sent again. An intent for a job waits while an
earlier intent for the same job is about to be sent (a claim and its proof dropped together: the
proof is judged once the claim is back on chain, not thrown away as unneeded before it).

Fees. A transaction without a receipt after `tx_timeout_s` is replaced at the same nonce with fees
`fee_bump` times higher, a few times within one flush and then once per `tx_timeout_s` on later
flushes (not blocking the loop), never above `max_fee_wei` (the operator's `max_fee_gwei`). The
current fees, gas limit and bump count are stored with the intent, so a restarted node bumps on
from the last fee. At the cap the transaction waits, with an error in the log naming the setting to
raise; nothing is given up, and later flushes look at it again.

Nonces. The chain's pending nonce is the truth at every flush; when it is behind ours a reorg
dropped a transaction (warned), and when it is ahead someone else sent with this key (warned, with
the address and both nonces).

On restart, `recover()` looks at intents that were sent but not confirmed: a mined transaction is
recorded; one still in the mempool is bumped if it waited too long; otherwise the intent goes back
to pending and the chain check in `Node` decides whether it is still needed (the contracts refuse a
second claim, proof or reveal for a replica anyway).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3Exception,
)

from oracle.core.chain import Chain, TxStatus, wait_for_receipt
from oracle.core.reverts import decode_revert, error_table
from oracle.node.calls import JobArgs, UnknownTerms, contract_call
from oracle.node.fees import GWEI, FeeRule, gwei
from oracle.node.gas_limits import GasLimits
from oracle.node.store import Intent, IntentKind, IntentStatus, Store

log = logging.getLogger(__name__)
BATCHED = {
    IntentKind.PROOF: "submitProofs",
    IntentKind.REVEAL: "reveal",
    IntentKind.SETTLE: "settleAndWithdraw",
}
# Keeper calls anyone may make: when another node's transaction got there first, the contract says
# there is nothing left to do. That is the intent done (by someone else), not a failure.
DONE_BY_OTHERS = {
    IntentKind.DRAW: "JobMarketNothingToDraw",
    IntentKind.REDRAW: "JobMarketNothingToRedraw",
}
OURS_KEPT = 10_000


def _batch_key(intent: Intent) -> str:
    """Intents that may share a transaction: settleAndWithdraw pays one owner per call."""
    return str(intent.payload.get("owner", "")).lower()


def _by_tx(intents: list[Intent]) -> dict[HexStr, list[Intent]]:
    groups: dict[HexStr, list[Intent]] = {}
    for i in intents:
        groups.setdefault(HexStr(str(i.tx_hash)), []).append(i)
    return groups


def _hex(value: Any) -> str:
    return value.hex() if hasattr(value, "hex") else str(value)


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
        max_fee_wei: int = 1_000 * GWEI,
        confirmations: int = 0,
        bumps_per_flush: int = 5,
        on_gas: Callable[[str, int], None] | None = None,
        latest: Callable[[], Any] | None = None,
    ):
        self.chain, self.store, self.key = chain, store, key
        self.max_attempts = max_attempts  # sends of one intent that ran out of gas, before it fails
        self.batch_size, self.tx_timeout_s = batch_size, tx_timeout_s
        self.confirmations = confirmations
        self.fee_rule = FeeRule(fee_bump, max_fee_wei)
        self.bumps_per_flush = bumps_per_flush
        self.on_gas = on_gas or (lambda kind, gas: None)
        # The head block, if the caller reads it anyway this phase (the node's view): the fee
        # quote's base fee comes from it instead of one more request.
        self.latest = latest or (lambda: self.chain.w3.eth.get_block("latest"))
        self._nonce: int | None = None
        # Proof and settlement batches skip stale items instead of reverting: their gas limit comes
        # from our receipts, not one eth_estimateGas per send (gas_limits.py says why it is safe).
        self.gas_limits = GasLimits()
        self.job_args = JobArgs(store)  # job id -> what its call takes (its terms, or the id)
        self._unknown: set[tuple[str, int]] = set()  # (kind, job) whose missing terms were logged
        self._capped: set[str] = set()  # tx hashes whose fee-cap or can't-replace error was logged
        self.touched: set[int] = set()
        # Hashes of our recent mined transactions (oldest first): the node does not read a job
        # again for an event its own transaction emitted, having read it after the receipt.
        self.ours: dict[str, None] = {}
        self.wait_receipt = wait_for_receipt  # (w3, tx hash, timeout s) -> receipt | TimeExhausted
        # This flush's successful receipts (what the node learns from).
        self.receipts: list[Any] = []

    @property
    def address(self) -> ChecksumAddress:
        return self.key.address

    # ---------------------------------------------------------------- recovery
    def recover(self) -> None:
        """Settles intents left 'sent' by a crash, by an RPC error while waiting for the receipt, or
        by a flush that stopped waiting (fee cap, bumps of this flush used up): a receipt is
        recorded; a transaction still in the mempool is replaced with higher fees once it has
        waited `tx_timeout_s` since its last send; one the chain no longer knows goes back to
        pending."""
        for tx_hash, group in _by_tx(self.store.intents(IntentStatus.SENT)).items():
            first = group[0]
            try:
                receipt = self.chain.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                receipt = None
            if receipt is not None:
                self._record(group, receipt, first.gas_limit)
                continue
            try:
                tx = self.chain.w3.eth.get_transaction(tx_hash)
            except TransactionNotFound:
                tx = None
            if tx is None:
                log.info(
                    "intent(s) %s (%s job %s): tx %s not mined; back to pending",
                    ",".join(str(i.id) for i in group),
                    first.kind,
                    first.job_id,
                    tx_hash,
                )
                self.store.finish([i.id for i in group], IntentStatus.PENDING)
                continue
            # Still in the mempool: bump it once it has waited long enough (after a restart too).
            if first.sent_at is None or time.time() - first.sent_at >= self.tx_timeout_s:
                fees = {
                    "maxFeePerGas": first.max_fee
                    if first.max_fee is not None
                    else int(tx.get("maxFeePerGas", 0)),
                    "maxPriorityFeePerGas": first.priority_fee
                    if first.priority_fee is not None
                    else int(tx.get("maxPriorityFeePerGas", 0)),
                }
                gas = first.gas_limit or int(tx["gas"])
                nonce = first.nonce if first.nonce is not None else int(tx["nonce"])
                try:
                    call = contract_call(self.chain, group, self.job_args)
                except UnknownTerms as err:
                    # Sent with terms the store no longer gives back (a row changed on disk): the
                    # same call cannot be rebuilt, so it is not replaced; it waits as it is.
                    if tx_hash not in self._capped:
                        self._capped.add(tx_hash)
                        log.error("%s tx %s cannot be replaced: %s", first.kind, tx_hash, err)
                    continue
                self._bump(group, call, gas, nonce, fees, tx_hash, first.bumps)

    def confirm(self) -> None:
        """Looks at every mined intent's transaction again: done once `confirmations` blocks are on
        top of its block and that block is still canonical; back to 'sent' (the transaction is in
        the mempool again) or 'pending' (it is gone) when a reorg took it out of the chain."""
        mined = self.store.intents(IntentStatus.MINED)
        if not mined:
            return
        w3 = self.chain.w3
        head = int(w3.eth.block_number)
        canonical: dict[int, str | None] = {}

        def canonical_hash(number: int) -> str | None:
            if number not in canonical:
                try:
                    canonical[number] = (
                        _hex(w3.eth.get_block(number)["hash"]) if number <= head else None
                    )
                except BlockNotFound:
                    canonical[number] = None
            return canonical[number]

        for tx_hash, group in _by_tx(mined).items():
            ids = [i.id for i in group]
            first = group[0]
            jobs = _subjects(group)
            try:
                receipt = w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                receipt = None
            if receipt is not None and canonical_hash(int(receipt["blockNumber"])) != _hex(
                receipt["blockHash"]
            ):
                receipt = None  # a receipt from a block that was replaced
            if receipt is None:
                self.touched.update(i.job_id for i in group if i.job_id is not None)
                try:
                    w3.eth.get_transaction(tx_hash)
                    back = (
                        IntentStatus.SENT  # the reorg put it back in the mempool: its receipt is awaited again
                    )
                except TransactionNotFound:
                    back = IntentStatus.PENDING  # sent again if the chain check still needs it
                log.warning(
                    "reorg: %s x%d for %s (tx %s, block %s) is no longer in the chain; back to %s",
                    first.kind,
                    len(ids),
                    jobs,
                    tx_hash,
                    first.block_number,
                    back,
                )
                self.store.finish(ids, back, "reorged out")
                continue
            number, block_hash = int(receipt["blockNumber"]), _hex(receipt["blockHash"])
            if receipt["status"] != TxStatus.SUCCESS:
                log.warning(
                    "reorg: %s x%d for %s (tx %s) was mined again in block %d and reverted",
                    first.kind,
                    len(ids),
                    jobs,
                    tx_hash,
                    number,
                )
                self.store.finish(
                    ids, IntentStatus.FAILED, "reverted after a reorg", int(receipt["gasUsed"])
                )
                self.touched.update(i.job_id for i in group if i.job_id is not None)
                continue
            if (number, block_hash) != (first.block_number, first.block_hash):
                log.info(
                    "reorg: %s for %s (tx %s) moved from block %s to block %d",
                    first.kind,
                    jobs,
                    tx_hash,
                    first.block_number,
                    number,
                )
                self.store.mark_mined(ids, number, block_hash, int(receipt["gasUsed"]))
            if head - number >= self.confirmations:
                self.store.finish(ids, IntentStatus.DONE, None, int(receipt["gasUsed"]))
                log.debug(
                    "%s x%d for %s confirmed (%d blocks)",
                    first.kind,
                    len(ids),
                    jobs,
                    head - number,
                )

    # ---------------------------------------------------------------- sending
    def flush(self, still_needed: Callable[[Intent], bool]) -> int:
        """Sends every pending intent still needed; returns how many transactions were sent.
        `self.touched` is left holding the job ids whose intents settled, so the caller can look at
        those jobs again at once instead of a step later."""
        self.touched = set()
        self.receipts = []
        self.recover()  # a 'sent' intent here lost its receipt wait to an RPC error, or is stuck
        self.confirm()  # mined intents: confirmed, or sent back by a reorg (and judged below)
        # In creation order; an intent waits while an earlier one for the same job is to be sent
        # now (its effect is what the later one's chain check looks for).
        ready: list[Intent] = []
        sending: set[int] = set()
        for intent in self.store.intents(IntentStatus.PENDING):
            if intent.job_id is not None and intent.job_id in sending:
                continue
            if not still_needed(intent):
                self.store.finish([intent.id], IntentStatus.OBSOLETE)
                continue
            if not self._buildable(intent):
                continue
            ready.append(intent)
            if intent.job_id is not None:
                sending.add(intent.job_id)
        groups = [[i] for i in ready if i.kind not in BATCHED]
        for kind in BATCHED:
            group = [i for i in ready if i.kind == kind]
            for key in sorted({_batch_key(i) for i in group}):
                # One node's jobs side by side: settleAndWithdraw checks the caller, releases the
                # collateral and drains the earnings once per run of one node, not per job.
                same = sorted(
                    (i for i in group if _batch_key(i) == key), key=lambda i: (i.node_id or 0, i.id)
                )
                groups += [
                    same[start : start + self.batch_size]
                    for start in range(0, len(same), self.batch_size)
                ]
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
                self._nonce = nonce
        waiting = True
        for sent in inflight:
            # Once one transaction stays unmined (fee cap, or this flush's bumps used up), the later
            # nonces cannot be mined before it: they stay 'sent' and the next flushes look again.
            waiting = waiting and self._settle(*sent)
        return len(inflight)

    def _buildable(self, intent: Intent) -> bool:
        """False (the intent dropped: failed, an error logged) if its call needs its job's terms
        and the store does not have them, or has terms that do not hash to the job's id."""
        try:
            self.job_args.check(intent)
            return True
        except UnknownTerms as err:
            first = (intent.kind, err.job_id) not in self._unknown
            self._unknown.add((intent.kind, err.job_id))
            # Once per job and kind per process at error level: the loop may ask again each step.
            log.log(
                logging.ERROR if first else logging.DEBUG,
                "%s intent %d not sent: %s (the market takes the job's terms, not its id)",
                intent.kind,
                intent.id,
                err,
            )
            self.store.finish([intent.id], IntentStatus.FAILED, f"job terms unknown: {err}")
            return False

    def _dispatch(self, intents: list[Intent], nonce: int, fees: dict[str, int]):
        """Sizes (from receipts, else an estimate) and sends one transaction at `nonce`; None (and
        the intents failed) if the chain refuses it already at the estimate."""
        ids = [i.id for i in intents]
        kind = intents[0].kind
        try:
            call = contract_call(self.chain, intents, self.job_args)
        except UnknownTerms:  # checked in flush; a row changed on disk since: drop those items
            for intent in intents:
                self._buildable(intent)  # the others stay pending, sent next flush
            return None
        try:
            gas, learned = self.gas_limits.size(kind, len(intents), call, self.address)
        except (ContractLogicError, ContractCustomError) as err:
            # The chain says no (someone else filled the job, a deadline passed...): nothing to send.
            reason = self._reason(err)
            log.info("%s job %s not sent: %s", kind, intents[0].job_id, reason)
            done = kind in DONE_BY_OTHERS and DONE_BY_OTHERS[kind] in reason
            self.store.finish(ids, IntentStatus.DONE if done else IntentStatus.FAILED, reason)
            self.touched.update(i.job_id for i in intents if i.job_id is not None)
            return None
        tx_hash = self._sign_send(call, ids, gas, nonce, fees)
        return intents, call, gas, nonce, fees, tx_hash, learned

    def _sign_send(
        self,
        call: Any,
        ids: list[int],
        gas: int,
        nonce: int,
        fees: dict[str, int],
        bump: bool = False,
    ) -> str:
        tx = call.build_transaction(
            {
                "from": self.address,
                "nonce": nonce,
                "gas": gas,
                "chainId": self.chain.chain_id,
                **fees,
            }
        )
        signed = self.key.sign_transaction(tx)
        tx_hash = _hex(self.chain.w3.eth.send_raw_transaction(signed.raw_transaction))
        self.store.mark_sent(ids, tx_hash, nonce, fees=fees, gas=gas, bump=bump)
        return tx_hash

    def _settle(
        self,
        intents: list[Intent],
        call: Any,
        gas: int,
        nonce: int,
        fees: dict[str, int],
        tx_hash: str,
        learned: bool,
    ) -> bool:
        """Waits for the receipt, replacing the transaction with higher fees after each
        `tx_timeout_s` without one (at most `bumps_per_flush` times here); False if it is still
        unmined (left 'sent': the next flush's recover() looks again and bumps on)."""
        w3 = self.chain.w3
        bumps = 0
        while True:
            try:
                receipt = self.wait_receipt(w3, HexStr(tx_hash), self.tx_timeout_s)
                break
            except TimeExhausted:
                if bumps >= self.bumps_per_flush:
                    log.warning(
                        "%s tx %s at nonce %d still not mined after %d fee bumps; looked at again next step",
                        intents[0].kind,
                        tx_hash,
                        nonce,
                        bumps,
                    )
                    return False
                replaced = self._bump(intents, call, gas, nonce, fees, tx_hash, bumps)
                if replaced is None:
                    return False
                fees, tx_hash = replaced
                bumps += 1
        self._nonce = max(self._nonce or 0, nonce + 1)
        self._record(intents, receipt, gas, estimated=not learned)
        return True

    def _record(
        self, intents: list[Intent], receipt: Any, gas: int | None, estimated: bool = False
    ) -> None:
        """Records a receipt: done (or mined, to be confirmed), failed, or back to pending when the
        transaction ran out of gas. `estimated`: its gas limit is known to come from an estimate."""
        ids = [i.id for i in intents]
        kind = intents[0].kind
        self.touched.update(i.job_id for i in intents if i.job_id is not None)
        if receipt["status"] == TxStatus.SUCCESS:
            self.receipts.append(receipt)
        if receipt.get("transactionHash") is not None:
            self.ours[_hex(receipt["transactionHash"]).lower().removeprefix("0x")] = None
            while len(self.ours) > OURS_KEPT:
                del self.ours[next(iter(self.ours))]
        ok = receipt["status"] == TxStatus.SUCCESS
        used = int(receipt["gasUsed"])
        self.on_gas(kind, used)
        self.gas_limits.record(kind, len(intents), used, ok=ok, estimated=estimated)
        jobs = _subjects(intents)
        out_of_gas = not ok and gas and used >= gas * 0.95
        if out_of_gas and max(i.attempts for i in intents) + 1 < self.max_attempts:
            # Out of gas: the estimate was taken before other replicas' transactions changed what this
            # one does (the last reveal of a round settles and pays it), or the limit learned from
            # receipts was short. Back to pending: the next flush asks the chain whether it is still
            # needed and estimates again (gas_limits.record made sure of it for a learned kind).
            log.warning(
                "%s x%d for %s ran out of gas (%d of %d): retrying",
                kind,
                len(ids),
                jobs,
                used,
                gas,
            )
            self.store.finish(ids, IntentStatus.PENDING, "out of gas", used)
            return
        if ok and self.confirmations > 0:
            number = int(receipt["blockNumber"])
            self.store.mark_mined(ids, number, _hex(receipt["blockHash"]), used)
            log.info(
                "%s x%d for %s: mined in block %d, gas %d of %s; done after %d confirmations",
                kind,
                len(ids),
                jobs,
                number,
                used,
                gas,
                self.confirmations,
            )
            return
        self.store.finish(
            ids, IntentStatus.DONE if ok else IntentStatus.FAILED, None if ok else "reverted", used
        )
        log.info(
            "%s x%d for %s: %s, gas %d of %s",
            kind,
            len(ids),
            jobs,
            "mined" if ok else "REVERTED",
            used,
            gas,
        )

    def _bump(
        self,
        intents: list[Intent],
        call: Any,
        gas: int,
        nonce: int,
        fees: dict[str, int],
        tx_hash: str,
        bumps: int,
    ) -> tuple[dict[str, int], str] | None:
        """Replaces the stuck transaction at `nonce` with higher fees: (fees, new hash), or None
        when it cannot be (at the fee cap: an error naming the setting; the node refused the
        replacement, e.g. the old one was just mined) and the transaction keeps waiting."""
        kind = intents[0].kind
        new = self.fee_rule.bumped(fees, self._fees())
        if new is None:
            if tx_hash not in self._capped:
                self._capped.add(tx_hash)
                log.error(
                    "%s tx %s at nonce %d is not mined and its max fee (%s) cannot be raised: the cap is "
                    "max_fee_gwei = %g (TES_MAX_FEE_GWEI); raise it to get this and every later transaction "
                    "mined. It keeps waiting.",
                    kind,
                    tx_hash,
                    nonce,
                    gwei(fees.get("maxFeePerGas", 0)),
                    self.fee_rule.cap_wei / GWEI,
                )
            return None
        log.warning(
            "%s tx %s stuck after %.0fs: replacing at nonce %d with max fee %s (bump %d)",
            kind,
            tx_hash,
            self.tx_timeout_s,
            nonce,
            gwei(new["maxFeePerGas"]),
            bumps + 1,
        )
        try:
            return new, self._sign_send(call, [i.id for i in intents], gas, nonce, new, bump=True)
        except (ValueError, Web3Exception) as err:
            log.warning(
                "replacing %s tx %s at nonce %d refused (%s): it keeps waiting",
                kind,
                tx_hash,
                nonce,
                err,
            )
            return None

    def _next_nonce(self) -> int:
        chain_nonce = self.chain.w3.eth.get_transaction_count(self.address, "pending")
        expected = self._nonce
        if expected is None:
            last = self.store.last_nonce()  # after a restart: the last nonce this node sent with
            expected = None if last is None else last + 1
        if expected is not None and chain_nonce < expected and self._nonce is not None:
            # A transaction we saw mined is gone (a reorg dropped it): reusing our count would leave a
            # nonce gap that blocks every later transaction. The chain is the truth.
            log.warning(
                "chain nonce %d is behind ours (%d): a reorg dropped a transaction",
                chain_nonce,
                expected,
            )
        elif expected is not None and chain_nonce > expected:
            log.warning(
                "the nonce of %s moved by someone else: the chain's pending nonce is %d but this node "
                "expected %d; another process or wallet is sending with this key (run one node per key)",
                self.address,
                chain_nonce,
                expected,
            )
        self._nonce = chain_nonce
        return self._nonce

    def _fees(self) -> dict[str, int]:
        head = self.latest()
        self.gas_limits.block_gas_limit = head.get("gasLimit")  # caps a limit learned from receipts
        tip = self.chain.w3.eth.max_priority_fee if head.get("baseFeePerGas") else 0
        return self.fee_rule.quote(head, tip)

    def _reason(self, err: Exception) -> str:
        """The revert reason, led by the custom error decoded from the contracts' ABIs
        (`oracle.core.reverts`: `JobMarketWrongStatus(jobId=3, status=Paid): ...`)."""
        if not hasattr(self, "_errors"):
            self._errors = error_table(self.chain.abis.values())
        revert = decode_revert(err, self._errors)
        return f"{revert}: {_reason(err)}" if revert else _reason(err)


def _reason(err: Exception) -> str:
    data = getattr(err, "data", None)
    msg = getattr(err, "message", None) or str(err)
    return f"{msg} ({data})" if data and str(data) not in msg else msg


def _subjects(intents: list[Intent]) -> str:
    """What a log line names: the jobs, or the licences of job-less intents (heartbeat, announce)."""
    jobs = [str(i.job_id) for i in intents if i.job_id is not None]
    if jobs:
        return "job(s) " + ",".join(jobs)
    nodes = [
        n for i in intents for n in (i.payload.get("node_ids") or [i.node_id]) if n is not None
    ]
    return "node(s) " + ",".join(str(n) for n in nodes)
