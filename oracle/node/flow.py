"""The job flow's rules, as pure functions of what the chain says (issue [4/7] 5).

The loop (oracle/node/loop.py) reads the chain through its view and the store, and does what these
functions decide: which stage a job has reached on chain, which keeper work is due, and whether an
intent is still needed when its turn to be sent comes. Nothing here reads the chain, the store or
the clock, so every rule is tested with plain records (tests/unit/test_flow.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from oracle.core.protocol import EXPIRABLE, ZERO_ADDRESS, Job, JobStatus, Seat, SeatState
from oracle.core.prove import fingerprint
from oracle.node.store import IntentKind, Stage


@dataclass(frozen=True)
class Now:
    """The head block: its number and its time (deadlines are judged by the chain's clock)."""

    block: int
    time: int


@dataclass(frozen=True)
class Transition:
    """What the chain says about a job's stage: move to `stage` (with `reason` if it ends)."""

    stage: Stage
    reason: str | None = None


def seat_of(seats: Sequence[Seat], node_id: int) -> Seat | None:
    """`node_id`'s live seat (a node sits at most once per job; a dropped seat is gone)."""
    found = None
    for seat in seats:
        if seat.nodeId == node_id and seat.state != SeatState.DROPPED:
            found = seat
    return found


def my_seat(seats: Sequence[Seat], ours: Collection[int]) -> tuple[int, Seat] | None:
    """The live seat of one of the nodes in `ours`, as (node id, seat). By node id, not by the
    seat's operator: a drawn seat records the operator at draw time, and a key rotation hands a
    node's seats to its new key."""
    found = None
    for seat in seats:
        if seat.nodeId in ours and seat.state != SeatState.DROPPED:
            found = (seat.nodeId, seat)
    return found


def draw_due(job: Job, now: Now) -> bool:
    """Keeper work: the draw's anchor block is mined and seats are missing, before the deadline
    (the contract refuses an early or second draw)."""
    return (
        job.status == JobStatus.SEATING
        and job.drawBlock != 0
        and now.block > job.drawBlock
        and job.seated < job.k
        and now.time <= job.deadline
    )


def late_seats(job: Job, seats: Sequence[Seat], now: Now) -> list[Seat]:
    """Seats of this round whose node let its accept deadline pass (a redraw replaces them)."""
    return [
        s
        for s in seats
        if s.state == SeatState.DRAWN and s.round == job.round and now.time > s.acceptDeadline
    ]


def must_reveal(job: Job, seat: Seat | None) -> bool:
    """Our committed seat of the revealing round, or our k = 1 seat (round 0) when a dispute's
    first jury reveals (an original node that stays silent loses its collateral)."""
    if seat is None or seat.state != SeatState.COMMITTED:
        return False
    return seat.round == job.round or (job.original_reveals and seat.round == 0)


def expire_due(job: Job, now: Now) -> bool:
    """The job's current deadline passed in a status that `expire` ends or moves on."""
    return job.status in EXPIRABLE and now.time > job.deadline


def settle_due(job: Job, now: Now) -> bool:
    """A k = 1 result nobody disputed in time: settlement pays it."""
    return job.status == JobStatus.ACCEPTED and now.time > job.deadline


def on_chain(stage: Stage, job: Job, seat: Seat | None, seat_lost: bool) -> Transition | None:
    """The stage the chain has moved a job to, if it differs from ours: a settled job ends; a seat
    we hold but never recorded (a crash between the intent and the stage) is run, never abandoned;
    a claim or accept resolves; a proof the chain committed is proven."""
    holds = seat is not None and seat.state.holds_collateral
    if job.status.terminal:
        return Transition(Stage.DONE if holds else Stage.SKIPPED, job.status.label)
    if stage == Stage.SEEN and holds and seat is not None and seat.round == job.round:
        return Transition(Stage.CLAIMED)
    if stage == Stage.CLAIMING:
        if holds:
            return Transition(Stage.CLAIMED)
        if job.status not in (JobStatus.OPEN, JobStatus.SEATING) or seat_lost:
            return Transition(Stage.SKIPPED, "seat not obtained")
    if stage == Stage.PROVING and seat is not None:
        if seat.state in (SeatState.COMMITTED, SeatState.REVEALED):
            return Transition(Stage.PROVEN)
    return None


def still_needed(
    kind: IntentKind,
    job: Job,
    seats: Callable[[], Sequence[Seat]],
    node_id: int | None,
    ours: Collection[int],
    now: Now,
) -> bool:
    """Whether a job's intent still does something when its turn to be sent comes: a claim for a
    job still open that we sit in nowhere, keeper work still due, and an act for one of our seats
    only while we operate that node and the seat is where the act needs it. `seats` is called only
    by the rules that look at seats (each read costs a request)."""
    if kind == IntentKind.CLAIM:
        return job.status == JobStatus.OPEN and my_seat(seats(), ours) is None
    if kind == IntentKind.DRAW:
        return draw_due(job, now)
    if kind == IntentKind.REDRAW:
        return job.status == JobStatus.SEATING and bool(late_seats(job, seats(), now))
    if kind in (IntentKind.FINALIZE, IntentKind.SETTLE):
        return job.status == JobStatus.ACCEPTED
    if kind == IntentKind.EXPIRE:
        return expire_due(job, now)
    if node_id is None or node_id not in ours:
        return False
    seat = seat_of(seats(), node_id)
    if kind == IntentKind.ACCEPT:
        return (
            job.status == JobStatus.SEATING
            and seat is not None
            and seat.state == SeatState.DRAWN
            and seat.round == job.round
            and now.time <= seat.acceptDeadline
        )
    if kind == IntentKind.PROOF:
        return (
            job.status == JobStatus.RUNNING
            and seat is not None
            and seat.state == SeatState.CLAIMED
            and seat.round == job.round
        )
    if kind == IntentKind.REVEAL:
        return job.status == JobStatus.REVEALING and must_reveal(job, seat)
    return True


# Events that move a job along the paths the node's own transactions take (claim or accept, proof,
# the reveal phase, settlement), and the events that change nothing the node reads: money moving
# between balances, node ledgers and Rewards.
NO_EFFECT = frozenset(
    {
        "Credited",
        "EarningsCredited",
        "EarningsWithdrawn",
        "WorkPushed",
        "Deposited",
    }
)


def advance(
    job: Job, seats: Sequence[Seat], events: Sequence[tuple[str, dict]]
) -> tuple[Job, list[Seat]] | None:
    """The job and its seats after `events` (name, args), in the order a transaction emitted them:
    what the node learns from its own receipt instead of reading the job again. None when any
    event is one this does not follow (the caller reads the chain then)."""
    seats = list(seats)

    def seat_index(node_id: int) -> int | None:
        found = None
        for i, s in enumerate(seats):
            if s.nodeId == node_id and s.state != SeatState.DROPPED:
                found = i
        return found

    for name, args in events:
        if name in NO_EFFECT:
            continue
        if name == "JobClaimed":
            node_id, rnd = int(args["nodeId"]), int(args["round"])
            i = seat_index(node_id)
            if i is not None and seats[i].state == SeatState.DRAWN and seats[i].round == rnd:
                seats[i] = replace(
                    seats[i], state=SeatState.CLAIMED, operator=str(args["operator"])
                )
            elif i is None and job.status == JobStatus.OPEN and not seats:  # an open claim
                # A one-slot job keeps the node, not the key that claimed (that is the event's).
                seats.append(Seat(node_id, SeatState.CLAIMED, rnd, 0, ZERO_ADDRESS, ZERO32))
                job = replace(job, replicaCount=1, seated=1)
            else:
                return None
            job = replace(job, claims=job.claims + 1)
        elif name == "JobRunning":
            job = replace(job, status=JobStatus.RUNNING, deadline=int(args["deadline"]))
        elif name == "ProofAccepted":
            i = seat_index(int(args["nodeId"]))
            if i is None:
                return None
            if job.round == 0 and job.k == 1:  # a one-slot job's proof is ResultAccepted alone
                return None
            commitment = bytes(args["commitment"])
            seats[i] = replace(seats[i], state=SeatState.COMMITTED, commitment=commitment)
            job = replace(job, commits=job.commits + 1)
        elif name == "ResultAccepted":
            if job.round == 0 and job.k == 1 and job.status == JobStatus.RUNNING and seats:
                # A k = 1 proof: the job's one node committed; its word keeps the fingerprint.
                seats[0] = replace(seats[0], state=SeatState.COMMITTED)
                commitment = fingerprint(bytes(args["commitment"]))
                job = replace(job, commitment=commitment, commits=1)
            job = replace(job, status=JobStatus.ACCEPTED, deadline=int(args["disputeDeadline"]))
        elif name == "RevealPhaseStarted":
            job = replace(job, status=JobStatus.REVEALING, deadline=int(args["deadline"]))
        elif name == "JobPaid":
            job = replace(job, status=JobStatus.PAID, commitment=bytes(args["resultHash"]))
        else:
            return None
    return job, seats


ZERO32 = b"\x00" * 32
