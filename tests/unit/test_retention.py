"""Result retention (oracle/node/retention.py) on a real store and results directory: a result is never
pruned while a job that refers to it is unsettled; a settled one goes after the grace period;
over the size cap the longest-settled go first; the results endpoint answers 410 for a pruned one."""

import logging
import os
import time
from types import SimpleNamespace

import pytest
import requests
from eth_account import Account

from oracle.core.protocol import JobStatus, job_hex
from oracle.core.result_request import sign_result_request
from oracle.core.results import ResultStore
from oracle.node import loop as node_module
from oracle.node import store as st
from oracle.node.loop import Node
from oracle.node.release import ResultOffer
from oracle.node.retention import STALE_TMP_S, Retention
from oracle.node.serve import ResultServer
from oracle.node.store import Store, job_key

DAY = 86_400.0
CHAIN, MARKET, NODE = 31337, "0x" + "ab" * 20, 7
CLIENT = Account.create()
UNSETTLED = [st.CLAIMED, st.RUNNING, st.EXECUTED, st.PROVING, st.PROVEN, st.REVEALED, st.FAILED]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "node.sqlite")
    yield s
    s.close()


@pytest.fixture
def results(tmp_path):
    return ResultStore(tmp_path / "results")


def _result(results, tmp_path, name: str, size: int = 1_000) -> str:
    """Stores an output of `size` bytes (distinct per name); returns its hash hex."""
    out = tmp_path / "out" / name
    out.mkdir(parents=True)
    (out / "data.bin").write_bytes(name.encode() + os.urandom(size))
    return results.put(out).hex()


def _job(store, job_id: int, stage: str, digest: str, settled_ago: float = 0.0) -> None:
    store.upsert_job(
        job_id, stage=stage, node_id=NODE, replicas=1, result_hash=digest, salt="01" * 32
    )
    with store.tx() as db:  # when the row last changed (a settled job: when it settled)
        db.execute(
            "UPDATE jobs SET updated = ? WHERE job_id = ?",
            (time.time() - settled_ago, job_key(job_id)),
        )


def test_unsettled_results__never_pruned__not_by_age_nor_by_the_cap(store, results, tmp_path):
    digests = []
    for job_id, stage in enumerate(UNSETTLED, start=1):
        digests.append(_result(results, tmp_path, stage))
        _job(store, job_id, stage, digests[-1], settled_ago=365 * DAY)
    # one result shared by a settled job and an unsettled one (same outputs) is unsettled too
    shared = _result(results, tmp_path, "shared")
    _job(store, 100, st.DONE, shared, settled_ago=365 * DAY)
    _job(store, 101, st.PROVEN, shared)

    pruned = Retention(store, results, keep_s=0, cap_bytes=1).prune()

    assert pruned == []
    assert all(results.has(d) and results.archive(d) is not None for d in [*digests, shared])


def test_settled_result__kept_through_the_grace__pruned_after_it(store, results, tmp_path, caplog):
    paid, skipped = _result(results, tmp_path, "paid"), _result(results, tmp_path, "skipped")
    _job(store, 1, st.DONE, paid, settled_ago=6 * DAY)
    _job(store, 2, st.SKIPPED, skipped, settled_ago=6 * DAY)
    retention = Retention(store, results, keep_s=7 * DAY)

    assert retention.prune() == []
    assert results.has(paid) and results.has(skipped)

    caplog.set_level(logging.INFO, logger="oracle.node.retention")
    pruned = retention.prune(now=time.time() + 1.5 * DAY)

    assert sorted(h.digest for h in pruned) == sorted([paid, skipped])
    for digest in (paid, skipped):
        assert not results.has(digest) and results.archive(digest) is None
        assert not (results.root / f"{digest}.tar.gz").exists()
    assert f"pruned result 0x{paid}" in caplog.text and f"jobs {job_hex(1)};" in caplog.text
    assert sorted(os.listdir(results.root)) == []  # nothing left behind


def test_size_cap__prunes_the_longest_settled_first__never_an_unsettled_one(
    store, results, tmp_path, caplog
):
    old, mid, new = (_result(results, tmp_path, n, 100_000) for n in ("old", "mid", "new"))
    running = _result(results, tmp_path, "running", 100_000)
    _job(store, 1, st.DONE, old, settled_ago=3 * DAY)
    _job(store, 2, st.DONE, mid, settled_ago=2 * DAY)
    _job(store, 3, st.DONE, new, settled_ago=1 * DAY)
    _job(store, 4, st.PROVEN, running)
    sizes = {d: results.size(d) for d in (old, mid, new, running)}
    assert all(s > 100_000 for s in sizes.values())  # files and archive

    # room for two results: the two longest settled go, though all are inside the 7-day grace
    cap = sizes[new] + sizes[running] + 10
    pruned = Retention(store, results, keep_s=7 * DAY, cap_bytes=cap).prune()

    assert [h.digest for h in pruned] == [old, mid]
    assert results.has(new) and results.has(running)

    # room for less than the unsettled one: every settled result goes, the unsettled one stays
    caplog.set_level(logging.WARNING, logger="oracle.node.retention")
    pruned = Retention(store, results, keep_s=7 * DAY, cap_bytes=10).prune()

    assert [h.digest for h in pruned] == [new]
    assert results.has(running)
    assert "unsettled jobs" in caplog.text


def test_leftovers__orphan_results_archives_and_stale_temporaries__swept(store, results, tmp_path):
    orphan = _result(results, tmp_path, "orphan")  # stored, then the node died before recording it
    lone = _result(results, tmp_path, "lone")
    (results.root / lone).rename(tmp_path / "moved")  # an archive whose files are gone
    stale = results.root / ".tmp-crashed"
    stale.mkdir()
    os.utime(stale, (time.time() - 2 * STALE_TMP_S,) * 2)
    fresh = results.root / ".tmp-in-progress"
    fresh.mkdir()
    retention = Retention(store, results, keep_s=DAY)

    assert retention.prune() == []  # the orphan is young
    assert results.has(orphan) and not (results.root / f"{lone}.tar.gz").exists()
    assert not stale.exists() and fresh.exists()

    assert [h.digest for h in retention.prune(now=time.time() + 2 * DAY)] == [orphan]


def test_maybe_prune__at_most_once_per_interval(store, results, tmp_path):
    digest = _result(results, tmp_path, "orphan")
    retention = Retention(store, results, keep_s=0, interval_s=3_600)
    assert [h.digest for h in retention.maybe_prune()] == [digest]  # no job refers to it, no grace
    again = _result(results, tmp_path, "again")
    assert retention.maybe_prune() == [] and results.has(again)  # not due yet


# ------------------------------------------------------------------ the results endpoint
def _lookup_node(store, results, status=JobStatus.PAID):
    """A Node with only what `result_lookup` uses: the store, the results and a fake chain view."""
    node = Node.__new__(Node)
    node.store, node.results = store, results
    node.s = SimpleNamespace(result_retention_s=7 * DAY)
    node.chain = SimpleNamespace(market=SimpleNamespace(functions=SimpleNamespace(
        job=lambda job_id: SimpleNamespace(call=lambda: (job_id, status)))))  # fmt: skip
    node._seat_index = lambda job_id, node_id, count: 0
    return node


@pytest.fixture
def fake_job_view(monkeypatch):
    def from_raw(raw):
        return SimpleNamespace(status=raw[1], client=CLIENT.address, replicaCount=1)

    monkeypatch.setattr(node_module.Job, "from_raw", staticmethod(from_raw))


def test_server__pruned_result__410_gone__never_held__404(store, results, tmp_path, fake_job_view):
    kept, pruned = _result(results, tmp_path, "kept"), _result(results, tmp_path, "pruned")
    _job(store, 1, st.DONE, kept)
    _job(store, 2, st.DONE, pruned, settled_ago=8 * DAY)
    store.upsert_job(3, stage=st.SKIPPED, replicas=1, reason="not seated")  # no result here ever
    assert [h.digest for h in Retention(store, results, keep_s=7 * DAY).prune()] == [pruned]

    node = _lookup_node(store, results)
    srv = ResultServer("127.0.0.1", 0, CHAIN, MARKET, node.result_lookup, lambda: {NODE}).start()
    try:

        def get(job_id):
            headers = sign_result_request(CLIENT.key, job_id, NODE, CHAIN, MARKET)
            return requests.get(f"{srv.url}/results/{job_id}", headers=headers, timeout=10)

        ok, gone, never = get(1), get(2), get(3)
        assert ok.status_code == 200 and ok.content == results.archive(kept).read_bytes()
        assert gone.status_code == 410 and "pruned" in gone.text
        assert never.status_code == 404
    finally:
        srv.stop()


def test_server__archive_pruned_between_lookup_and_read__410(tmp_path):
    archive = tmp_path / "gone.tar.gz"  # never written: removed after the lookup found it

    def lookup(job_id):
        return ResultOffer(CLIENT.address, archive, NODE, b"\x01" * 32)

    srv = ResultServer("127.0.0.1", 0, CHAIN, MARKET, lookup, lambda: {NODE}).start()
    try:
        headers = sign_result_request(CLIENT.key, 5, NODE, CHAIN, MARKET)
        got = requests.get(f"{srv.url}/results/5", headers=headers, timeout=10)
        assert got.status_code == 410
    finally:
        srv.stop()
