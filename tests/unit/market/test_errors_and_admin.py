"""Custom errors not covered by the lifecycle files, governance (parameters, pause, ownership),
createJobWithPermit, and the views the oracle relies on."""

import ape
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from oracle.prove import commitment_of
from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT, MARKET_PARAMETERS, WINDOWS
from tests.utils.market import (
    BOUNTY,
    FEE,
    NET,
    RESULT,
    ReplicaState,
    Status,
    completion_digest,
    domain_separator,
    name32,
    replica_of,
    salt_of,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
MAX_WINDOW = 30 * 86_400
PARAMS = tuple(MARKET_PARAMETERS.values())


def _params(**overrides):
    return tuple({**MARKET_PARAMETERS, **overrides}.values())


# ---------------------------------------------------------------------- unknown job, withdraw
@pytest.mark.parametrize(
    "call",
    ["cancel", "dispute", "claim", "finalize", "expire", "submitProofs", "reveal"],
)
def test_any_job_call__unknown_job__reverts_unknown_job(market, pool, sign_proof, stranger, call):
    n = pool[0]
    job_id = 999
    calls = {
        "cancel": lambda: market.cancel(job_id, sender=stranger),
        "dispute": lambda: market.dispute(job_id, sender=stranger),
        "claim": lambda: market.claim(job_id, n.id, sender=n.operator),
        "finalize": lambda: market.finalize(job_id, sender=stranger),
        "expire": lambda: market.expire(job_id, sender=stranger),
        "submitProofs": lambda: market.submitProofs(
            [sign_proof(n.operator, job_id, n.id, RESULT)], sender=stranger
        ),
        "reveal": lambda: market.reveal([(job_id, n.id, RESULT, salt_of(n.id))], sender=stranger),
    }
    with ape.reverts(market.JobMarketUnknownJob, jobId=job_id):
        calls[call]()


def test_withdraw__nothing_credited__reverts(market, stranger):
    assert market.credited(stranger) == 0
    with ape.reverts(market.JobMarketNothingToWithdraw, account=stranger):
        market.withdraw(sender=stranger)


def test_flush_fees__nothing_pending__is_a_no_op(market, token, rewards, keeper):
    before = token.balanceOf(rewards)
    tx = market.flushFees(sender=keeper)
    assert tx.decode_logs(market.FeesFlushed) == []
    assert token.balanceOf(rewards) == before


# ---------------------------------------------------------------------- replicas and requests
def test_submit_proof__node_not_a_replica__reverts_not_replica(
    market, sign_proof, stranger, pool, open_job, claim_all
):
    job_id = open_job(replicas=3)
    claim_all(job_id, pool[:3])
    outsider = pool[3]
    proof = sign_proof(outsider.operator, job_id, outsider.id, RESULT)
    with ape.reverts(market.JobMarketNotReplica, jobId=job_id, nodeId=outsider.id):
        market.submitProofs([proof], sender=stranger)
    with ape.reverts(market.JobMarketNotReplica, jobId=job_id, nodeId=outsider.id):
        market.replicaOf(job_id, outsider.id)


def test_reveal__node_not_a_replica__reverts_not_replica(
    market, stranger, pool, open_job, claim_all, commit
):
    job_id = open_job(replicas=3)
    claim_all(job_id, pool[:3])
    commit(job_id, pool[:3], [RESULT] * 3, stranger)
    outsider = pool[3]
    with ape.reverts(market.JobMarketNotReplica, jobId=job_id, nodeId=outsider.id):
        market.reveal([(job_id, outsider.id, RESULT, salt_of(outsider.id))], sender=stranger)


@pytest.mark.parametrize(
    "window,value",
    [
        ("claimWindow", MAX_WINDOW + 1),
        ("executionWindow", 0),
        ("executionWindow", MAX_WINDOW + 1),
        ("revealWindow", 0),
        ("revealWindow", MAX_WINDOW + 1),
        ("disputeWindow", MAX_WINDOW + 1),
    ],
)
def test_create__window_out_of_range__reverts_invalid_window(
    market, client, pool, job_request, window, value
):
    with ape.reverts(market.JobMarketInvalidWindow, name=name32(window), value=value):
        market.createJob(job_request(**{window: value}), sender=client)


def test_create__k3_without_dispute_window__is_accepted_and_max_windows_too(
    market, client, pool, job_request
):
    tx = market.createJob(job_request(replicas=3, disputeWindow=0), sender=client)
    assert tx.decode_logs(market.JobCreated)[0].replicas == 3
    req = job_request(
        replicas=15,
        claimWindow=MAX_WINDOW,
        executionWindow=MAX_WINDOW,
        revealWindow=MAX_WINDOW,
        disputeWindow=MAX_WINDOW,
    )
    tx = market.createJob(req, sender=client)
    job = market.job(tx.decode_logs(market.JobCreated)[0].jobId)
    assert job.k == 15 and job.deadline == tx.timestamp + MAX_WINDOW


@pytest.mark.parametrize(
    "field,value,error,args",
    [
        ("payment", 10**18 - 1, "JobMarketPaymentBelowMinimum", dict(payment=10**18 - 1, minimum=10**18)),
        ("collateral", PAY // 10 - 1, "JobMarketCollateralTooLow", dict(collateral=PAY // 10 - 1, minimum=PAY // 10)),
        ("replicas", 16, "JobMarketInvalidReplicas", dict(replicas=16)),
    ],
)  # fmt: skip
def test_create__bad_request__reverts_with_the_values(
    market, client, pool, job_request, field, value, error, args
):
    with ape.reverts(getattr(market, error), **args):
        market.createJob(job_request(**{field: value}), sender=client)


# ---------------------------------------------------------------------- governance
def test_set_parameters__by_owner__stores_and_emits(market, deployer):
    new = (1_000, 500, 10_000, 15, 5 * 10**18)  # every bound at its maximum
    tx = market.setParameters(new, sender=deployer)
    assert tuple(tx.decode_logs(market.ParametersSet)[0].parameters) == new
    assert tuple(market.parameters()) == new


@pytest.mark.parametrize(
    "name,value",
    [
        ("protocolFeeBps", 1_001),
        ("keeperBountyBps", 501),
        ("minCollateralBps", 10_001),
        ("disputeReplicas", 1),
        ("disputeReplicas", 4),
        ("disputeReplicas", 17),
        ("minJobFee", 0),
    ],
)
def test_set_parameters__out_of_bounds__reverts(market, deployer, name, value):
    with ape.reverts(market.JobMarketParameterOutOfBounds, name=name32(name), value=value):
        market.setParameters(_params(**{name: value}), sender=deployer)
    assert tuple(market.parameters()) == PARAMS


@pytest.mark.parametrize("call", ["setParameters", "pause", "unpause"])
def test_governance__by_non_owner__reverts(market, stranger, call):
    args = (PARAMS,) if call == "setParameters" else ()
    with ape.reverts(market.OwnableUnauthorizedAccount, account=stranger):
        getattr(market, call)(*args, sender=stranger)


def test_ownership__two_step_transfer__new_owner_governs_old_cannot(market, deployer, treasury):
    tx = market.transferOwnership(treasury, sender=deployer)
    ev = tx.decode_logs(market.OwnershipTransferStarted)[0]
    assert (ev.previousOwner, ev.newOwner) == (deployer, treasury)
    assert market.owner() == deployer  # not before it is accepted
    market.acceptOwnership(sender=treasury)
    assert market.owner() == treasury
    with ape.reverts(market.OwnableUnauthorizedAccount, account=deployer):
        market.pause(sender=deployer)
    market.pause(sender=treasury)
    assert market.paused()


def test_pause__blocks_create_and_claim__not_withdraw_finalize_expire(
    chain,
    market,
    token,
    deployer,
    client,
    keeper,
    stranger,
    sign_proof,
    pool,
    open_job,
    job_request,
):
    n = pool[0]
    proven = open_job()
    market.claim(proven, n.id, sender=n.operator)
    market.submitProofs([sign_proof(n.operator, proven, n.id, RESULT)], sender=keeper)
    unclaimed = open_job()
    cancelled = open_job()
    market.cancel(cancelled, sender=client)

    tx = market.pause(sender=deployer)
    assert tx.decode_logs(market.Paused)[0].account == deployer

    with ape.reverts(market.EnforcedPause):
        market.createJob(job_request(), sender=client)
    with ape.reverts(market.EnforcedPause):
        market.createJobWithPermit(job_request(), 0, 27, b"\x00" * 32, b"\x00" * 32, sender=client)
    with ape.reverts(market.EnforcedPause):
        market.claim(unclaimed, n.id, sender=n.operator)

    # Money already in the system keeps moving: pause never traps funds.
    before = token.balanceOf(client)
    tx = market.withdraw(sender=client)
    assert tx.decode_logs(market.Withdrawn)[0].amount == PAY
    assert token.balanceOf(client) == before + PAY
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    tx = market.finalize(proven, sender=keeper)
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.jobId, paid.paidToNodes, paid.protocolFee) == (proven, NET, FEE)
    tx = market.expire(unclaimed, sender=keeper)
    assert tx.decode_logs(market.JobExpired)[0].jobId == unclaimed
    assert market.credited(keeper) == 2 * BOUNTY

    tx = market.unpause(sender=deployer)
    assert tx.decode_logs(market.Unpaused)[0].account == deployer
    job_id = open_job()
    assert market.job(job_id).status == Status.OPEN


# ---------------------------------------------------------------------- createJobWithPermit
def _permit(token, owner, spender, value, deadline):
    """(v, r, s) of an EIP-2612 permit signed with `owner`'s private key."""
    _, name, version, chain_id, verifying, _, _ = token.eip712Domain()
    msg = encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "Permit",
            "domain": {
                "name": name,
                "version": version,
                "chainId": chain_id,
                "verifyingContract": verifying,
            },
            "message": {
                "owner": owner.address,
                "spender": str(spender.address),
                "value": value,
                "nonce": token.nonces(owner),
                "deadline": deadline,
            },
        }
    )
    sig = Account.sign_message(msg, owner.private_key)
    return sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")


@pytest.fixture
def permit_client(keeper, fund, token, market):
    """A client with TES but no allowance for the market (the pool clients have one)."""
    fund(keeper, PAY)
    assert token.allowance(keeper, market) == 0
    return keeper


def test_create_with_permit__signed_permit__escrows_without_approve(
    chain, market, token, permit_client, job_request
):
    deadline = chain.pending_timestamp + 3_600
    v, r, s = _permit(token, permit_client, market, PAY, deadline)
    before, market_before = token.balanceOf(permit_client), token.balanceOf(market)

    tx = market.createJobWithPermit(job_request(), deadline, v, r, s, sender=permit_client)

    ev = tx.decode_logs(market.JobCreated)[0]
    assert (ev.client, ev.payment) == (permit_client, PAY)
    esc = tx.decode_logs(market.PaymentEscrowed)[0]
    assert (esc.jobId, esc.amount) == (ev.jobId, PAY)
    assert esc["from"] == permit_client
    assert token.balanceOf(permit_client) == before - PAY
    assert token.balanceOf(market) == market_before + PAY
    assert token.nonces(permit_client) == 1 and token.allowance(permit_client, market) == 0


def test_create_with_permit__permit_front_run__still_creates_the_job(
    chain, market, token, stranger, permit_client, job_request
):
    deadline = chain.pending_timestamp + 3_600
    v, r, s = _permit(token, permit_client, market, PAY, deadline)
    token.permit(permit_client, market, PAY, deadline, v, r, s, sender=stranger)  # the front-run
    assert token.allowance(permit_client, market) == PAY
    before = token.balanceOf(permit_client)

    tx = market.createJobWithPermit(job_request(), deadline, v, r, s, sender=permit_client)

    assert tx.decode_logs(market.JobCreated)[0].client == permit_client
    assert token.balanceOf(permit_client) == before - PAY
    assert token.allowance(permit_client, market) == 0


def test_create_with_permit__bad_permit_and_no_allowance__reverts_in_token(
    chain, market, token, stranger, permit_client, job_request
):
    deadline = chain.pending_timestamp + 3_600
    v, r, s = _permit(token, stranger, market, PAY, deadline)  # signed by someone else
    with ape.reverts(token.ERC20InsufficientAllowance, spender=market, allowance=0, needed=PAY):
        market.createJobWithPermit(job_request(), deadline, v, r, s, sender=permit_client)


# ---------------------------------------------------------------------- views
def test_views__digest_domain_commitment_match_oracle(chain, market, pool):
    commitment = commitment_of(7, 3, RESULT, salt_of(3))
    assert market.commitmentOf(7, 3, RESULT, salt_of(3)) == commitment
    assert market.proofDigest(7, 3, commitment) == completion_digest(
        chain.chain_id, market.address, 7, 3, commitment
    )
    assert market.domainSeparator() == domain_separator(chain.chain_id, market.address)
    assert market.COMPLETION_TYPEHASH() == keccak(
        b"Completion(uint256 jobId,uint256 nodeId,bytes32 commitment)"
    )


def test_views__job_replica_and_accounts(
    market, token, registry, rewards, client, stranger, pool, open_job, claim_all, commit
):
    assert market.token() == token.address
    assert market.registry() == registry.address
    assert market.rewards() == rewards.address
    assert tuple(market.parameters()) == PARAMS
    count = market.jobCount()
    job_id = open_job(replicas=3, collateral=COL)
    assert market.jobCount() == count + 1 == job_id
    claim_all(job_id, pool[:3])
    commit(job_id, pool[:2], [RESULT] * 2, stranger)

    job = market.job(job_id)
    assert (job.payment, job.collateral, job.k, job.round, job.client) == (PAY, COL, 3, 0, client)
    assert (job.claims, job.commits, job.reveals, job.replicaCount) == (3, 2, 0, 3)
    assert job.bundleHash == b"\x11" * 32 and job.status == Status.RUNNING
    for i, n in enumerate(pool[:3]):
        rep, index = replica_of(market, job_id, n.id)
        assert index == i
        assert (rep.nodeId, rep.round, rep.operator) == (n.id, 0, n.operator)
        expected = ReplicaState.COMMITTED if i < 2 else ReplicaState.CLAIMED
        assert rep.state == expected
    assert market.replica(job_id, 2).commitment == b"\x00" * 32
    assert market.replica(job_id, 3).state == ReplicaState.NONE  # past the end: empty
    assert market.job(999).status == Status.NONE  # the view does not revert
