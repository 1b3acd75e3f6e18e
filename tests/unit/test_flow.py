"""The job flow's rules (oracle/node/flow.py) on plain records: which stage the chain has moved a
job to, which keeper work is due, and whether each kind of intent is still needed when its turn
comes. No chain, no store: the node's loop reads those and does what these rules say."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oracle.core.protocol import ZERO_ADDRESS, Capabilities, Job, JobStatus, Seat, SeatState
from oracle.core.prove import fingerprint
from oracle.node.flow import (
    Now,
    advance,
    draw_due,
    late_seats,
    must_reveal,
    my_seat,
    on_chain,
    seat_of,
    settle_due,
    still_needed,
)
from oracle.node.store import IntentKind, Stage

ZERO = "0x" + "00" * 20
JOB = Job(
    payment=10, collateral=2, deadline=1_000, status=JobStatus.OPEN, k=1, round=0,
    client="0x" + "11" * 20, requirements=Capabilities(1, 1, 0, 0, 0), claims=0, commits=0,
    reveals=0, replicaCount=0, seated=0, redraws=0, protocolFeeBps=500, keeperBountyBps=100,
    claimWindow=60, executionWindow=60, revealWindow=60, disputeWindow=60, drawBlock=0,
    commitment=b"\x00" * 32, disputer=ZERO,
)  # fmt: skip
BEFORE, AFTER = Now(block=50, time=900), Now(block=60, time=1_100)


def seat(node: int, state: SeatState, rnd: int = 0, accept_by: int = 0) -> Seat:
    return Seat(node, state, rnd, accept_by, f"0x{node:040x}", b"\x00" * 32)


def job(**changes) -> Job:
    return replace(JOB, **changes)


def test_dropped_seats_are_nobodys_and_the_live_one_is_found():
    seats = [seat(1, SeatState.DROPPED), seat(2, SeatState.CLAIMED), seat(3, SeatState.DRAWN)]
    assert seat_of(seats, 1) is None
    assert seat_of(seats, 2) == seats[1]
    assert my_seat(seats, {1, 3}) == (3, seats[2])
    assert my_seat(seats, {1, 9}) is None


@pytest.mark.parametrize(
    ("stage", "status", "state", "lost", "expected"),
    [
        (Stage.RUNNING, JobStatus.PAID, SeatState.COMMITTED, False, Stage.DONE),
        (Stage.SEEN, JobStatus.CANCELLED, None, False, Stage.SKIPPED),
        (Stage.SEEN, JobStatus.RUNNING, SeatState.CLAIMED, False, Stage.CLAIMED),  # crash-left seat
        (Stage.SEEN, JobStatus.OPEN, None, False, None),
        (Stage.CLAIMING, JobStatus.RUNNING, SeatState.CLAIMED, False, Stage.CLAIMED),
        (Stage.CLAIMING, JobStatus.RUNNING, None, False, Stage.SKIPPED),  # someone else's
        (Stage.CLAIMING, JobStatus.OPEN, None, True, Stage.SKIPPED),  # our claim failed
        (Stage.CLAIMING, JobStatus.OPEN, None, False, None),  # still in flight
        (Stage.PROVING, JobStatus.ACCEPTED, SeatState.COMMITTED, False, Stage.PROVEN),
        (Stage.PROVING, JobStatus.RUNNING, SeatState.CLAIMED, False, None),
    ],
)
def test_on_chain__the_stage_the_chain_moved_a_job_to(stage, status, state, lost, expected):
    mine = None if state is None else seat(7, state)
    moved = on_chain(stage, job(status=status), mine, lost)
    assert (moved.stage if moved else None) == expected


def test_a_seat_of_an_earlier_round_is_not_a_seat_to_run():
    """A disputed k = 1 job's original seat (round 0) is not a seat in the jury round."""
    assert on_chain(Stage.SEEN, job(status=JobStatus.SEATING, round=1), seat(7, SeatState.COMMITTED), False) is None  # fmt: skip


def test_draw_due__only_after_the_anchor_block_with_seats_missing_before_the_deadline():
    seating = job(status=JobStatus.SEATING, k=3, drawBlock=55, seated=1)
    assert draw_due(seating, Now(60, 900))
    assert not draw_due(seating, Now(55, 900))  # anchor not yet mined past
    assert not draw_due(seating, Now(60, 1_001))  # deadline passed
    assert not draw_due(replace(seating, seated=3), Now(60, 900))  # full
    assert not draw_due(replace(seating, drawBlock=0), Now(60, 900))  # not anchored


def test_late_seats__drawn_seats_of_this_round_past_their_accept_deadline():
    j = job(status=JobStatus.SEATING, round=1)
    seats = [seat(1, SeatState.DRAWN, 1, 800), seat(2, SeatState.DRAWN, 1, 950),
             seat(3, SeatState.DRAWN, 0, 800), seat(4, SeatState.CLAIMED, 1, 800)]  # fmt: skip
    assert late_seats(j, seats, BEFORE) == [seats[0]]


def test_must_reveal__committed_seat_of_this_round_or_the_k1_original_before_its_first_jury():
    revealing = job(status=JobStatus.REVEALING, round=1)
    assert must_reveal(revealing, seat(1, SeatState.COMMITTED, 1))
    assert not must_reveal(revealing, seat(1, SeatState.REVEALED, 1))
    assert not must_reveal(revealing, seat(1, SeatState.COMMITTED, 0))  # not disputed
    disputed = replace(revealing, disputer="0x" + "22" * 20)
    assert must_reveal(disputed, seat(1, SeatState.COMMITTED, 0))  # the original reveals too
    assert not must_reveal(replace(disputed, round=2), seat(1, SeatState.COMMITTED, 0))


def test_settle_due__an_accepted_result_after_its_dispute_window():
    assert settle_due(job(status=JobStatus.ACCEPTED), AFTER)
    assert not settle_due(job(status=JobStatus.ACCEPTED), BEFORE)
    assert not settle_due(job(status=JobStatus.SEATING), AFTER)  # disputed: a jury is drawn


def needed(kind, j, seats=(), node=7, ours=(7,), now=BEFORE, reads=None):
    def read():
        if reads is not None:
            reads.append(1)
        return list(seats)

    return still_needed(kind, j, read, node, set(ours), now)


def test_still_needed__claim_only_while_open_and_we_sit_nowhere():
    assert needed(IntentKind.CLAIM, job())
    assert not needed(IntentKind.CLAIM, job(status=JobStatus.RUNNING))
    assert not needed(IntentKind.CLAIM, job(), [seat(7, SeatState.CLAIMED)])


def test_still_needed__acts_for_a_seat_only_while_we_operate_its_node():
    running = job(status=JobStatus.RUNNING)
    mine = [seat(7, SeatState.CLAIMED)]
    assert needed(IntentKind.PROOF, running, mine)
    assert not needed(IntentKind.PROOF, running, mine, ours=())  # key rotated away
    assert not needed(IntentKind.PROOF, running, [seat(7, SeatState.COMMITTED)])  # already in
    assert not needed(IntentKind.PROOF, job(status=JobStatus.ACCEPTED), mine)
    seating = job(status=JobStatus.SEATING)
    assert needed(IntentKind.ACCEPT, seating, [seat(7, SeatState.DRAWN, 0, 950)])
    assert not needed(IntentKind.ACCEPT, seating, [seat(7, SeatState.DRAWN, 0, 850)])  # lapsed
    revealing = job(status=JobStatus.REVEALING)
    assert needed(IntentKind.REVEAL, revealing, [seat(7, SeatState.COMMITTED)])
    assert not needed(IntentKind.REVEAL, revealing, [seat(7, SeatState.REVEALED)])


def test_still_needed__keeper_work_while_due_and_seats_read_only_when_a_rule_needs_them():
    reads: list[int] = []
    assert needed(IntentKind.SETTLE, job(status=JobStatus.ACCEPTED), reads=reads)
    assert not needed(IntentKind.FINALIZE, job(status=JobStatus.PAID), reads=reads)
    assert needed(IntentKind.EXPIRE, job(status=JobStatus.RUNNING), now=AFTER, reads=reads)
    assert not needed(IntentKind.EXPIRE, job(status=JobStatus.RUNNING), now=BEFORE, reads=reads)
    assert not needed(IntentKind.EXPIRE, job(status=JobStatus.ACCEPTED), now=AFTER, reads=reads)
    seating = job(status=JobStatus.SEATING, k=3, drawBlock=40)
    assert needed(IntentKind.DRAW, seating, reads=reads)
    assert reads == []  # none of these looked at seats
    assert needed(IntentKind.REDRAW, seating, [seat(1, SeatState.DRAWN, 0, 800)], reads=reads)
    assert reads == [1]


OP = "0x" + "ab" * 20
C = b"\x07" * 32


def test_advance__a_k1_job_along_its_own_receipts_claim_proof_settlement():
    """What the node learns from its own receipts equals what the contract did (the fields the
    node reads): no read of the job after its claim, proof or settlement."""
    j, seats = advance(job(), [], [("JobClaimed", {"nodeId": 7, "operator": OP, "round": 0}),
                                   ("JobRunning", {"round": 0, "deadline": 1_060})])  # fmt: skip
    assert (j.status, j.deadline, j.replicaCount, j.seated, j.claims) == (
        JobStatus.RUNNING,
        1_060,
        1,
        1,
        1,
    )
    # As the one-slot job's `replica(id, 0)` reads: the node, not the key that claimed.
    assert seats == [Seat(7, SeatState.CLAIMED, 0, 0, ZERO_ADDRESS, b"\x00" * 32)]
    # A k = 1 proof is one event: the job's one node committed.
    j, seats = advance(j, seats, [("ResultAccepted", {"commitment": C, "disputeDeadline": 1_200})])
    # The word keeps the commitment's 160-bit fingerprint (JobSlot).
    assert (j.status, j.deadline, j.commitment, j.commits) == (
        JobStatus.ACCEPTED,
        1_200,
        fingerprint(C),
        1,
    )
    assert seats[0].state == SeatState.COMMITTED
    j, _ = advance(j, seats, [("JobPaid", {"resultHash": C, "paidToNodes": 9, "protocolFee": 1}),
                              ("EarningsCredited", {"nodeId": 7, "amount": 9}),
                              ("EarningsWithdrawn", {"nodeId": 7, "owner": OP, "amount": 9}),
                              ("WorkPushed", {"nodeId": 7, "workEpoch": 3, "amount": 1})])  # fmt: skip
    assert j.status == JobStatus.PAID and j.status.terminal


def test_advance__a_drawn_seat_accepted_then_committed_in_a_k3_round():
    seating = job(status=JobStatus.SEATING, k=3, replicaCount=3, seated=3)
    seats = [seat(n, SeatState.DRAWN, 0, 950) for n in (5, 7, 9)]
    j, s = advance(seating, seats, [("JobClaimed", {"nodeId": 7, "operator": OP, "round": 0})])
    assert s[1].state == SeatState.CLAIMED and j.claims == 1 and j.status == JobStatus.SEATING
    j = replace(j, status=JobStatus.RUNNING)
    j, s = advance(j, s, [("ProofAccepted", {"nodeId": 7, "commitment": C, "relayer": OP})])
    assert (s[1].state, s[1].commitment, j.commits) == (SeatState.COMMITTED, C, 1)


def test_advance__anything_it_does_not_follow_means_read_the_chain():
    assert advance(job(), [], [("ProofSkipped", {"nodeId": 7, "reason": 1})]) is None
    assert advance(job(), [], [("JobCancelled", {})]) is None
    running = job(status=JobStatus.RUNNING)
    assert advance(running, [], [("JobClaimed", {"nodeId": 7, "operator": OP, "round": 0})]) is None
    assert advance(running, [], [("ProofAccepted", {"nodeId": 7, "commitment": C, "relayer": OP})]) is None  # fmt: skip
