"""Attacks on the v2 market: replayed proofs (other job, chain, deployment), copied commitments,
switching to another seat's revealed result, reentrant tokens, a client that never withdraws, relayed
and rotated-key proofs. test_trust.py plays the v1 economic attacks; these are the mechanical ones."""

import ape
import pytest
from eth_utils import keccak

from oracle.core.prove import commitment_of
from tests.utils.constants import (
    DEFAULT_CAPS,
    E18,
    JAIL_PERIOD,
    JOB_COLLATERAL,
    JOB_PAYMENT,
    MARKET_PARAMETERS,
    MIN_STAKE,
    UNBONDING_DELAY,
    WINDOWS,
)
from tests.utils.market import (
    BOUNTY,
    FEE,
    NET,
    OTHER_RESULT,
    RESULT,
    SeatState,
    Status,
    assert_escrow,
    forged_terms,
    recover,
    replica_of,
    salt_of,
    share,
    terms_of,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
PARAMS = tuple(MARKET_PARAMETERS.values())
REENTRANT_CALL = keccak(b"ReentrancyGuardReentrantCall()")[:4]


def _credits(tx, market):
    return [(e.account, e.amount) for e in tx.decode_logs(market.Credited)]


def _earnings(tx, market):
    return [(e.nodeId, e.amount) for e in tx.decode_logs(market.EarningsCredited)]


def _commitment(job_id, node, result=RESULT):
    return commitment_of(job_id, node.id, result, salt_of(node.id))


@pytest.fixture
def two_claimed(market, pool, open_job):
    """Two k = 1 jobs, both claimed by pool[0]."""
    n = pool[0]
    jobs = [open_job(), open_job()]
    for job_id in jobs:
        market.claim(terms_of(market, job_id), n.id, sender=n.operator)
    return jobs


# ---------------------------------------------------------------------- replayed proofs
def test_proof__replayed_on_another_job__invalid_signature(
    market, stranger, pool, two_claimed, sign_proof
):
    n = pool[0]
    first, second = two_claimed
    c = _commitment(first, n)
    _, sig = sign_proof(n.operator, first, n.id, c)
    signer = recover(market.proofDigest([(second, n.id, c)]), sig)
    assert signer != n.operator
    with ape.reverts(
        market.JobMarketInvalidSignature,
        jobId=second,
        nodeId=n.id,
        signer=signer,
        operator=n.operator,
    ):
        market.submitProofs([([(second, n.id, c)], sig)], sender=stranger)
    assert market.job(second).status == Status.RUNNING
    market.submitProofs([([(first, n.id, c)], sig)], sender=stranger)  # where it belongs
    assert market.job(first).status == Status.ACCEPTED


def test_proof__signed_for_another_chain__invalid_signature(
    chain, market, stranger, pool, two_claimed, sign_proof
):
    n, job_id = pool[0], two_claimed[0]
    proof = sign_proof(
        n.operator, job_id, n.id, _commitment(job_id, n), chain_id=chain.chain_id + 1
    )
    with ape.reverts(
        market.JobMarketInvalidSignature, jobId=job_id, nodeId=n.id, operator=n.operator
    ):
        market.submitProofs([proof], sender=stranger)


def test_proof__signed_for_another_deployment__invalid_signature(
    project, deployer, market, token, registry, rewards, stranger, pool, two_claimed, sign_proof
):
    n, job_id = pool[0], two_claimed[0]
    c = _commitment(job_id, n)
    other = project.JobMarket.deploy(deployer, token, registry, rewards, PARAMS, sender=deployer)
    proof = sign_proof(n.operator, job_id, n.id, c, verifying_contract=other.address)
    assert (
        recover(other.proofDigest([(job_id, n.id, c)]), proof[1]) == n.operator
    )  # good over there
    with ape.reverts(
        market.JobMarketInvalidSignature, jobId=job_id, nodeId=n.id, operator=n.operator
    ):
        market.submitProofs([proof], sender=stranger)


# ---------------------------------------------------------------------- relayed and rotated proofs
def test_proof__relayed_by_a_stranger__counts_for_the_node_and_pays_the_relayer_nothing(
    market, pool, seated_job, commit, reveal, stranger
):
    job_id, seats = seated_job(pool)
    tx = commit(job_id, seats, [RESULT] * 3, stranger)
    assert [(e.nodeId, e.relayer) for e in tx.decode_logs(market.ProofAccepted)] == [
        (n.id, stranger) for n in seats
    ]
    tx = reveal(job_id, seats, [RESULT] * 3, stranger)
    assert market.job(job_id).status == Status.PAID
    assert stranger not in [a for a, _ in _credits(tx, market)]


def test_proof__old_key_after_rotation__refused_signed_or_unsigned__new_key_commits(
    accounts, deployer, market, registry, pool, seated_job, sign_proof
):
    job_id, seats = seated_job(pool)
    n = seats[0]
    new_key = accounts.generate_test_account()
    deployer.transfer(new_key, E18)
    registry.bindOperator(n.id, new_key, sender=n.owner)
    registry.acceptOperator(n.id, sender=new_key)
    c = _commitment(job_id, n)
    for proof in (sign_proof(n.operator, job_id, n.id, c), ([(job_id, n.id, c)], b"")):
        with ape.reverts(
            market.JobMarketInvalidSignature, jobId=job_id, nodeId=n.id, operator=new_key
        ):
            market.submitProofs([proof], sender=n.operator)
    market.submitProofs([([(job_id, n.id, c)], b"")], sender=new_key)
    assert replica_of(market, job_id, n.id)[0].state == SeatState.COMMITTED


# ---------------------------------------------------------------------- copied results
def test_copied_commitment__binds_the_node_id__copier_cannot_reveal_and_is_seized(
    chain, market, token, registry, pool, seated_job, commit, reveal, sign_proof, keeper, stranger
):
    job_id, seats = seated_job(pool)
    honest, copier = seats[:2], seats[2]
    commit(job_id, honest, [RESULT] * 2, stranger)
    copied = _commitment(job_id, honest[0])  # no work done: it re-posts a commitment it saw
    market.submitProofs(
        [sign_proof(copier.operator, job_id, copier.id, copied)], sender=copier.operator
    )
    assert market.job(job_id).status == Status.REVEALING
    reveal(job_id, honest, [RESULT] * 2, stranger)
    # Even with the honest node's result and salt now public, the copier's reveal cannot match.
    for salt in (salt_of(honest[0].id), salt_of(copier.id)):
        with ape.reverts(market.JobMarketCommitmentMismatch, jobId=job_id, nodeId=copier.id):
            market.reveal([(job_id, copier.id, RESULT, salt)], sender=copier.operator)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    stake = registry.node(copier.id).stake

    tx = market.expire(terms_of(market, job_id), sender=keeper)

    assert [(e.nodeId, e.amount) for e in tx.decode_logs(market.CollateralSeized)] == [
        (copier.id, COL)
    ]
    each, _ = share(PAY - FEE + COL - BOUNTY, 2)
    assert _credits(tx, market) == [(keeper, BOUNTY)]
    assert _earnings(tx, market) == [(n.id, each) for n in honest]
    assert market.ledger(copier.id).earned == 0
    assert registry.node(copier.id).stake == stake - COL
    assert market.job(job_id).status == Status.PAID


def test_reveal__a_dissenter_cannot_switch_to_the_majoritys_revealed_result(
    market, registry, pool, seated_job, commit, reveal, stranger, lapse_escalation
):
    job_id, seats = seated_job(pool)
    results = [RESULT, RESULT, OTHER_RESULT]
    commit(job_id, seats, results, stranger)
    reveal(job_id, seats[:2], results[:2], stranger)
    late = seats[2]
    # RESULT is public now; the dissenter's commitment holds OTHER_RESULT under its own salt.
    for salt in (salt_of(late.id), salt_of(seats[0].id)):
        with ape.reverts(market.JobMarketCommitmentMismatch, jobId=job_id, nodeId=late.id):
            market.reveal([(job_id, late.id, RESULT, salt)], sender=late.operator)
    reveal(job_id, [late], [OTHER_RESULT], late.operator)
    tx = lapse_escalation(job_id, 1, 7)  # the dissent escalates; the small pool seats nobody
    assert [(e.nodeId, e.amount) for e in tx.decode_logs(market.CollateralSeized)] == [
        (late.id, COL)
    ]
    assert market.credited(late.owner) == 0 and market.credited(late.operator) == 0


# ---------------------------------------------------------------------- forged terms
def test_forged_terms__raised_payment_or_lowered_collateral__unknown_job__paid_only_the_escrow(
    chain, market, token, registry, pool, keeper, open_job
):
    # The entry points take the job's terms and check them against the id: a node operator who
    # passes a bigger payment (or a smaller collateral) names no job, so it can neither claim on
    # easier terms nor be paid more than the client escrowed.
    n = pool[0]
    job_id = open_job()
    locked = registry.node(n.id).locked
    for change in ({"payment": 2 * PAY}, {"collateral": 0}):
        terms, forged = forged_terms(market, job_id, **change)
        with ape.reverts(market.JobMarketUnknownJob, jobId=forged):
            market.claim(terms, n.id, sender=n.operator)
    assert market.job(job_id).status == Status.OPEN and registry.node(n.id).locked == locked
    market.claim(terms_of(market, job_id), n.id, sender=n.operator)
    assert registry.node(n.id).locked == locked + COL
    market.submitProofs([([(job_id, n.id, _commitment(job_id, n))], b"")], sender=n.operator)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    richer, forged = forged_terms(market, job_id, payment=2 * PAY)
    with ape.reverts(market.JobMarketUnknownJob, jobId=forged):
        market.finalize(richer, sender=keeper)
    with ape.reverts(market.JobMarketUnknownJob, jobId=forged):
        market.jobOf(richer)
    for batch in ([richer], [terms_of(market, job_id), richer]):
        with ape.reverts(market.JobMarketUnknownJob, jobId=forged):
            market.settleAndWithdraw(batch, sender=n.operator)
    assert market.job(job_id).status == Status.ACCEPTED  # the batch reverted as a whole
    before = token.balanceOf(n.owner)

    tx = market.settleAndWithdraw([terms_of(market, job_id)], sender=n.operator)

    assert [(e.jobId, e.paidToNodes) for e in tx.decode_logs(market.JobPaid)] == [(job_id, NET)]
    assert token.balanceOf(n.owner) == before + NET
    assert_escrow(market)


# ---------------------------------------------------------------------- reentrancy
@pytest.fixture
def evil(project, deployer, licence, rewards, client, pool):
    """A market + registry whose token calls back into the market on an armed transfer. pool[3]'s
    licence is registered there too; the real rewards is never reached on the paths used here."""
    tok = project.ReentrantToken.deploy(sender=deployer)
    reg = project.NodeRegistry.deploy(
        deployer, tok, licence, MIN_STAKE, UNBONDING_DELAY, JAIL_PERIOD, sender=deployer
    )
    mkt = project.JobMarket.deploy(deployer, tok, reg, rewards, PARAMS, sender=deployer)
    reg.setJobMarket(mkt, sender=deployer)
    n = pool[3]
    reg.bindOperator(n.id, n.operator, sender=n.owner)
    reg.acceptOperator(n.id, sender=n.operator)
    reg.declareCapabilities(n.id, DEFAULT_CAPS, sender=n.owner)
    tok.mint(n.owner, 5 * MIN_STAKE, sender=deployer)
    tok.approve(reg, 5 * MIN_STAKE, sender=n.owner)
    reg.stake(n.id, 5 * MIN_STAKE, sender=n.owner)
    reg.activate(n.id, sender=n.owner)
    tok.mint(client, 10 * PAY, sender=deployer)
    tok.approve(mkt, 2**256 - 1, sender=client)
    return tok, reg, mkt, n


def _reentry(tx, tok):
    return [
        (e.target, e.success, bytes(e.returnData)) for e in tx.decode_logs(tok.ReentryAttempted)
    ]


def _job(mkt, client, job_request):
    return mkt.createJob(job_request(), sender=client).decode_logs(mkt.JobCreated)[0].jobId


def test_reentrancy__withdraw_reentered__paid_exactly_once(client, job_request, evil):
    tok, _, mkt, _ = evil
    mkt.cancel(terms_of(mkt, _job(mkt, client, job_request)), sender=client)
    tok.arm(mkt, mkt.withdraw.encode_input(), False, sender=client)
    before = tok.balanceOf(client)
    tx = mkt.withdraw(sender=client)
    assert _reentry(tx, tok) == [(mkt.address, False, REENTRANT_CALL)]
    assert tok.balanceOf(client) == before + PAY
    assert mkt.credited(client) == 0 and tok.balanceOf(mkt) == 0


def test_reentrancy__bubbled__outer_withdraw_reverts_and_the_credit_stays(
    client, job_request, evil
):
    tok, _, mkt, _ = evil
    jobs = [_job(mkt, client, job_request) for _ in range(2)]
    mkt.cancel(terms_of(mkt, jobs[0]), sender=client)
    tok.arm(mkt, mkt.cancel.encode_input(terms_of(mkt, jobs[1])), True, sender=client)
    with ape.reverts(mkt.ReentrancyGuardReentrantCall):
        mkt.withdraw(sender=client)
    assert mkt.credited(client) == PAY
    assert mkt.job(jobs[1]).status == Status.OPEN


def test_reentrancy__expire_reentered_during_the_seizure__settled_once(
    chain, client, keeper, job_request, evil
):
    tok, reg, mkt, n = evil
    job_id = _job(mkt, client, job_request)
    mkt.claim(terms_of(mkt, job_id), n.id, sender=n.operator)
    chain.pending_timestamp = mkt.job(job_id).deadline + 1
    # The seized collateral's transfer (registry -> market) re-enters expire on the same job.
    tok.arm(mkt, mkt.expire.encode_input(terms_of(mkt, job_id)), False, sender=client)
    stake = reg.node(n.id).stake

    tx = mkt.expire(terms_of(mkt, job_id), sender=keeper)

    assert _reentry(tx, tok) == [(mkt.address, False, REENTRANT_CALL)]
    assert len(tx.decode_logs(mkt.CollateralSeized)) == 1
    assert _credits(tx, mkt) == [
        (keeper, BOUNTY),
        (client, PAY),
    ]  # the client gets its payment only
    assert mkt.pendingFees() == COL - BOUNTY
    assert reg.node(n.id).stake == stake - COL
    assert tok.balanceOf(mkt) == PAY + COL
    assert mkt.job(job_id).status == Status.EXPIRED


# ---------------------------------------------------------------------- a client that never withdraws
def test_stuck_client__its_credit_stays__everyone_else_settles_and_withdraws(
    chain,
    project,
    deployer,
    market,
    token,
    rewards,
    keeper,
    stranger,
    sign_proof,
    fund,
    pool,
    open_job,
    job_request,
):
    escrow = token.balanceOf(market)
    stuck = project.StuckClient.deploy(market, token, sender=deployer)
    fund(stuck, PAY)
    stuck_job = stuck.open(job_request(), sender=stranger).decode_logs(market.JobCreated)[0].jobId
    stuck_terms = terms_of(market, stuck_job)
    market.claim(stuck_terms, pool[0].id, sender=pool[0].operator)  # ... and never proves
    good_job, n = open_job(), pool[1]
    market.claim(terms_of(market, good_job), n.id, sender=n.operator)
    market.submitProofs([([(good_job, n.id, _commitment(good_job, n))], b"")], sender=n.operator)
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1

    tx = market.expire(stuck_terms, sender=keeper)
    assert _credits(tx, market) == [(keeper, BOUNTY), (stuck.address, PAY)]
    tx = market.finalize(terms_of(market, good_job), sender=keeper)
    assert _credits(tx, market) == [(keeper, BOUNTY)]
    assert _earnings(tx, market) == [(n.id, NET)]
    before = token.balanceOf(keeper)
    market.withdraw(sender=keeper)
    assert token.balanceOf(keeper) == before + 2 * BOUNTY
    before = token.balanceOf(n.owner)
    market.withdrawEarnings([n.id], sender=n.owner)
    assert token.balanceOf(n.owner) == before + NET
    pending = market.pendingFees()
    assert pending == COL - BOUNTY  # the seized collateral, less the bounty it paid
    tx = market.flushFees(sender=stranger)
    assert tx.decode_logs(market.FeesFlushed)[0].amount == pending
    market.pushWork([n.id], sender=stranger)  # the good job's fee, as its node's work
    # What this test left in the escrow is exactly the stuck client's credit.
    assert market.credited(stuck) == PAY
    assert token.balanceOf(market) == escrow + PAY
    assert_escrow(market)


ZERO_ADDRESS = "0x" + "00" * 20


def test_proof__for_a_seat_whose_node_lost_its_operator__a_garbage_signature_vouches_for_nobody(
    market, registry, licence, pool, open_job, keeper, stranger
):
    # The licence changed hands mid-job: the node has no operator (operatorOf = 0). A signature
    # that recovers to nobody must not match that empty operator and commit a result someone chose.
    n = pool[0]
    job_id = open_job()
    market.claim(terms_of(market, job_id), n.id, sender=n.operator)
    licence.transferFrom(n.owner, stranger, n.id, sender=n.owner)
    assert registry.operatorOf(n.id) == ZERO_ADDRESS
    chosen = ([(job_id, n.id, b"\x66" * 32)], b"\x00" * 65)
    with ape.reverts(
        market.JobMarketInvalidSignature,
        jobId=job_id,
        nodeId=n.id,
        signer=ZERO_ADDRESS,
        operator=ZERO_ADDRESS,
    ):
        market.submitProofs([chosen], sender=keeper)
    assert replica_of(market, job_id, n.id)[0].state == SeatState.CLAIMED
