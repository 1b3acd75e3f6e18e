"""Attacks on the market: forged or replayed proofs, copied results, reentrant tokens, callers
without the right role, a client that never withdraws, settling a job twice."""

import ape
import pytest
from eth_utils import keccak

from oracle.prove import commitment_of
from tests.utils.constants import (
    DEFAULT_CAPS,
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
    ReplicaState,
    Status,
    recover,
    replica_of,
    salt_of,
    share,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
PARAMS = tuple(MARKET_PARAMETERS.values())
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
REENTRANT_CALL = keccak(b"ReentrancyGuardReentrantCall()")[:4]


def _credits(tx, market):
    return [(e.jobId, e.account, e.amount) for e in tx.decode_logs(market.Credited)]


@pytest.fixture(scope="module")
def two_claimed(market, pool, open_job):
    """Two k = 1 jobs, both claimed by pool[0]."""
    n = pool[0]
    jobs = [open_job(), open_job()]
    for job_id in jobs:
        market.claim(job_id, n.id, sender=n.operator)
    return jobs


# ---------------------------------------------------------------------- forged proofs
def _bad_signature(market, job_id, node, commitment, signature):
    """The error the market raises for this proof: whoever the signature recovers to."""
    digest = market.proofDigest(job_id, node.id, commitment)
    signer = recover(digest, signature) if any(signature) else ZERO_ADDRESS
    return dict(jobId=job_id, nodeId=node.id, signer=signer, operator=node.operator)


def test_proof__replayed_on_another_job__reverts_invalid_signature(
    market, stranger, pool, two_claimed, sign_proof
):
    n = pool[0]
    first, second = two_claimed
    _, _, _, sig = sign_proof(n.operator, first, n.id, RESULT)
    err = _bad_signature(market, second, n, RESULT, sig)
    assert err["signer"] != n.operator
    with ape.reverts(market.JobMarketInvalidSignature, **err):
        market.submitProofs([(second, n.id, RESULT, sig)], sender=stranger)
    assert market.job(second).status == Status.RUNNING

    tx = market.submitProofs([(first, n.id, RESULT, sig)], sender=stranger)  # where it belongs
    ev = tx.decode_logs(market.ProofAccepted)[0]
    assert (ev.jobId, ev.nodeId, ev.commitment, ev.relayer) == (first, n.id, RESULT, stranger)


def test_proof__signed_for_another_chain__reverts_invalid_signature(
    chain, market, stranger, pool, two_claimed, sign_proof
):
    n, job_id = pool[0], two_claimed[0]
    proof = sign_proof(n.operator, job_id, n.id, RESULT, chain_id=chain.chain_id + 1)
    with ape.reverts(
        market.JobMarketInvalidSignature, **_bad_signature(market, job_id, n, RESULT, proof[3])
    ):
        market.submitProofs([proof], sender=stranger)


def test_proof__signed_for_another_deployment__reverts_invalid_signature(
    chain,
    project,
    deployer,
    market,
    token,
    registry,
    rewards,
    stranger,
    pool,
    two_claimed,
    sign_proof,
):
    n, job_id = pool[0], two_claimed[0]
    other = project.JobMarket.deploy(deployer, token, registry, rewards, PARAMS, sender=deployer)
    proof = sign_proof(n.operator, job_id, n.id, RESULT, verifying_contract=other.address)
    # The signature is good for the other deployment's digest, not for this one's.
    assert recover(other.proofDigest(job_id, n.id, RESULT), proof[3]) == n.operator
    assert other.proofDigest(job_id, n.id, RESULT) != market.proofDigest(job_id, n.id, RESULT)
    with ape.reverts(
        market.JobMarketInvalidSignature, **_bad_signature(market, job_id, n, RESULT, proof[3])
    ):
        market.submitProofs([proof], sender=stranger)


def test_proof__signed_by_non_operator__reverts_invalid_signature(
    market, stranger, pool, two_claimed, sign_proof
):
    n, job_id = pool[0], two_claimed[0]
    proof = sign_proof(stranger, job_id, n.id, RESULT)  # the relayer signs for itself
    with ape.reverts(
        market.JobMarketInvalidSignature,
        jobId=job_id,
        nodeId=n.id,
        signer=stranger,
        operator=n.operator,
    ):
        market.submitProofs([proof], sender=stranger)
    # Nor can the operator of another node (its owner's twin node) vouch for this one.
    other = pool[1]
    proof = sign_proof(other.operator, job_id, n.id, RESULT)
    with ape.reverts(market.JobMarketInvalidSignature, signer=other.operator, operator=n.operator):
        market.submitProofs([proof], sender=stranger)


def test_proof__tampered_commitment_or_garbage_signature__reverts_invalid_signature(
    market, stranger, pool, two_claimed, sign_proof
):
    n, job_id = pool[0], two_claimed[0]
    _, _, _, sig = sign_proof(n.operator, job_id, n.id, RESULT)
    err = _bad_signature(market, job_id, n, OTHER_RESULT, sig)
    with ape.reverts(market.JobMarketInvalidSignature, **err):
        market.submitProofs([(job_id, n.id, OTHER_RESULT, sig)], sender=stranger)
    for garbage in (b"\x00" * 65, b"\x01" * 64, b""):  # tryRecover: address(0), never a revert
        with ape.reverts(
            market.JobMarketInvalidSignature, signer=ZERO_ADDRESS, operator=n.operator
        ):
            market.submitProofs([(job_id, n.id, RESULT, garbage)], sender=stranger)
    assert market.job(job_id).status == Status.RUNNING


def test_proofs__one_bad_in_a_batch__reverts_the_whole_batch(
    market, stranger, pool, open_job, claim_all, sign_proof
):
    job_id = open_job(replicas=3)
    claim_all(job_id, pool[:3])
    good = sign_proof(
        pool[0].operator,
        job_id,
        pool[0].id,
        commitment_of(job_id, pool[0].id, RESULT, salt_of(pool[0].id)),
    )
    bad = sign_proof(stranger, job_id, pool[1].id, RESULT)
    with ape.reverts(market.JobMarketInvalidSignature, jobId=job_id, nodeId=pool[1].id):
        market.submitProofs([good, bad], sender=stranger)
    assert replica_of(market, job_id, pool[0].id)[0].state == ReplicaState.CLAIMED
    assert market.job(job_id).commits == 0


# ---------------------------------------------------------------------- copied results
def test_copied_commitment__cannot_be_revealed__copier_slashed_as_no_show(
    chain,
    market,
    token,
    registry,
    keeper,
    stranger,
    sign_proof,
    pool,
    open_job,
    claim_all,
    commit,
    reveal,
):
    honest, copier = pool[:2], pool[2]
    job_id = open_job(replicas=3)
    claim_all(job_id, pool[:3])
    commit(job_id, honest, [RESULT] * 2, stranger)
    # The copier has no result: it re-submits the first node's commitment under its own signature.
    copied = commitment_of(job_id, honest[0].id, RESULT, salt_of(honest[0].id))
    market.submitProofs(
        [sign_proof(copier.operator, job_id, copier.id, copied)], sender=copier.operator
    )
    assert market.job(job_id).status == Status.REVEALING
    reveal(job_id, honest, [RESULT] * 2, stranger)

    # Even with the honest node's result and salt in hand, the copier's reveal cannot match: the
    # commitment binds the node id.
    for salt in (salt_of(honest[0].id), salt_of(copier.id)):
        with ape.reverts(market.JobMarketCommitmentMismatch, jobId=job_id, nodeId=copier.id):
            market.reveal([(job_id, copier.id, RESULT, salt)], sender=copier.operator)

    chain.pending_timestamp += WINDOWS["revealWindow"] + 1
    stake = registry.node(copier.id).stake
    market_before = token.balanceOf(market)
    tx = market.expire(job_id, sender=keeper)
    seized = tx.decode_logs(market.CollateralSeized)
    assert [(e.jobId, e.nodeId, e.amount) for e in seized] == [(job_id, copier.id, COL)]
    each, _ = share(NET, 2)
    assert _credits(tx, market) == [
        (job_id, honest[0].owner, each),
        (job_id, honest[1].owner, each),
        (job_id, keeper, BOUNTY),
    ]
    assert registry.node(copier.id).stake == stake - COL
    assert token.balanceOf(market) == market_before + COL
    assert market.job(job_id).status == Status.PAID


# ---------------------------------------------------------------------- wrong roles
def test_claim__by_non_operator__reverts_in_registry(market, registry, stranger, pool, open_job):
    n = pool[0]
    job_id = open_job()
    locked = registry.node(n.id).locked
    with ape.reverts(registry.NodeRegistryNotOperator, nodeId=n.id, caller=stranger):
        market.claim(job_id, n.id, sender=stranger)
    with ape.reverts(registry.NodeRegistryNotOperator, nodeId=n.id, caller=n.owner):
        market.claim(job_id, n.id, sender=n.owner)  # not even the licence owner
    assert market.job(job_id).claims == 0 and registry.node(n.id).locked == locked


def test_registry_hooks__called_directly__revert_not_job_market(registry, stranger, pool):
    n = pool[0]
    with ape.reverts(registry.NodeRegistryNotJobMarket, caller=stranger):
        registry.seize(n.id, COL, sender=stranger)
    with ape.reverts(registry.NodeRegistryNotJobMarket, caller=stranger):
        registry.lockForClaim(n.id, stranger, DEFAULT_CAPS, COL, sender=stranger)


# ---------------------------------------------------------------------- reentrancy
@pytest.fixture(scope="module")
def evil(project, deployer, licence, rewards, client, pool):
    """A market + registry whose token calls back into the market on every armed transfer.
    The registry reuses the real licences (pool[3]'s node is re-registered there); rewards is the
    real one and is never reached by the paths used here."""
    tok = project.ReentrantToken.deploy(sender=deployer)
    reg = project.NodeRegistry.deploy(
        deployer, tok, licence, MIN_STAKE, UNBONDING_DELAY, JAIL_PERIOD, sender=deployer
    )
    mkt = project.JobMarket.deploy(deployer, tok, reg, rewards, PARAMS, sender=deployer)
    reg.setJobMarket(mkt, sender=deployer)
    n = pool[3]
    reg.bindOperator(n.id, n.operator, sender=n.owner)
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


def test_reentrancy__token_reenters_during_create__guard_rejects(client, job_request, evil):
    tok, _, mkt, _ = evil
    tok.arm(mkt, mkt.withdraw.encode_input(), False, sender=client)
    before = tok.balanceOf(client)
    tx = mkt.createJob(job_request(), sender=client)
    assert _reentry(tx, tok) == [(mkt.address, False, REENTRANT_CALL)]
    assert tx.decode_logs(mkt.JobCreated)[0].payment == PAY
    assert tok.balanceOf(client) == before - PAY and tok.balanceOf(mkt) == PAY


def test_reentrancy__token_reenters_withdraw__paid_exactly_once(client, job_request, evil):
    tok, _, mkt, _ = evil
    job_id = mkt.createJob(job_request(), sender=client).decode_logs(mkt.JobCreated)[0].jobId
    mkt.cancel(job_id, sender=client)
    assert mkt.credited(client) == PAY
    tok.arm(mkt, mkt.withdraw.encode_input(), False, sender=client)
    before = tok.balanceOf(client)

    tx = mkt.withdraw(sender=client)

    assert _reentry(tx, tok) == [(mkt.address, False, REENTRANT_CALL)]
    assert tx.decode_logs(mkt.Withdrawn)[0].amount == PAY
    assert tok.balanceOf(client) == before + PAY
    assert mkt.credited(client) == 0 and tok.balanceOf(mkt) == 0


def test_reentrancy__bubbled_reentry__outer_withdraw_reverts_and_credit_stays(
    client, job_request, evil
):
    tok, _, mkt, _ = evil
    jobs = [
        mkt.createJob(job_request(), sender=client).decode_logs(mkt.JobCreated)[0].jobId
        for _ in range(2)
    ]
    mkt.cancel(jobs[0], sender=client)
    tok.arm(mkt, mkt.cancel.encode_input(jobs[1]), True, sender=client)
    before = tok.balanceOf(client)
    with ape.reverts(mkt.ReentrancyGuardReentrantCall):
        mkt.withdraw(sender=client)
    assert mkt.credited(client) == PAY and tok.balanceOf(client) == before
    assert mkt.job(jobs[1]).status == Status.OPEN


def test_reentrancy__token_reenters_expire_during_seize__settled_once(
    chain, client, keeper, job_request, evil
):
    tok, reg, mkt, n = evil
    job_id = mkt.createJob(job_request(), sender=client).decode_logs(mkt.JobCreated)[0].jobId
    mkt.claim(job_id, n.id, sender=n.operator)
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1
    # The seized collateral's transfer (registry -> market) re-enters expire on the same job.
    tok.arm(mkt, mkt.expire.encode_input(job_id), False, sender=client)
    stake = reg.node(n.id).stake

    tx = mkt.expire(job_id, sender=keeper)

    assert _reentry(tx, tok) == [(mkt.address, False, REENTRANT_CALL)]
    assert len(tx.decode_logs(mkt.CollateralSeized)) == 1
    assert _credits(tx, mkt) == [(job_id, keeper, BOUNTY), (job_id, client, PAY + COL - BOUNTY)]
    assert reg.node(n.id).stake == stake - COL
    assert tok.balanceOf(mkt) == PAY + COL
    assert mkt.job(job_id).status == Status.EXPIRED


# ---------------------------------------------------------------------- a client that never withdraws
def test_stuck_client__credit_stays__everyone_else_settles_and_withdraws(
    chain,
    project,
    deployer,
    market,
    token,
    rewards,
    client,
    keeper,
    stranger,
    sign_proof,
    fund,
    pool,
    open_job,
    job_request,
):
    escrow = token.balanceOf(market)  # other jobs' escrow, untouched here
    stuck = project.StuckClient.deploy(market, token, sender=deployer)
    fund(stuck, PAY)
    stuck_job = stuck.open(job_request(), sender=stranger).decode_logs(market.JobCreated)[0].jobId
    assert market.job(stuck_job).client == stuck.address
    market.claim(stuck_job, pool[0].id, sender=pool[0].operator)  # ... and never proves
    good_job = open_job()
    n = pool[1]
    market.claim(good_job, n.id, sender=n.operator)
    market.submitProofs([sign_proof(n.operator, good_job, n.id, RESULT)], sender=n.operator)
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1

    tx = market.expire(stuck_job, sender=keeper)
    assert _credits(tx, market) == [
        (stuck_job, keeper, BOUNTY),
        (stuck_job, stuck.address, PAY + COL - BOUNTY),
    ]
    tx = market.finalize(good_job, sender=keeper)
    assert _credits(tx, market) == [(good_job, n.owner, NET), (good_job, keeper, BOUNTY)]

    for account, amount in ((keeper, 2 * BOUNTY), (n.owner, NET)):
        before = token.balanceOf(account)
        market.withdraw(sender=account)
        assert token.balanceOf(account) == before + amount
    before = token.balanceOf(rewards)
    tx = market.flushFees(sender=stranger)
    assert tx.decode_logs(market.FeesFlushed)[0].amount == FEE - BOUNTY
    assert token.balanceOf(rewards) == before + FEE - BOUNTY
    # All that this test added to the escrow and is still there is the stuck client's credit.
    assert market.credited(stuck) == PAY + COL - BOUNTY
    assert token.balanceOf(market) == escrow + market.credited(stuck)
    assert market.pendingFees() == 0


# ---------------------------------------------------------------------- settle once
def test_expired_job__refunded_and_slashed_exactly_once(
    chain, market, token, registry, client, keeper, stranger, pool, open_job, sign_proof
):
    n = pool[0]
    job_id = open_job()
    market.claim(job_id, n.id, sender=n.operator)
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1
    tx = market.expire(job_id, sender=keeper)
    assert _credits(tx, market) == [(job_id, keeper, BOUNTY), (job_id, client, PAY + COL - BOUNTY)]

    def snapshot():
        rec = registry.node(n.id)
        return (
            [token.balanceOf(a) for a in (market, registry, client, keeper)],
            [market.credited(a) for a in (client, keeper)],
            (rec.stake, rec.locked, rec.slashed),
            market.pendingFees(),
        )

    before = snapshot()
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.EXPIRED):
        market.expire(job_id, sender=keeper)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.EXPIRED):
        market.expire(job_id, sender=stranger)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.EXPIRED):
        market.finalize(job_id, sender=keeper)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.EXPIRED):
        market.cancel(job_id, sender=client)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.EXPIRED):
        market.submitProofs([sign_proof(n.operator, job_id, n.id, RESULT)], sender=n.operator)
    assert snapshot() == before
