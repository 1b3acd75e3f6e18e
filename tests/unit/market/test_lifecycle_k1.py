"""k = 1 (optimistic) lifecycle: create -> claim -> proof -> finalize -> withdraw."""

import ape
import pytest

from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT, MARKET_PARAMETERS, WINDOWS

OPEN, RUNNING, REVEALING, ACCEPTED, PAID, CANCELLED, EXPIRED = 1, 2, 3, 4, 5, 6, 7
RESULT = b"\xab" * 32
FEE = JOB_PAYMENT * MARKET_PARAMETERS["protocolFeeBps"] // 10_000
BOUNTY = JOB_PAYMENT * MARKET_PARAMETERS["keeperBountyBps"] // 10_000


def test_create__escrows_payment_and_emits(market, token, client, fund, job_request):
    req = job_request()
    fund(client, JOB_PAYMENT)
    token.approve(market, JOB_PAYMENT, sender=client)
    before_client, before_market = token.balanceOf(client), token.balanceOf(market)

    tx = market.createJob(req, sender=client)

    ev = tx.decode_logs(market.JobCreated)[0]
    assert ev.jobId == 1 and ev.client == client and ev.payment == JOB_PAYMENT and ev.replicas == 1
    assert ev.bundleUri == "file:///bundles/job.tar"
    assert tx.decode_logs(market.PaymentEscrowed)[0].amount == JOB_PAYMENT
    assert token.balanceOf(client) == before_client - JOB_PAYMENT
    assert token.balanceOf(market) == before_market + JOB_PAYMENT
    job = market.job(1)
    assert job.status == OPEN and job.client == client and job.k == 1
    assert job.deadline == tx.timestamp + WINDOWS["claimWindow"]


def test_full_k1_lifecycle__pays_node_owner_fee_and_keeper(
    chain, market, token, registry, rewards, client, node_owner, operator, keeper, node, create_job, sign_proof
):
    job_id = create_job()
    stake_before = registry.node(node).stake

    tx = market.claim(job_id, node, sender=operator)
    assert tx.decode_logs(market.JobClaimed)[0].nodeId == node
    assert market.job(job_id).status == RUNNING
    assert registry.node(node).locked == JOB_COLLATERAL

    tx = market.submitProofs([sign_proof(operator, job_id, node, RESULT)], sender=keeper)
    ev = tx.decode_logs(market.ResultAccepted)[0]
    assert ev.resultHash == RESULT
    job = market.job(job_id)
    assert job.status == ACCEPTED and job.resultHash == RESULT

    with ape.reverts(market.JobMarketDeadlineNotReached):
        market.finalize(job_id, sender=keeper)
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    tx = market.finalize(job_id, sender=keeper)
    paid = tx.decode_logs(market.JobPaid)[0]
    assert paid.paidToNodes == JOB_PAYMENT - FEE and paid.protocolFee == FEE
    assert market.job(job_id).status == PAID
    assert market.credited(node_owner) == JOB_PAYMENT - FEE
    assert market.credited(keeper) == BOUNTY
    assert market.pendingFees() == FEE - BOUNTY
    n = registry.node(node)
    assert n.locked == 0 and n.stake == stake_before and n.completed == 1

    before = token.balanceOf(node_owner)
    tx = market.withdraw(sender=node_owner)
    assert tx.decode_logs(market.Withdrawn)[0].amount == JOB_PAYMENT - FEE
    assert token.balanceOf(node_owner) == before + JOB_PAYMENT - FEE
    assert market.credited(node_owner) == 0

    before_rewards = token.balanceOf(rewards)
    market.flushFees(sender=keeper)
    assert token.balanceOf(rewards) == before_rewards + FEE - BOUNTY
    assert market.pendingFees() == 0


def test_finalize__twice__reverts_wrong_status(chain, market, operator, keeper, node, create_job, sign_proof):
    job_id = create_job()
    market.claim(job_id, node, sender=operator)
    market.submitProofs([sign_proof(operator, job_id, node, RESULT)], sender=operator)
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    market.finalize(job_id, sender=keeper)
    with ape.reverts(market.JobMarketWrongStatus):
        market.finalize(job_id, sender=keeper)


def test_cancel__before_claim__refunds_client(market, token, client, create_job):
    job_id = create_job()
    tx = market.cancel(job_id, sender=client)
    assert tx.decode_logs(market.JobCancelled)[0].jobId == job_id
    assert market.job(job_id).status == CANCELLED
    assert market.credited(client) == JOB_PAYMENT
    before = token.balanceOf(client)
    market.withdraw(sender=client)
    assert token.balanceOf(client) == before + JOB_PAYMENT


def test_cancel__after_claim__reverts(market, client, operator, node, create_job):
    job_id = create_job()
    market.claim(job_id, node, sender=operator)
    with ape.reverts(market.JobMarketWrongStatus):
        market.cancel(job_id, sender=client)


def test_cancel__by_stranger__reverts(market, stranger, create_job):
    job_id = create_job()
    with ape.reverts(market.JobMarketNotClient):
        market.cancel(job_id, sender=stranger)


def test_expire__running_without_proof__slashes_node_and_refunds_client(
    chain, market, registry, client, operator, keeper, node, create_job
):
    job_id = create_job()
    market.claim(job_id, node, sender=operator)
    stake_before = registry.node(node).stake
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1

    tx = market.expire(job_id, sender=keeper)

    assert tx.decode_logs(market.CollateralSeized)[0].amount == JOB_COLLATERAL
    assert market.job(job_id).status == EXPIRED
    n = registry.node(node)
    assert n.stake == stake_before - JOB_COLLATERAL and n.locked == 0 and n.slashed == 1
    assert market.credited(keeper) == BOUNTY
    assert market.credited(client) == JOB_PAYMENT + JOB_COLLATERAL - BOUNTY
    with ape.reverts(market.JobMarketWrongStatus):
        market.expire(job_id, sender=keeper)


def test_expire__open_unclaimed__refunds_minus_bounty(chain, market, client, keeper, create_job):
    job_id = create_job()
    with ape.reverts(market.JobMarketDeadlineNotReached):
        market.expire(job_id, sender=keeper)
    chain.pending_timestamp += WINDOWS["claimWindow"] + 1
    market.expire(job_id, sender=keeper)
    assert market.job(job_id).status == EXPIRED
    assert market.credited(client) == JOB_PAYMENT - BOUNTY
    assert market.credited(keeper) == BOUNTY


@pytest.mark.parametrize("field,value,error", [
    ("payment", 10**17, "JobMarketPaymentBelowMinimum"),
    ("collateral", 0, "JobMarketCollateralTooLow"),
    ("replicas", 0, "JobMarketInvalidReplicas"),
    ("replicas", 16, "JobMarketInvalidReplicas"),
    ("bundle_hash", b"\x00" * 32, "JobMarketInvalidBundleHash"),
    ("claimWindow", 0, "JobMarketInvalidWindow"),
    ("disputeWindow", 0, "JobMarketInvalidWindow"),
])
def test_create__bad_request__reverts(market, token, client, fund, job_request, field, value, error):
    fund(client, JOB_PAYMENT)
    token.approve(market, JOB_PAYMENT, sender=client)
    with ape.reverts(getattr(market, error)):
        market.createJob(job_request(**{field: value}), sender=client)
