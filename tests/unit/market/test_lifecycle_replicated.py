"""k = 3 drawn rounds, settled: who is paid what, to the wei. Seats come from the pool's draw
(`seated_job`); test_trust.py already covers the 2-reveal no-show and the split with a silent
seat settled inline, and test_draw.py the Seating phase."""

import ape
import pytest

from tests.utils.constants import JAIL_PERIOD, JOB_COLLATERAL, JOB_PAYMENT, WINDOWS
from tests.utils.market import (
    BOUNTY,
    FEE,
    NET,
    OTHER_RESULT,
    RESULT,
    THIRD_RESULT,
    NodeStatus,
    Outcome,
    SeatState,
    SkipReason,
    Status,
    assert_escrow,
    replica_of,
    share,
    terms_of,
)

K = 3
PAY, COL = JOB_PAYMENT, JOB_COLLATERAL


@pytest.fixture
def running(pool, seated_job):
    """(jobId, seats): a k = 3 job whose three drawn seats accepted; Running."""
    return seated_job(pool)


def _released(tx, registry):
    return [(e.nodeId, e.amount, e.outcome) for e in tx.decode_logs(registry.CollateralReleased)]


def _seized(tx, market):
    return [(e.nodeId, e.amount) for e in tx.decode_logs(market.CollateralSeized)]


def _credits(tx, market):
    return [(e.account, e.amount) for e in tx.decode_logs(market.Credited)]


def _earnings(tx, market):
    return [(e.nodeId, e.amount) for e in tx.decode_logs(market.EarningsCredited)]


def _work(tx, rewards):
    return [(e.nodeId, e.amount) for e in tx.decode_logs(rewards.WorkRecorded)]


def _epoch_fees(rewards):
    return rewards.epoch(rewards.currentEpoch()).fees


# ---------------------------------------------------------------------- settled by the last reveal
def test_k3__unanimous__payment_minus_fee_split__fee_recorded_as_each_nodes_work(
    market, token, registry, rewards, pool, running, commit, reveal, stranger, keeper
):
    job_id, seats = running
    commit(job_id, seats, [RESULT] * K, stranger)
    job = market.job(job_id)
    assert (job.status, job.commits) == (Status.REVEALING, K)
    escrow, fees, pot = token.balanceOf(market), market.pendingFees(), _epoch_fees(rewards)
    rewards_balance = token.balanceOf(rewards)

    tx = reveal(job_id, seats, [RESULT] * K, stranger)

    each, dust = share(NET, K)
    fee_each, fee_dust = share(FEE, K)
    assert _credits(tx, market) == []
    assert _earnings(tx, market) == [(n.id, each) for n in seats]
    assert _released(tx, registry) == [(n.id, COL, Outcome.COMPLETED) for n in seats]
    assert _seized(tx, market) == []
    # Each node's fee share is its work, kept in its ledger for the epoch.
    assert _work(tx, rewards) == []
    assert [market.ledger(n.id).work for n in seats] == [fee_each] * K
    assert token.balanceOf(market) == escrow
    assert market.pendingFees() == fees + dust + fee_dust
    assert_escrow(market)
    pushed = market.pushWork([n.id for n in seats], sender=keeper)
    assert _work(pushed, rewards) == [(n.id, fee_each) for n in seats]
    assert _epoch_fees(rewards) == pot + fee_each * K
    assert token.balanceOf(rewards) == rewards_balance + fee_each * K
    assert token.balanceOf(market) == escrow - fee_each * K
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.jobId, paid.resultHash, paid.paidToNodes, paid.protocolFee) == (
        job_id,
        RESULT,
        each * K,
        FEE,
    )
    assert market.credited(stranger) == 0  # relaying the reveals that settle earns nothing
    job = market.job(job_id)
    assert (job.status, job.commitment, job.reveals) == (Status.PAID, RESULT, K)
    assert all(replica_of(market, job_id, n.id)[0].state == SeatState.REVEALED for n in seats)


def test_k3__two_one__escalates_to_seven_fresh_seats__nothing_paid_or_seized_yet(
    market, registry, pool, running, commit, reveal, stranger
):
    """A majority with a dissent does not settle itself: that is the round a seat-capture wins."""
    job_id, seats = running
    results = [RESULT, RESULT, OTHER_RESULT]
    commit(job_id, seats, results, stranger)

    tx = reveal(job_id, seats, results, stranger)

    ev = tx.decode_logs(market.RoundEscalated)[0]
    assert (ev.jobId, ev.round, ev.seats, ev.standing) == (job_id, 1, 2 * K + 1, RESULT)
    assert (
        _seized(tx, market) == [] and _credits(tx, market) == [] and _released(tx, registry) == []
    )
    assert _earnings(tx, market) == []
    job = market.job(job_id)
    assert (job.status, job.round, job.k, job.commitment) == (Status.SEATING, 1, 2 * K + 1, RESULT)
    assert (job.claims, job.commits, job.reveals, job.seated, job.redraws) == (0, 0, 0, 0, 0)
    assert job.drawBlock == tx.block_number + 1
    assert job.deadline == tx.timestamp + job.claimWindow
    assert all(replica_of(market, job_id, n.id)[0].state == SeatState.REVEALED for n in seats)


def test_k3__two_one__escalation_never_seated__majority_stands__dissenter_seized_and_jailed(
    market, registry, rewards, pool, running, commit, reveal, client, stranger, keeper,
    lapse_escalation,
):  # fmt: skip
    job_id, seats = running
    majority, dissenter = seats[:2], seats[2]
    results = [RESULT, RESULT, OTHER_RESULT]
    commit(job_id, seats, results, stranger)
    reveal(job_id, seats, results, stranger)
    stake, fees, pot = registry.node(dissenter.id).stake, market.pendingFees(), _epoch_fees(rewards)

    tx = lapse_escalation(job_id, 1, 2 * K + 1)

    each, dust = share(PAY - FEE + COL - BOUNTY, 2)
    fee_each, fee_dust = share(FEE, 2)
    assert _seized(tx, market) == [(dissenter.id, COL)]
    slash = tx.decode_logs(registry.NodeSlashed)[0]
    assert (slash.nodeId, slash.amount, slash.jailedUntil) == (
        dissenter.id,
        COL,
        tx.timestamp + JAIL_PERIOD,
    )
    assert sorted(_released(tx, registry)) == sorted(
        (n.id, COL, Outcome.COMPLETED) for n in majority
    )
    assert _credits(tx, market) == [(keeper, BOUNTY)]
    assert _earnings(tx, market) == [(n.id, each) for n in majority]
    assert _work(tx, rewards) == []
    assert [market.ledger(n.id).work for n in (*majority, dissenter)] == [fee_each, fee_each, 0]
    assert market.pendingFees() == fees + dust + fee_dust
    assert_escrow(market)
    market.pushWork([n.id for n in seats], sender=keeper)
    assert _epoch_fees(rewards) == pot + FEE - fee_dust
    assert market.credited(client) == 0  # the client gets the work, never the seized collateral
    rec = registry.node(dissenter.id)
    assert (rec.stake, rec.status) == (stake - COL, NodeStatus.JAILED)
    job = market.job(job_id)
    assert (job.status, job.commitment) == (Status.PAID, RESULT)


def test_k3__zero_result_majority__still_seizes_the_dissenter(
    market, registry, pool, running, commit, reveal, stranger, lapse_escalation
):
    """bytes32(0) is a result like any other: a majority on it must not release the dissenter."""
    job_id, seats = running
    zero = b"\x00" * 32
    results = [zero, zero, RESULT]
    commit(job_id, seats, results, stranger)
    reveal(job_id, seats, results, stranger)
    assert market.job(job_id).commitment == zero
    tx = lapse_escalation(job_id, 1, 2 * K + 1)
    assert _seized(tx, market) == [(seats[2].id, COL)]
    assert market.job(job_id).commitment == zero


def test_k3__all_differ__failed__client_refunded__revealers_released_without_fault(
    market, token, registry, rewards, pool, running, commit, reveal, client, stranger
):
    job_id, seats = running
    results = [RESULT, OTHER_RESULT, THIRD_RESULT]
    commit(job_id, seats, results, stranger)
    escrow, fees, pot = token.balanceOf(market), market.pendingFees(), _epoch_fees(rewards)

    tx = reveal(job_id, seats, results, stranger)

    assert tx.decode_logs(market.JobFailed)[0].jobId == job_id
    assert _released(tx, registry) == [(n.id, COL, Outcome.NO_FAULT) for n in seats]
    assert _seized(tx, market) == []
    assert _credits(tx, market) == [(client, PAY)]
    assert tx.decode_logs(market.JobPaid) == [] and _work(tx, rewards) == []
    assert (market.pendingFees(), _epoch_fees(rewards), token.balanceOf(market)) == (
        fees,
        pot,
        escrow,
    )
    assert market.job(job_id).status == Status.FAILED


# ---------------------------------------------------------------------- settled by a keeper
def test_k3__silent_revealer__keeper_settles__bounty_from_seized_rest_to_majority(
    chain, market, token, registry, rewards, pool, running, commit, reveal, client, keeper, stranger
):
    job_id, seats = running
    commit(job_id, seats, [RESULT] * K, stranger)
    reveal(job_id, seats[:2], [RESULT] * 2, stranger)  # the third committed but never reveals
    deadline = market.job(job_id).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=job_id, deadline=deadline):
        market.expire(terms_of(market, job_id), sender=keeper)
    chain.pending_timestamp = deadline + 1
    escrow, fees = token.balanceOf(market), market.pendingFees()

    tx = market.expire(terms_of(market, job_id), sender=keeper)

    each, dust = share(PAY - FEE + COL - BOUNTY, 2)
    fee_each, fee_dust = share(FEE, 2)
    assert _seized(tx, market) == [(seats[2].id, COL)]
    assert _credits(tx, market) == [(keeper, BOUNTY)]
    assert _earnings(tx, market) == [(n.id, each) for n in seats[:2]]
    assert market.pendingFees() == fees + dust + fee_dust
    assert token.balanceOf(market) == escrow + COL  # the fee shares wait as the nodes' work
    assert [market.ledger(n.id).work for n in seats] == [fee_each, fee_each, 0]
    assert market.credited(client) == 0
    assert_escrow(market)
    assert market.job(job_id).status == Status.PAID


def test_k3__split_with_a_silent_revealer__keeper_settles__failed__seized_to_fees(
    chain, market, token, registry, pool, running, commit, reveal, client, keeper, stranger
):
    job_id, seats = running
    commit(job_id, seats, [RESULT, OTHER_RESULT, RESULT], stranger)
    reveal(job_id, seats[:2], [RESULT, OTHER_RESULT], stranger)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    fees = market.pendingFees()

    tx = market.expire(terms_of(market, job_id), sender=keeper)

    assert tx.decode_logs(market.JobFailed)[0].jobId == job_id
    assert _seized(tx, market) == [(seats[2].id, COL)]
    assert _released(tx, registry) == [(n.id, COL, Outcome.NO_FAULT) for n in seats[:2]]
    assert _credits(tx, market) == [(keeper, BOUNTY), (client, PAY)]
    assert market.pendingFees() == fees + COL - BOUNTY


def test_k3__one_commit_then_execution_deadline__reveal_phase__lone_revealer_paid(
    chain, market, registry, pool, running, commit, reveal, keeper, stranger
):
    """A round settles on the seats that answered: one commit is enough to reach the reveal phase,
    and a lone revealer is a majority of the revealed seats."""
    job_id, seats = running
    commit(job_id, seats[:1], [RESULT], stranger)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    tx = market.expire(terms_of(market, job_id), sender=keeper)
    phase = tx.decode_logs(market.RevealPhaseStarted)[0]
    assert (phase.jobId, phase.round, phase.deadline) == (
        job_id,
        0,
        tx.timestamp + WINDOWS["revealWindow"],
    )

    tx = reveal(job_id, seats[:1], [RESULT], stranger)  # the only committed seat: settles inline

    each, dust = share(PAY - FEE + 2 * COL, 1)
    assert _seized(tx, market) == [(n.id, COL) for n in seats[1:]]
    assert _credits(tx, market) == []
    assert _earnings(tx, market) == [(seats[0].id, each)]
    assert market.job(job_id).status == Status.PAID


def test_k3__nobody_commits__expired__all_seized__client_refunded_payment_only(
    chain, market, token, registry, pool, running, client, keeper
):
    job_id, seats = running
    chain.pending_timestamp = market.job(job_id).deadline + 1
    escrow, fees = token.balanceOf(market), market.pendingFees()

    tx = market.expire(terms_of(market, job_id), sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (job_id, Status.RUNNING)
    assert _seized(tx, market) == [(n.id, COL) for n in seats]
    assert _credits(tx, market) == [(keeper, BOUNTY), (client, PAY)]
    assert market.pendingFees() == fees + K * COL - BOUNTY
    assert token.balanceOf(market) == escrow + K * COL
    assert all(registry.node(n.id).status == NodeStatus.JAILED for n in seats)


# ---------------------------------------------------------------------- commit / reveal rules
def test_proof__second_proof_same_seat__skipped_not_fatal(market, pool, running, commit, stranger):
    job_id, seats = running
    commit(job_id, seats[:1], [RESULT], stranger)
    tx = commit(job_id, seats[:1], [OTHER_RESULT], stranger)
    skipped = tx.decode_logs(market.ProofSkipped)
    assert [(e.jobId, e.nodeId, e.reason) for e in skipped] == [
        (job_id, seats[0].id, SkipReason.WRONG_SEAT_STATE)
    ]
    assert market.job(job_id).commits == 1


def test_proof__seat_not_accepted_yet__skipped_wrong_status(
    market, pool, seated_job, commit, stranger
):
    job_id, seats = seated_job(pool, accept=False)
    market.acceptSeat(job_id, seats[0].id, sender=seats[0].operator)
    tx = commit(job_id, seats[:1], [RESULT], stranger)
    assert [e.reason for e in tx.decode_logs(market.ProofSkipped)] == [SkipReason.WRONG_STATUS]
    assert market.job(job_id).commits == 0


def test_reveal__twice_or_while_running__refused(market, pool, running, commit, reveal, stranger):
    job_id, seats = running
    commit(job_id, seats[:1], [RESULT], stranger)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.RUNNING):
        reveal(job_id, seats[:1], [RESULT], stranger)
    commit(job_id, seats[1:], [RESULT] * 2, stranger)
    reveal(job_id, seats[:1], [RESULT], stranger)
    with ape.reverts(
        market.JobMarketWrongSeatState, jobId=job_id, nodeId=seats[0].id, state=SeatState.REVEALED
    ):
        reveal(job_id, seats[:1], [RESULT], stranger)
    assert market.job(job_id).reveals == 1
