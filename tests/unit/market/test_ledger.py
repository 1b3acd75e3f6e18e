"""Node ledgers, work pushed once per node and epoch, and client deposits, played as users and
attackers call them: what a node earns is its licence's (withdrawEarnings / settleAndWithdraw pay
whoever owns it then, and only once); a node's fees wait in its ledger for the epoch and reach
Rewards at its first settlement in a later epoch or when anyone calls pushWork; a client's deposit
pays its next jobs without an allowance. The escrow invariant (tests/utils/market.py) is checked
after every step that moves money."""

import ape
import pytest

from oracle.core.prove import commitment_of
from tests.utils.constants import E18, EPOCH_LENGTH, JOB_COLLATERAL, JOB_PAYMENT
from tests.utils.market import (
    BOUNTY,
    FEE,
    NET,
    RESULT,
    Outcome,
    Status,
    assert_escrow,
    credits,
    earnings,
    salt_of,
    terms_of,
    work_pushed,
)

PAY = JOB_PAYMENT
COL = JOB_COLLATERAL
ZERO_ADDRESS = "0x" + "00" * 20
WORK = FEE - BOUNTY  # a keeper's finalize takes its bounty out of the fee


def _accepted(market, node, open_job, **kw):
    """A k = 1 job claimed and proven by `node` (its operator's own proof): Accepted."""
    job_id = open_job(**kw)
    market.claim(terms_of(market, job_id), node.id, sender=node.operator)
    commitment = commitment_of(job_id, node.id, RESULT, salt_of(node.id))
    market.submitProofs([([(job_id, node.id, commitment)], b"")], sender=node.operator)
    return job_id


def _past_window(chain, market, *job_ids):
    chain.pending_timestamp = max(market.job(j).deadline for j in job_ids) + 1


def _paid(chain, market, keeper, node, open_job):
    """A k = 1 job of `node` finalized by `keeper`: NET to the node's ledger, WORK as its work."""
    job_id = _accepted(market, node, open_job)
    _past_window(chain, market, job_id)
    market.finalize(terms_of(market, job_id), sender=keeper)
    return job_id


def _recorded(tx, rewards):
    return [(e.nodeId, e.epoch, e.amount) for e in tx.decode_logs(rewards.WorkRecorded)]


def _released(tx, registry):
    return [
        (e.nodeId, e.amount, e.outcome, e.replicas)
        for e in tx.decode_logs(registry.CollateralReleased)
    ]


def _transfers_out(tx, token, market):
    """[(to, amount)] of the token transfers the market made in `tx`."""
    return [(e.to, e.value) for e in tx.decode_logs(token.Transfer) if e["from"] == market.address]


def _ledger(market, node):
    lg = market.ledger(node.id)
    return lg.earned, lg.work, lg.workEpoch


def _into_next_epoch(chain, rewards, keeper, after=0):
    """Moves the clock to the start of the next Rewards epoch (or past `after`) and closes the
    finished epochs, so that a later call's totalFunded moves by the work it records only. A test
    that starts here has a whole epoch (a day) before the next boundary."""
    start = rewards.genesisTime() + (rewards.currentEpoch() + 1) * EPOCH_LENGTH
    chain.pending_timestamp = max(start, after + 1)
    rewards.checkpoint(1_000, sender=keeper)


# ---------------------------------------------------------------------- ledger and work
def test_ledger__k1_paid__earned_and_work_kept__rewards_sees_it_at_the_next_epochs_settlement(
    chain, market, token, rewards, pool, keeper, open_job
):
    a = pool[0]
    _into_next_epoch(chain, rewards, keeper)
    funded, rewards_balance = rewards.totalFunded(), token.balanceOf(rewards)

    first = _accepted(market, a, open_job)
    _past_window(chain, market, first)
    tx = market.finalize(terms_of(market, first), sender=keeper)

    epoch = rewards.currentEpoch()
    assert earnings(tx, market) == {a.id: NET}
    assert credits(tx, market) == {keeper.address: BOUNTY}  # nothing credited to the owner
    assert market.credited(a.owner) == 0
    assert _ledger(market, a) == (NET, WORK, epoch)
    # Rewards saw nothing yet: no push, no record, no tokens.
    assert work_pushed(tx, market) == [] and _recorded(tx, rewards) == []
    assert (rewards.totalFunded(), token.balanceOf(rewards)) == (funded, rewards_balance)
    assert_escrow(market)

    # A second job of the node in the same epoch adds to the same epoch's work: still no push.
    second = _accepted(market, a, open_job)
    _past_window(chain, market, second)
    assert rewards.currentEpoch() == epoch
    tx = market.finalize(terms_of(market, second), sender=keeper)
    assert work_pushed(tx, market) == [] and _recorded(tx, rewards) == []
    assert _ledger(market, a) == (2 * NET, 2 * WORK, epoch)
    assert rewards.totalFunded() == funded
    assert_escrow(market)

    # Its first settlement in a later epoch pushes exactly the earlier work, and starts the new
    # epoch's work with its own fee.
    third = _accepted(market, a, open_job)
    _into_next_epoch(chain, rewards, keeper, after=market.job(third).deadline)
    later = rewards.currentEpoch()
    assert later > epoch
    funded, rewards_balance = rewards.totalFunded(), token.balanceOf(rewards)
    total_work = rewards.epoch(later).totalWork

    tx = market.finalize(terms_of(market, third), sender=keeper)

    assert work_pushed(tx, market) == [(a.id, epoch, 2 * WORK)]
    assert _recorded(tx, rewards) == [(a.id, later, 2 * WORK)]  # counted when it arrives
    assert rewards.totalFunded() == funded + 2 * WORK
    assert token.balanceOf(rewards) == rewards_balance + 2 * WORK
    assert rewards.epoch(later).totalWork == total_work + 2 * WORK
    assert _ledger(market, a) == (3 * NET, WORK, later)
    assert_escrow(market)


def test_push_work__by_a_stranger__sends_the_pending_work__then_a_no_op(
    chain, market, token, rewards, pool, keeper, stranger, open_job
):
    a, idle = pool[0], pool[3]
    _into_next_epoch(chain, rewards, keeper)
    _paid(chain, market, keeper, a, open_job)
    epoch = rewards.currentEpoch()
    funded, rewards_balance = rewards.totalFunded(), token.balanceOf(rewards)
    total_work = rewards.epoch(epoch).totalWork

    tx = market.pushWork([a.id], sender=stranger)

    assert work_pushed(tx, market) == [(a.id, epoch, WORK)]
    assert _recorded(tx, rewards) == [(a.id, epoch, WORK)]
    assert _transfers_out(tx, token, market) == [(rewards.address, WORK)]
    assert rewards.totalFunded() == funded + WORK
    assert token.balanceOf(rewards) == rewards_balance + WORK
    assert rewards.epoch(epoch).totalWork == total_work + WORK
    assert _ledger(market, a) == (NET, 0, epoch)  # the earnings are not Rewards' business
    assert_escrow(market)

    # Nothing pending (pushed already, a node that never worked, an unknown id, no ids): no-op.
    balance = token.balanceOf(market)
    for ids in ([a.id], [a.id, idle.id, 10**6], []):
        tx = market.pushWork(ids, sender=stranger)
        assert tx.decode_logs(market.WorkPushed) == [] and _recorded(tx, rewards) == []
        assert _transfers_out(tx, token, market) == []
    assert token.balanceOf(market) == balance
    assert rewards.totalFunded() == funded + WORK

    # A settlement later in the same epoch starts the epoch's work again; nothing is pushed.
    job_id = _accepted(market, a, open_job)
    _past_window(chain, market, job_id)
    tx = market.finalize(terms_of(market, job_id), sender=keeper)
    assert rewards.currentEpoch() == epoch
    assert work_pushed(tx, market) == [] and _recorded(tx, rewards) == []
    assert _ledger(market, a) == (2 * NET, WORK, epoch)
    assert_escrow(market)


# ---------------------------------------------------------------------- withdrawEarnings
def test_withdraw_earnings__of_two_nodes__one_transfer_to_the_owner__never_twice(
    chain, market, token, pool, keeper, open_job
):
    a, twin = pool[0], pool[4]  # one owner, one operator key
    owner = a.owner
    for node in (a, twin, a):
        _paid(chain, market, keeper, node, open_job)
    before, market_before = token.balanceOf(owner), token.balanceOf(market)
    assert market.withdrawEarnings.call([a.id, twin.id], sender=owner) == 3 * NET

    tx = market.withdrawEarnings([a.id, twin.id], sender=owner)

    assert [(e.nodeId, e.owner, e.amount) for e in tx.decode_logs(market.EarningsWithdrawn)] == [
        (a.id, owner.address, 2 * NET),
        (twin.id, owner.address, NET),
    ]
    assert _transfers_out(tx, token, market) == [(owner.address, 3 * NET)]
    assert token.balanceOf(owner) == before + 3 * NET
    assert token.balanceOf(market) == market_before - 3 * NET
    # The work stays for Rewards; only the earnings left.
    assert _ledger(market, a)[:2] == (0, 2 * WORK) and _ledger(market, twin)[:2] == (0, WORK)
    assert_escrow(market)
    with ape.reverts(market.JobMarketNothingToWithdraw, account=owner.address):
        market.withdrawEarnings([a.id, twin.id], sender=owner)
    with ape.reverts(market.JobMarketNothingToWithdraw, account=owner.address):
        market.withdrawEarnings([a.id], sender=a.operator)
    assert token.balanceOf(owner) == before + 3 * NET


def test_withdraw_earnings__by_the_operator__pays_the_owner_not_the_operator(
    chain, market, token, pool, keeper, open_job
):
    n = pool[1]
    _paid(chain, market, keeper, n, open_job)
    owner_before, operator_before = token.balanceOf(n.owner), token.balanceOf(n.operator)

    tx = market.withdrawEarnings([n.id], sender=n.operator)

    assert _transfers_out(tx, token, market) == [(n.owner.address, NET)]
    assert token.balanceOf(n.owner) == owner_before + NET
    assert token.balanceOf(n.operator) == operator_before
    assert market.ledger(n.id).earned == 0
    assert_escrow(market)


def test_withdraw_earnings__by_a_stranger_a_client_or_another_owner__reverts_not_node_owner(
    chain, market, pool, keeper, client, stranger, open_job
):
    n = pool[0]
    _paid(chain, market, keeper, n, open_job)
    for caller in (stranger, client, keeper, pool[1].owner, pool[1].operator):
        with ape.reverts(market.JobMarketNotNodeOwner, jobId=n.id, caller=caller.address):
            market.withdrawEarnings([n.id], sender=caller)
    # A client's own `withdraw` reaches its credit only, never a node's ledger.
    with ape.reverts(market.JobMarketNothingToWithdraw, account=client.address):
        market.withdraw(sender=client)
    assert market.ledger(n.id).earned == NET
    assert_escrow(market)


def test_withdraw_earnings__nodes_of_two_owners__reverts_owners_differ(
    chain, market, token, pool, keeper, open_job
):
    mine, theirs = pool[0], pool[1]
    for node in (mine, theirs):
        _paid(chain, market, keeper, node, open_job)
    for caller, ids, other, expected in (
        (mine.owner, [mine.id, theirs.id], theirs, mine),
        (theirs.owner, [theirs.id, mine.id], mine, theirs),
    ):
        with ape.reverts(
            market.JobMarketOwnersDiffer,
            jobId=other.id,
            owner=other.owner.address,
            expected=expected.owner.address,
        ):
            market.withdrawEarnings(ids, sender=caller)
    assert market.ledger(mine.id).earned == market.ledger(theirs.id).earned == NET


def test_withdraw_earnings__nothing_earned__reverts(market, pool):
    n = pool[3]
    with ape.reverts(market.JobMarketNothingToWithdraw, account=n.owner.address):
        market.withdrawEarnings([n.id], sender=n.owner)
    with ape.reverts(market.JobMarketNothingToWithdraw, account=ZERO_ADDRESS):
        market.withdrawEarnings([], sender=n.owner)


def test_withdraw_earnings__licence_transferred_first__the_new_owner_is_paid(
    chain, market, token, licence, pool, keeper, stranger, open_job
):
    n = pool[1]
    _paid(chain, market, keeper, n, open_job)
    old = n.owner
    licence.transferFrom(old, stranger, n.id, sender=old)
    # The earnings belong to the licence: the former owner and its key (unbound) get nothing.
    for caller in (old, n.operator):
        with ape.reverts(market.JobMarketNotNodeOwner, jobId=n.id, caller=caller.address):
            market.withdrawEarnings([n.id], sender=caller)
    old_before, new_before = token.balanceOf(old), token.balanceOf(stranger)

    tx = market.withdrawEarnings([n.id], sender=stranger)

    assert [(e.nodeId, e.owner, e.amount) for e in tx.decode_logs(market.EarningsWithdrawn)] == [
        (n.id, stranger.address, NET)
    ]
    assert token.balanceOf(stranger) == new_before + NET
    assert token.balanceOf(old) == old_before
    assert_escrow(market)


# ---------------------------------------------------------------------- settleAndWithdraw
def test_settle_and_withdraw__jobs_a1_b1_a2_of_one_owner__pays_everything_once(
    chain, market, token, registry, pool, open_job
):
    a, b = pool[0], pool[4]
    owner = a.owner
    jobs = [_accepted(market, node, open_job) for node in (a, b, a)]
    _past_window(chain, market, *jobs)
    before = token.balanceOf(owner)
    terms = [terms_of(market, j) for j in jobs]

    tx = market.settleAndWithdraw(terms, sender=a.operator)

    assert [e.jobId for e in tx.decode_logs(market.JobPaid)] == jobs
    withdrawn = [(e.nodeId, e.owner, e.amount) for e in tx.decode_logs(market.EarningsWithdrawn)]
    assert withdrawn == [
        (a.id, owner.address, NET),
        (b.id, owner.address, NET),
        (a.id, owner.address, NET),
    ]
    assert _transfers_out(tx, token, market) == [(owner.address, 3 * NET)]
    assert token.balanceOf(owner) == before + 3 * NET
    # Three runs of one node each: one release per run.
    assert _released(tx, registry) == [(n.id, COL, Outcome.COMPLETED, 1) for n in (a, b, a)]
    # No bounty: the whole fee is each node's work, kept for the epoch.
    assert _ledger(market, a)[:2] == (0, 2 * FEE) and _ledger(market, b)[:2] == (0, FEE)
    assert credits(tx, market) == {}
    assert_escrow(market)

    assert market.settleAndWithdraw.call(terms, sender=owner) == 0
    again = market.settleAndWithdraw(terms, sender=owner)

    assert [(e.jobId, e.status) for e in again.decode_logs(market.SettlementSkipped)] == [
        (j, Status.PAID) for j in jobs
    ]
    assert again.decode_logs(market.EarningsWithdrawn) == []
    assert _transfers_out(again, token, market) == []
    assert token.balanceOf(owner) == before + 3 * NET
    assert_escrow(market)


def test_settle_and_withdraw__a_run_of_one_node__one_release_counts_every_job_paid(
    chain, market, token, registry, pool, open_job
):
    """Consecutive jobs of one node are released in one registry call: the sum of their
    collateral, each counted as completed. A job of the run that is skipped (still in its dispute
    window) neither releases its collateral nor counts; a run that pays nothing calls nothing."""
    a = pool[0]
    paid = [_accepted(market, a, open_job) for _ in range(3)]
    _past_window(chain, market, *paid)
    waiting = _accepted(market, a, open_job)  # proven now: its window is still open
    node = registry.node(a.id)
    terms = [terms_of(market, j) for j in (paid[0], waiting, paid[1], paid[2])]

    tx = market.settleAndWithdraw(terms, sender=a.operator)

    assert [e.jobId for e in tx.decode_logs(market.JobPaid)] == paid
    assert [e.jobId for e in tx.decode_logs(market.SettlementSkipped)] == [waiting]
    assert _released(tx, registry) == [(a.id, 3 * COL, Outcome.COMPLETED, 3)]
    after = registry.node(a.id)
    assert (after.locked, after.completed) == (node.locked - 3 * COL, node.completed + 3)
    assert _transfers_out(tx, token, market) == [(a.owner.address, 3 * NET)]
    assert_escrow(market)

    again = market.settleAndWithdraw(terms, sender=a.operator)  # all paid or still waiting
    assert _released(again, registry) == [] and again.decode_logs(market.JobPaid) == []
    assert registry.node(a.id).locked == after.locked == COL  # the waiting job's, still locked
    assert_escrow(market)


def test_settle_and_withdraw__a_job_a_keeper_finalized_first__skipped__its_earnings_still_sent(
    chain, market, token, pool, keeper, open_job
):
    a, b = pool[0], pool[4]
    owner = a.owner
    jobs = [_accepted(market, node, open_job) for node in (a, b)]
    _past_window(chain, market, *jobs)
    # The keeper gets there first: NET in b's ledger.
    market.finalize(terms_of(market, jobs[1]), sender=keeper)
    before = token.balanceOf(owner)

    tx = market.settleAndWithdraw([terms_of(market, j) for j in jobs], sender=owner)

    assert [(e.jobId, e.status) for e in tx.decode_logs(market.SettlementSkipped)] == [
        (jobs[1], Status.PAID)
    ]
    assert [e.jobId for e in tx.decode_logs(market.JobPaid)] == [jobs[0]]
    assert [(e.nodeId, e.amount) for e in tx.decode_logs(market.EarningsWithdrawn)] == [
        (a.id, NET),
        (b.id, NET),
    ]
    assert token.balanceOf(owner) == before + 2 * NET
    assert market.ledger(a.id).earned == market.ledger(b.id).earned == 0
    assert market.credited(keeper) == BOUNTY  # the keeper's bounty is its own, untouched
    assert_escrow(market)


def test_settle_and_withdraw__naming_another_owners_job__reverts__its_earnings_stay(
    chain, market, token, pool, keeper, open_job
):
    # An attacker owning a node cannot collect another owner's earnings by naming its job: not
    # alone, not behind a job of its own, not once a keeper has settled it (the owner check runs
    # on skipped jobs too).
    victim, attacker = pool[1], pool[2]
    theirs = _accepted(market, victim, open_job)
    mine = _accepted(market, attacker, open_job)
    _past_window(chain, market, theirs, mine)
    victims, both = [terms_of(market, theirs)], [terms_of(market, mine), terms_of(market, theirs)]
    with ape.reverts(market.JobMarketNotNodeOwner, jobId=theirs, caller=attacker.owner.address):
        market.settleAndWithdraw(victims, sender=attacker.owner)
    with ape.reverts(
        market.JobMarketOwnersDiffer,
        jobId=theirs,
        owner=victim.owner.address,
        expected=attacker.owner.address,
    ):
        market.settleAndWithdraw(both, sender=attacker.operator)
    market.finalize(victims[0], sender=keeper)  # now only earnings sit in the victim's ledger
    for sender in (attacker.owner, attacker.operator):
        with ape.reverts(market.JobMarketNotNodeOwner, jobId=theirs, caller=sender.address):
            market.settleAndWithdraw(victims, sender=sender)
        with ape.reverts(market.JobMarketOwnersDiffer):
            market.settleAndWithdraw(both, sender=sender)
    assert market.ledger(victim.id).earned == NET
    before = token.balanceOf(victim.owner)
    market.withdrawEarnings([victim.id], sender=victim.owner)
    assert token.balanceOf(victim.owner) == before + NET
    assert_escrow(market)


# ---------------------------------------------------------------------- deposits
@pytest.fixture
def depositor(market, token, keeper, fund):
    """`keeper` as a client: funded with TES, and no allowance for the market."""
    fund(keeper, 10 * PAY)
    assert token.allowance(keeper, market) == 0
    return keeper


def test_deposit__then_create_job_without_any_allowance__spends_the_deposit(
    market, token, depositor, job_request
):
    token.approve(market, 3 * PAY, sender=depositor)
    tx = market.deposit(3 * PAY, sender=depositor)
    ev = tx.decode_logs(market.Deposited)[0]
    assert (ev.account, ev.amount) == (depositor.address, 3 * PAY)
    assert market.credited(depositor) == 3 * PAY
    assert token.allowance(depositor, market) == 0
    assert_escrow(market)
    before, market_before = token.balanceOf(depositor), token.balanceOf(market)

    tx = market.createJob(job_request(), sender=depositor)

    job_id = tx.decode_logs(market.JobCreated)[0].jobId
    job = market.jobOf(terms_of(market, job_id))
    assert job.payment == PAY and job.status == Status.OPEN
    created = tx.decode_logs(market.JobCreated)[0]  # what was escrowed, from whom
    assert (created.client, created.payment) == (depositor.address, PAY)
    assert tx.decode_logs(token.Transfer) == []  # no token moved: the deposit paid
    assert market.credited(depositor) == 2 * PAY
    assert (token.balanceOf(depositor), token.balanceOf(market)) == (before, market_before)
    assert_escrow(market)

    # What is left of the deposit comes back with withdraw().
    tx = market.withdraw(sender=depositor)
    assert [(e.account, e.amount) for e in tx.decode_logs(market.Withdrawn)] == [
        (depositor.address, 2 * PAY)
    ]
    assert token.balanceOf(depositor) == before + 2 * PAY
    assert market.credited(depositor) == 0
    assert_escrow(market)


def test_deposit__smaller_than_the_payment__falls_back_to_the_allowance__never_half_spent(
    market, token, depositor, job_request
):
    small = PAY - 1
    token.approve(market, small, sender=depositor)
    market.deposit(small, sender=depositor)
    with ape.reverts(
        token.ERC20InsufficientAllowance, spender=market.address, allowance=0, needed=PAY
    ):
        market.createJob(job_request(), sender=depositor)
    assert market.credited(depositor) == small
    token.approve(market, PAY, sender=depositor)
    before = token.balanceOf(depositor)

    tx = market.createJob(job_request(), sender=depositor)

    assert [(e["from"], e.to, e.value) for e in tx.decode_logs(token.Transfer)] == [
        (depositor.address, market.address, PAY)
    ]
    assert token.balanceOf(depositor) == before - PAY
    assert market.credited(depositor) == small  # the deposit is not touched
    assert_escrow(market)
    market.withdraw(sender=depositor)
    assert token.balanceOf(depositor) == before - PAY + small
    assert_escrow(market)


def test_deposit__a_refund_pays_the_next_job__and_never_a_node_owner(
    chain, market, token, pool, client, keeper, fund, open_job, job_request
):
    # A client's refund is its credit and pays its next job; a node owner's earnings are not a
    # credit (a `createJob` by the owner pulls tokens, it never spends its node's ledger).
    job_id = open_job()
    market.cancel(terms_of(market, job_id), sender=client)
    assert market.credited(client) == PAY
    before = token.balanceOf(client)
    tx = market.createJob(job_request(), sender=client)
    assert tx.decode_logs(token.Transfer) == [] and token.balanceOf(client) == before
    assert market.credited(client) == 0

    n = pool[0]
    _paid(chain, market, keeper, n, open_job)
    owner = n.owner
    fund(owner, PAY)
    token.approve(market, PAY, sender=owner)
    before = token.balanceOf(owner)
    market.createJob(job_request(), sender=owner)
    assert token.balanceOf(owner) == before - PAY
    assert market.ledger(n.id).earned == NET
    assert_escrow(market)


def test_deposit__without_an_allowance__reverts_in_the_token(market, token, depositor):
    with ape.reverts(
        token.ERC20InsufficientAllowance, spender=market.address, allowance=0, needed=E18
    ):
        market.deposit(E18, sender=depositor)
    assert market.credited(depositor) == 0


def test_deposit__past_what_a_balance_slot_holds__reverts_instead_of_wrapping(
    market, token, depositor
):
    """A balance shares its slot with the account's nonces (128 bits of TES): a credit past that
    reverts before any token moves, instead of wrapping the balance to a small number."""
    token.approve(market, 2**129, sender=depositor)
    with ape.reverts(market.SafeCastOverflowedUintDowncast, bits=128, value=2**128):
        market.deposit(2**128, sender=depositor)
    assert market.credited(depositor) == 0
