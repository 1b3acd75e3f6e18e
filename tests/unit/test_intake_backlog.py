"""The intake stage's side of the backlog rule (oracle/node/intake.py): an open job already fetched
and preflighted is claimed only once its worst case fits its execution window behind every run
the node holds, each at its own worst case (a run whose plan this process never saw at the
longest the node accepts). A node that claimed regardless could miss the deadline and lose the
collateral; one that dropped the job instead would refetch it every step."""

from __future__ import annotations

from types import SimpleNamespace

from oracle.core.protocol import Job
from oracle.node import store as st
from oracle.node.intake import Intake
from oracle.node.preflight import Plan
from oracle.node.store import Store

E18 = 10**18


def _job(window: int) -> Job:
    return Job.created({
        "jobId": 9, "client": "0x" + "11" * 20, "payment": 10 * E18, "collateral": E18, "replicas": 1,
        "claimDeadline": 10**10, "protocolFeeBps": 0, "keeperBountyBps": 0, "requirements": (1, 512, 0, 0, 0),
        "claimWindow": 600, "executionWindow": window, "revealWindow": 600, "disputeWindow": 600,
    })  # fmt: skip


def _intake(tmp_path, held: int) -> tuple[Intake, Store, list[int]]:
    store = Store(tmp_path / "node.db")
    for job_id in range(1, held + 1):
        store.upsert_job(job_id, stage=st.CLAIMED)
    prepared: list[int] = []

    def prepare(job_id, job, window):
        prepared.append(job_id)
        return Plan(worst_case_s=100, cpu_seconds=0.0, runs=1)

    settings = SimpleNamespace(workers=2, claim_prefetch=2, max_time_limit_s=3_600, proof_margin_s=60,
                               poll_interval_s=1.0, min_margin=0.0, gas_limit_estimate=0,
                               compute_price_per_cpu_s=0)  # fmt: skip
    node = SimpleNamespace(s=settings, store=store, quotes=None,
                           executions=SimpleNamespace(running={}, prepare=prepare),
                           view=SimpleNamespace(gas_price=lambda: 0),
                           _mark=lambda *a, **k: None, _finish=lambda *a, **k: None)  # fmt: skip
    return Intake(node), store, prepared  # type: ignore[arg-type]


def test_a_prepared_job_waits_until_it_fits_behind_the_held_work__then_is_taken_without_refetching(
    tmp_path,
):
    intake, store, prepared = _intake(tmp_path, held=4)
    intake.worst = {j: 300.0 for j in (1, 2, 3, 4)}  # 1,200 s held on 2 workers: 600 s to wait
    job, view = {"job_id": 9, "stage": st.SEEN}, _job(window=650)
    try:
        assert intake._bundle_ok(job, view, st.IntentKind.CLAIM) is False  # 600 + 100 > 650
        assert intake._bundle_ok(job, view, st.IntentKind.CLAIM) is False
        assert 9 in intake.pending and prepared == [9]  # kept prepared, not fetched again
        store.upsert_job(1, stage=st.DONE)  # one run finished: 450 s to wait, 550 <= 650
        assert intake._bundle_ok(job, view, st.IntentKind.CLAIM) is True
        assert prepared == [9] and intake.worst[9] == 100
    finally:
        intake.close()


def test_a_held_run_of_unknown_worst_case_counts_the_longest_the_node_accepts(tmp_path):
    intake, _, _ = _intake(tmp_path, held=2)  # after a restart: no plans in memory
    try:
        backlog = intake.backlog()
        assert (backlog.runs, backlog.worst_s) == (2, 2 * 3_660)
        view = _job(window=3_700)  # 3,660 s to wait + 100 > 3,700
        assert (
            intake._bundle_ok({"job_id": 9, "stage": st.SEEN}, view, st.IntentKind.CLAIM) is False
        )
        assert intake._bundle_ok(
            {"job_id": 9, "stage": st.SEEN}, _job(window=3_760), st.IntentKind.CLAIM
        )
    finally:
        intake.close()


def test_a_quoted_jobs_worst_case_survives_until_it_is_adopted__and_is_dropped_when_it_ends(
    tmp_path,
):
    """The quote's worst case is recorded when the job's JobClaimed is ingested, while the row is
    still `seen`; a backlog counted before the job is adopted must not forget it, or the adopted
    run would count the longest limit the node accepts and the node would refuse work it has
    room for."""
    intake, store, _ = _intake(tmp_path, held=0)
    try:
        store.upsert_job(7, stage=st.SEEN)
        intake.quoted(7, 120.0)
        assert intake.backlog().runs == 0  # not held yet
        store.upsert_job(7, stage=st.CLAIMED)  # adopted in a later step
        backlog = intake.backlog()
        assert (backlog.runs, backlog.worst_s) == (1, 120.0)
        intake.cancel(7)  # the job ended (`Node._finish`)
        assert 7 not in intake.worst
    finally:
        intake.close()
