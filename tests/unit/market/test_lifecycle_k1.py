"""k = 1 (open claim, optimistic) lifecycle, end to end: create -> claim -> proof (own or relayed)
-> finalize -> withdraw / flushFees, and the ways out (cancel, expire). Exact amounts and the
exact second of every deadline: a test here fails if a rule moves by one wei or one second."""

import ape
import pytest

from oracle.core.prove import commitment_of, sign_proof_batch
from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT, MARKET_PARAMETERS, WINDOWS
from tests.utils.market import (
    BOUNTY,
    FEE,
    NET,
    RESULT,
    ZERO_ADDRESS,
    NodeStatus,
    Outcome,
    ReplicaState,
    SkipReason,
    Status,
    assert_escrow,
    earnings,
    fingerprint,
    salt_of,
    terms_of,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
ZERO = b"\x00" * 32


def _commitment(job_id, node, result=RESULT):
    return commitment_of(job_id, node.id, result, salt_of(node.id))


def _credits(tx, market):
    """{account: total credited} of one transaction."""
    out = {}
    for e in tx.decode_logs(market.Credited):
        out[e.account] = out.get(e.account, 0) + e.amount
    return out


def _params(**overrides):
    return tuple({**MARKET_PARAMETERS, **overrides}.values())


@pytest.fixture
def running(market, pool, open_job):
    """A k = 1 job claimed by pool[0]: (jobId, claim receipt)."""
    job_id = open_job()
    tx = market.claim(terms_of(market, job_id), pool[0].id, sender=pool[0].operator)
    return job_id, tx


@pytest.fixture
def accepted(market, pool, running):
    """The running job, proven by pool[0]'s operator itself (no signature)."""
    job_id, _ = running
    proof = ([(job_id, pool[0].id, _commitment(job_id, pool[0]))], b"")
    market.submitProofs([proof], sender=pool[0].operator)
    return job_id


# ---------------------------------------------------------------------- create
def test_create__escrows_payment_and_copies_the_terms(market, token, client, pool, job_request):
    before_client, before_market = token.balanceOf(client), token.balanceOf(market)

    tx = market.createJob(job_request(), sender=client)

    ev = tx.decode_logs(market.JobCreated)[0]
    job_id = ev.jobId
    assert (ev.client, ev.bundleHash, ev.bundleUri) == (
        client,
        b"\x11" * 32,
        "file:///bundles/job.tar",
    )
    assert (ev.payment, ev.collateral, ev.replicas) == (PAY, COL, 1)
    assert ev.claimDeadline == tx.timestamp + WINDOWS["claimWindow"]
    assert (ev.protocolFeeBps, ev.keeperBountyBps) == (
        MARKET_PARAMETERS["protocolFeeBps"],
        MARKET_PARAMETERS["keeperBountyBps"],
    )
    assert tx.decode_logs(market.DrawAnchored) == []  # k = 1 is claimed, never drawn
    assert token.balanceOf(client) == before_client - PAY
    assert token.balanceOf(market) == before_market + PAY
    # One word on chain: job(id) has the state, jobOf(terms) adds the terms the id is a hash of.
    stored = market.job(job_id)
    assert (stored.status, stored.k, stored.payment, stored.client) == (
        Status.OPEN,
        1,
        0,
        ZERO_ADDRESS,
    )
    job = market.jobOf(terms_of(market, job_id))
    assert (job.status, job.k, job.round, job.client, job.drawBlock) == (
        Status.OPEN,
        1,
        0,
        client,
        0,
    )
    assert job.deadline == tx.timestamp + WINDOWS["claimWindow"]
    assert (job.protocolFeeBps, job.keeperBountyBps) == (
        MARKET_PARAMETERS["protocolFeeBps"],
        MARKET_PARAMETERS["keeperBountyBps"],
    )
    assert (job.claimWindow, job.executionWindow, job.revealWindow, job.disputeWindow) == tuple(
        WINDOWS.values()
    )


# ---------------------------------------------------------------------- claim
def test_claim__locks_collateral_takes_seat_zero_and_runs(market, registry, pool, running):
    job_id, tx = running
    n = pool[0]

    ev = tx.decode_logs(market.JobClaimed)[0]
    assert (ev.jobId, ev.nodeId, ev.operator, ev.round) == (job_id, n.id, n.operator, 0)
    ev = tx.decode_logs(market.JobRunning)[0]
    assert (ev.jobId, ev.round, ev.deadline) == (
        job_id,
        0,
        tx.timestamp + WINDOWS["executionWindow"],
    )
    assert [(e.nodeId, e.amount) for e in tx.decode_logs(registry.CollateralLocked)] == [
        (n.id, COL)
    ]
    assert registry.node(n.id).locked == COL
    job = market.job(job_id)
    assert (job.status, job.claims, job.seated, job.replicaCount) == (Status.RUNNING, 1, 1, 1)
    assert job.deadline == tx.timestamp + WINDOWS["executionWindow"]
    # The one-slot job keeps the node, not the key that claimed: that is in JobClaimed.
    seat = market.replica(job_id, 0)
    assert (seat.nodeId, seat.state, seat.round, seat.acceptDeadline, seat.operator) == (
        n.id, ReplicaState.CLAIMED, 0, 0, ZERO_ADDRESS,
    )  # fmt: skip
    assert [e.operator for e in tx.decode_logs(market.JobClaimed)] == [n.operator]


@pytest.mark.parametrize("late", [0, 1])
def test_claim__at_the_claim_deadline_ok__one_second_later_reverts(
    chain, market, pool, open_job, late
):
    job_id = open_job()
    deadline = market.job(job_id).deadline
    chain.pending_timestamp = deadline + late
    n = pool[0]
    if late:
        with ape.reverts(market.JobMarketDeadlinePassed, jobId=job_id, deadline=deadline):
            market.claim(terms_of(market, job_id), n.id, sender=n.operator)
    else:
        market.claim(terms_of(market, job_id), n.id, sender=n.operator)
        assert market.job(job_id).status == Status.RUNNING


def test_claim__taken_job__reverts_wrong_status(market, pool, running):
    job_id, _ = running
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.RUNNING):
        market.claim(terms_of(market, job_id), pool[1].id, sender=pool[1].operator)


def test_claim__by_another_key__reverts_in_the_registry(market, registry, pool, open_job):
    job_id = open_job()
    with ape.reverts(registry.NodeRegistryNotOperator, nodeId=pool[0].id, caller=pool[1].operator):
        market.claim(terms_of(market, job_id), pool[0].id, sender=pool[1].operator)


# ---------------------------------------------------------------------- proofs
def test_own_proof__without_signature__accepts_the_commitment_and_opens_the_dispute_window(
    market, pool, running
):
    job_id, _ = running
    n = pool[0]
    commitment = _commitment(job_id, n)

    tx = market.submitProofs([([(job_id, n.id, commitment)], b"")], sender=n.operator)

    # One event: the job has one node (JobClaimed's), and the relayer is the sender.
    assert tx.decode_logs(market.ProofAccepted) == []
    ev = tx.decode_logs(market.ResultAccepted)[0]
    assert (ev.jobId, ev.commitment, ev.disputeDeadline) == (
        job_id, commitment, tx.timestamp + WINDOWS["disputeWindow"],
    )  # fmt: skip
    job = market.job(job_id)
    assert (job.status, job.commitment, job.commits) == (
        Status.ACCEPTED,
        fingerprint(commitment),
        1,
    )
    assert job.deadline == tx.timestamp + WINDOWS["disputeWindow"]
    seat = market.replica(job_id, 0)
    # k = 1 keeps the commitment in the job record; the seat holds a result only once revealed.
    assert (seat.state, seat.commitment) == (ReplicaState.COMMITTED, ZERO)


def test_relayed_proof__signed_by_the_operator__records_the_relayer(
    market, sign_proof, pool, keeper, running
):
    job_id, _ = running
    n = pool[0]
    commitment = _commitment(job_id, n)

    tx = market.submitProofs([sign_proof(n.operator, job_id, n.id, commitment)], sender=keeper)

    (ev,) = tx.decode_logs(market.ResultAccepted)
    assert (ev.jobId, ev.commitment, tx.sender) == (job_id, commitment, keeper.address)
    assert market.job(job_id).status == Status.ACCEPTED


def test_relayed_proof__signed_by_another_key__reverts_with_both_addresses(
    market, sign_proof, pool, keeper, running
):
    job_id, _ = running
    n = pool[0]
    proof = sign_proof(pool[1].operator, job_id, n.id, _commitment(job_id, n))
    with ape.reverts(
        market.JobMarketInvalidSignature,
        jobId=job_id,
        nodeId=n.id,
        signer=pool[1].operator,
        operator=n.operator,
    ):
        market.submitProofs([proof], sender=keeper)


def _batch(chain, market, key, items):
    """A ProofBatch of `items` [(job, node, commitment)] under one signature by `key`."""
    return (items, sign_proof_batch(key.private_key, chain.chain_id, market.address, items))


def test_proof_batch__one_signature_for_the_jobs_of_every_node_the_key_operates(
    chain, market, pool, keeper, open_job
):
    # pool[0] and its twin pool[4] share one operator key: three jobs, two nodes, one signature.
    n, twin = pool[0], pool[4]
    jobs = [(open_job(), node) for node in (n, twin, n)]
    for job_id, node in jobs:
        market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    items = [(job_id, node.id, _commitment(job_id, node)) for job_id, node in jobs]
    # A stale item (a job already proven) is skipped; the rest of the batch still commits.
    market.submitProofs([([items[0]], b"")], sender=n.operator)

    tx = market.submitProofs([_batch(chain, market, n.operator, items)], sender=keeper)

    assert [e.jobId for e in tx.decode_logs(market.ResultAccepted)] == [j for j, _ in jobs[1:]]
    skipped = [(e.jobId, e.reason) for e in tx.decode_logs(market.ProofSkipped)]
    assert skipped == [(jobs[0][0], SkipReason.WRONG_STATUS)]
    assert all(market.job(j).status == Status.ACCEPTED for j, _ in jobs)


def test_proof_batch__signature_covers_exactly_its_items(chain, market, pool, keeper, open_job):
    # A relayer cannot drop, add or reorder items under a signature: the digest is the list's.
    n, twin = pool[0], pool[4]
    jobs = [(open_job(), node) for node in (n, twin)]
    for job_id, node in jobs:
        market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    items = [(job_id, node.id, _commitment(job_id, node)) for job_id, node in jobs]
    _, sig = _batch(chain, market, n.operator, items)
    for tampered in ([items[0]], items[::-1]):
        with ape.reverts(market.JobMarketInvalidSignature):
            market.submitProofs([(tampered, sig)], sender=keeper)
    assert all(market.job(j).status == Status.RUNNING for j, _ in jobs)


def test_proof_batch__an_item_of_a_node_the_key_does_not_operate__reverts_the_batch(
    chain, market, pool, keeper, open_job
):
    mine, other = pool[0], pool[1]
    jobs = [(open_job(), node) for node in (mine, other)]
    for job_id, node in jobs:
        market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    items = [(job_id, node.id, _commitment(job_id, node)) for job_id, node in jobs]
    with ape.reverts(
        market.JobMarketInvalidSignature,
        jobId=jobs[1][0], nodeId=other.id, signer=mine.operator.address, operator=other.operator.address,
    ):  # fmt: skip
        market.submitProofs([_batch(chain, market, mine.operator, items)], sender=keeper)
    assert market.job(jobs[0][0]).status == Status.RUNNING


@pytest.mark.parametrize("late", [0, 1])
def test_proof__at_the_execution_deadline_counts__one_second_later_is_skipped(
    chain, market, pool, running, late
):
    job_id, _ = running
    n = pool[0]
    chain.pending_timestamp = market.job(job_id).deadline + late
    tx = market.submitProofs([([(job_id, n.id, _commitment(job_id, n))], b"")], sender=n.operator)
    if late:
        skipped = [(e.jobId, e.nodeId, e.reason) for e in tx.decode_logs(market.ProofSkipped)]
        assert skipped == [(job_id, n.id, SkipReason.DEADLINE_PASSED)]
        assert market.job(job_id).status == Status.RUNNING
    else:
        assert tx.decode_logs(market.ProofSkipped) == []
        assert market.job(job_id).status == Status.ACCEPTED


# ---------------------------------------------------------------------- finalize
def test_finalize__at_the_dispute_deadline_reverts__one_second_later_pays(
    chain, market, token, registry, rewards, pool, keeper, accepted
):
    n = pool[0]
    job = market.job(accepted)
    chain.pending_timestamp = job.deadline
    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=accepted, deadline=job.deadline):
        market.finalize(terms_of(market, accepted), sender=keeper)
    rewards_before, completed = token.balanceOf(rewards), registry.node(n.id).completed
    chain.pending_timestamp = job.deadline + 1

    tx = market.finalize(terms_of(market, accepted), sender=keeper)

    # The node's net goes to its ledger (its licence's owner withdraws it), the keeper's bounty to
    # the keeper's credit.
    assert _credits(tx, market) == {keeper.address: BOUNTY}
    assert earnings(tx, market) == {n.id: NET}
    paid = tx.decode_logs(market.JobPaid)[0]
    # An undisputed result stays private: the event carries the commitment, not the result.
    assert (paid.jobId, paid.resultHash, paid.paidToNodes, paid.protocolFee) == (
        accepted,
        job.commitment,
        NET,
        FEE,
    )
    # The fee, less the bounty that came out of it, is the node's work: kept in its ledger for
    # this epoch, and Rewards sees it when it is pushed.
    assert tx.decode_logs(rewards.WorkRecorded) == []
    assert token.balanceOf(rewards) == rewards_before
    ledger = market.ledger(n.id)
    assert (ledger.earned, ledger.work, ledger.workEpoch) == (
        NET,
        FEE - BOUNTY,
        rewards.currentEpoch(),
    )
    assert market.pendingFees() == 0
    released = [
        (e.nodeId, e.amount, e.outcome) for e in tx.decode_logs(registry.CollateralReleased)
    ]
    assert released == [(n.id, COL, Outcome.COMPLETED)]
    assert registry.node(n.id).locked == 0 and registry.node(n.id).completed == completed + 1
    assert market.job(accepted).status == Status.PAID
    with ape.reverts(market.JobMarketWrongStatus, jobId=accepted, status=Status.PAID):
        market.finalize(terms_of(market, accepted), sender=keeper)
    tx = market.pushWork([n.id], sender=keeper)
    work = [(e.nodeId, e.amount) for e in tx.decode_logs(rewards.WorkRecorded)]
    assert work == [(n.id, FEE - BOUNTY)]  # the bounty comes out of the fee
    assert token.balanceOf(rewards) == rewards_before + FEE - BOUNTY
    assert_escrow(market)


def test_finalize__keeper_bounty_above_the_fee__is_capped_by_the_fee(
    chain, market, token, rewards, deployer, pool, keeper, open_job
):
    # 1 % fee, 5 % bounty: the keeper may take the whole fee but never the node's payment.
    market.setParameters(_params(protocolFeeBps=100, keeperBountyBps=500), sender=deployer)
    job_id = open_job()
    n = pool[0]
    market.claim(terms_of(market, job_id), n.id, sender=n.operator)
    market.submitProofs([([(job_id, n.id, _commitment(job_id, n))], b"")], sender=n.operator)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    rewards_before = token.balanceOf(rewards)

    tx = market.finalize(terms_of(market, job_id), sender=keeper)

    fee = PAY * 100 // 10_000
    assert _credits(tx, market) == {keeper.address: fee}
    assert earnings(tx, market) == {n.id: PAY - fee}
    assert market.ledger(n.id).work == 0  # nothing left of the fee
    assert market.pushWork([n.id], sender=keeper).decode_logs(rewards.WorkRecorded) == []
    assert token.balanceOf(rewards) == rewards_before


def test_finalize__bounty_rate_is_fixed_at_creation(
    chain, market, deployer, pool, keeper, accepted
):
    # Raising the bounty to 5 % after the job was escrowed must not reach it (1 % of PAY stays).
    market.setParameters(_params(keeperBountyBps=500), sender=deployer)
    chain.pending_timestamp = market.job(accepted).deadline + 1
    tx = market.finalize(terms_of(market, accepted), sender=keeper)
    assert _credits(tx, market)[keeper.address] == BOUNTY
    assert (
        market.jobOf(terms_of(market, accepted)).keeperBountyBps
        == MARKET_PARAMETERS["keeperBountyBps"]
    )


def test_finalize__not_accepted__reverts_wrong_status(market, keeper, running):
    job_id, _ = running
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.RUNNING):
        market.finalize(terms_of(market, job_id), sender=keeper)


# ---------------------------------------------------------------------- settleAndWithdraw
def _prove(market, node, job_id):
    market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    market.submitProofs(
        [([(job_id, node.id, _commitment(job_id, node))], b"")], sender=node.operator
    )


def test_settle_and_withdraw__by_the_operator__pays_the_owner_both_nodes_net__no_bounty(
    chain, market, token, rewards, keeper, pool, open_job, accepted
):
    # pool[4] is pool[0]'s twin (same owner and operator): two jobs, one payout to the owner.
    n, twin = pool[0], pool[4]
    second = open_job()
    _prove(market, twin, second)
    chain.pending_timestamp = market.job(second).deadline + 1
    before, market_before = token.balanceOf(n.owner), token.balanceOf(market)
    rewards_before = token.balanceOf(rewards)

    tx = market.settleAndWithdraw(
        [terms_of(market, j) for j in (accepted, second)], sender=n.operator
    )

    assert token.balanceOf(n.owner) == before + 2 * NET
    # The fees stay as the nodes' work until pushed (once per node per epoch).
    assert token.balanceOf(market) == market_before - 2 * NET
    assert market.credited(n.owner) == 0
    assert [e.jobId for e in tx.decode_logs(market.JobPaid)] == [accepted, second]
    assert tx.decode_logs(market.Withdrawn) == []
    w = tx.decode_logs(market.EarningsWithdrawn)
    assert [(e.nodeId, e.owner, e.amount) for e in w] == [
        (n.id, n.owner.address, NET),
        (twin.id, n.owner.address, NET),
    ]
    assert market.ledger(n.id).earned == market.ledger(twin.id).earned == 0
    assert market.job(accepted).status == market.job(second).status == Status.PAID
    assert_escrow(market)
    # The whole fee is the nodes' work: nobody took a keeper's bounty out of it.
    assert (market.ledger(n.id).work, market.ledger(twin.id).work) == (FEE, FEE)
    tx = market.pushWork([n.id, twin.id], sender=keeper)
    work = [(e.nodeId, e.amount) for e in tx.decode_logs(rewards.WorkRecorded)]
    assert work == [(n.id, FEE), (twin.id, FEE)]
    assert token.balanceOf(rewards) == rewards_before + 2 * FEE
    assert token.balanceOf(market) == market_before - 2 * NET - 2 * FEE


def test_settle_and_withdraw__jobs_of_one_node__reach_rewards_as_one_record(
    chain, market, token, rewards, keeper, pool, open_job, accepted
):
    # Per job the fee is still each job's (JobPaid); Rewards is paid and told once per node and
    # epoch, and the owner is sent each run of one node's jobs as one EarningsWithdrawn.
    n, twin = pool[0], pool[4]
    jobs = [accepted]
    for node in (n, n, twin, n):
        jobs.append(open_job())
        _prove(market, node, jobs[-1])
    chain.pending_timestamp = market.job(jobs[-1]).deadline + 1
    rewards_before = token.balanceOf(rewards)
    epoch = rewards.currentEpoch()
    work_before = rewards.epoch(epoch).totalWork

    tx = market.settleAndWithdraw([terms_of(market, j) for j in jobs], sender=n.owner)

    assert [(e.jobId, e.protocolFee) for e in tx.decode_logs(market.JobPaid)] == [
        (j, FEE) for j in jobs
    ]
    withdrawn = [(e.nodeId, e.amount) for e in tx.decode_logs(market.EarningsWithdrawn)]
    assert withdrawn == [(n.id, 3 * NET), (twin.id, NET), (n.id, NET)]  # one per run of a node
    assert tx.decode_logs(rewards.WorkRecorded) == []  # work waits for the epoch's end
    assert (market.ledger(n.id).work, market.ledger(twin.id).work) == (4 * FEE, FEE)

    tx = market.pushWork([n.id, twin.id], sender=keeper)

    work = [(e.nodeId, e.amount) for e in tx.decode_logs(rewards.WorkRecorded)]
    assert work == [(n.id, 4 * FEE), (twin.id, FEE)]  # every job of a node in one record
    assert token.balanceOf(rewards) == rewards_before + 5 * FEE
    assert (
        rewards.currentEpoch() == epoch and rewards.epoch(epoch).totalWork == work_before + 5 * FEE
    )
    assert_escrow(market)


def test_settle_and_withdraw__by_the_owner__also_sends_what_its_node_earned_before(
    chain, market, token, client, pool, keeper, open_job, accepted
):
    n = pool[0]
    earlier = open_job()
    _prove(market, n, earlier)
    chain.pending_timestamp = market.job(earlier).deadline + 1
    # A keeper got there first: NET in the node's ledger.
    market.finalize(terms_of(market, earlier), sender=keeper)
    assert market.ledger(n.id).earned == NET
    before = token.balanceOf(n.owner)

    tx = market.settleAndWithdraw([terms_of(market, accepted)], sender=n.owner)

    assert token.balanceOf(n.owner) == before + 2 * NET
    assert [(e.nodeId, e.owner, e.amount) for e in tx.decode_logs(market.EarningsWithdrawn)] == [
        (n.id, n.owner.address, 2 * NET)
    ]
    assert market.ledger(n.id).earned == 0 and market.credited(n.owner) == 0
    assert_escrow(market)


def test_settle_and_withdraw__a_job_settled_first_or_still_in_its_window__is_skipped_not_reverted(
    chain, market, token, pool, keeper, open_job, accepted
):
    # A keeper's finalize racing the node's own settlement must not revert the node's batch, and
    # the job is paid exactly once.
    n = pool[0]
    late = open_job()
    chain.pending_timestamp = chain.pending_timestamp + 100
    _prove(market, n, late)  # its dispute window ends 100 s after the first job's
    chain.pending_timestamp = market.job(accepted).deadline + 1
    market.finalize(terms_of(market, accepted), sender=keeper)
    before = token.balanceOf(n.owner)

    tx = market.settleAndWithdraw(
        [terms_of(market, j) for j in (accepted, late)], sender=n.operator
    )

    skipped = [(e.jobId, e.status) for e in tx.decode_logs(market.SettlementSkipped)]
    assert skipped == [(accepted, Status.PAID), (late, Status.ACCEPTED)]
    assert tx.decode_logs(market.JobPaid) == []
    # The keeper's settlement credited the owner; this call sent it, and paid nothing twice.
    assert token.balanceOf(n.owner) == before + NET
    assert market.credited(n.owner) == 0
    again = market.settleAndWithdraw([terms_of(market, accepted)], sender=n.operator)
    assert [e.jobId for e in again.decode_logs(market.SettlementSkipped)] == [accepted]
    assert token.balanceOf(n.owner) == before + NET


def test_one_word__a_job_named_twice_or_settled_again_by_every_path__is_paid_once(
    chain, market, token, pool, client, keeper, accepted
):
    """The word's status is checked and moved in the same write: an owner naming its job twice in
    one batch, then a keeper's finalize and expire, then the client's cancel, get nothing more."""
    n, terms = pool[0], terms_of(market, accepted)
    chain.pending_timestamp = market.job(accepted).deadline + 1
    before, market_before = token.balanceOf(n.owner), token.balanceOf(market)

    tx = market.settleAndWithdraw([terms, terms], sender=n.operator)

    assert [e.jobId for e in tx.decode_logs(market.JobPaid)] == [accepted]
    skipped = [(e.jobId, e.status) for e in tx.decode_logs(market.SettlementSkipped)]
    assert skipped == [(accepted, Status.PAID)]
    assert token.balanceOf(n.owner) == before + NET
    with ape.reverts(market.JobMarketWrongStatus, jobId=accepted, status=Status.PAID):
        market.finalize(terms, sender=keeper)
    with ape.reverts(market.JobMarketWrongStatus, jobId=accepted, status=Status.PAID):
        market.expire(terms, sender=keeper)
    with ape.reverts(market.JobMarketWrongStatus, jobId=accepted, status=Status.PAID):
        market.cancel(terms, sender=client)
    assert token.balanceOf(market) == market_before - NET
    assert market.credited(keeper) == market.credited(client) == 0
    assert_escrow(market)


def test_settle_and_withdraw__by_anyone_but_the_nodes_owner_or_operator__reverts(
    chain, market, client, stranger, keeper, pool, accepted
):
    chain.pending_timestamp = market.job(accepted).deadline + 1
    for caller in (stranger, client, keeper, pool[1].operator, pool[1].owner):
        with ape.reverts(market.JobMarketNotNodeOwner, jobId=accepted, caller=caller.address):
            market.settleAndWithdraw([terms_of(market, accepted)], sender=caller)
    assert market.job(accepted).status == Status.ACCEPTED


def test_settle_and_withdraw__jobs_of_two_owners__reverts_before_paying_either(
    chain, market, pool, open_job, accepted
):
    # One call pays one owner: an owner cannot settle (and so time) another owner's payout.
    other = open_job()
    _prove(market, pool[1], other)
    chain.pending_timestamp = market.job(other).deadline + 1
    with ape.reverts(
        market.JobMarketOwnersDiffer,
        jobId=other,
        owner=pool[1].owner.address,
        expected=pool[0].owner.address,
    ):
        market.settleAndWithdraw(
            [terms_of(market, j) for j in (accepted, other)], sender=pool[0].operator
        )
    assert market.job(accepted).status == market.job(other).status == Status.ACCEPTED


def test_settle_and_withdraw__nothing_settleable_and_no_credit__sends_nothing(
    market, token, pool, accepted
):
    n = pool[0]
    before = token.balanceOf(n.owner)
    # Still inside its window.
    tx = market.settleAndWithdraw([terms_of(market, accepted)], sender=n.operator)
    assert [(e.jobId, e.status) for e in tx.decode_logs(market.SettlementSkipped)] == [
        (accepted, Status.ACCEPTED)
    ]
    assert tx.decode_logs(market.EarningsWithdrawn) == [] and token.balanceOf(n.owner) == before
    assert tx.decode_logs(market.Withdrawn) == []
    tx = market.settleAndWithdraw([], sender=n.operator)
    assert tx.decode_logs(market.EarningsWithdrawn) == [] and token.balanceOf(n.owner) == before


# ---------------------------------------------------------------------- withdraw and fees
def test_withdraw__sends_the_whole_credit_once(chain, market, token, pool, keeper, accepted):
    owner = pool[0].owner
    chain.pending_timestamp = market.job(accepted).deadline + 1
    market.finalize(terms_of(market, accepted), sender=keeper)
    before, market_before = token.balanceOf(keeper), token.balanceOf(market)

    tx = market.withdraw(sender=keeper)

    ev = tx.decode_logs(market.Withdrawn)[0]
    assert (ev.account, ev.amount) == (keeper, BOUNTY)
    assert token.balanceOf(keeper) == before + BOUNTY
    assert token.balanceOf(market) == market_before - BOUNTY
    assert market.credited(keeper) == 0
    with ape.reverts(market.JobMarketNothingToWithdraw, account=keeper):
        market.withdraw(sender=keeper)
    # The node's net is its ledger's, not a credit of its owner: `withdraw` has nothing for it.
    with ape.reverts(market.JobMarketNothingToWithdraw, account=owner):
        market.withdraw(sender=owner)
    assert market.ledger(pool[0].id).earned == NET
    assert_escrow(market)


# ---------------------------------------------------------------------- cancel
def test_cancel__open_job__credits_the_full_payment(market, client, pool, open_job):
    job_id = open_job()
    tx = market.cancel(terms_of(market, job_id), sender=client)
    assert tx.decode_logs(market.JobCancelled)[0].jobId == job_id
    assert _credits(tx, market) == {client.address: PAY}
    assert market.job(job_id).status == Status.CANCELLED
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.CANCELLED):
        market.cancel(terms_of(market, job_id), sender=client)


def test_cancel__claimed_job__reverts_wrong_status(market, client, running):
    job_id, _ = running
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.RUNNING):
        market.cancel(terms_of(market, job_id), sender=client)


def test_cancel__by_anyone_but_the_client__reverts(market, stranger, pool, open_job):
    job_id = open_job()
    with ape.reverts(market.JobMarketNotClient, jobId=job_id, caller=stranger):
        market.cancel(terms_of(market, job_id), sender=stranger)


# ---------------------------------------------------------------------- expire
def test_expire__open_job__at_deadline_reverts__then_refunds_minus_bounty(
    chain, market, client, pool, keeper, open_job
):
    job_id = open_job()
    deadline = market.job(job_id).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=job_id, deadline=deadline):
        market.expire(terms_of(market, job_id), sender=keeper)
    chain.pending_timestamp = deadline + 1

    tx = market.expire(terms_of(market, job_id), sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (job_id, Status.OPEN)
    # Nothing was seized, so the bounty comes out of the refund.
    assert _credits(tx, market) == {keeper.address: BOUNTY, client.address: PAY - BOUNTY}
    assert market.pendingFees() == 0
    assert market.job(job_id).status == Status.EXPIRED
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.EXPIRED):
        market.expire(terms_of(market, job_id), sender=keeper)


def test_expire__running_without_proof__seizes_to_the_rewards_pot_not_the_client(
    chain, market, token, registry, rewards, client, pool, keeper, running
):
    job_id, _ = running
    n = pool[0]
    stake = registry.node(n.id).stake
    deadline = market.job(job_id).deadline
    chain.pending_timestamp = deadline
    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=job_id, deadline=deadline):
        market.expire(terms_of(market, job_id), sender=keeper)
    chain.pending_timestamp = deadline + 1

    tx = market.expire(terms_of(market, job_id), sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (job_id, Status.RUNNING)
    seized = [(e.jobId, e.nodeId, e.amount) for e in tx.decode_logs(market.CollateralSeized)]
    assert seized == [(job_id, n.id, COL)]
    # The client gets exactly its payment back; the seized collateral pays the keeper, then the pot.
    assert _credits(tx, market) == {keeper.address: BOUNTY, client.address: PAY}
    assert market.pendingFees() == COL - BOUNTY
    node = registry.node(n.id)
    assert (node.stake, node.locked, node.slashed, node.status) == (
        stake - COL,
        0,
        1,
        NodeStatus.JAILED,
    )

    rewards_before = token.balanceOf(rewards)
    tx = market.flushFees(sender=keeper)
    assert tx.decode_logs(market.FeesFlushed)[0].amount == COL - BOUNTY
    assert [e.amount for e in tx.decode_logs(rewards.FeesReceived)] == [COL - BOUNTY]
    assert token.balanceOf(rewards) == rewards_before + COL - BOUNTY
    assert market.pendingFees() == 0


def test_expire__accepted_job__reverts_wrong_status(chain, market, keeper, accepted):
    chain.pending_timestamp = market.job(accepted).deadline + 1
    with ape.reverts(market.JobMarketWrongStatus, jobId=accepted, status=Status.ACCEPTED):
        market.expire(terms_of(market, accepted), sender=keeper)
