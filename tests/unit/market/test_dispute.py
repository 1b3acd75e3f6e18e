"""k = 1 disputes: a bonded verifier challenges a proven result inside the window; fresh replicas
re-run the job with commit-reveal and the side their majority proves wrong pays."""

import ape
import pytest

from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT, WINDOWS
from tests.utils.market import (
    BOND,
    BOUNTY,
    FEE,
    NET,
    OTHER_RESULT,
    RESULT,
    THIRD_RESULT,
    NodeStatus,
    Outcome,
    ReplicaState,
    Status,
    bounty,
    share,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
ZERO = b"\x00" * 32


def _prove(market, sign_proof, node, job_id, result=RESULT):
    market.claim(job_id, node.id, sender=node.operator)
    return market.submitProofs(
        [sign_proof(node.operator, job_id, node.id, result)], sender=node.operator
    )


@pytest.fixture(scope="module")
def accepted(market, sign_proof, pool, open_job):
    """A k = 1 job proven by pool[0] with RESULT, inside its dispute window."""
    job_id = open_job()
    _prove(market, sign_proof, pool[0], job_id)
    return job_id


@pytest.fixture(scope="module")
def disputed(market, sign_proof, stranger, pool, open_job):
    """Another k = 1 job proven by pool[0] with RESULT and disputed by `stranger` (the verifier)."""
    job_id = open_job()
    _prove(market, sign_proof, pool[0], job_id)
    market.dispute(job_id, sender=stranger)
    return job_id


@pytest.fixture
def fresh(pool):
    """The three nodes that re-run a disputed job: none shares a node or operator with pool[0]."""
    return pool[1:4]


def _credits(tx, market):
    return [(e.jobId, e.account, e.amount) for e in tx.decode_logs(market.Credited)]


def _released(tx, registry):
    return {(e.nodeId, e.amount, e.outcome) for e in tx.decode_logs(registry.CollateralReleased)}


def _resolved(tx, market):
    return [
        (e.jobId, e.resultUpheld, e.majorityResult) for e in tx.decode_logs(market.DisputeResolved)
    ]


# ---------------------------------------------------------------------- raising a dispute
def test_dispute__inside_window__pulls_bond_and_reopens_for_fresh_replicas(
    market, token, registry, stranger, pool, accepted
):
    locked = registry.node(pool[0].id).locked
    verifier_before, market_before = token.balanceOf(stranger), token.balanceOf(market)

    tx = market.dispute(accepted, sender=stranger)

    ev = tx.decode_logs(market.JobDisputed)[0]
    assert (ev.jobId, ev.disputer, ev.bond) == (accepted, stranger, BOND)
    ev = tx.decode_logs(market.BondPosted)[0]
    assert (ev.jobId, ev.disputer, ev.amount) == (accepted, stranger, BOND)
    assert token.balanceOf(stranger) == verifier_before - BOND
    assert token.balanceOf(market) == market_before + BOND
    job = market.job(accepted)
    assert (job.status, job.round, job.k, job.claims) == (Status.OPEN, 1, 3, 0)
    assert job.deadline == tx.timestamp + WINDOWS["claimWindow"]
    assert job.disputer == stranger and job.resultHash == RESULT
    assert registry.node(pool[0].id).locked == locked  # the original's collateral stays at stake


def test_dispute__after_window__reverts_deadline_passed(chain, market, stranger, accepted):
    deadline = market.job(accepted).deadline
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    with ape.reverts(market.JobMarketDeadlinePassed, jobId=accepted, deadline=deadline):
        market.dispute(accepted, sender=stranger)


def test_dispute__k3_job__reverts_not_disputable(
    market, stranger, pool, open_job, claim_all, commit, reveal
):
    job_id = open_job(replicas=3)
    with ape.reverts(market.JobMarketNotDisputable, jobId=job_id):
        market.dispute(job_id, sender=stranger)  # open
    claim_all(job_id, pool[:3])
    commit(job_id, pool[:3], [RESULT] * 3, stranger)
    reveal(job_id, pool[:3], [RESULT] * 3, stranger)
    assert market.job(job_id).status == Status.PAID
    with ape.reverts(market.JobMarketNotDisputable, jobId=job_id):
        market.dispute(job_id, sender=stranger)  # settled by its quorum: final


def test_dispute__twice__reverts_not_disputable(market, client, disputed):
    with ape.reverts(market.JobMarketNotDisputable, jobId=disputed):
        market.dispute(disputed, sender=client)


def test_dispute__without_bond_allowance__reverts_in_token(market, token, keeper, fund, accepted):
    fund(keeper, BOND)
    with ape.reverts(token.ERC20InsufficientAllowance, spender=market, allowance=0, needed=BOND):
        market.dispute(accepted, sender=keeper)
    assert market.job(accepted).status == Status.ACCEPTED


def test_dispute__zero_collateral_job__reverts_not_disputable(
    market, deployer, stranger, sign_proof, pool, open_job
):
    """A free dispute would let anyone stall a payment for a whole re-run at no cost."""
    market.setParameters((500, 100, 0, 3, 10**18), sender=deployer)
    job_id = open_job(collateral=0)
    _prove(market, sign_proof, pool[0], job_id)
    with ape.reverts(market.JobMarketNotDisputable, jobId=job_id):
        market.dispute(job_id, sender=stranger)


def test_disputed_job__client_cannot_cancel_and_nobody_can_finalize(
    market, client, keeper, disputed
):
    with ape.reverts(market.JobMarketWrongStatus, jobId=disputed, status=Status.OPEN):
        market.cancel(disputed, sender=client)
    with ape.reverts(market.JobMarketWrongStatus, jobId=disputed, status=Status.OPEN):
        market.finalize(disputed, sender=keeper)


def test_rerun__original_node_or_operator__cannot_take_part(
    market, sign_proof, keeper, pool, fresh, disputed, claim_all
):
    original, twin = pool[0], pool[4]
    with ape.reverts(market.JobMarketAlreadyClaimed, jobId=disputed, nodeId=original.id):
        market.claim(disputed, original.id, sender=original.operator)
    with ape.reverts(
        market.JobMarketOperatorAlreadyClaimed, jobId=disputed, operator=original.operator
    ):
        market.claim(disputed, twin.id, sender=twin.operator)
    tx = claim_all(disputed, fresh)
    ev = tx.decode_logs(market.JobRunning)[0]
    assert (ev.jobId, ev.round, ev.deadline) == (
        disputed,
        1,
        tx.timestamp + WINDOWS["executionWindow"],
    )
    proof = sign_proof(original.operator, disputed, original.id, OTHER_RESULT)
    with ape.reverts(
        market.JobMarketWrongReplicaState,
        jobId=disputed,
        nodeId=original.id,
        state=ReplicaState.COMMITTED,
    ):
        market.submitProofs([proof], sender=keeper)


# ---------------------------------------------------------------------- resolution
def test_rerun__majority_upholds_original__node_paid_and_bond_pays_rerun(
    market,
    token,
    registry,
    rewards,
    keeper,
    stranger,
    pool,
    fresh,
    disputed,
    claim_all,
    commit,
    reveal,
):
    original = pool[0]
    tx = claim_all(disputed, fresh)
    assert [(e.jobId, e.nodeId, e.round) for e in tx.decode_logs(market.JobClaimed)] == [
        (disputed, fresh[2].id, 1)
    ]
    tx = commit(disputed, fresh, [RESULT] * 3, keeper)
    phase = tx.decode_logs(market.RevealPhaseStarted)[0]
    assert (phase.jobId, phase.round) == (disputed, 1)
    before = {n.id: registry.node(n.id) for n in pool[:4]}
    market_before = token.balanceOf(market)

    tx = reveal(disputed, fresh, [RESULT] * 3, keeper)

    # Settled inline by the last reveal, not by a keeper: no bounty, the re-run shares the whole
    # bond (its rounding goes to fees) and the original is paid in full, its fee all to fees.
    each, dust = share(BOND, 3)
    assert dust == 2
    assert _resolved(tx, market) == [(disputed, True, RESULT)]
    assert _credits(tx, market) == [
        *[(disputed, n.owner, each) for n in fresh],
        (disputed, original.owner, NET),
    ]
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.jobId, paid.resultHash, paid.paidToNodes, paid.protocolFee) == (
        disputed,
        RESULT,
        NET,
        FEE,
    )
    assert tx.decode_logs(market.CollateralSeized) == []
    assert _released(tx, registry) == {(n.id, COL, Outcome.COMPLETED) for n in pool[:4]}
    work = tx.decode_logs(rewards.WorkRecorded)
    assert [(e.nodeId, e.amount) for e in work] == [(original.id, NET)]  # re-runs are not work
    assert market.pendingFees() == FEE + dust
    assert token.balanceOf(market) == market_before
    job = market.job(disputed)
    assert job.status == Status.PAID and job.resultHash == RESULT
    for n in pool[:4]:
        rec, old = registry.node(n.id), before[n.id]
        assert (rec.stake, rec.locked, rec.completed) == (
            old.stake,
            old.locked - COL,
            old.completed + 1,
        )

    owner_before = token.balanceOf(original.owner)
    market.withdraw(sender=original.owner)
    assert token.balanceOf(original.owner) == owner_before + NET
    owner_before = token.balanceOf(fresh[0].owner)
    market.withdraw(sender=fresh[0].owner)
    assert token.balanceOf(fresh[0].owner) == owner_before + each
    assert market.credited(stranger) == 0  # the wrong disputer loses the bond
    assert market.credited(keeper) == 0  # relaying the last reveal earns nothing


def test_rerun__upheld_with_a_dissenting_fresh_replica__dissenter_seized_to_fees(
    market, token, registry, keeper, pool, fresh, disputed, claim_all, commit, reveal
):
    results = [RESULT, RESULT, OTHER_RESULT]
    claim_all(disputed, fresh)
    commit(disputed, fresh, results, keeper)
    market_before = token.balanceOf(market)

    tx = reveal(disputed, fresh, results, keeper)

    # No keeper settled it: the two agreeing replicas share the whole bond, no bounty.
    each, dust = share(BOND, 2)
    assert dust == 0
    assert _resolved(tx, market) == [(disputed, True, RESULT)]
    seized = tx.decode_logs(market.CollateralSeized)
    assert [(e.jobId, e.nodeId, e.amount) for e in seized] == [(disputed, fresh[2].id, COL)]
    assert _credits(tx, market) == [
        (disputed, fresh[0].owner, each),
        (disputed, fresh[1].owner, each),
        (disputed, pool[0].owner, NET),
    ]
    assert market.pendingFees() == FEE + dust + COL  # the dissenter's collateral, all of it
    assert token.balanceOf(market) == market_before + COL
    assert market.credited(keeper) == 0
    assert registry.node(fresh[2].id).status == NodeStatus.JAILED


def test_rerun__majority_differs__overturned_original_seized_client_refunded(
    market,
    token,
    registry,
    client,
    keeper,
    stranger,
    pool,
    fresh,
    disputed,
    claim_all,
    commit,
    reveal,
):
    original = pool[0]
    old = registry.node(original.id)
    claim_all(disputed, fresh)
    commit(disputed, fresh, [OTHER_RESULT] * 3, keeper)
    market_before, registry_before = token.balanceOf(market), token.balanceOf(registry)

    tx = reveal(disputed, fresh, [OTHER_RESULT] * 3, keeper)

    # No keeper settled it: the re-run shares the original's whole seized collateral, no bounty.
    each, dust = share(COL, 3)
    assert dust == 2
    assert _resolved(tx, market) == [(disputed, False, OTHER_RESULT)]
    seized = tx.decode_logs(market.CollateralSeized)
    assert [(e.jobId, e.nodeId, e.amount) for e in seized] == [(disputed, original.id, COL)]
    assert tx.decode_logs(market.JobOverturned)[0].jobId == disputed
    assert tx.decode_logs(market.JobPaid) == []
    assert _credits(tx, market) == [
        *[(disputed, n.owner, each) for n in fresh],
        (disputed, stranger, BOND),
        (disputed, client, PAY),
    ]
    assert _released(tx, registry) == {(n.id, COL, Outcome.COMPLETED) for n in fresh}
    job = market.job(disputed)
    assert job.status == Status.OVERTURNED and job.resultHash == OTHER_RESULT
    assert market.pendingFees() == dust
    assert market.credited(keeper) == 0
    assert token.balanceOf(market) == market_before + COL
    assert token.balanceOf(registry) == registry_before - COL
    rec = registry.node(original.id)
    assert (rec.stake, rec.locked, rec.slashed) == (
        old.stake - COL,
        old.locked - COL,
        old.slashed + 1,
    )
    assert rec.status == NodeStatus.JAILED and rec.completed == old.completed

    for account, amount in ((client, PAY), (stranger, BOND)):
        before = token.balanceOf(account)
        market.withdraw(sender=account)
        assert token.balanceOf(account) == before + amount


def test_rerun__not_enough_fresh_claims__expire_lets_original_stand_and_returns_bond(
    chain, market, token, registry, keeper, stranger, pool, fresh, disputed, claim_all
):
    original = pool[0]
    claim_all(disputed, fresh[:2])
    chain.pending_timestamp += WINDOWS["claimWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(disputed, sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (disputed, Status.OPEN)
    assert _resolved(tx, market) == [(disputed, True, ZERO)]
    assert tx.decode_logs(market.CollateralSeized) == []
    assert _released(tx, registry) == {
        (fresh[0].id, COL, Outcome.NO_FAULT),
        (fresh[1].id, COL, Outcome.NO_FAULT),
        (original.id, COL, Outcome.COMPLETED),
    }
    assert _credits(tx, market) == [
        (disputed, stranger, BOND),
        (disputed, original.owner, NET),
        (disputed, keeper, BOUNTY),
    ]
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.jobId, paid.resultHash, paid.paidToNodes, paid.protocolFee) == (
        disputed,
        RESULT,
        NET,
        FEE,
    )
    assert market.pendingFees() == FEE - BOUNTY
    assert market.job(disputed).status == Status.PAID
    assert token.balanceOf(market) == market_before
    before = token.balanceOf(stranger)
    market.withdraw(sender=stranger)
    assert token.balanceOf(stranger) == before + BOND


def test_rerun__fresh_replica_never_commits__expire_slashes_it_and_original_stands(
    chain, market, token, registry, keeper, stranger, pool, fresh, disputed, claim_all, commit
):
    claim_all(disputed, fresh)
    commit(disputed, fresh[:2], [OTHER_RESULT] * 2, keeper)
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(disputed, sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (disputed, Status.RUNNING)
    seized = tx.decode_logs(market.CollateralSeized)
    assert [(e.jobId, e.nodeId, e.amount) for e in seized] == [(disputed, fresh[2].id, COL)]
    assert _resolved(tx, market) == [(disputed, True, ZERO)]
    assert _credits(tx, market) == [
        (disputed, stranger, BOND),
        (disputed, pool[0].owner, NET),
        (disputed, keeper, BOUNTY),
    ]
    assert market.pendingFees() == COL + FEE - BOUNTY
    assert token.balanceOf(market) == market_before + COL
    assert market.job(disputed).status == Status.PAID


@pytest.mark.parametrize("rerun_result", [RESULT, OTHER_RESULT], ids=["upheld", "overturned"])
def test_rerun__settled_by_keeper_expire__keeper_bounty_from_the_losing_side(
    chain,
    market,
    token,
    registry,
    client,
    keeper,
    stranger,
    pool,
    fresh,
    disputed,
    claim_all,
    commit,
    reveal,
    rerun_result,
):
    """The keeper path of the re-run: two fresh replicas agree, the third never reveals and the
    keeper settles with `expire`. The bounty comes out of what the losing side pays the re-run."""
    original = pool[0]
    claim_all(disputed, fresh)
    commit(disputed, fresh, [rerun_result] * 3, stranger)
    reveal(disputed, fresh[:2], [rerun_result] * 2, stranger)
    chain.pending_timestamp += WINDOWS["revealWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(disputed, sender=keeper)

    upheld = rerun_result == RESULT
    pot = BOND if upheld else COL  # the wrong disputer's bond, or the wrong original's collateral
    keeper_bounty = bounty(pot)
    each, dust = share(pot - keeper_bounty, 2)
    assert _resolved(tx, market) == [(disputed, upheld, rerun_result)]
    seized = [(e.jobId, e.nodeId, e.amount) for e in tx.decode_logs(market.CollateralSeized)]
    agreeing = [(disputed, keeper, keeper_bounty), *[(disputed, n.owner, each) for n in fresh[:2]]]
    if upheld:
        assert seized == [(disputed, fresh[2].id, COL)]
        assert _credits(tx, market) == [*agreeing, (disputed, original.owner, NET)]
        assert market.pendingFees() == FEE + dust + COL  # the original's fee pays no bounty here
        assert market.job(disputed).status == Status.PAID
        assert token.balanceOf(market) == market_before + COL
    else:
        assert seized == [(disputed, fresh[2].id, COL), (disputed, original.id, COL)]
        assert _credits(tx, market) == [
            *agreeing,
            (disputed, stranger, BOND),
            (disputed, client, PAY),
        ]
        assert market.pendingFees() == dust + COL
        assert market.job(disputed).status == Status.OVERTURNED
        assert token.balanceOf(market) == market_before + 2 * COL
    assert market.credited(keeper) == keeper_bounty > 0


def test_rerun__no_quorum__original_stands_and_bond_returned(
    market, token, registry, keeper, stranger, pool, fresh, disputed, claim_all, commit, reveal
):
    results = [RESULT, OTHER_RESULT, THIRD_RESULT]
    claim_all(disputed, fresh)
    commit(disputed, fresh, results, keeper)
    market_before = token.balanceOf(market)

    tx = reveal(disputed, fresh, results, keeper)

    assert _resolved(tx, market) == [(disputed, True, ZERO)]
    assert tx.decode_logs(market.CollateralSeized) == []
    assert _released(tx, registry) == {
        *[(n.id, COL, Outcome.NO_FAULT) for n in fresh],
        (pool[0].id, COL, Outcome.COMPLETED),
    }
    # Settled inline by the last reveal: the original is paid without a bounty out of its fee.
    assert _credits(tx, market) == [
        (disputed, stranger, BOND),
        (disputed, pool[0].owner, NET),
    ]
    assert tx.decode_logs(market.JobPaid)[0].protocolFee == FEE
    assert market.pendingFees() == FEE
    assert market.credited(keeper) == 0
    assert token.balanceOf(market) == market_before
    assert market.job(disputed).status == Status.PAID
