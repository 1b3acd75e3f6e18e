"""k = 1 disputes (protocol v2): a bonded third party challenges a proven commitment inside the
dispute window; a jury is drawn (never the accused node or its key), re-runs and commits; then the
jurors and the original node reveal. Every settlement branch of a dispute in MarketSettlement
(_decide with _settleBond: upheld, overturned, untaken; a jury that never forms; a split jury that
escalates but cannot be seated) with exact credits to each party. test_escalation.py seats one.

test_trust.py already covers: who may not dispute, the jury's exclusions, and the headline
branches (silent juror on an overturn, silent original, unanimous upheld, no juror accepting)."""

import ape
import pytest

from oracle.core.prove import commitment_of
from tests.utils.constants import E18, JOB_COLLATERAL, JOB_PAYMENT, MARKET_PARAMETERS, WINDOWS
from tests.utils.market import (
    BOND,
    BOUNTY,
    BPS,
    DISPUTE_FEE_BPS,
    DISPUTER_SHARE_BPS,
    FEE,
    NET,
    OTHER_RESULT,
    RESULT,
    SEAT_PENALTY,
    Outcome,
    ReplicaState,
    SkipReason,
    Status,
    assert_escrow,
    bounty,
    earnings,
    pending_work,
    salt_of,
    share,
    terms_of,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
ZERO = b"\x00" * 32
DISPUTE_FEE = BOND * DISPUTE_FEE_BPS // BPS
DISPUTER_SHARE = COL * DISPUTER_SHARE_BPS // BPS


def _commitment(job_id, node, result=RESULT):
    return commitment_of(job_id, node.id, result, salt_of(node.id))


def _prove(market, node, job_id, result=RESULT):
    """Claim and prove with the operator's own (unsigned) proof."""
    market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    market.submitProofs(
        [([(job_id, node.id, _commitment(job_id, node, result))], b"")], sender=node.operator
    )


def _credits(tx, market):
    out = {}
    for e in tx.decode_logs(market.Credited):
        out[e.account] = out.get(e.account, 0) + e.amount
    return out


def _released(tx, registry):
    return sorted(
        (e.nodeId, e.amount, e.outcome) for e in tx.decode_logs(registry.CollateralReleased)
    )


def _seized(tx, market):
    return sorted((e.nodeId, e.amount) for e in tx.decode_logs(market.CollateralSeized))


def _resolved(tx, market):
    return [(e.resultUpheld, e.majorityResult) for e in tx.decode_logs(market.DisputeResolved)]


def _work(tx, market, rewards):
    """[(nodeId, fee)] the settlement added as nodes' work: kept in their ledgers for the epoch
    (pushed to Rewards later), so Rewards records nothing in the settling transaction. Every node
    of the pool starts without work."""
    assert tx.decode_logs(rewards.WorkRecorded) == []
    return sorted(pending_work(market).items())


@pytest.fixture
def accepted(market, pool, open_job):
    """A k = 1 job proven by pool[0] with RESULT, inside its dispute window."""
    job_id = open_job()
    _prove(market, pool[0], job_id)
    return job_id


@pytest.fixture
def disputed(market, stranger, accepted):
    market.dispute(terms_of(market, accepted), sender=stranger)
    return accepted


@pytest.fixture
def jury(market, pool, disputed, draw_seats, accept_all):
    """The disputed job's three jurors, drawn and accepted (the job is Running, round 1)."""
    seats = draw_seats(disputed, pool)
    accept_all(disputed, seats)
    return seats


def _to_reveal_phase(chain, market, keeper, job_id):
    """Execution window over with fewer commitments than seats: a dispute always reveals."""
    chain.pending_timestamp = market.job(job_id).deadline + 1
    return market.expire(terms_of(market, job_id), sender=keeper)


# ---------------------------------------------------------------------- raising a dispute
def test_dispute__pulls_the_bond_and_anchors_a_jury_draw(
    chain, market, token, registry, pool, stranger, accepted
):
    before = market.job(accepted)
    stranger_before, market_before = token.balanceOf(stranger), token.balanceOf(market)

    tx = market.dispute(terms_of(market, accepted), sender=stranger)

    ev = tx.decode_logs(market.JobDisputed)[0]
    assert (ev.jobId, ev.disputer, ev.bond) == (accepted, stranger, BOND)
    ev = tx.decode_logs(market.BondPosted)[0]
    assert (ev.jobId, ev.disputer, ev.amount) == (accepted, stranger, BOND)
    ev = tx.decode_logs(market.DrawAnchored)[0]
    assert (ev.jobId, ev.round, ev.drawBlock) == (accepted, 1, tx.block_number + 1)
    assert token.balanceOf(stranger) == stranger_before - BOND
    assert token.balanceOf(market) == market_before + BOND
    job = market.job(accepted)
    assert (job.status, job.round, job.k, job.disputer) == (
        Status.SEATING,
        1,
        MARKET_PARAMETERS["disputeReplicas"],
        stranger,
    )
    assert (job.claims, job.commits, job.reveals, job.seated, job.redraws) == (0, 0, 0, 0, 0)
    assert job.deadline == tx.timestamp + WINDOWS["claimWindow"]
    assert job.drawBlock == tx.block_number + 1
    assert job.commitment == before.commitment  # the original's commitment waits for its reveal
    assert registry.node(pool[0].id).locked == COL  # the original's collateral stays locked


def test_dispute__after_the_node_rotated_its_key__the_promoted_seat_holds_the_new_key(
    accounts, deployer, market, registry, pool, stranger, accepted, draw_seats, accept_all
):
    """A k = 1 job's word keeps its node, not the key that claimed it (that is `JobClaimed`'s): a
    dispute promotes it with the node's operator at the dispute, and the jury draw keeps that key
    out with the node. The key the node had before is not excluded: it is then only another
    licence's key (here the twin's), like any licence its owner holds under another key; seats
    are drawn by stake, and extra licences are the sybil case docs/ECONOMICS.md measures."""
    n, twin = pool[0], pool[4]  # the twin runs under the key node 1 claimed and proved with
    new_key = accounts.generate_test_account()
    deployer.transfer(new_key, E18)
    registry.bindOperator(n.id, new_key, sender=n.owner)
    registry.acceptOperator(n.id, sender=new_key)

    market.dispute(terms_of(market, accepted), sender=stranger)

    seat = market.replica(accepted, 0)
    assert (seat.nodeId, seat.state, seat.operator) == (n.id, ReplicaState.COMMITTED, new_key)
    jurors = draw_seats(accepted, pool)
    accept_all(accepted, jurors)
    assert len(jurors) == MARKET_PARAMETERS["disputeReplicas"]
    assert n.id not in {j.id for j in jurors}
    assert new_key.address not in {registry.operatorOf(j.id) for j in jurors}
    assert registry.operatorOf(twin.id) == n.operator.address  # eligible: 4 candidates, 3 seats


@pytest.mark.parametrize("late", [0, 1])
def test_dispute__at_the_dispute_deadline_ok__one_second_later_reverts(
    chain, market, stranger, accepted, late
):
    deadline = market.job(accepted).deadline
    chain.pending_timestamp = deadline + late
    if late:
        with ape.reverts(market.JobMarketDeadlinePassed, jobId=accepted, deadline=deadline):
            market.dispute(terms_of(market, accepted), sender=stranger)
    else:
        market.dispute(terms_of(market, accepted), sender=stranger)
        assert market.job(accepted).status == Status.SEATING


def test_dispute__a_job_not_accepted__reverts_not_disputable(
    market, pool, stranger, open_job, disputed
):
    job_id = open_job()
    with ape.reverts(market.JobMarketNotDisputable, jobId=job_id):
        market.dispute(terms_of(market, job_id), sender=stranger)  # Open
    with ape.reverts(market.JobMarketNotDisputable, jobId=disputed):
        market.dispute(terms_of(market, disputed), sender=stranger)  # already disputed


def test_dispute__zero_collateral_job__reverts_not_disputable(
    market, deployer, pool, stranger, open_job
):
    # Without collateral there is no bond: a free dispute would stall payment at no cost.
    market.setParameters(
        tuple({**MARKET_PARAMETERS, "minCollateralBps": 0}.values()), sender=deployer
    )
    job_id = open_job(collateral=0)
    _prove(market, pool[0], job_id)
    with ape.reverts(market.JobMarketNotDisputable, jobId=job_id):
        market.dispute(terms_of(market, job_id), sender=stranger)


def test_dispute__without_an_allowance_for_the_bond__reverts_in_the_token(
    market, token, fund, keeper, accepted
):
    fund(keeper, BOND)
    with ape.reverts(token.ERC20InsufficientAllowance, spender=market, allowance=0, needed=BOND):
        market.dispute(terms_of(market, accepted), sender=keeper)


# ---------------------------------------------------------------------- the jury
@pytest.mark.parametrize("late", [0, 1])
def test_jury__accepts_until_the_seat_deadline_then_runs_round_one(
    chain, market, registry, pool, disputed, draw_seats, late
):
    seats = draw_seats(disputed, pool)
    assert [market.replica(disputed, i).round for i in (1, 2, 3)] == [1, 1, 1]
    for n in seats[:2]:
        market.acceptSeat(disputed, n.id, sender=n.operator)
    last = seats[2]  # drawn last (a seat the first draw could not fill is drawn again later)
    accept_by = market.replica(disputed, 3).acceptDeadline
    chain.pending_timestamp = accept_by + late
    if late:
        with ape.reverts(market.JobMarketDeadlinePassed, jobId=disputed, deadline=accept_by):
            market.acceptSeat(disputed, last.id, sender=last.operator)
        return
    tx = market.acceptSeat(disputed, last.id, sender=last.operator)

    ev = tx.decode_logs(market.JobClaimed)[0]
    assert (ev.nodeId, ev.operator, ev.round) == (last.id, last.operator, 1)
    ev = tx.decode_logs(market.JobRunning)[0]
    assert (ev.jobId, ev.round, ev.deadline) == (
        disputed,
        1,
        accept_by + WINDOWS["executionWindow"],
    )
    assert all(registry.node(n.id).locked == COL for n in seats)
    job = market.job(disputed)
    assert (job.status, job.claims, job.replicaCount) == (Status.RUNNING, 3, 4)


def test_jury__the_original_proving_again__is_skipped_wrong_seat_state(
    market, pool, jury, disputed
):
    n = pool[0]
    tx = market.submitProofs(
        [([(disputed, n.id, _commitment(disputed, n))], b"")], sender=n.operator
    )
    assert [(e.nodeId, e.reason) for e in tx.decode_logs(market.ProofSkipped)] == [
        (n.id, SkipReason.WRONG_SEAT_STATE)
    ]
    assert market.job(disputed).commits == 0


# ---------------------------------------------------------------------- upheld (quorum agrees)
def test_upheld__a_dissenting_juror__escalates__unseated__the_jurys_majority_stands(
    market,
    registry,
    rewards,
    pool,
    stranger,
    keeper,
    jury,
    disputed,
    commit,
    reveal,
    lapse_escalation,
):
    commit(disputed, jury, [RESULT, RESULT, OTHER_RESULT], sender=keeper)  # all in: reveal phase
    assert market.job(disputed).status == Status.REVEALING
    reveal(disputed, jury, [RESULT, RESULT, OTHER_RESULT], sender=keeper)

    tx = reveal(
        disputed, [pool[0]], [RESULT], sender=keeper
    )  # the last reveal: a 2-1 jury escalates
    ev = tx.decode_logs(market.RoundEscalated)[0]
    assert (ev.round, ev.seats, ev.standing) == (2, 7, RESULT)
    assert _seized(tx, market) == [] and _credits(tx, market) == {} == earnings(tx, market)

    tx = lapse_escalation(disputed, 2, 7)

    assert _resolved(tx, market) == [(True, RESULT)]
    assert _seized(tx, market) == [(jury[2].id, COL)]
    each, dust = share(BOND + COL - BOUNTY, 2)
    assert _credits(tx, market) == {keeper.address: BOUNTY}
    assert earnings(tx, market) == {jury[0].id: each, jury[1].id: each, pool[0].id: NET}
    assert _work(tx, market, rewards) == [(pool[0].id, FEE)]
    assert market.pendingFees() == dust
    assert _released(tx, registry) == sorted(
        [
            (jury[0].id, COL, Outcome.COMPLETED),
            (jury[1].id, COL, Outcome.COMPLETED),
            (pool[0].id, COL, Outcome.COMPLETED),
        ]
    )
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.resultHash, paid.paidToNodes, paid.protocolFee) == (RESULT, NET, FEE)
    assert market.job(disputed).status == Status.PAID
    assert market.credited(stranger) == 0
    assert_escrow(market)


def test_upheld__settled_at_the_reveal_deadline__keeper_paid_from_the_bond(
    chain, market, rewards, pool, keeper, jury, disputed, commit, reveal
):
    commit(disputed, jury, [RESULT] * 3, sender=keeper)
    reveal(disputed, [jury[0], pool[0]], [RESULT, RESULT], sender=keeper)
    deadline = market.job(disputed).deadline
    chain.pending_timestamp = deadline
    reveal(disputed, [jury[1]], [RESULT], sender=keeper)  # the exact second still counts
    chain.pending_timestamp = deadline + 1
    with ape.reverts(market.JobMarketDeadlinePassed, jobId=disputed, deadline=deadline):
        reveal(disputed, [jury[2]], [RESULT], sender=keeper)

    tx = market.expire(terms_of(market, disputed), sender=keeper)

    assert _seized(tx, market) == [(jury[2].id, COL)]
    pot = BOND + COL
    keeper_cut = bounty()  # every keeper bounty is on the payment, capped by what it settles
    each, dust = share(pot - keeper_cut, 2)
    assert _credits(tx, market) == {keeper.address: keeper_cut}
    assert earnings(tx, market) == {jury[0].id: each, jury[1].id: each, pool[0].id: NET}
    assert _work(tx, market, rewards) == [(pool[0].id, FEE)]  # no second bounty out of the fee
    assert market.pendingFees() == dust
    assert market.job(disputed).status == Status.PAID


# ---------------------------------------------------------------------- overturned
def test_overturned__majority_differs__disputer_gets_half_the_seized_collateral(
    market, registry, rewards, pool, client, stranger, keeper, jury, disputed, commit, reveal
):
    stake = registry.node(pool[0].id).stake
    commit(disputed, jury, [OTHER_RESULT] * 3, sender=keeper)
    reveal(disputed, jury, [OTHER_RESULT] * 3, sender=keeper)

    tx = reveal(disputed, [pool[0]], [RESULT], sender=keeper)

    assert _resolved(tx, market) == [(False, OTHER_RESULT)]
    assert tx.decode_logs(market.JobOverturned)[0].jobId == disputed
    assert _seized(tx, market) == [(pool[0].id, COL)]
    each, dust = share(COL - DISPUTER_SHARE, 3)
    assert _credits(tx, market) == {stranger.address: BOND + DISPUTER_SHARE, client.address: PAY}
    assert earnings(tx, market) == {n.id: each for n in jury}
    assert market.ledger(pool[0].id).earned == 0  # the overturned node earns nothing
    assert market.pendingFees() == dust
    # The payment goes back whole: no fee on an overturned job.
    assert _work(tx, market, rewards) == []
    assert _released(tx, registry) == sorted((n.id, COL, Outcome.COMPLETED) for n in jury)
    job = market.job(disputed)
    assert (job.status, job.commitment) == (Status.OVERTURNED, OTHER_RESULT)
    node = registry.node(pool[0].id)
    assert (node.stake, node.locked, node.slashed) == (stake - COL, 0, 1)


def test_overturned__original_silent_and_jury_split__the_rest_joins_the_pot(
    chain, market, registry, pool, client, stranger, keeper, jury, disputed, commit, reveal
):
    silent = jury[2]  # accepted, never commits
    commit(disputed, jury[:2], [RESULT, OTHER_RESULT], sender=keeper)
    tx = _to_reveal_phase(chain, market, keeper, disputed)
    ev = tx.decode_logs(market.RevealPhaseStarted)[0]
    assert (ev.round, ev.deadline) == (1, tx.timestamp + WINDOWS["revealWindow"])
    reveal(disputed, jury[:2], [RESULT, OTHER_RESULT], sender=keeper)
    chain.pending_timestamp = market.job(disputed).deadline + 1

    tx = market.expire(terms_of(market, disputed), sender=keeper)

    assert _resolved(tx, market) == [(False, ZERO)]  # no quorum, no original: no result at all
    assert _seized(tx, market) == sorted([(silent.id, COL), (pool[0].id, COL)])
    rest = COL - DISPUTER_SHARE + COL
    keeper_cut = bounty()
    assert _credits(tx, market) == {
        keeper.address: keeper_cut,
        stranger.address: BOND + DISPUTER_SHARE,
        client.address: PAY,
    }
    assert market.pendingFees() == rest - keeper_cut  # nobody was shown right: the pot takes it
    assert _released(tx, registry) == sorted((n.id, COL, Outcome.NO_FAULT) for n in jury[:2])
    job = market.job(disputed)
    assert (job.status, job.commitment) == (Status.OVERTURNED, ZERO)


# ---------------------------------------------------------------------- untaken: the result stands
def test_untaken__jury_split_original_revealed__disputer_pays_the_fee_to_the_node(
    chain, market, registry, rewards, pool, stranger, keeper, jury, disputed, commit, reveal
):
    silent = jury[2]
    commit(disputed, jury[:2], [RESULT, OTHER_RESULT], sender=keeper)
    _to_reveal_phase(chain, market, keeper, disputed)
    reveal(disputed, jury[:2], [RESULT, OTHER_RESULT], sender=keeper)

    tx = reveal(disputed, [pool[0]], [RESULT], sender=keeper)  # completes the round

    assert _resolved(tx, market) == [(True, RESULT)]
    assert _seized(tx, market) == [(silent.id, COL)]
    assert _credits(tx, market) == {stranger.address: BOND - DISPUTE_FEE}
    assert earnings(tx, market) == {pool[0].id: DISPUTE_FEE + NET}
    assert market.pendingFees() == COL  # the silent juror's collateral: nobody was owed it
    assert _work(tx, market, rewards) == [(pool[0].id, FEE)]
    assert _released(tx, registry) == sorted(
        [
            (jury[0].id, COL, Outcome.NO_FAULT),
            (jury[1].id, COL, Outcome.NO_FAULT),
            (pool[0].id, COL, Outcome.COMPLETED),
        ]
    )
    assert market.job(disputed).status == Status.PAID


def test_untaken__no_juror_revealed__keeper_bounty_from_the_seized_jury(
    chain, market, rewards, pool, stranger, keeper, jury, disputed, commit, reveal
):
    commit(disputed, jury, [RESULT] * 3, sender=keeper)
    reveal(disputed, [pool[0]], [RESULT], sender=keeper)
    deadline = market.job(disputed).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=disputed, deadline=deadline):
        # the reveal deadline itself still belongs to reveals
        market.expire(terms_of(market, disputed), sender=keeper)
    chain.pending_timestamp = deadline + 1

    tx = market.expire(terms_of(market, disputed), sender=keeper)

    assert _resolved(tx, market) == [(True, RESULT)]  # the original's revealed result stands
    assert _seized(tx, market) == sorted((n.id, COL) for n in jury)
    assert _credits(tx, market) == {stranger.address: BOND - DISPUTE_FEE, keeper.address: BOUNTY}
    assert earnings(tx, market) == {pool[0].id: DISPUTE_FEE + NET}
    assert market.pendingFees() == 3 * COL - BOUNTY
    assert _work(tx, market, rewards) == [(pool[0].id, FEE)]
    assert market.job(disputed).status == Status.PAID


def test_untaken__no_juror_committed__the_originals_reveal_settles_at_once(
    chain, market, pool, stranger, keeper, jury, disputed, reveal
):
    deadline = market.job(disputed).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=disputed, deadline=deadline):
        market.expire(terms_of(market, disputed), sender=keeper)
    tx = _to_reveal_phase(
        chain, market, keeper, disputed
    )  # round 1 reveals even with no commitment
    assert market.job(disputed).status == Status.REVEALING
    assert tx.decode_logs(market.JobExpired) == []

    tx = reveal(disputed, [pool[0]], [RESULT], sender=keeper)

    assert _seized(tx, market) == sorted((n.id, COL) for n in jury)
    assert _credits(tx, market) == {stranger.address: BOND - DISPUTE_FEE}
    assert earnings(tx, market) == {pool[0].id: DISPUTE_FEE + NET}
    assert market.pendingFees() == 3 * COL  # not settled by a keeper: no bounty
    assert market.job(disputed).status == Status.PAID


def test_untaken__jury_partly_accepted__late_seat_penalised_accepted_released(
    chain, market, registry, rewards, pool, stranger, keeper, disputed, draw_seats, accept_all
):
    seats = draw_seats(disputed, pool)
    accept_all(disputed, seats[:2])
    late = seats[2]
    stake = registry.node(late.id).stake
    deadline = market.job(disputed).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=disputed, deadline=deadline):
        market.expire(terms_of(market, disputed), sender=keeper)
    chain.pending_timestamp = deadline + 1

    tx = market.expire(terms_of(market, disputed), sender=keeper)

    assert [(e.nodeId, e.penalty) for e in tx.decode_logs(market.SeatDropped)] == [
        (late.id, SEAT_PENALTY)
    ]
    assert registry.node(late.id).stake == stake - SEAT_PENALTY
    assert _released(tx, registry) == sorted(
        [
            (seats[0].id, COL, Outcome.NO_FAULT),
            (seats[1].id, COL, Outcome.NO_FAULT),
            (pool[0].id, COL, Outcome.COMPLETED),
        ]
    )
    assert _resolved(tx, market) == [(True, ZERO)]
    keeper_cut = min(SEAT_PENALTY, BOUNTY)
    assert _credits(tx, market) == {
        stranger.address: BOND - DISPUTE_FEE,
        keeper.address: keeper_cut,
    }
    assert earnings(tx, market) == {pool[0].id: DISPUTE_FEE + NET}
    assert market.pendingFees() == SEAT_PENALTY - keeper_cut
    assert _work(tx, market, rewards) == [(pool[0].id, FEE)]
    assert market.job(disputed).status == Status.PAID


def test_untaken__never_drawn__result_stands_and_the_keeper_earns_nothing(
    chain, market, pool, stranger, keeper, disputed
):
    chain.pending_timestamp = market.job(disputed).deadline + 1
    tx = market.expire(terms_of(market, disputed), sender=keeper)

    assert _resolved(tx, market) == [(True, ZERO)]
    # Nothing was seized and the node's fee is not touched: there is no bounty to pay.
    assert _credits(tx, market) == {stranger.address: BOND - DISPUTE_FEE}
    assert earnings(tx, market) == {pool[0].id: DISPUTE_FEE + NET}
    assert market.ledger(pool[0].id).work == FEE
    assert market.pendingFees() == 0
    assert market.job(disputed).status == Status.PAID
    assert_escrow(market)


# ---------------------------------------------------------------------- reveals of a dispute
def test_reveal__original_with_a_wrong_salt__reverts_commitment_mismatch(
    chain, market, pool, keeper, jury, disputed
):
    _to_reveal_phase(chain, market, keeper, disputed)
    with ape.reverts(market.JobMarketCommitmentMismatch, jobId=disputed, nodeId=pool[0].id):
        market.reveal([(disputed, pool[0].id, RESULT, salt_of(pool[1].id))], sender=keeper)
    with ape.reverts(market.JobMarketCommitmentMismatch, jobId=disputed, nodeId=pool[0].id):
        market.reveal([(disputed, pool[0].id, OTHER_RESULT, salt_of(pool[0].id))], sender=keeper)


def test_reveal__juror_that_never_committed__reverts_wrong_seat_state(
    chain, market, keeper, jury, disputed, commit
):
    commit(disputed, jury[:1], [RESULT], sender=keeper)
    _to_reveal_phase(chain, market, keeper, disputed)
    silent = jury[1]
    with ape.reverts(
        market.JobMarketWrongSeatState, jobId=disputed, nodeId=silent.id, state=ReplicaState.CLAIMED
    ):
        market.reveal([(disputed, silent.id, RESULT, salt_of(silent.id))], sender=keeper)
    market.reveal([(disputed, jury[0].id, RESULT, salt_of(jury[0].id))], sender=keeper)
    with ape.reverts(
        market.JobMarketWrongSeatState,
        jobId=disputed,
        nodeId=jury[0].id,
        state=ReplicaState.REVEALED,
    ):
        market.reveal([(disputed, jury[0].id, RESULT, salt_of(jury[0].id))], sender=keeper)
