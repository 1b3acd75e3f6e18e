"""k = 3 (replicated) lifecycle: claims by distinct nodes, commit-reveal, quorum settlement,
expiry and slashing of dissenters and no-shows."""

import ape
import pytest

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


@pytest.fixture(scope="module")
def running(pool, open_job, claim_all):
    """A k = 3 job claimed by pool[0..2], waiting for proofs (built once for the module)."""
    job_id = open_job(replicas=K)
    claim_all(job_id, pool[:K])
    return job_id


def _released(tx, registry):
    return {(e.nodeId, e.amount, e.outcome) for e in tx.decode_logs(registry.CollateralReleased)}


def _seized(tx, market):
    return [(e.jobId, e.nodeId, e.amount) for e in tx.decode_logs(market.CollateralSeized)]


def _credits(tx, market):
    return [(e.jobId, e.account, e.amount) for e in tx.decode_logs(market.Credited)]


def _nodes(registry, nodes):
    return {n.id: registry.node(n.id) for n in nodes}


# ---------------------------------------------------------------------- settlement
def test_k3__all_agree__each_owner_gets_a_third_dust_to_fees(
    market, token, registry, rewards, client, stranger, pool, open_job, commit, reveal
):
    nodes = pool[:K]
    before = _nodes(registry, nodes)
    client_before = token.balanceOf(client)
    job_id = open_job(replicas=K)
    assert token.balanceOf(client) == client_before - PAY

    for i, n in enumerate(nodes):
        tx = market.claim(job_id, n.id, sender=n.operator)
        ev = tx.decode_logs(market.JobClaimed)[0]
        assert (ev.jobId, ev.nodeId, ev.operator, ev.round) == (job_id, n.id, n.operator, 0)
        assert registry.node(n.id).locked == before[n.id].locked + COL
        assert market.job(job_id).claims == i + 1
    running = tx.decode_logs(market.JobRunning)[0]
    assert (running.jobId, running.round) == (job_id, 0)
    assert running.deadline == tx.timestamp + WINDOWS["executionWindow"]
    assert market.job(job_id).status == Status.RUNNING

    commitments = [commitment_of(job_id, n.id, RESULT, salt_of(n.id)) for n in nodes]
    tx = commit(job_id, nodes, [RESULT] * K, stranger)  # a stranger relays the signed proofs
    assert [
        (e.jobId, e.nodeId, e.commitment, e.relayer) for e in tx.decode_logs(market.ProofAccepted)
    ] == [(job_id, n.id, c, stranger) for n, c in zip(nodes, commitments, strict=True)]
    phase = tx.decode_logs(market.RevealPhaseStarted)[0]
    assert (phase.jobId, phase.round) == (job_id, 0)
    assert phase.deadline == tx.timestamp + WINDOWS["revealWindow"]
    job = market.job(job_id)
    assert job.status == Status.REVEALING and job.commits == K
    rep, index = replica_of(market, job_id, nodes[1].id)
    assert index == 1 and rep.state == ReplicaState.COMMITTED and rep.commitment == commitments[1]

    market_before = token.balanceOf(market)
    tx = reveal(job_id, nodes, [RESULT] * K, stranger)  # ... and the reveals

    each, dust = share(NET, K)
    assert dust == 2  # 95e18 / 3 does not divide: the rounding goes to the fee pot
    assert [(e.jobId, e.nodeId, e.resultHash) for e in tx.decode_logs(market.ResultRevealed)] == [
        (job_id, n.id, RESULT) for n in nodes
    ]
    accepted = tx.decode_logs(market.ResultAccepted)[0]
    assert (accepted.jobId, accepted.resultHash) == (job_id, RESULT)
    assert accepted.disputeDeadline == tx.timestamp  # replicated results are final at once
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
    assert market.credited(stranger) == 0  # settled by the last reveal: relaying earns no bounty
    assert token.balanceOf(market) == market_before  # only credits so far
    for n in nodes:
        rec, old = registry.node(n.id), before[n.id]
        assert (rec.stake, rec.locked, rec.slashed) == (old.stake, old.locked, old.slashed)
        assert rec.completed == old.completed + 1
        assert replica_of(market, job_id, n.id)[0].state == ReplicaState.REVEALED

    for n in nodes:
        owner_before = token.balanceOf(n.owner)
        tx = market.withdraw(sender=n.owner)
        ev = tx.decode_logs(market.Withdrawn)[0]
        assert (ev.account, ev.amount) == (n.owner, each)
        assert token.balanceOf(n.owner) == owner_before + each
        assert market.credited(n.owner) == 0
    assert token.balanceOf(market) == market_before - each * K


def test_k3__two_agree_one_dissents__dissenter_seized_and_jailed(
    market, token, registry, stranger, pool, running, commit, reveal
):
    nodes = pool[:K]
    dissenter = nodes[2]
    before = _nodes(registry, nodes)
    results = [RESULT, RESULT, OTHER_RESULT]
    commit(running, nodes, results, stranger)
    market_before, registry_before = token.balanceOf(market), token.balanceOf(registry)

    tx = reveal(running, nodes, results, stranger)

    each, dust = share(NET, 2)
    assert _seized(tx, market) == [(running, dissenter.id, COL)]
    slash = tx.decode_logs(registry.NodeSlashed)[0]
    assert (slash.nodeId, slash.amount) == (dissenter.id, COL)
    assert slash.jailedUntil == tx.timestamp + JAIL_PERIOD
    assert _released(tx, registry) == {(n.id, COL, Outcome.COMPLETED) for n in nodes[:2]}
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.resultHash, paid.paidToNodes, paid.protocolFee) == (RESULT, each * 2, FEE)
    # The last reveal settles the job inline: no keeper did it, so no bounty; the dissenter's
    # collateral goes to fees whole.
    assert _credits(tx, market) == [
        (running, nodes[0].owner, each),
        (running, nodes[1].owner, each),
    ]
    assert market.pendingFees() == FEE + dust + COL
    assert market.credited(stranger) == 0
    assert token.balanceOf(market) == market_before + COL
    assert token.balanceOf(registry) == registry_before - COL
    rec, old = registry.node(dissenter.id), before[dissenter.id]
    assert (rec.stake, rec.locked) == (old.stake - COL, old.locked - COL)
    assert rec.status == NodeStatus.JAILED and rec.slashed == old.slashed + 1
    assert rec.completed == old.completed
    for n in nodes[:2]:
        assert registry.node(n.id).completed == before[n.id].completed + 1
        assert registry.node(n.id).status == NodeStatus.ACTIVE
    assert market.job(running).status == Status.PAID
    assert market.job(running).resultHash == RESULT


def test_k3__dissenter_relays_the_final_reveal__wins_back_nothing(
    market, token, registry, stranger, pool, running, commit, reveal
):
    """A dissenter that sends the reveal completing the round (here its own) must not earn part of
    its own seized collateral back as a settlement bounty: only keeper calls pay one."""
    nodes = pool[:K]
    dissenter = nodes[2]
    assert dissenter.operator not in (n.operator for n in nodes[:2])
    results = [RESULT, RESULT, OTHER_RESULT]
    commit(running, nodes, results, stranger)
    reveal(running, nodes[:2], results[:2], stranger)
    assert market.job(running).status == Status.REVEALING
    old = registry.node(dissenter.id)
    accounts = (dissenter.operator, dissenter.owner)
    tokens_before = [token.balanceOf(a) for a in accounts]
    market_before = token.balanceOf(market)

    tx = reveal(running, [dissenter], [OTHER_RESULT], dissenter.operator)

    each, dust = share(NET, 2)
    assert _seized(tx, market) == [(running, dissenter.id, COL)]
    assert _credits(tx, market) == [(running, n.owner, each) for n in nodes[:2]]
    assert [market.credited(a) for a in accounts] == [0, 0]
    assert [token.balanceOf(a) for a in accounts] == tokens_before
    assert market.pendingFees() == FEE + dust + COL
    assert token.balanceOf(market) == market_before + COL
    rec = registry.node(dissenter.id)
    assert (rec.stake, rec.locked, rec.slashed) == (
        old.stake - COL,
        old.locked - COL,
        old.slashed + 1,
    )
    assert rec.status == NodeStatus.JAILED
    assert market.job(running).status == Status.PAID


def test_k3__one_agrees_one_dissents_one_silent__expires_failed_and_refunds_client(
    chain, market, token, registry, client, keeper, stranger, pool, running, commit, reveal
):
    nodes = pool[:K]
    silent = nodes[2]
    before = _nodes(registry, nodes)
    commit(running, nodes, [RESULT, OTHER_RESULT, RESULT], stranger)
    reveal(running, nodes[:2], [RESULT, OTHER_RESULT], stranger)
    job = market.job(running)
    assert job.status == Status.REVEALING and job.reveals == 2

    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=running, deadline=job.deadline):
        market.expire(running, sender=keeper)
    chain.pending_timestamp += WINDOWS["revealWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(running, sender=keeper)

    assert tx.decode_logs(market.JobFailed)[0].jobId == running
    assert _seized(tx, market) == [(running, silent.id, COL)]
    # Without a quorum nobody is shown wrong: both revealers go free, without a completed count.
    assert _released(tx, registry) == {(n.id, COL, Outcome.NO_FAULT) for n in nodes[:2]}
    assert _credits(tx, market) == [
        (running, keeper, BOUNTY),
        (running, client, PAY + COL - BOUNTY),
    ]
    assert tx.decode_logs(market.JobPaid) == []
    assert market.job(running).status == Status.FAILED
    assert market.pendingFees() == 0
    assert token.balanceOf(market) == market_before + COL
    for n in nodes[:2]:
        rec, old = registry.node(n.id), before[n.id]
        assert (rec.locked, rec.completed, rec.slashed) == (
            old.locked - COL,
            old.completed,
            old.slashed,
        )
        assert rec.status == NodeStatus.ACTIVE
    assert registry.node(silent.id).slashed == before[silent.id].slashed + 1

    client_before, keeper_before = token.balanceOf(client), token.balanceOf(keeper)
    market.withdraw(sender=client)
    market.withdraw(sender=keeper)
    assert token.balanceOf(client) == client_before + PAY + COL - BOUNTY
    assert token.balanceOf(keeper) == keeper_before + BOUNTY
    assert token.balanceOf(market) == market_before - PAY


def test_k3__quorum_with_a_silent_replica__expire_pays_majority_and_slashes_it(
    chain, market, token, keeper, stranger, pool, running, commit, reveal
):
    nodes = pool[:K]
    commit(running, nodes, [RESULT] * K, stranger)
    reveal(running, nodes[:2], [RESULT] * 2, stranger)
    chain.pending_timestamp += WINDOWS["revealWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(running, sender=keeper)

    each, dust = share(NET, 2)
    assert _seized(tx, market) == [(running, nodes[2].id, COL)]
    assert _credits(tx, market) == [
        (running, nodes[0].owner, each),
        (running, nodes[1].owner, each),
        (running, keeper, BOUNTY),
    ]
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.jobId, paid.paidToNodes, paid.protocolFee) == (running, each * 2, FEE)
    assert market.pendingFees() == FEE + dust + COL - BOUNTY
    assert token.balanceOf(market) == market_before + COL
    assert market.job(running).status == Status.PAID


def test_k3__all_disagree__fails_at_last_reveal_and_refunds_client(
    market, token, registry, client, stranger, pool, running, commit, reveal
):
    nodes = pool[:K]
    results = [RESULT, OTHER_RESULT, THIRD_RESULT]
    commit(running, nodes, results, stranger)
    market_before = token.balanceOf(market)
    tx = reveal(running, nodes, results, stranger)
    assert tx.decode_logs(market.JobFailed)[0].jobId == running
    assert _seized(tx, market) == []
    assert _released(tx, registry) == {(n.id, COL, Outcome.NO_FAULT) for n in nodes}
    # Settled inline by the last reveal: no bounty, the client gets its whole payment back.
    assert _credits(tx, market) == [(running, client, PAY)]
    assert tx.decode_logs(market.JobPaid) == []
    assert market.credited(stranger) == 0
    assert market.pendingFees() == 0
    assert token.balanceOf(market) == market_before
    assert market.job(running).status == Status.FAILED


def test_k3__zero_result_majority__still_seizes_the_dissenter(
    market, token, registry, stranger, pool, running, commit, reveal
):
    """Regression: a majority on bytes32(0) used to release every revealer, dissenters too."""
    nodes = pool[:K]
    zero = b"\x00" * 32
    results = [zero, zero, RESULT]
    commit(running, nodes, results, stranger)
    slashed = registry.node(nodes[2].id).slashed
    tx = reveal(running, nodes, results, stranger)
    assert _seized(tx, market) == [(running, nodes[2].id, COL)]
    assert _released(tx, registry) == {(n.id, COL, Outcome.COMPLETED) for n in nodes[:2]}
    each, _ = share(NET, 2)
    assert _credits(tx, market) == [(running, n.owner, each) for n in nodes[:2]]
    assert market.job(running).resultHash == zero
    assert registry.node(nodes[2].id).slashed == slashed + 1


# ---------------------------------------------------------------------- expiry before reveal
def test_k3__node_never_commits__expires_and_slashes_only_that_node(
    chain, market, token, registry, client, keeper, stranger, pool, running, commit
):
    nodes = pool[:K]
    silent = nodes[2]
    commit(running, nodes[:2], [RESULT] * 2, stranger)
    job = market.job(running)
    assert job.status == Status.RUNNING and job.commits == 2
    before = _nodes(registry, nodes)
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(running, sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (running, Status.RUNNING)
    assert _seized(tx, market) == [(running, silent.id, COL)]
    assert _released(tx, registry) == {(n.id, COL, Outcome.NO_FAULT) for n in nodes[:2]}
    assert _credits(tx, market) == [
        (running, keeper, BOUNTY),
        (running, client, PAY + COL - BOUNTY),
    ]
    assert market.job(running).status == Status.EXPIRED
    assert token.balanceOf(market) == market_before + COL
    for n in nodes[:2]:
        rec, old = registry.node(n.id), before[n.id]
        assert (rec.stake, rec.locked, rec.slashed) == (old.stake, old.locked - COL, old.slashed)
        assert rec.status == NodeStatus.ACTIVE
    rec, old = registry.node(silent.id), before[silent.id]
    assert (rec.stake, rec.locked, rec.slashed) == (
        old.stake - COL,
        old.locked - COL,
        old.slashed + 1,
    )
    assert rec.status == NodeStatus.JAILED


def test_k3__claims_never_fill__expire_releases_claimers_without_fault(
    chain, market, token, registry, client, keeper, pool, claim_all, open_job
):
    nodes = pool[:2]
    job_id = open_job(replicas=K)
    claim_all(job_id, nodes)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.OPEN):
        market.cancel(job_id, sender=client)  # claimed replicas hold collateral: no cancel
    before = _nodes(registry, nodes)
    chain.pending_timestamp += WINDOWS["claimWindow"] + 1
    market_before = token.balanceOf(market)

    tx = market.expire(job_id, sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (job_id, Status.OPEN)
    assert _seized(tx, market) == []
    assert _released(tx, registry) == {(n.id, COL, Outcome.NO_FAULT) for n in nodes}
    assert _credits(tx, market) == [(job_id, keeper, BOUNTY), (job_id, client, PAY - BOUNTY)]
    assert token.balanceOf(market) == market_before
    for n in nodes:
        rec, old = registry.node(n.id), before[n.id]
        assert (rec.locked, rec.slashed, rec.completed) == (old.locked - COL, 0, old.completed)


# ---------------------------------------------------------------------- claim rules
def test_claim__same_node_twice__reverts_already_claimed(market, registry, pool, open_job):
    n = pool[0]
    job_id = open_job(replicas=K)
    market.claim(job_id, n.id, sender=n.operator)
    locked = registry.node(n.id).locked
    with ape.reverts(market.JobMarketAlreadyClaimed, jobId=job_id, nodeId=n.id):
        market.claim(job_id, n.id, sender=n.operator)
    assert registry.node(n.id).locked == locked


def test_claim__same_operator_second_node__reverts_operator_already_claimed(
    market, registry, pool, open_job
):
    first, twin = pool[0], pool[4]
    assert twin.operator == first.operator and twin.id != first.id
    job_id = open_job(replicas=K)
    market.claim(job_id, first.id, sender=first.operator)
    with ape.reverts(market.JobMarketOperatorAlreadyClaimed, jobId=job_id, operator=first.operator):
        market.claim(job_id, twin.id, sender=twin.operator)
    assert registry.node(twin.id).locked == 0
    assert market.job(job_id).claims == 1


def test_claim__job_already_full__reverts_wrong_status(market, pool, running):
    with ape.reverts(market.JobMarketWrongStatus, jobId=running, status=Status.RUNNING):
        market.claim(running, pool[3].id, sender=pool[3].operator)


def test_claim__after_claim_window__reverts_deadline_passed(chain, market, pool, open_job):
    job_id = open_job(replicas=K)
    deadline = market.job(job_id).deadline
    chain.pending_timestamp += WINDOWS["claimWindow"] + 1
    with ape.reverts(market.JobMarketDeadlinePassed, jobId=job_id, deadline=deadline):
        market.claim(job_id, pool[0].id, sender=pool[0].operator)


# ---------------------------------------------------------------------- commit / reveal rules
def test_submit_proof__second_proof_same_node__reverts_wrong_replica_state(
    market, stranger, pool, running, commit
):
    commit(running, pool[:1], [RESULT], stranger)
    with ape.reverts(
        market.JobMarketWrongReplicaState,
        jobId=running,
        nodeId=pool[0].id,
        state=ReplicaState.COMMITTED,
    ):
        commit(running, pool[:1], [OTHER_RESULT], stranger)
    assert market.job(running).commits == 1


def test_submit_proof__before_all_claimed__reverts_wrong_status(
    market, stranger, pool, open_job, commit
):
    job_id = open_job(replicas=K)
    market.claim(job_id, pool[0].id, sender=pool[0].operator)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.OPEN):
        commit(job_id, pool[:1], [RESULT], stranger)


def test_submit_proof__after_execution_window__reverts_deadline_passed(
    chain, market, stranger, pool, running, commit
):
    deadline = market.job(running).deadline
    chain.pending_timestamp += WINDOWS["executionWindow"] + 1
    with ape.reverts(market.JobMarketDeadlinePassed, jobId=running, deadline=deadline):
        commit(running, pool[:1], [RESULT], stranger)


def test_reveal__while_running__reverts_wrong_status(
    market, stranger, pool, running, commit, reveal
):
    commit(running, pool[:1], [RESULT], stranger)
    with ape.reverts(market.JobMarketWrongStatus, jobId=running, status=Status.RUNNING):
        reveal(running, pool[:1], [RESULT], stranger)


def test_reveal__twice__reverts_wrong_replica_state(
    market, stranger, pool, running, commit, reveal
):
    commit(running, pool[:K], [RESULT] * K, stranger)
    reveal(running, pool[:1], [RESULT], stranger)
    with ape.reverts(
        market.JobMarketWrongReplicaState,
        jobId=running,
        nodeId=pool[0].id,
        state=ReplicaState.REVEALED,
    ):
        reveal(running, pool[:1], [RESULT], stranger)
    assert market.job(running).reveals == 1


def test_reveal__wrong_salt_or_result__reverts_commitment_mismatch(
    market, stranger, pool, running, commit
):
    n = pool[0]
    commit(running, pool[:K], [RESULT] * K, stranger)
    with ape.reverts(market.JobMarketCommitmentMismatch, jobId=running, nodeId=n.id):
        market.reveal([(running, n.id, RESULT, b"\x01" * 32)], sender=stranger)
    with ape.reverts(market.JobMarketCommitmentMismatch, jobId=running, nodeId=n.id):
        market.reveal([(running, n.id, OTHER_RESULT, salt_of(n.id))], sender=stranger)


def test_reveal__after_reveal_window__reverts_deadline_passed(
    chain, market, stranger, pool, running, commit, reveal
):
    commit(running, pool[:K], [RESULT] * K, stranger)
    deadline = market.job(running).deadline
    chain.pending_timestamp += WINDOWS["revealWindow"] + 1
    with ape.reverts(market.JobMarketDeadlinePassed, jobId=running, deadline=deadline):
        reveal(running, pool[:1], [RESULT], stranger)
