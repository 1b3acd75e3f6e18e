"""The node's chain view (oracle/node/view.py): one RPC read per distinct question per step,
whoever asks; the block, time and gas price fresh after `reset()`, a job kept until `forget`."""

from types import SimpleNamespace

from oracle.core.protocol import ZERO_ADDRESS, Job, JobStatus, SeatState
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


def test_after_reset__job_kept__after_forget__read_again():
    market = Market()
    view = view_of(market)
    view.job(7)
    view.reset()
    view.job(7)
    assert market.calls == [("job", 7)]
    view.forget([7])
    view.job(7)
    assert market.calls == [("job", 7), ("job", 7)]


def test_dropped_seat__is_no_ones_seat():
    view = view_of(Market())
    job = view.job(7)
    assert view.seat_of(7, job, 100) is None  # seat 0 was dropped
    assert view.my_seat(7, job, {100, 102}) == (102, view.seats(7, job)[2])
    assert view.seat_sets(7, job) == ({100, 101, 102}, {f"0x{i:040x}" for i in range(3)})


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_job_kept_across_steps__until_forgotten():
    """A job's storage changes only in transactions that emit an event naming it: between such
    events the node does not read it again, however many steps pass."""
    market = Market()
    view = StepView(SimpleNamespace(market=SimpleNamespace(functions=market)), clock=Clock())  # type: ignore[arg-type]
    job = view.job(7)
    view.seats(7, job)
    for _ in range(5):
        view.reset()
        view.seats(7, view.job(7))
    assert len(market.calls) == 4  # job + three seats, once
    view.forget([7, None, 8])
    view.job(7)
    assert market.calls[-1] == ("job", 7) and len(market.calls) == 5


def test_forget_all__after_a_reorg_every_job_is_read_again():
    market = Market()
    view = view_of(market)
    view.job(7)
    view.job(8)
    view.forget_all()
    view.job(7)
    view.job(8)
    assert market.calls == [("job", 7), ("job", 8), ("job", 7), ("job", 8)]


def test_kept_too_long__read_again_even_without_an_event():
    """keep_s bounds the trust in a view that may have missed an event."""
    market, clock = Market(), Clock()
    view = StepView(
        SimpleNamespace(market=SimpleNamespace(functions=market)), keep_s=30, clock=clock
    )  # type: ignore[arg-type]
    view.job(7)
    clock.now += 29
    view.reset()
    view.job(7)
    assert len(market.calls) == 1
    clock.now += 2
    view.reset()
    view.job(7)
    assert market.calls == [("job", 7), ("job", 7)]


def test_block_time_and_gas_price__read_again_every_step__kept_by_a_later_phase():
    blocks = []

    def get_block(which):
        blocks.append(which)
        return {"number": 5 + len(blocks), "timestamp": 9 + len(blocks)}

    eth = SimpleNamespace(gas_price=7, get_block=get_block)
    view = StepView(SimpleNamespace(w3=SimpleNamespace(eth=eth)))  # type: ignore[arg-type]
    assert (view.block_number(), view.chain_time(), view.gas_price()) == (6, 10, 7)
    eth.gas_price = 8
    assert (view.block_number(), view.chain_time(), view.gas_price()) == (6, 10, 7)  # same phase
    assert blocks == ["latest"]  # number and time: one request
    view.reset(head=False)  # the flush, or the phase after our own receipts: same step
    assert (view.block_number(), view.chain_time(), view.gas_price()) == (6, 10, 7)
    view.reset()  # the next step
    assert (view.block_number(), view.chain_time(), view.gas_price()) == (7, 11, 8)


def test_learn__our_receipt_moves_the_kept_job_without_a_read():
    market = Market()
    view = view_of(market)
    job = view.job(7)  # Running, three seats; seat 1 is node 101's, Claimed
    view.seats(7, job)
    reads = len(market.calls)
    proof = ("ProofAccepted", {"nodeId": 101, "commitment": b"\x05" * 32, "relayer": "0x"})
    assert view.learn(7, [proof])
    assert view.seat_of(7, view.job(7), 101).state == SeatState.COMMITTED
    assert view.job(7).commits == 1 and len(market.calls) == reads
    assert not view.learn(7, [("ResultRevealed", {"nodeId": 101})])  # not followed: forgotten
    view.job(7)
    assert len(market.calls) == reads + 1
    assert not view.learn(8, [proof])  # nothing kept: read when asked


def _created(job_id: int, replicas: int = 1) -> dict:
    return {"jobId": job_id, "client": "0x" + "cc" * 20, "bundleHash": b"\x01" * 32,
            "bundleUri": "file:///b", "payment": 10, "collateral": 2, "replicas": replicas,
            "claimDeadline": 500, "protocolFeeBps": 500, "keeperBountyBps": 100,
            "requirements": (1, 512, 0, 0, 0), "claimWindow": 60, "executionWindow": 70,
            "revealWindow": 80, "disputeWindow": 90}  # fmt: skip


def _ev(name: str, job_id: int, tx: str, **args) -> SimpleNamespace:
    return SimpleNamespace(name=name, job_id=job_id, args=args, tx_hash=tx)


def test_follow__a_quoted_job_is_built_from_its_events__no_read():
    market = Market()
    view = view_of(market)
    operator = "0x" + "0f" * 20
    view.follow(
        [
            _ev("JobCreated", 9, "aa", **_created(9)),
            _ev("JobClaimed", 9, "aa", nodeId=4, operator=operator, round=0),
            _ev("JobRunning", 9, "aa", round=0, deadline=777),
        ],
        ours=set(),
    )
    job = view.job(9)
    assert (job.status, job.deadline, job.claims, job.replicaCount) == (
        JobStatus.RUNNING,
        777,
        1,
        1,
    )
    assert job.requirements.memoryMb == 512 and job.disputeWindow == 90
    seat = view.my_seat(9, job, {4})
    assert seat is not None and seat[1].state == SeatState.CLAIMED
    assert seat[1].operator == ZERO_ADDRESS  # the one-slot job's seat, as replica(id, 0) reads it
    assert market.calls == []


def test_follow__what_it_cannot_build_is_read_again__our_own_events_are_skipped():
    market = Market()
    view = view_of(market)
    view.job(7), view.job(8), view.job(5)
    market.calls.clear()
    view.follow(
        [
            _ev("JobDisputed", 7, "bb"),  # someone else's change to a kept job: read again
            _ev("ProofAccepted", 8, "ours"),  # our own: learned from the receipt, kept
            _ev("JobCreated", 6, "cc", **_created(6, replicas=3)),  # k = 3: its draw decides
            _ev("JobCreated", 5, "dd", **_created(5)),  # created and moved by us in one range:
            _ev("JobClaimed", 5, "ours", nodeId=4, operator="0x" + "0f" * 20, round=0),  # read
        ],
        ours={"ours"},
    )
    for job_id in (8, 7, 6, 5):
        view.job(job_id)
    assert market.calls == [("job", 7), ("job", 6), ("job", 5)]


def test_gas_price__head_base_fee_plus_a_tip_read_at_most_every_30_s():
    now = [0.0]

    class Eth:
        head = {"number": 1, "timestamp": 1, "baseFeePerGas": 100}
        tips: list[float] = []

        def get_block(self, which):
            return self.head

        @property
        def max_priority_fee(self):
            self.tips.append(now[0])
            return 3

    eth = Eth()
    view = StepView(SimpleNamespace(w3=SimpleNamespace(eth=eth)), clock=lambda: now[0])  # type: ignore[arg-type]
    assert view.gas_price() == 103
    eth.head = {**eth.head, "baseFeePerGas": 250}  # the next step's head: a new base fee
    now[0] = 20.0
    view.reset()
    assert view.gas_price() == 253 and eth.tips == [0.0]  # no new tip
    now[0] = 31.0
    view.reset()
    assert view.gas_price() == 253 and eth.tips == [0.0, 31.0]
