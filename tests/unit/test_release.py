"""When a node releases a job's result to its client (oracle/node/release.py): only once copying it can
no longer pay. The rule a lazy replica would like broken."""

import pytest

from oracle.core.protocol import Capabilities, Job, JobStatus
from oracle.core.results import ResultStore
from oracle.node.release import offer

CLIENT = "0x" + "11" * 20


def _job(status: JobStatus, k: int = 1) -> Job:
    return Job(
        payment=1, collateral=1, deadline=0, status=status, k=k, round=0, client=CLIENT,
        requirements=Capabilities(1, 1, 0, 0, 0), claims=k, commits=k, reveals=0, replicaCount=k,
        seated=k, redraws=0, protocolFeeBps=0, keeperBountyBps=0, claimWindow=1,
        executionWindow=1, revealWindow=1, disputeWindow=1, drawBlock=0,
        commitment=b"\x00" * 32, disputer="0x" + "00" * 20,
    )  # fmt: skip


@pytest.fixture
def stored(tmp_path):
    results = ResultStore(tmp_path / "results")
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.txt").write_text("answer")
    digest = results.put(out)
    return results, digest


def _row(digest: bytes, replicas: int) -> dict:
    return {"result_hash": digest.hex(), "salt": "ab" * 32, "node_id": 5, "replicas": replicas}


@pytest.mark.parametrize(
    ("status", "released"),
    [(JobStatus.RUNNING, False), (JobStatus.ACCEPTED, True), (JobStatus.PAID, True)],
)
def test_k1_original__released_once_its_proof_is_in(stored, status, released):
    results, digest = stored
    got = offer(_job(status), _row(digest, 1), lambda node_id: True, results, 60)
    assert (got.archive is not None) == released, got.reason
    assert got.client == CLIENT


@pytest.mark.parametrize("status", [JobStatus.RUNNING, JobStatus.REVEALING, JobStatus.ACCEPTED])
def test_drawn_seat__nothing_before_the_job_is_paid(stored, status):
    results, digest = stored
    got = offer(_job(status, k=3), _row(digest, 3), lambda node_id: False, results, 60)
    assert got.archive is None and got.salt is None
    assert "not released" in got.reason


def test_drawn_seat__released_when_paid(stored):
    results, digest = stored
    got = offer(_job(JobStatus.PAID, k=3), _row(digest, 3), lambda node_id: False, results, 60)
    assert got.archive is not None and got.node_id == 5 and got.salt == bytes.fromhex("ab" * 32)


def test_a_juror_of_a_k1_job_is_not_the_original__waits_for_paid(stored):
    results, digest = stored
    got = offer(_job(JobStatus.ACCEPTED), _row(digest, 1), lambda node_id: False, results, 60)
    assert got.archive is None


def test_no_row__nothing_to_offer(stored):
    results, _ = stored
    assert "no result" in offer(_job(JobStatus.PAID), None, lambda n: True, results, 60).reason
