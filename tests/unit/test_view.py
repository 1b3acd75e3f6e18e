"""The node's per-step chain view (oracle/node/view.py): one RPC read per distinct question per step,
whoever asks, and fresh answers after `reset()` (the node resets around every flush)."""

from types import SimpleNamespace

from oracle.core.protocol import Job, JobStatus, SeatState
from oracle.node.view import StepView

JOB = (10, 2, 0, int(JobStatus.RUNNING), 3, 0, "0x" + "11" * 20, (1, 1, 0, 0, 0), 3, 0, 0, 3, 3, 0,
       500, 100, 1, 1, 1, 1, 0, b"\x00" * 32, "0x" + "00" * 20)  # fmt: skip


class Market:
    """A contract that counts its reads: job(id) and replica(id, i)."""

    def __init__(self):
        self.calls: list[tuple] = []

    def _read(self, *call):
        self.calls.append(call)
        if call[0] == "job":
            return JOB
        i = call[2]
        state = SeatState.DROPPED if i == 0 else SeatState.CLAIMED
        return (100 + i, int(state), 0, 0, f"0x{i:040x}", b"\x00" * 32)

    def job(self, job_id):
        return SimpleNamespace(call=lambda: self._read("job", job_id))

    def replica(self, job_id, i):
        return SimpleNamespace(call=lambda: self._read("replica", job_id, i))


def view_of(market: Market) -> StepView:
    chain = SimpleNamespace(market=SimpleNamespace(functions=market))
    return StepView(chain)  # type: ignore[arg-type]


def test_same_question_twice_in_a_step__one_read():
    market = Market()
    view = view_of(market)
    job = view.job(7)
    assert isinstance(job, Job) and job.status == JobStatus.RUNNING
    view.job(7)
    view.seats(7, job)
    view.seat_of(7, job, 101)
    view.my_seat(7, job, {102})
    view.seat_sets(7, job)
    assert market.calls == [("job", 7), ("replica", 7, 0), ("replica", 7, 1), ("replica", 7, 2)]


def test_after_reset__read_again():
    market = Market()
    view = view_of(market)
    view.job(7)
    view.reset()
    view.job(7)
    assert market.calls == [("job", 7), ("job", 7)]


def test_dropped_seat__is_no_ones_seat():
    view = view_of(Market())
    job = view.job(7)
    assert view.seat_of(7, job, 100) is None  # seat 0 was dropped
    assert view.my_seat(7, job, {100, 102}) == (102, view.seats(7, job)[2])
    assert view.seat_sets(7, job) == ({100, 101, 102}, {f"0x{i:040x}" for i in range(3)})
