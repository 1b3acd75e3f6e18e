"""The node's SQLite store (oracle/node/store.py), on a real database file: what survives a
restart, what makes an intent exactly-once, and the cursor a reorg rewinds. The store is the
node's memory across crashes: every promise in docs/oracle.md "Exactly once" rests on these."""

from __future__ import annotations

import sqlite3

import pytest

from oracle.core.errors import ConfigError
from oracle.node import store as st
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


def test_a_store_of_sequential_job_ids__is_refused_with_what_to_do(tmp_path):
    """Ids are 256-bit hashes of the terms now: a store keyed by 64-bit integers belongs to an
    older market, and a node must not mix the two."""
    path = tmp_path / "node.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE jobs (job_id INTEGER PRIMARY KEY, stage TEXT NOT NULL, updated REAL)")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="new data_dir"):
        Store(path)


def test_256_bit_job_ids__kept_as_text__read_back_as_ints_in_the_order_seen(tmp_path):
    store = Store(tmp_path / "node.db")
    ids = [2**256 - 1, 5, 2**200 + 3]
    for job_id in ids:
        store.upsert_job(job_id, stage=st.SEEN)
        store.add_intent(IntentKind.CLAIM, job_id, 1, {})
    store.upsert_job(ids[0], stage=st.CLAIMED)
    assert [j["job_id"] for j in store.jobs()] == ids  # seen order, not id order
    assert store.job(ids[0])["stage"] == st.CLAIMED and store.job(7) is None
    assert [i.job_id for i in store.intents(IntentStatus.PENDING)] == ids
    assert store.intent_count(IntentKind.CLAIM, ids[2]) == 1
    assert store.add_intent(IntentKind.CLAIM, ids[2], 1, {}) is None  # still once per job


def test_a_jobs_terms__kept_from_its_event__read_back_only_if_they_hash_to_its_id(tmp_path):
    """The node keeps every job's terms (settlement v2 hands them back to the market as
    calldata); a row whose terms were changed on disk no longer hashes to the id and is refused."""
    from oracle.core.protocol import Capabilities, JobTerms

    terms = JobTerms(client="0x" + "11" * 20, bundleHash=b"\x22" * 32, payment=10**19,
                     collateral=10**18, replicas=1, claimDeadline=10**9, protocolFeeBps=500,
                     keeperBountyBps=100, requirements=Capabilities(1, 512, 0, 0, 0), claimWindow=60,
                     executionWindow=600, revealWindow=60, disputeWindow=60, nonce=4)  # fmt: skip
    path = tmp_path / "node.db"
    Store(path).add_job(terms.job_id, terms, "file:///b.tar.gz", 12)
    store = Store(path)  # after a restart
    assert store.terms(terms.job_id) == terms and store.terms(5) is None
    row = store.job(terms.job_id)
    assert (row["stage"], row["bundle_hash"], row["payment"]) == (st.SEEN, "22" * 32, str(10**19))
    with store.tx() as db:
        db.execute("UPDATE jobs SET terms = replace(terms, '10000000000000000000', '1')")
    with pytest.raises(ConfigError, match="do not hash to its id"):
        store.terms(terms.job_id)
