"""The submitter against a small fake chain (blocks, a mempool, reorgs, a fee floor): an intent is
done only after its confirmations on the canonical chain and sent again when a reorg removes it;
fee bumps persist across restarts and stop at the operator's cap without wedging the queue; a
nonce moved by someone else is reported. Claims, settlements and expiries carry their job's terms
(the fake market checks they hash to the job's id), read from the node's store; an intent whose
job's terms the store does not have is dropped with an error, never sent."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak
from hexbytes import HexBytes
from web3.exceptions import BlockNotFound, ContractLogicError, TimeExhausted, TransactionNotFound

from oracle.core.protocol import Capabilities, JobTerms
from oracle.node.gas_limits import OVERHEAD, SAFETY, from_estimate
from oracle.node.store import INTENT_COLUMNS, IntentKind, Store
from oracle.node.submit import GWEI, Submitter

KEY = Account.from_key("0x" + "42" * 32)
GAS_USED = 40_000


def terms(n: int) -> JobTerms:
    """Job number `n`'s terms (its nonce is n): its id is their hash."""
    return JobTerms(client="0x" + "11" * 20, bundleHash=b"\x22" * 32, payment=10**19,
                    collateral=10**18, replicas=1, claimDeadline=10**9, protocolFeeBps=500,
                    keeperBountyBps=100, requirements=Capabilities(1, 512, 0, 0, 0), claimWindow=60,
                    executionWindow=600, revealWindow=60, disputeWindow=60, nonce=n)  # fmt: skip


def J(n: int) -> int:
    """Job number `n`'s id."""
    return terms(n).job_id


def job(store: Store, n: int) -> int:
    """Job number `n` as ingest leaves it in the store (with its terms); its id."""
    if store.job(J(n)) is None:
        store.add_job(J(n), terms(n), "file:///b.tar.gz", 1)
    return J(n)


def id_of(t: tuple) -> int:
    """What the market does with the terms it is handed: hashes them to the job's id."""
    return JobTerms(*t[:8], Capabilities(*t[8]), *t[9:]).job_id


# ---------------------------------------------------------------------- a fake chain
class FakeCall:
    def __init__(self, name: str, args: tuple, chain: FakeChain):
        self.name, self.args, self.chain = name, args, chain

    def jobs(self) -> list[int]:
        if self.name == "submitProofs":
            return [item[0] for item in self.args[0][0][0]]
        if self.name in ("claim", "expire", "finalize"):  # by terms
            return [id_of(self.args[0])]
        if self.name == "settleAndWithdraw":
            return [id_of(t) for t in self.args[0]]
        if self.name in ("acceptSeat", "draw", "redraw"):
            return [self.args[0]]
        return []

    def estimate_gas(self, tx: dict) -> int:
        self.chain.estimates.append(self.name)
        if self.name in self.chain.refuse:
            raise ContractLogicError(f"execution reverted: {self.chain.refuse[self.name]}")
        return self.chain.w3.eth.gas_used({"jobs": self.jobs()})

    def build_transaction(self, tx: dict) -> dict:
        data = json.dumps({"fn": self.name, "jobs": self.jobs()}).encode()
        return {"to": "0x" + "11" * 20, "value": 0, "data": "0x" + data.hex(), **tx}


class Functions:
    def __init__(self, chain: FakeChain):
        self.chain = chain

    def __getattr__(self, name: str):
        return lambda *args: FakeCall(name, args, self.chain)


class Contract:
    def __init__(self, chain: FakeChain):
        self.functions = Functions(chain)


class FakeEth:
    """One account's view of a chain: blocks of transactions, a mempool by nonce, a fee floor
    below which a transaction is not mined (congestion), automine on every send."""

    def __init__(self):
        self.blocks: list[dict] = []
        self.mempool: dict[int, dict] = {}  # nonce -> tx
        self.min_fee = 0
        self.max_priority_fee = 1
        self.base_fee = 7
        self.foreign = 0  # nonces used by someone else with our key
        self.forks = 0
        self.sent: list[dict] = []  # every transaction accepted, replacements included
        self.gas_limit = 30_000_000  # the blocks' gas limit
        self.gas_used = lambda tx: GAS_USED  # what a mined transaction uses
        self.next_outcome: dict[str, str] = {}  # fn -> "out of gas" | "revert", for its next send
        self.mine()  # genesis

    # --- chain state
    @property
    def block_number(self) -> int:
        return len(self.blocks) - 1

    def _mined_nonce(self) -> int:
        return self.foreign + sum(len(b["txs"]) for b in self.blocks)

    def mine(self, n: int = 1) -> None:
        for _ in range(n):
            txs = []
            nonce = self._mined_nonce()
            while nonce in self.mempool and self.mempool[nonce]["maxFeePerGas"] >= self.min_fee:
                txs.append(self.mempool.pop(nonce))
                nonce += 1
            number = len(self.blocks)
            block_hash = HexBytes(keccak(text=f"block {number} fork {self.forks}"))
            for tx in txs:
                tx["blockNumber"], tx["blockHash"] = number, block_hash
            self.blocks.append(
                {
                    "number": number,
                    "hash": block_hash,
                    "txs": txs,
                    "baseFeePerGas": self.base_fee,
                    "gasLimit": self.gas_limit,
                }
            )

    def reorg(self, depth: int, *, back_to_mempool: bool = False) -> None:
        """Replaces the last `depth` blocks with as many empty ones (their transactions gone, or
        back in the mempool)."""
        dropped = self.blocks[-depth:]
        del self.blocks[-depth:]
        self.forks += 1
        for block in dropped:
            for tx in block["txs"]:
                if back_to_mempool:
                    self.mempool[tx["nonce"]] = tx
        saved, self.min_fee = self.min_fee, 10**30  # the new branch has none of them
        self.mine(depth)
        self.min_fee = saved

    def effects(self) -> set[tuple[str, int]]:
        """(function, job) of every transaction in the canonical chain."""
        return {(tx["fn"], j) for b in self.blocks for tx in b["txs"] for j in tx["jobs"]}

    # --- the web3 API the submitter uses
    def get_transaction_count(self, address: str, block: str) -> int:
        nonce = self._mined_nonce()
        while nonce in self.mempool:
            nonce += 1
        return nonce

    def get_block(self, which):
        number = self.block_number if which == "latest" else which
        if not 0 <= number <= self.block_number:
            raise BlockNotFound(str(which))
        return self.blocks[number]

    def send_raw_transaction(self, raw: bytes) -> HexBytes:
        d = TypedTransaction.from_bytes(raw).as_dict()
        data = json.loads(bytes(d["data"]))
        tx = {
            "hash": HexBytes(keccak(raw)),
            "nonce": d["nonce"],
            "gas": d["gas"],
            "fn": data["fn"],
            "jobs": data["jobs"],
            "maxFeePerGas": d["maxFeePerGas"],
            "maxPriorityFeePerGas": d["maxPriorityFeePerGas"],
        }
        outcome = self.next_outcome.pop(tx["fn"], None)
        used = self.gas_used(tx)
        if outcome == "out of gas" or used > tx["gas"]:
            tx["status"], tx["gasUsed"] = 0, tx["gas"]
        else:
            tx["status"], tx["gasUsed"] = (0 if outcome == "revert" else 1), used
        if tx["nonce"] < self._mined_nonce():
            raise ValueError("nonce too low")
        old = self.mempool.get(tx["nonce"])
        if old is not None and tx["maxFeePerGas"] < old["maxFeePerGas"] * 1.1:
            raise ValueError("replacement transaction underpriced")
        self.mempool[tx["nonce"]] = tx
        self.sent.append(tx)
        self.mine()  # automine
        return tx["hash"]

    def _find(self, tx_hash) -> dict | None:
        h = HexBytes(tx_hash)
        for block in self.blocks:
            for tx in block["txs"]:
                if tx["hash"] == h:
                    return tx
        return None

    def get_transaction_receipt(self, tx_hash):
        tx = self._find(tx_hash)
        if tx is None:
            raise TransactionNotFound(str(tx_hash))
        return {
            "status": tx["status"],
            "gasUsed": tx["gasUsed"],
            "blockNumber": tx["blockNumber"],
            "blockHash": tx["blockHash"],
        }

    def wait_for_transaction_receipt(self, tx_hash, timeout: float, poll_latency: float):
        try:
            return self.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            raise TimeExhausted(str(tx_hash)) from None

    def get_transaction(self, tx_hash):
        h = HexBytes(tx_hash)
        for tx in self.mempool.values():
            if tx["hash"] == h:
                return tx
        tx = self._find(tx_hash)
        if tx is None:
            raise TransactionNotFound(str(tx_hash))
        return tx


class FakeW3:
    def __init__(self):
        self.eth = FakeEth()


class FakeChain:
    def __init__(self):
        self.w3 = FakeW3()
        self.estimates: list[str] = []  # the function of every eth_estimateGas, in order
        self.refuse: dict[str, str] = {}  # fn -> the revert its estimate answers
        self.market, self.registry, self.rewards = Contract(self), Contract(self), Contract(self)
        self.chain_id = 1337
        self.abis: dict = {}


@pytest.fixture
def chain():
    return FakeChain()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "node.sqlite")
    yield s
    s.close()


def submitter(chain, store, **kw) -> Submitter:
    kw.setdefault("tx_timeout_s", 0.0)
    sub = Submitter(chain, store, KEY, **kw)
    # The fake chain mines only when a test says so: waiting for a receipt gives up at once
    # rather than sleeping through `tx_timeout_s` (tests/unit/test_receipts.py tests the waiting).
    sub.wait_receipt = lambda w3, tx_hash, timeout: w3.eth.wait_for_transaction_receipt(
        tx_hash, timeout, 0
    )
    return sub


def statuses(store: Store) -> list[str]:
    return [r[0] for r in store._db.execute("SELECT status FROM intents ORDER BY id").fetchall()]


def always(intent) -> bool:
    return True


# ---------------------------------------------------------------------- confirmations
def test_confirmations_0__done_at_the_receipt_as_before(chain, store):
    store.add_intent("claim", job(store, 7), 1, {})
    sub = submitter(chain, store)

    assert sub.flush(always) == 1

    assert statuses(store) == ["done"]
    assert sub.touched == {J(7)}


def test_mined_intent__done_only_once_confirmations_blocks_are_on_top(chain, store):
    store.add_intent("claim", job(store, 7), 1, {})
    sub = submitter(chain, store, confirmations=3)
    sub.flush(always)
    (intent,) = store.intents("mined")
    assert intent.block_number == chain.w3.eth.block_number
    assert intent.block_hash == chain.w3.eth.blocks[-1]["hash"].hex()
    # a mined intent is open: the node makes no second claim, draw or expire for the job
    assert store.has_open_intent("claim", J(7)) and store.has_pending_intent("claim", J(7))

    chain.w3.eth.mine(2)
    sub.flush(always)
    assert statuses(store) == ["mined"]

    chain.w3.eth.mine()
    sub.flush(always)
    assert statuses(store) == ["done"]
    assert len(chain.w3.eth.sent) == 1


def test_reorg_drops_a_mined_proof__back_to_pending__sent_again__then_confirmed(
    chain, store, caplog
):
    store.add_intent("proof", J(7), 1, {"commitment": "ab" * 32})
    sub = submitter(chain, store, confirmations=2)
    sub.flush(always)
    first = chain.w3.eth.sent[-1]["hash"].hex()
    assert statuses(store) == ["mined"]

    chain.w3.eth.reorg(1)  # the proof's block is replaced; the proof is gone
    assert ("submitProofs", J(7)) not in chain.w3.eth.effects()
    with caplog.at_level(logging.WARNING):
        assert sub.flush(always) == 1  # back to pending and sent again in the same flush

    assert f"tx {first}" in caplog.text and "no longer in the chain; back to pending" in caplog.text
    assert "behind ours" in caplog.text  # the dropped nonce is reused: no gap
    assert ("submitProofs", J(7)) in chain.w3.eth.effects()
    (intent,) = store.intents("mined")
    assert intent.tx_hash != first or intent.block_hash != chain.w3.eth.blocks[-2]["hash"].hex()
    chain.w3.eth.mine(2)
    sub.flush(always)
    assert statuses(store) == ["done"]


def test_reorg_that_no_longer_needs_the_intent__obsolete_not_sent(chain, store):
    store.add_intent("claim", job(store, 7), 1, {})
    sub = submitter(chain, store, confirmations=2)
    sub.flush(always)
    chain.w3.eth.reorg(1)

    assert (
        sub.flush(lambda intent: False) == 0
    )  # e.g. another node claimed the job on the new branch

    assert statuses(store) == ["obsolete"]
    assert len(chain.w3.eth.sent) == 1


def test_reorg_puts_the_tx_back_in_the_mempool__awaited_again_not_sent_twice(chain, store):
    store.add_intent("reveal", 7, 1, {"result": "cd" * 32, "salt": "ef" * 32})
    sub = submitter(chain, store, confirmations=1)
    sub.flush(always)
    chain.w3.eth.min_fee = 10**30  # nothing is mined on the new branch for now
    chain.w3.eth.reorg(1, back_to_mempool=True)

    sub.flush(always)
    assert statuses(store) == ["sent"]

    chain.w3.eth.min_fee = 0
    chain.w3.eth.mine(2)
    sub.flush(always)
    sub.flush(always)
    assert statuses(store) == ["done"]
    assert len({tx["nonce"] for tx in chain.w3.eth.sent}) == 1


def test_receipt_from_a_replaced_block_is_not_trusted(chain, store, monkeypatch):
    """Some nodes answer a receipt lookup from a block a reorg replaced: the block hash decides."""
    store.add_intent("claim", job(store, 7), 1, {})
    sub = submitter(chain, store, confirmations=1)
    sub.flush(always)
    stale = chain.w3.eth.get_transaction_receipt(store.intents("mined")[0].tx_hash)
    chain.w3.eth.reorg(1)
    monkeypatch.setattr(chain.w3.eth, "get_transaction_receipt", lambda tx_hash: stale)

    sub.confirm()

    assert statuses(store) == ["pending"]


def test_claim_and_proof_dropped_together__the_proof_waits_for_the_claim(chain, store):
    """Judged at once, the proof would be 'not needed' (the job is Open again) and thrown away,
    leaving a claimed job without its proof. It waits one flush, behind the claim."""
    eth = chain.w3.eth

    def needed(intent) -> bool:
        done = eth.effects()
        if intent.kind == "claim":
            return ("claim", J(7)) not in done
        return ("claim", J(7)) in done and ("submitProofs", J(7)) not in done

    store.add_intent("claim", job(store, 7), 1, {})
    sub = submitter(chain, store, confirmations=3)
    sub.flush(needed)
    store.add_intent("proof", J(7), 1, {"commitment": "ab" * 32})
    sub.flush(needed)
    assert statuses(store) == ["mined", "mined"]

    eth.reorg(2)
    sub.flush(needed)
    assert statuses(store) == ["mined", "pending"]  # the claim is back on chain; the proof waited
    sub.flush(needed)
    assert statuses(store) == ["mined", "mined"]
    assert {("claim", J(7)), ("submitProofs", J(7))} <= eth.effects()
    eth.mine(3)
    sub.flush(needed)
    assert statuses(store) == ["done", "done"]


# ---------------------------------------------------------------------- fees
def test_stuck_tx__bumped_up_to_the_cap__then_waits_with_an_error_naming_the_setting(
    chain, store, caplog
):
    eth = chain.w3.eth
    eth.min_fee = 10**30  # congestion: nothing of ours is mined
    store.add_intent("claim", job(store, 7), 1, {})
    sub = submitter(chain, store, max_fee_wei=100, fee_bump=1.5, bumps_per_flush=10)

    with caplog.at_level(logging.WARNING):
        assert sub.flush(always) == 1  # no SubmitError: the flush returns, the tx keeps waiting

    fees = [tx["maxFeePerGas"] for tx in eth.sent]
    assert fees[0] == 2 * 7 + 1 + 1 and fees[-1] == 100 and fees == sorted(fees)
    assert all(f <= 100 for f in fees)
    assert "max_fee_gwei" in caplog.text and "raise it" in caplog.text
    (intent,) = store.intents("sent")
    assert (intent.max_fee, intent.bumps, intent.attempts) == (100, len(fees) - 1, 1)

    # later flushes look again (no resend above the cap, no error repeated); mined once it clears
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        sub.flush(always)
    assert len(eth.sent) == len(fees) and "max_fee_gwei" not in caplog.text
    eth.min_fee = 100
    eth.mine()
    sub.flush(always)
    assert statuses(store) == ["done"]


def test_restart__fee_bumping_continues_from_the_stored_fee_not_a_new_quote(chain, store):
    eth = chain.w3.eth
    eth.min_fee = 10**30
    store.add_intent("claim", job(store, 7), 1, {})
    submitter(chain, store, bumps_per_flush=2, fee_bump=1.5).flush(always)
    (before,) = store.intents("sent")
    assert before.bumps == 2 and before.max_fee == eth.sent[-1]["maxFeePerGas"]

    # a new process (same store): its first look bumps from the last fee sent
    restarted = submitter(chain, store, fee_bump=1.5)
    restarted.recover()

    (after,) = store.intents("sent")
    assert after.bumps == 3 and after.nonce == before.nonce
    assert after.max_fee == int(before.max_fee * 1.5) + 1
    assert eth.sent[-1]["nonce"] == before.nonce


def test_stuck_tx_is_not_bumped_again_before_tx_timeout(chain, store):
    eth = chain.w3.eth
    eth.min_fee = 10**30
    store.add_intent("heartbeat", None, None, {"node_ids": [1]})
    sub = submitter(chain, store, tx_timeout_s=3600, bumps_per_flush=0)
    sub.flush(always)
    sub.flush(always)
    assert len(eth.sent) == 1


# ---------------------------------------------------------------------- nonces
def test_nonce_moved_by_someone_else__warning_names_the_address_and_both_nonces(
    chain, store, caplog
):
    store.add_intent("claim", job(store, 7), 1, {})
    sub = submitter(chain, store)
    sub.flush(always)
    chain.w3.eth.foreign += 2  # two transactions from another wallet with this key
    store.add_intent("claim", job(store, 8), 1, {})

    with caplog.at_level(logging.WARNING):
        sub.flush(always)

    assert f"the nonce of {KEY.address} moved by someone else" in caplog.text
    assert "pending nonce is 3 but this node expected 1" in caplog.text
    assert statuses(store) == ["done", "done"]


def test_nonce_moved_while_the_node_was_down__warned_at_the_first_send(chain, store, caplog):
    store.add_intent("claim", job(store, 7), 1, {})
    submitter(chain, store).flush(always)
    chain.w3.eth.foreign += 1
    store.add_intent("claim", job(store, 8), 1, {})

    with caplog.at_level(logging.WARNING):
        submitter(chain, store).flush(always)

    assert "pending nonce is 2 but this node expected 1" in caplog.text


def test_own_nonces_only__no_warning(chain, store, caplog):
    sub = submitter(chain, store)
    with caplog.at_level(logging.WARNING):
        for n in range(3):
            store.add_intent("claim", job(store, n), 1, {})
            sub.flush(always)
    assert "someone else" not in caplog.text


# ---------------------------------------------------------------------- gas limits
PER_ITEM = 50_000  # what one proof or settlement costs in the fake, besides the 21,000 of any tx


def per_item_gas(tx: dict) -> int:
    return 21_000 + PER_ITEM * max(len(tx["jobs"]), 1)


def learned(items: int) -> int:
    return int(items * PER_ITEM * SAFETY) + OVERHEAD


def proof(store: Store, n: int) -> None:
    store.add_intent(IntentKind.PROOF, J(n), 1, {"commitment": "ab" * 32})


def test_first_proof_batch_estimated__later_ones_sized_from_its_receipt__pipelined(chain, store):
    eth = chain.w3.eth
    eth.gas_used = per_item_gas
    sub = submitter(chain, store, batch_size=2)
    proof(store, 7)
    sub.flush(always)
    assert chain.estimates == ["submitProofs"]
    assert eth.sent[-1]["gas"] == from_estimate(21_000 + PER_ITEM)

    for n in (8, 9, 10):
        proof(store, n)
    assert sub.flush(always) == 2  # two batches, consecutive nonces, no estimate

    assert chain.estimates == ["submitProofs"]
    assert [(tx["jobs"], tx["gas"]) for tx in eth.sent[1:]] == [
        ([J(8), J(9)], learned(2)),
        ([J(10)], learned(1)),
    ]
    assert [tx["nonce"] for tx in eth.sent] == [0, 1, 2]
    assert statuses(store) == ["done"] * 4


def test_settlements_sized_from_receipts_too(chain, store):
    chain.w3.eth.gas_used = per_item_gas
    sub = submitter(chain, store)
    for n in (7, 8):
        store.add_intent("settle", job(store, n), 1, {"owner": "0x" + "22" * 20})
        sub.flush(always)
    assert chain.estimates == ["settleAndWithdraw"]
    assert chain.w3.eth.sent[-1]["gas"] == learned(1)
    assert statuses(store) == ["done", "done"]


def test_out_of_gas_receipt__the_next_batch_is_estimated_until_an_estimated_one_is_mined(
    chain, store
):
    eth = chain.w3.eth
    sub = submitter(chain, store)
    proof(store, 7)
    sub.flush(always)
    eth.next_outcome["submitProofs"] = "out of gas"
    proof(store, 8)
    sub.flush(always)  # sized from the receipt, ran out of gas: back to pending
    assert chain.estimates == ["submitProofs"]
    assert statuses(store) == ["done", "pending"]

    sub.flush(always)  # retried, estimated
    assert chain.estimates == ["submitProofs"] * 2
    assert eth.sent[-1]["gas"] == from_estimate(GAS_USED)
    assert statuses(store) == ["done", "done"]
    proof(store, 9)
    sub.flush(always)  # the estimated one was mined: learned figures again
    assert chain.estimates == ["submitProofs"] * 2
    assert statuses(store) == ["done"] * 3


def test_proof_batch_reverting_on_chain_without_an_estimate__recorded_failed(chain, store):
    eth = chain.w3.eth
    sub = submitter(chain, store)
    proof(store, 7)
    sub.flush(always)
    eth.next_outcome["submitProofs"] = "revert"
    proof(store, 8)

    sub.flush(always)

    assert chain.estimates == ["submitProofs"]  # sent without one
    assert statuses(store) == ["done", "failed"]
    assert tuple(store._db.execute("SELECT error FROM intents WHERE id = 2").fetchone()) == (
        "reverted",
    )
    assert J(8) in sub.touched
    proof(store, 9)  # the next one asks the chain again (its estimate would name the revert)
    sub.flush(always)
    assert chain.estimates == ["submitProofs"] * 2


def test_claims_reveals_and_keeper_calls_are_always_estimated(chain, store):
    sub = submitter(chain, store)
    for n in (7, 8, 9):
        store.add_intent("claim", job(store, n), 1, {})
        store.add_intent("reveal", J(n + 10), 1, {"result": "cd" * 32, "salt": "ef" * 32})
        store.add_intent("expire", job(store, n + 20), None, {})
        sub.flush(always)
    assert sorted(chain.estimates) == sorted(["claim", "reveal", "expire"] * 3)
    assert set(statuses(store)) == {"done"}


def test_estimate_refusal__failed_with_the_reason__or_done_by_another_keeper(chain, store):
    chain.refuse = {"claim": "JobMarketDeadlinePassed", "draw": "JobMarketNothingToDraw"}
    store.add_intent("claim", job(store, 7), 1, {})
    store.add_intent("draw", 8, None, {})

    assert submitter(chain, store).flush(always) == 0

    assert statuses(store) == ["failed", "done"]
    (error,) = store._db.execute("SELECT error FROM intents WHERE id = 1").fetchone()
    assert "JobMarketDeadlinePassed" in error
    assert chain.w3.eth.sent == []


# ---------------------------------------------------------------------- job terms
def test_settlements_of_one_owner_share_a_tx__each_job_named_by_its_terms(chain, store):
    a, b = "0x" + "22" * 20, "0x" + "33" * 20
    for n, owner in ((7, a), (8, b), (9, a), (10, a)):
        store.add_intent("settle", job(store, n), 1, {"owner": owner})

    assert submitter(chain, store).flush(always) == 2

    assert sorted(tx["jobs"] for tx in chain.w3.eth.sent) == sorted([[J(7), J(9), J(10)], [J(8)]])
    assert statuses(store) == ["done"] * 4


def test_settlements_of_one_owner__each_nodes_jobs_side_by_side(chain, store):
    """settleAndWithdraw pays a run of one node's jobs with one check, one registry release and
    one drain: the batch keeps each node's jobs together, whatever order they became due in."""
    owner = {"owner": "0x" + "22" * 20}
    for n, node in ((7, 2), (8, 1), (9, 2), (10, 1)):
        store.add_intent("settle", job(store, n), node, owner)

    assert submitter(chain, store).flush(always) == 1

    assert [tx["jobs"] for tx in chain.w3.eth.sent] == [[J(8), J(10), J(7), J(9)]]


def test_intent_for_a_job_without_stored_terms__dropped_with_an_error_not_sent(
    chain, store, caplog
):
    """The market takes a claim's, settlement's or expiry's job by its terms: without them in the
    store nothing can be sent for it. That intent fails, loudly; the rest of the flush goes on."""
    owner = {"owner": "0x" + "22" * 20}
    store.add_intent("claim", J(7), 1, {})  # never ingested: no terms
    store.add_intent("settle", job(store, 8), 1, owner)
    store.add_intent("settle", J(9), 1, owner)  # no terms: left out of the batch
    store.add_intent("expire", J(10), None, {})  # no terms
    store.add_intent("proof", J(11), 1, {"commitment": "ab" * 32})  # by id: needs none
    sub = submitter(chain, store)

    with caplog.at_level(logging.ERROR):
        assert sub.flush(always) == 2

    assert statuses(store) == ["failed", "done", "failed", "failed", "done"]
    assert sorted(tx["jobs"] for tx in chain.w3.eth.sent) == sorted([[J(8)], [J(11)]])
    assert sorted(chain.estimates) == ["settleAndWithdraw", "submitProofs"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3 and all("terms" in r.getMessage() for r in errors)
    (error,) = store._db.execute("SELECT error FROM intents WHERE id = 1").fetchone()
    assert "job terms unknown" in error

    # asked again (the loop re-adds a settlement each step): dropped again, the error not repeated
    store.add_intent("settle", J(9), 1, owner)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert sub.flush(always) == 0
    assert statuses(store)[-1] == "failed" and caplog.records == []


def test_terms_changed_on_disk__dropped_not_sent(chain, store, caplog):
    """Terms that no longer hash to the job's id are not the job's: nothing is sent with them."""
    store.add_intent("claim", job(store, 7), 1, {})
    with store.tx() as db:
        db.execute("UPDATE jobs SET terms = replace(terms, '10000000000000000000', '1')")

    with caplog.at_level(logging.ERROR):
        assert submitter(chain, store).flush(always) == 0

    assert statuses(store) == ["failed"] and chain.w3.eth.sent == []
    assert "do not hash to its id" in caplog.text


def test_stuck_claim_whose_terms_went_missing__not_replaced__keeps_waiting(chain, store, caplog):
    eth = chain.w3.eth
    eth.min_fee = 10**30
    store.add_intent("claim", job(store, 7), 1, {})
    submitter(chain, store, bumps_per_flush=0).flush(always)
    with store.tx() as db:
        db.execute("UPDATE jobs SET terms = NULL")

    with caplog.at_level(logging.ERROR):
        submitter(chain, store).recover()  # a restarted node: nothing kept in memory

    assert len(eth.sent) == 1 and statuses(store) == ["sent"]
    assert "cannot be replaced" in caplog.text


def test_learned_limit_above_the_block_gas_limit__estimated(chain, store):
    eth = chain.w3.eth
    eth.gas_used = per_item_gas
    eth.gas_limit = learned(2) - 1
    sub = submitter(chain, store, batch_size=2)
    proof(store, 7)
    sub.flush(always)
    proof(store, 8)
    sub.flush(always)
    proof(store, 9)
    proof(store, 10)
    sub.flush(always)
    assert chain.estimates == ["submitProofs", "submitProofs"]  # the first and the 2-item batch
    assert [tx["gas"] for tx in eth.sent] == [
        from_estimate(21_000 + PER_ITEM),
        learned(1),
        from_estimate(21_000 + 2 * PER_ITEM),
    ]


def test_restarted_node_estimates_its_first_batch_again(chain, store):
    proof(store, 7)
    submitter(chain, store).flush(always)
    proof(store, 8)
    submitter(chain, store).flush(always)
    assert chain.estimates == ["submitProofs", "submitProofs"]


# ---------------------------------------------------------------------- store
def test_store_written_by_an_older_node_gains_the_new_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """CREATE TABLE intents (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, job_id INTEGER,
           node_id INTEGER, payload TEXT NOT NULL, status TEXT NOT NULL, tx_hash TEXT, nonce INTEGER,
           attempts INTEGER NOT NULL DEFAULT 0, error TEXT, gas_used INTEGER, created REAL NOT NULL,
           updated REAL NOT NULL);
           INSERT INTO intents(kind, job_id, node_id, payload, status, tx_hash, nonce, attempts, created, updated)
           VALUES ('proof', 7, 1, '{}', 'sent', '0xab', 4, 2, 0, 0);"""
    )
    db.commit()
    db.close()

    store = Store(path)
    Store(path).close()  # a second open finds every column there

    (intent,) = store.intents("sent")
    assert (intent.nonce, intent.attempts, intent.bumps, intent.max_fee, intent.block_hash) == (
        4,
        2,
        0,
        None,
        None,
    )
    columns = {r[1] for r in store._db.execute("PRAGMA table_info(intents)")}
    assert set(INTENT_COLUMNS) <= columns
    store.close()


def test_fee_cap_setting_is_in_gwei_and_documented():
    from oracle.node.settings import Settings

    field = Settings.model_fields["max_fee_gwei"]
    assert field.description and "raised" in field.description
    assert Settings().max_fee_gwei * GWEI >= 100 * GWEI
