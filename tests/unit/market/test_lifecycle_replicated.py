"""k = 3 (replicated) lifecycle: claims by distinct nodes, commit-reveal, quorum settlement,
expiry and slashing of dissenters and no-shows."""

import ape

from oracle.prove import commitment_of
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
    ReplicaState,
    Status,
    replica_of,
    salt_of,
    share,
)

K = 3
PAY, COL = JOB_PAYMENT, JOB_COLLATERAL


def _released(tx, registry):
    return {(e.nodeId, e.amount, e.outcome) for e in tx.decode_logs(registry.CollateralReleased)}


def _seized(tx, market):
    return [(e.jobId, e.nodeId, e.amount) for e in tx.decode_logs(market.CollateralSeized)]


def _credits(tx, market):
    return [(e.jobId, e.account, e.amount) for e in tx.decode_logs(market.Credited)]


# ---------------------------------------------------------------------- happy path
def test_k3__all_agree__each_owner_gets_a_third_dust_to_fees(
    chain, market, token, registry, rewards, client, stranger, pool, open_job, commit, reveal
):
    nodes = pool[:K]
    stakes = [registry.node(n.id).stake for n in nodes]
    before_client = token.balanceOf(client)
    job_id = open_job(replicas=K)
    assert token.balanceOf(client) == before_client - PAY

    for i, n in enumerate(nodes):
        tx = market.claim(job_id, n.id, sender=n.operator)
        ev = tx.decode_logs(market.JobClaimed)[0]
        assert (ev.jobId, ev.nodeId, ev.operator, ev.round) == (job_id, n.id, n.operator, 0)
        assert registry.node(n.id).locked == COL
        assert market.job(job_id).claims == i + 1
    running = tx.decode_logs(market.JobRunning)[0]
    assert (running.jobId, running.round) == (job_id, 0)
    assert running.deadline == tx.timestamp + WINDOWS["executionWindow"]
    assert market.job(job_id).status == Status.RUNNING

    commitments = [commitment_of(job_id, n.id, RESULT, salt_of(n.id)) for n in nodes]
    tx = commit(job_id, nodes, [RESULT] * K, stranger)
    proofs = tx.decode_logs(market.ProofAccepted)
    assert [(e.jobId, e.nodeId, e.commitment, e.relayer) for e in proofs] == [
        (job_id, n.id, c, stranger) for n, c in zip(nodes, commitments, strict=True)
    ]
    phase = tx.decode_logs(market.RevealPhaseStarted)[0]
    assert (phase.jobId, phase.round) == (job_id, 0)
    assert phase.deadline == tx.timestamp + WINDOWS["revealWindow"]
    job = market.job(job_id)
    assert job.status == Status.REVEALING and job.commits == K
    rep, index = replica_of(market, job_id, nodes[1].id)
    assert index == 1 and rep.state == ReplicaState.COMMITTED and rep.commitment == commitments[1]

    market_before = token.balanceOf(market)
    tx = reveal(job_id, nodes, [RESULT] * K, stranger)

    each, dust = share(NET, K)
    assert dust == 2  # 95e18 / 3 does not divide: the rounding goes to the fee pot
    assert [(e.jobId, e.nodeId, e.resultHash) for e in tx.decode_logs(market.ResultRevealed)] == [
        (job_id, n.id, RESULT) for n in nodes
    ]
    accepted = tx.decode_logs(market.ResultAccepted)[0]
    assert (accepted.jobId, accepted.resultHash, accepted.disputeDeadline) == (
        job_id,
        RESULT,
        tx.timestamp,
    )
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.jobId, paid.resultHash, paid.paidToNodes, paid.protocolFee) == (
        job_id,
        RESULT,
        each * K,
        FEE,
    )
    assert _credits(tx, market) == [(job_id, n.owner, each) for n in nodes]
    assert _released(tx, registry) == {(n.id, COL, Outcome.COMPLETED) for n in nodes}
    assert _seized(tx, market) == []
    epoch = rewards.currentEpoch()
    work = tx.decode_logs(rewards.WorkRecorded)
    assert [(e.nodeId, e.epoch, e.amount) for e in work] == [(n.id, epoch, each) for n in nodes]

    job = market.job(job_id)
    assert job.status == Status.PAID and job.resultHash == RESULT and job.reveals == K
    assert market.pendingFees() == FEE + dust
    assert market.credited(stranger) == 0  # nothing seized, so no bounty for relaying
    assert token.balanceOf(market) == market_before  # credits only: nothing moved yet
    for n, stake in zip(nodes, stakes, strict=True):
        rec = registry.node(n.id)
        assert (rec.stake, rec.locked, rec.completed, rec.slashed) == (stake, 0, 1, 0)
        assert replica_of(market, job_id, n.id)[0].state == ReplicaState.REVEALED

    for n in nodes:
        before = token.balanceOf(n.owner)
        tx = market.withdraw(sender=n.owner)
        ev = tx.decode_logs(market.Withdrawn)[0]
        assert (ev.account, ev.amount) == (n.owner, each)
        assert token.balanceOf(n.owner) == before + each
    assert token.balanceOf(market) == market_before - each * K
    assert token.balanceOf(market) == market.pendingFees()


def test_k3__two_agree_one_dissents__dissenter_seized_and_jailed(
    chain, market, token, registry, stranger, pool, claim_all, open_job, commit, reveal
):
    nodes = pool[:K]
    dissenter = nodes[2]
    stake = registry.node(dissenter.id).stake
    job_id = open_job(replicas=K)
    claim_all(job_id, nodes)
    results = [RESULT, RESULT, OTHER_RESULT]
    commit(job_id, nodes, results, stranger)
    market_before, registry_before = token.balanceOf(market), token.balanceOf(registry)

    tx = reveal(job_id, nodes, results, stranger)

    each, dust = share(NET, 2)
    assert _seized(tx, market) == [(job_id, dissenter.id, COL)]
    slash = tx.decode_logs(registry.NodeSlashed)[0]
    assert (slash.nodeId, slash.amount, slash.jailedUntil) == (
        dissenter.id,
        COL,
        tx.timestamp + JAIL_PERIOD,
    )
    assert _released(tx, registry) == {(n.id, COL, Outcome.COMPLETED) for n in nodes[:2]}
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.resultHash, paid.paidToNodes, paid.protocolFee) == (RESULT, each * 2, FEE)
    # The relayer whose reveal settled the job earns the bounty, out of the seized collateral.
    assert _credits(tx, market) == [
        (job_id, nodes[0].owner, each),
        (job_id, nodes[1].owner, each),
        (job_id, stranger, BOUNTY),
    ]
    assert market.pendingFees() == FEE + dust + COL - BOUNTY
    assert token.balanceOf(market) == market_before + COL
    assert token.balanceOf(registry) == registry_before - COL
    rec = registry.node(dissenter.id)
    assert rec.stake == stake - COL and rec.locked == 0
    assert rec.status == NodeStatus.JAILED and rec.slashed == 1 and rec.completed == 0
    for n in nodes[:2]:
        assert registry.node(n.id).completed == 1 and registry.node(n.id).slashed == 0
    assert market.job(job_id).status == Status.PAID


def test_k3__one_agrees_one_dissents_one_silent__expires_failed_and_refunds_client(
    chain, market, token, registry, client, keeper, stranger, pool, claim_all, open_job, commit,
    reveal,
):
    nodes = pool[:K]
    silent = nodes[2]
    job_id = open_job(replicas=K)
    claim_all(job_id, nodes)
    commit(job_id, nodes, [RESULT, OTHER_RESULT, RESULT], stranger)
    reveal(job_id, nodes[:2], [RESULT, OTHER_RESULT], stranger)
    job = market.job(job_id)
    assert job.status == Status.REVEALING and job.reveals == 2

    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=job_id, deadline=job.deadline):
        market.expire(job_id, sender=keeper)
    chain.pending_timestamp += WINDOWS["revealWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(job_id, sender=keeper)

    assert tx.decode_logs(market.JobFailed)[0].jobId == job_id
    assert _seized(tx, market) == [(job_id, silent.id, COL)]
    # Without a quorum nobody is shown wrong: both revealers go free, without a completed count.
    assert _released(tx, registry) == {(n.id, COL, Outcome.NO_FAULT) for n in nodes[:2]}
    assert _credits(tx, market) == [(job_id, keeper, BOUNTY), (job_id, client, PAY + COL - BOUNTY)]
    assert tx.decode_logs(market.JobPaid) == []
    assert market.job(job_id).status == Status.FAILED
    assert market.pendingFees() == 0
    assert token.balanceOf(market) == market_before + COL
    for n in nodes[:2]:
        rec = registry.node(n.id)
        assert (rec.locked, rec.completed, rec.slashed, rec.status) == (0, 0, 0, NodeStatus.ACTIVE)
    assert registry.node(silent.id).slashed == 1

    before = token.balanceOf(client)
    market.withdraw(sender=client)
    assert token.balanceOf(client) == before + PAY + COL - BOUNTY
    before = token.balanceOf(keeper)
    market.withdraw(sender=keeper)
    assert token.balanceOf(keeper) == before + BOUNTY
    assert token.balanceOf(market) == market_before + COL - PAY - COL


def test_k3__quorum_with_a_silent_replica__expire_pays_majority_and_slashes_it(
    chain, market, token, registry, keeper, stranger, pool, claim_all, open_job, commit, reveal
):
    nodes = pool[:K]
    job_id = open_job(replicas=K)
    claim_all(job_id, nodes)
    commit(job_id, nodes, [RESULT] * K, stranger)
    reveal(job_id, nodes[:2], [RESULT] * 2, stranger)
    chain.pending_timestamp += WINDOWS["revealWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(job_id, sender=keeper)

    each, dust = share(NET, 2)
    assert _seized(tx, market) == [(job_id, nodes[2].id, COL)]
    assert _credits(tx, market) == [
        (job_id, nodes[0].owner, each),
        (job_id, nodes[1].owner, each),
        (job_id, keeper, BOUNTY),
    ]
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.jobId, paid.paidToNodes, paid.protocolFee) == (job_id, each * 2, FEE)
    assert market.pendingFees() == FEE + dust + COL - BOUNTY
    assert token.balanceOf(market) == market_before + COL
    assert market.job(job_id).status == Status.PAID


def test_k3__all_disagree__fails_at_last_reveal_and_refunds_client(
    market, token, registry, client, stranger, pool, claim_all, open_job, commit, reveal
):
    nodes = pool[:K]
    results = [RESULT, OTHER_RESULT, THIRD_RESULT]
    job_id = open_job(replicas=K)
    claim_all(job_id, nodes)
    commit(job_id, nodes, results, stranger)
    tx = reveal(job_id, nodes, results, stranger)
    assert tx.decode_logs(market.JobFailed)[0].jobId == job_id
    assert _seized(tx, market) == []
    assert _released(tx, registry) == {(n.id, COL, Outcome.NO_FAULT) for n in nodes}
    # The relayer who settled earns the bounty; it comes out of the refund (nothing was seized).
    assert _credits(tx, market) == [(job_id, stranger, BOUNTY), (job_id, client, PAY - BOUNTY)]
    assert market.job(job_id).status == Status.FAILED


def test_k3__zero_result_majority__still_seizes_the_dissenter(
    market, token, registry, stranger, pool, claim_all, open_job, commit, reveal
):
    """Regression: a majority on bytes32(0) used to release every revealer, dissenters too."""
    nodes = pool[:K]
    zero = b"\x00" * 32
    results = [zero, zero, RESULT]
    job_id = open_job(replicas=K)
    claim_all(job_id, nodes)
    commit(job_id, nodes, results, stranger)
    tx = reveal(job_id, nodes, results, stranger)
    assert _seized(tx, market) == [(job_id, nodes[2].id, COL)]
    assert _released(tx, registry) == {(n.id, COL, Outcome.COMPLETED) for n in nodes[:2]}
    assert market.job(job_id).resultHash == zero
    assert registry.node(nodes[2].id).slashed == 1


# ---------------------------------------------------------------------- expiry before reveal
def test_k3__node_never_commits__expires_and_slashes_only_that_node(
    chain, market, token, registry, client, keeper, stranger, pool, claim_all, open_job, commit
):
    nodes = pool[:K]
    silent = nodes[2]
    job_id = open_job(replicas=K)
    claim_all(job_id, nodes)
    commit(job_id, nodes[:2], [RESULT] * 2, stranger)
    job = market.job(job_id)
    assert job.status == Status.RUNNING and job.commits == 2
    stakes = {n.id: registry.node(n.id).stake for n in nodes}
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(job_id, sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (job_id, Status.RUNNING)
    assert _seized(tx, market) == [(job_id, silent.id, COL)]
    assert _released(tx, registry) == {(n.id, COL, Outcome.NO_FAULT) for n in nodes[:2]}
    assert _credits(tx, market) == [(job_id, keeper, BOUNTY), (job_id, client, PAY + COL - BOUNTY)]
    assert market.job(job_id).status == Status.EXPIRED
    assert token.balanceOf(market) == market_before + COL
    for n in nodes[:2]:
        rec = registry.node(n.id)
        assert (rec.stake, rec.locked, rec.slashed) == (stakes[n.id], 0, 0)
        assert rec.status == NodeStatus.ACTIVE
    rec = registry.node(silent.id)
    assert (rec.stake, rec.locked, rec.slashed) == (stakes[silent.id] - COL, 0, 1)
    assert rec.status == NodeStatus.JAILED


def test_k3__claims_never_fill__expire_releases_claimers_without_fault(
    chain, market, registry, client, keeper, pool, claim_all, open_job
):
    nodes = pool[:2]
    job_id = open_job(replicas=K)
    claim_all(job_id, nodes)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.OPEN):
        market.cancel(job_id, sender=client)  # claimed replicas hold collateral: no cancel
    chain.pending_timestamp += WINDOWS["claimWindow"] + 1

    tx = market.expire(job_id, sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (job_id, Status.OPEN)
    assert _seized(tx, market) == []
    assert _released(tx, registry) == {(n.id, COL, Outcome.NO_FAULT) for n in nodes}
    assert _credits(tx, market) == [(job_id, keeper, BOUNTY), (job_id, client, PAY - BOUNTY)]
    for n in nodes:
        rec = registry.node(n.id)
        assert (rec.locked, rec.slashed, rec.completed) == (0, 0, 0)


# ---------------------------------------------------------------------- claim rules
def test_claim__same_node_twice__reverts_already_claimed(market, pool, open_job):
    n = pool[0]
    job_id = open_job(replicas=K)
    market.claim(job_id, n.id, sender=n.operator)
    with ape.reverts(market.JobMarketAlreadyClaimed, jobId=job_id, nodeId=n.id):
        market.claim(job_id, n.id, sender=n.operator)


def test_claim__same_operator_second_node__reverts_operator_already_claimed(
    market, registry, setup_node, pool, open_job
):
    n = pool[0]
    second = setup_node(n.owner, n.operator)
    assert registry.operatorOf(second) == n.operator
    job_id = open_job(replicas=K)
    market.claim(job_id, n.id, sender=n.operator)
    with ape.reverts(market.JobMarketOperatorAlreadyClaimed, jobId=job_id, operator=n.operator):
        market.claim(job_id, second, sender=n.operator)
    assert registry.node(second).locked == 0


def test_claim__job_already_full__reverts_wrong_status(market, pool, claim_all, open_job):
    job_id = open_job(replicas=K)
    claim_all(job_id, pool[:K])
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.RUNNING):
        market.claim(job_id, pool[3].id, sender=pool[3].operator)


def test_claim__after_claim_window__reverts_deadline_passed(chain, market, pool, open_job):
    job_id = open_job(replicas=K)
    deadline = market.job(job_id).deadline
    chain.pending_timestamp += WINDOWS["claimWindow"] + 1
    with ape.reverts(market.JobMarketDeadlinePassed, jobId=job_id, deadline=deadline):
        market.claim(job_id, pool[0].id, sender=pool[0].operator)


# ---------------------------------------------------------------------- commit / reveal rules
def test_submit_proof__second_proof_same_node__reverts_wrong_replica_state(
    market, stranger, pool, claim_all, open_job, commit
):
    job_id = open_job(replicas=K)
    claim_all(job_id, pool[:K])
    commit(job_id, pool[:1], [RESULT], stranger)
    with ape.reverts(
        market.JobMarketWrongReplicaState,
        jobId=job_id,
        nodeId=pool[0].id,
        state=ReplicaState.COMMITTED,
    ):
        commit(job_id, pool[:1], [OTHER_RESULT], stranger)
    assert market.job(job_id).commits == 1


def test_submit_proof__before_all_claimed__reverts_wrong_status(
    market, stranger, pool, open_job, commit
):
    job_id = open_job(replicas=K)
    market.claim(job_id, pool[0].id, sender=pool[0].operator)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.OPEN):
        commit(job_id, pool[:1], [RESULT], stranger)


def test_submit_proof__after_execution_window__reverts_deadline_passed(
    chain, market, stranger, pool, claim_all, open_job, commit
):
    job_id = open_job(replicas=K)
    claim_all(job_id, pool[:K])
    deadline = market.job(job_id).deadline
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1
    with ape.reverts(market.JobMarketDeadlinePassed, jobId=job_id, deadline=deadline):
        commit(job_id, pool[:1], [RESULT], stranger)


def test_reveal__while_running__reverts_wrong_status(
    market, stranger, pool, claim_all, open_job, commit, reveal
):
    job_id = open_job(replicas=K)
    claim_all(job_id, pool[:K])
    commit(job_id, pool[:1], [RESULT], stranger)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.RUNNING):
        reveal(job_id, pool[:1], [RESULT], stranger)


def test_reveal__twice__reverts_wrong_replica_state(
    market, stranger, pool, claim_all, open_job, commit, reveal
):
    job_id = open_job(replicas=K)
    claim_all(job_id, pool[:K])
    commit(job_id, pool[:K], [RESULT] * K, stranger)
    reveal(job_id, pool[:1], [RESULT], stranger)
    with ape.reverts(
        market.JobMarketWrongReplicaState,
        jobId=job_id,
        nodeId=pool[0].id,
        state=ReplicaState.REVEALED,
    ):
        reveal(job_id, pool[:1], [RESULT], stranger)


def test_reveal__wrong_salt__reverts_commitment_mismatch(
    market, stranger, pool, claim_all, open_job, commit
):
    n = pool[0]
    job_id = open_job(replicas=K)
    claim_all(job_id, pool[:K])
    commit(job_id, pool[:K], [RESULT] * K, stranger)
    with ape.reverts(market.JobMarketCommitmentMismatch, jobId=job_id, nodeId=n.id):
        market.reveal([(job_id, n.id, RESULT, b"\x01" * 32)], sender=stranger)
    with ape.reverts(market.JobMarketCommitmentMismatch, jobId=job_id, nodeId=n.id):
        market.reveal([(job_id, n.id, OTHER_RESULT, salt_of(n.id))], sender=stranger)


def test_reveal__after_reveal_window__reverts_deadline_passed(
    chain, market, stranger, pool, claim_all, open_job, commit, reveal
):
    job_id = open_job(replicas=K)
    claim_all(job_id, pool[:K])
    commit(job_id, pool[:K], [RESULT] * K, stranger)
    deadline = market.job(job_id).deadline
    chain.pending_timestamp += WINDOWS["revealWindow"] + 1
    with ape.reverts(market.JobMarketDeadlinePassed, jobId=job_id, deadline=deadline):
        reveal(job_id, pool[:1], [RESULT], stranger)
