"""The schedule stage's seat decision (oracle/node/schedule.py), as a node meets a drawn seat: a seat of
an escalated round pays its jurors only from the liars' collateral, so the decision must count the
penalty a refusal costs, or honest nodes would let the escalation lapse and a capture stand."""

import re
from pathlib import Path

import pytest

from oracle.core.protocol import Capabilities, Job, JobStatus, NodeRecord, NodeStatus
from oracle.node.schedule import (
    SEAT_PENALTY_BPS,
    Backlog,
    decide_seat,
    earnings_per_seat,
    seat_penalty,
)

E18 = 10**18
CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
NODE = NodeRecord(
    operator="0x" + "22" * 20, status=NodeStatus.ACTIVE, jailedUntil=0,
    capabilities=Capabilities(4, 8192, 0, 0, 0), stake=1_000 * E18, locked=0, unbonding=0,
    unbondingReleaseAt=0, completed=0, failed=0, slashed=0,
)  # fmt: skip


def _job(k: int, round_: int, payment: int = 100 * E18, collateral: int = 20 * E18) -> Job:
    return Job(
        payment=payment, collateral=collateral, deadline=0, status=JobStatus.SEATING, k=k, round=round_,
        client="0x" + "11" * 20, requirements=Capabilities(1, 1, 0, 0, 0), claims=0,
        commits=0, reveals=0, replicaCount=3, seated=k, redraws=0, protocolFeeBps=500, keeperBountyBps=100,
        claimWindow=1, executionWindow=1, revealWindow=1, disputeWindow=1, drawBlock=0, commitment=b"\x00" * 32,
        disputer="0x" + "00" * 20,
    )  # fmt: skip


def test_seat_penalty__mirrors_the_contract():
    text = (CONTRACTS / "market" / "MarketSettlement.sol").read_text()
    assert (
        int(re.search(r"SEAT_PENALTY_BPS = ([\d_]+);", text).group(1).replace("_", ""))
        == SEAT_PENALTY_BPS
    )


def test_escalated_seat__pays_less_than_it_costs__accepted_because_refusing_costs_more():
    job = _job(k=7, round_=1)  # jurors share the liars' collateral: 20 TES / 7 each, about
    pay, penalty = earnings_per_seat(job), seat_penalty(job)
    cost = pay + penalty // 2  # more than the seat pays, less than pay + the penalty avoided
    d = decide_seat(job, 5, NODE, free_workers=1, cost=cost, min_margin=0.0)
    assert (d.take, d.node_id) == (True, 5)


def test_drawn_seat__costs_more_than_pay_and_penalty__refused_with_the_numbers():
    job = _job(k=3, round_=0)
    worth = earnings_per_seat(job) + seat_penalty(job)
    d = decide_seat(job, 5, NODE, free_workers=1, cost=worth + 1, min_margin=0.0)
    assert not d.take
    assert f"pays {worth} per seat" in d.reason and f"costs {worth + 1}" in d.reason


@pytest.mark.parametrize("free", [0, -1])
def test_drawn_seat__no_free_worker__not_taken_yet(free):
    assert (
        decide_seat(_job(3, 0), 5, NODE, free_workers=free, cost=0, min_margin=0.0).reason
        == "no free worker"
    )


def test_backlog__no_wait_while_a_worker_is_free__then_the_held_worst_cases_shared():
    assert Backlog(1, 3_600.0).wait_s(workers=2) == 0.0
    assert Backlog(2, 300.0).wait_s(workers=2) == 150.0
    assert Backlog(4, 1_000.0).plus(Backlog(2, 200.0)) == Backlog(6, 1_200.0)


def test_backlog__a_run_is_refused_only_when_its_worst_case_could_miss_its_window():
    held = Backlog(4, 1_000.0)  # 500 s to wait on 2 workers
    assert held.refuses(2, 100, 600) is None  # exactly fits
    why = held.refuses(2, 101, 600)
    assert why is not None and "behind 500s of held work" in why and "600s window" in why
    assert Backlog().refuses(2, 600, 600) is None
