"""The v1 attacks of issue [1/7], each played against the v2 market: every test here moved real
balances in v1 and must now fail to pay the attacker (see docs/protocol.md, "Trust model")."""

import ape
import pytest

from oracle.core.protocol import SkipReason
from oracle.core.prove import commitment_of
from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT, MARKET_PARAMETERS
from tests.utils.market import (
    BOND,
    BPS,
    DISPUTE_FEE_BPS,
    DISPUTER_SHARE_BPS,
    FEE,
    NET,
    OTHER_RESULT,
    RESULT,
    SEAT_PENALTY,
    ReplicaState,
    Status,
    fingerprint,
    replica_of,
    salt_of,
    share,
    terms_of,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL


def _commitment(job_id, node, result=RESULT):
    return commitment_of(job_id, node.id, result, salt_of(node.id))


def _prove_k1(market, sign_proof, node, job_id, result=RESULT):
    market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    proof = sign_proof(node.operator, job_id, node.id, _commitment(job_id, node, result))
    return market.submitProofs([proof], sender=node.operator)


def _earned(tx, market):
    """{nodeId: amount} added to node ledgers (what the nodes' owners may withdraw)."""
    out = {}
    for e in tx.decode_logs(market.EarningsCredited):
        out[e.nodeId] = out.get(e.nodeId, 0) + e.amount
    return out


# ---------------------------------------------------------------------- hidden results (k = 1)
def test_k1_proof__publishes_a_salted_commitment_not_the_result(market, sign_proof, pool, open_job):
    job_id = open_job()
    tx = _prove_k1(market, sign_proof, pool[0], job_id)

    job = market.job(job_id)
    assert job.status == Status.ACCEPTED
    assert job.commitment == fingerprint(_commitment(job_id, pool[0]))
    assert job.commitment != fingerprint(RESULT)
    assert [e.commitment for e in tx.decode_logs(market.ResultAccepted)] == [
        _commitment(job_id, pool[0])
    ]


# ---------------------------------------------------------------------- juries are drawn
@pytest.fixture
def disputed(market, sign_proof, stranger, pool, open_job):
    """A k = 1 job proven by pool[0] and disputed by `stranger`."""
    job_id = open_job()
    _prove_k1(market, sign_proof, pool[0], job_id)
    market.dispute(terms_of(market, job_id), sender=stranger)
    return job_id


def test_jury__cannot_be_claimed_first_come(market, pool, disputed):
    with ape.reverts(market.JobMarketSeatsAreDrawn, jobId=disputed):
        market.claim(terms_of(market, disputed), pool[1].id, sender=pool[1].operator)


def test_jury__only_drawn_nodes_accept_and_never_the_accused(market, pool, disputed, draw_seats):
    jury = draw_seats(disputed, pool)
    assert len(jury) == 3
    # pool[4] shares pool[0]'s operator: neither the accused node nor its key sits on its jury.
    assert {n.id for n in jury} == {pool[1].id, pool[2].id, pool[3].id}
    with ape.reverts(market.JobMarketNotReplica, jobId=disputed, nodeId=pool[4].id):
        market.acceptSeat(disputed, pool[4].id, sender=pool[4].operator)


def test_dispute__by_the_jobs_own_node__is_refused(market, sign_proof, pool, open_job):
    job_id = open_job()
    _prove_k1(market, sign_proof, pool[0], job_id)
    for who in (pool[0].operator, pool[0].owner):
        with ape.reverts(market.JobMarketNotDisputable, jobId=job_id):
            market.dispute(terms_of(market, job_id), sender=who)


def _run_jury(commit, jury, job_id, results):
    """Jurors commit `results` (None: silent); the caller runs the reveals."""
    talking = [(n, r) for n, r in zip(jury, results, strict=True) if r is not None]
    if talking:
        commit(
            job_id, [n for n, _ in talking], [r for _, r in talking], sender=talking[0][0].operator
        )
    return talking


def _jury(market, accept_all, draw_seats, pool, job_id):
    jury = draw_seats(job_id, pool)
    accept_all(job_id, jury)
    return jury


def test_dispute__silent_juror_cannot_save_a_wrong_result(
    chain,
    market,
    registry,
    token,
    commit,
    reveal,
    accept_all,
    draw_seats,
    pool,
    stranger,
    keeper,
    client,
    disputed,
):
    jury = _jury(market, accept_all, draw_seats, pool, disputed)
    # Two jurors find OTHER_RESULT; the third never commits.
    talking = _run_jury(commit, jury, disputed, [OTHER_RESULT, OTHER_RESULT, None])
    chain.pending_timestamp = market.job(disputed).deadline + 1
    market.expire(terms_of(market, disputed), sender=keeper)  # execution window over: reveal phase
    assert market.job(disputed).status == Status.REVEALING
    reveal(disputed, [n for n, _ in talking], [r for _, r in talking], sender=keeper)
    reveal(disputed, [pool[0]], [RESULT], sender=keeper)  # the original reveals too
    silent = jury[2]

    assert market.job(disputed).status == Status.OVERTURNED
    assert registry.node(silent.id).slashed == 1
    assert registry.node(pool[0].id).slashed == 1
    # Client refunded its payment only; disputer: bond back plus its share of the seized collateral.
    assert market.credited(client) == PAY
    assert market.credited(stranger) == BOND + COL * DISPUTER_SHARE_BPS // BPS
    each, _ = share(COL - COL * DISPUTER_SHARE_BPS // BPS + COL, 2)
    for n, _ in talking:
        assert market.ledger(n.id).earned == each
    assert market.ledger(silent.id).earned == market.ledger(pool[0].id).earned == 0


def test_dispute__original_that_does_not_reveal_loses(
    chain,
    market,
    registry,
    commit,
    reveal,
    accept_all,
    draw_seats,
    pool,
    stranger,
    keeper,
    client,
    disputed,
):
    jury = _jury(market, accept_all, draw_seats, pool, disputed)
    commit(disputed, jury, [RESULT] * 3, sender=keeper)
    reveal(disputed, jury, [RESULT] * 3, sender=keeper)  # jurors agree with the original...
    chain.pending_timestamp = market.job(disputed).deadline + 1
    market.expire(terms_of(market, disputed), sender=keeper)  # ...but the original never revealed

    assert market.job(disputed).status == Status.OVERTURNED
    assert market.credited(client) == PAY
    assert market.credited(stranger) == BOND + COL * DISPUTER_SHARE_BPS // BPS
    assert market.ledger(pool[0].id).earned == 0


def test_dispute__failed__bond_pays_the_jury_and_the_node_is_paid(
    market, registry, commit, reveal, accept_all, draw_seats, pool, stranger, keeper, disputed
):
    jury = _jury(market, accept_all, draw_seats, pool, disputed)
    commit(disputed, jury, [RESULT] * 3, sender=keeper)
    reveal(disputed, jury, [RESULT] * 3, sender=keeper)
    tx = reveal(disputed, [pool[0]], [RESULT], sender=keeper)

    assert market.job(disputed).status == Status.PAID
    earned = _earned(tx, market)
    each, _ = share(BOND, 3)
    for n in jury:
        assert earned[n.id] == each
    assert earned[pool[0].id] == NET
    assert market.credited(stranger) == 0
    assert [e.resultHash for e in tx.decode_logs(market.JobPaid)] == [RESULT]


def test_dispute__nobody_takes_it_up__disputer_pays_its_fee_to_the_node(
    chain, market, pool, stranger, keeper, disputed, draw_seats
):
    draw_seats(disputed, pool)  # drawn, but nobody accepts
    chain.pending_timestamp = market.job(disputed).deadline + 1
    market.expire(terms_of(market, disputed), sender=keeper)

    fee = BOND * DISPUTE_FEE_BPS // BPS
    assert market.job(disputed).status == Status.PAID
    assert market.credited(stranger) == BOND - fee
    assert market.ledger(pool[0].id).earned == NET + fee
    assert market.credited(pool[0].owner) == 0


# ---------------------------------------------------------------------- replicated rounds
def test_replicated__even_k__is_refused(market, client, job_request):
    with ape.reverts(market.JobMarketInvalidReplicas, replicas=2):
        market.createJob(job_request(replicas=2), sender=client)


def test_replicated__a_no_show_seat_pays_the_majority_never_the_client(
    chain, market, registry, commit, reveal, seated_job, pool, client, keeper
):
    job_id, seats = seated_job(pool)
    honest, silent = seats[:2], seats[2]
    commit(job_id, honest, [RESULT, RESULT], sender=keeper)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    market.expire(terms_of(market, job_id), sender=keeper)  # reveal phase on the two that committed
    tx = reveal(job_id, honest, [RESULT, RESULT], sender=keeper)

    assert market.job(job_id).status == Status.PAID
    assert market.job(job_id).commitment == RESULT
    assert registry.node(silent.id).slashed == 1
    earned = _earned(tx, market)
    each, _ = share(PAY - FEE + COL, 2)
    for n in honest:
        assert earned[n.id] == each
    assert silent.id not in earned
    assert market.credited(client) == 0


def test_replicated__a_split_refunds_only_the_payment(
    chain, market, registry, commit, reveal, seated_job, pool, client, keeper
):
    job_id, seats = seated_job(pool)
    commit(job_id, seats[:2], [RESULT, OTHER_RESULT], sender=keeper)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    market.expire(terms_of(market, job_id), sender=keeper)
    reveal(job_id, seats[:2], [RESULT, OTHER_RESULT], sender=keeper)  # completes the round

    assert market.job(job_id).status == Status.FAILED
    assert market.credited(client) == PAY  # the silent seat's collateral is not the client's
    assert market.pendingFees() == COL


# ---------------------------------------------------------------------- drawn seats
def test_draw__before_the_anchor_block_is_mined__is_refused(market, pool, open_job, keeper):
    job_id = open_job(replicas=3)
    anchor = market.job(job_id).drawBlock
    with ape.reverts(market.JobMarketNothingToDraw, jobId=job_id, drawBlock=anchor):
        market.draw(job_id, sender=keeper)


def test_redraw__late_seat_pays_a_penalty_misses_availability_and_is_redrawn(
    chain, market, registry, rewards, pool, open_job, draw_seats, accept_all, keeper
):
    job_id = open_job(replicas=3)
    seats = draw_seats(job_id, pool)
    accept_all(job_id, seats[:2])
    late = seats[2]
    stake = registry.node(late.id).stake
    redraws = market.job(job_id).redraws
    chain.pending_timestamp = replica_of(market, job_id, late.id)[0].acceptDeadline + 1
    tx = market.redraw(job_id, sender=keeper)

    assert registry.node(late.id).stake == stake - SEAT_PENALTY
    assert [(e.nodeId, e.penalty) for e in tx.decode_logs(market.SeatDropped)] == [
        (late.id, SEAT_PENALTY)
    ]
    assert rewards.missedSeat(late.id, rewards.currentEpoch())
    job = market.job(job_id)
    assert job.seated == 2 and job.drawBlock != 0 and job.redraws == redraws + 1
    again = draw_seats(job_id, pool)
    assert late.id not in {
        n.id for n in again
    }  # a node that let its seat lapse is not redrawn into it


def test_accept__after_the_seat_deadline__is_refused(chain, market, pool, open_job, draw_seats):
    job_id = open_job(replicas=3)
    seat = draw_seats(job_id, pool)[0]
    deadline = replica_of(market, job_id, seat.id)[0].acceptDeadline
    chain.pending_timestamp = deadline
    market.acceptSeat(job_id, seat.id, sender=seat.operator)  # the exact second still counts
    other = draw_seats(job_id, pool)  # nothing new; the round is full
    assert other == []
    job2 = open_job(replicas=3)
    seat2 = draw_seats(job2, pool)[0]
    chain.pending_timestamp = replica_of(market, job2, seat2.id)[0].acceptDeadline + 1
    with ape.reverts(market.JobMarketDeadlinePassed):
        market.acceptSeat(job2, seat2.id, sender=seat2.operator)


# ---------------------------------------------------------------------- terms and keys
def test_fee_rate__is_fixed_at_creation(
    market, deployer, sign_proof, pool, open_job, keeper, chain
):
    job_id = open_job()
    raised = {**MARKET_PARAMETERS, "protocolFeeBps": 1_000}
    market.setParameters(tuple(raised.values()), sender=deployer)
    _prove_k1(market, sign_proof, pool[0], job_id)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    tx = market.finalize(terms_of(market, job_id), sender=keeper)

    job = market.jobOf(terms_of(market, job_id))
    assert job.protocolFeeBps == MARKET_PARAMETERS["protocolFeeBps"]
    assert [e.protocolFee for e in tx.decode_logs(market.JobPaid)] == [FEE]


def test_key_rotation__hands_in_flight_seats_to_the_new_key(
    accounts, deployer, market, registry, sign_proof, pool, open_job
):
    node = pool[1]
    job_id = open_job()
    market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    new_key = accounts.generate_test_account()
    deployer.transfer(new_key, 10**18)  # gas for acceptOperator
    registry.bindOperator(node.id, new_key, sender=node.owner)
    registry.acceptOperator(node.id, sender=new_key)
    commitment = _commitment(job_id, node)

    stale = sign_proof(node.operator, job_id, node.id, commitment)
    with ape.reverts(market.JobMarketInvalidSignature):
        market.submitProofs([stale], sender=node.operator)
    market.submitProofs([sign_proof(new_key, job_id, node.id, commitment)], sender=node.operator)
    assert market.job(job_id).status == Status.ACCEPTED


def test_proof_batch__a_stale_item_is_skipped_not_fatal(market, sign_proof, pool, open_job):
    done, fresh = open_job(), open_job()
    _prove_k1(market, sign_proof, pool[0], done)
    market.claim(terms_of(market, fresh), pool[1].id, sender=pool[1].operator)
    proofs = [
        sign_proof(pool[0].operator, done, pool[0].id, _commitment(done, pool[0])),
        sign_proof(pool[1].operator, fresh, pool[1].id, _commitment(fresh, pool[1])),
    ]
    tx = market.submitProofs(proofs, sender=pool[1].operator)

    assert [(e.jobId, e.reason) for e in tx.decode_logs(market.ProofSkipped)] == [
        (done, SkipReason.WRONG_STATUS)
    ]
    assert market.job(fresh).status == Status.ACCEPTED


def test_own_proof__needs_no_signature_from_the_operator_only(market, pool, open_job, stranger):
    job_id = open_job()
    node = pool[1]
    market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    unsigned = ([(job_id, node.id, _commitment(job_id, node))], b"")
    with ape.reverts(market.JobMarketInvalidSignature):
        market.submitProofs([unsigned], sender=stranger)
    market.submitProofs([unsigned], sender=node.operator)
    assert replica_of(market, job_id, node.id)[0].state == ReplicaState.COMMITTED


def test_draw__after_a_weight_moved_past_the_anchor__is_stale_and_re_anchored(
    chain, market, registry, treasury, pool, open_job, keeper, draw_seats
):
    """Whoever sees the anchor block's hash could stake (or deactivate) to steer the seed onto its
    own nodes; a weight change after the anchor voids the draw and spends the redraw budget."""
    job_id = open_job(replicas=3)
    anchor = market.job(job_id).drawBlock
    while chain.blocks.head.number <= anchor:
        chain.mine()
    registry.stake(pool[1].id, 10**18, sender=treasury)  # the seed is known now: steer it
    tx = market.draw(job_id, sender=keeper)

    assert [(e.drawBlock, e.weightChanged) for e in tx.decode_logs(market.DrawStale)] == [
        (anchor, tx.block_number - 1)
    ]
    assert tx.decode_logs(market.SeatDrawn) == []
    job = market.job(job_id)
    assert job.seated == 0 and job.redraws == 1 and job.drawBlock == tx.block_number + 1
    assert len(draw_seats(job_id, pool)) == 3  # a fresh anchor after the change draws normally
