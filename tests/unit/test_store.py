"""The node's SQLite store (oracle/node/store.py), on a real database file: what survives a
restart, what makes an intent exactly-once, and the cursor a reorg rewinds. The store is the
node's memory across crashes: every promise in docs/oracle.md "Exactly once" rests on these."""

from __future__ import annotations

import sqlite3

from oracle.node.store import TERMINAL, IntentKind, IntentStatus, Stage, Store


def test_jobs__upserted_listed_by_stage_and_kept_across_a_restart(tmp_path):
    path = tmp_path / "node.db"
    store = Store(path)
    store.upsert_job(1, bundle_uri="http://x/b", replicas=1)  # a new row starts at SEEN
    store.upsert_job(2, stage=Stage.CLAIMED, node_id=7)
    store.upsert_job(3, stage=Stage.DONE)
    store.upsert_job(1, stage=Stage.RUNNING)  # an update keeps the other fields
    store.close()
    again = Store(path)
    assert again.job(1)["stage"] == Stage.RUNNING and again.job(1)["bundle_uri"] == "http://x/b"
    assert [j["job_id"] for j in again.active_jobs()] == [1, 2]  # DONE is terminal
    assert {j["job_id"] for j in again.jobs(*TERMINAL)} == {3}
    assert again.stage_counts() == {Stage.RUNNING: 1, Stage.CLAIMED: 1, Stage.DONE: 1}
    assert again.job(99) is None


def test_intents__one_claim_proof_or_reveal_per_job_and_node_ever(tmp_path):
    """The unique (kind, job, node) index: a crash and a retry cannot record a second proof."""
    store = Store(tmp_path / "node.db")
    first = store.add_intent(IntentKind.PROOF, 5, 7, {"commitment": "ab"})
    assert first is not None
    assert store.add_intent(IntentKind.PROOF, 5, 7, {"commitment": "cd"}) is None
    assert store.add_intent(IntentKind.PROOF, 5, 8, {"commitment": "cd"}) is not None  # other node
    (pending, _) = store.intents(IntentStatus.PENDING)
    assert (pending.kind, pending.payload, pending.status) == (
        IntentKind.PROOF, {"commitment": "ab"}, IntentStatus.PENDING,
    )  # fmt: skip
    assert (
        store.has_open_intent(IntentKind.PROOF, 5) and store.intent_count(IntentKind.PROOF, 5) == 2
    )


def test_intent_lifecycle__sent_mined_done_with_fees_nonce_and_gas_kept(tmp_path):
    path = tmp_path / "node.db"
    store = Store(path)
    ids = [store.add_intent(IntentKind.SETTLE, j, 7, {}) for j in (1, 2)]
    fees = {"maxFeePerGas": 30, "maxPriorityFeePerGas": 2}
    store.mark_sent(ids, "0xaa", 4, fees=fees, gas=100_000)
    store.mark_sent(ids, "0xbb", 4, fees={"maxFeePerGas": 40, "maxPriorityFeePerGas": 3}, gas=100_000, bump=True)  # fmt: skip
    store.close()
    store = Store(path)  # a restart between the send and the receipt
    sent = store.intents(IntentStatus.SENT)
    assert [(i.tx_hash, i.nonce, i.attempts) for i in sent] == [("0xbb", 4, 1)] * 2
    assert store.last_nonce() == 4
    assert store.has_pending_intent(IntentKind.SETTLE, 1)
    store.mark_mined(ids, 12, "0xblock", gas_used=90_000)
    assert store.has_pending_intent(IntentKind.SETTLE, 1)  # mined, not yet confirmed: still open
    assert store.gas_spent() == 90_000  # each of the batch's two intents holds its share
    store.finish(ids, IntentStatus.DONE, gas_used=90_000)
    assert not store.has_pending_intent(IntentKind.SETTLE, 1)
    assert len(store.intents(IntentStatus.DONE)) == 2


def test_failed_or_obsolete_claims_are_what_a_lost_seat_is_judged_by(tmp_path):
    store = Store(tmp_path / "node.db")
    (claim,) = [store.add_intent(IntentKind.CLAIM, 3, 7, {})]
    assert not store.intents_failed(IntentKind.CLAIM, 3)
    store.finish([claim], IntentStatus.FAILED, "JobMarketWrongStatus(jobId=3, status=Running)")
    assert store.intents_failed(IntentKind.CLAIM, 3)
    (error,) = sqlite3.connect(tmp_path / "node.db").execute("SELECT error FROM intents").fetchone()
    assert error.startswith("JobMarketWrongStatus")  # the reason stays for `tes-node status`


def test_cursor__advances_remembers_hashes_and_a_rewind_forgets_the_replaced_blocks(tmp_path):
    store = Store(tmp_path / "node.db")
    assert store.cursor() is None
    store.advance(10, "0x10", {9: "0x09", 10: "0x10"})
    store.advance(12, "0x12", {11: "0x11", 12: "0x12"})
    assert store.cursor() == (12, "0x12") and store.block_hash(9) == "0x09"
    store.rewind(10, "0x10")
    assert store.cursor() == (10, "0x10")
    assert store.block_hash(11) is None and store.block_hash(10) == "0x10"
    store.advance(600, "0x600", {600: "0x600"})  # hashes older than 512 blocks are dropped
    assert store.block_hash(10) is None


def test_an_older_stores_intents_table_gains_the_new_columns(tmp_path):
    """A node upgraded in place opens the database its older version wrote."""
    path = tmp_path / "node.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE intents (id INTEGER PRIMARY KEY, kind TEXT, job_id INTEGER, node_id INTEGER,"
        " payload TEXT NOT NULL, status TEXT NOT NULL, tx_hash TEXT, nonce INTEGER,"
        " attempts INTEGER NOT NULL DEFAULT 0, error TEXT, gas_used INTEGER, created REAL, updated REAL)"
    )
    db.execute(
        "INSERT INTO intents(kind, job_id, node_id, payload, status, created, updated)"
        " VALUES ('proof', 1, 7, '{}', 'sent', 0, 0)"
    )
    db.commit()
    db.close()
    store = Store(path)
    (old,) = store.intents(IntentStatus.SENT)
    assert old.kind == IntentKind.PROOF and old.bumps in (0, None)
    store.mark_sent([old.id], "0xcc", 1, fees={"maxFeePerGas": 5, "maxPriorityFeePerGas": 1}, gas=9)
    assert store.intents(IntentStatus.SENT)[0].max_fee == 5
