"""The node's step times (oracle/node/metrics.StageClock): what the log and the stage histogram
show, and that an ended job is forgotten (a node's memory and each mark's cost stay flat however
many jobs it has run)."""

from oracle.node import metrics
from oracle.node import store as st


def _observed(stage: str) -> float:
    return metrics.REGISTRY.get_sample_value("tes_stage_seconds_count", {"stage": stage}) or 0.0


def test_mark__times_since_the_last_step_and_since_seen():
    clock = metrics.StageClock()
    assert clock.mark(7, st.SEEN, 100.0, ends=False) == (0.0, 0.0)
    assert clock.mark(7, st.CLAIMED, 100.5, ends=False) == (0.5, 0.5)
    assert clock.mark(7, st.RUNNING, 102.0, ends=False) == (1.5, 2.0)
    assert clock.mark(8, st.SEEN, 102.0, ends=False) == (0.0, 0.0)  # its own job, its own times
    assert clock.mark(7, st.DONE, 103.0, ends=True) == (1.0, 3.0)


def test_ended_jobs__forgotten__the_clock_holds_only_live_ones():
    clock = metrics.StageClock()
    before = _observed(st.DONE)
    for job in range(5_000):
        for i, stage in enumerate((st.SEEN, st.CLAIMED, st.RUNNING, st.EXECUTED, st.PROVING)):
            clock.mark(job, stage, float(job + i), ends=False)
        clock.mark(job, st.DONE, float(job + 9), ends=True)
    clock.mark(5_000, st.SEEN, 0.0, ends=False)
    assert len(clock) == 1
    assert _observed(st.DONE) == before + 5_000
