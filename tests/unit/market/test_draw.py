"""Drawn seats (k >= 3): the anchor-block rule, re-anchoring, filtering, acceptance, redraws, the
redraw budget, expiry and cancel of a Seating job, and a statistical check that seats follow stake.
test_trust.py covers the basic "before the anchor" revert, a single redraw and the accept deadline's
exact second; these tests go after the edges around them."""

from itertools import permutations

import ape

from tests.utils.constants import E18, JOB_COLLATERAL, JOB_PAYMENT, MARKET_PARAMETERS, WINDOWS
from tests.utils.market import (
    BOUNTY,
    SEAT_PENALTY,
    NodeStatus,
    Outcome,
    SeatState,
    Status,
    replica_of,
    terms_of,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
ACCEPT_WINDOW = MARKET_PARAMETERS["acceptWindow"]
MAX_REDRAWS = 3
BLOCKHASH_WINDOW = 256  # blockhash(n) is only known for the 256 blocks before the current one
NOBODY_MEETS = (1, 512, 2, 0, 0)  # two GPUs: every pool node declares one (DEFAULT_CAPS)


def _mine_until_pending(chain, block_number):
    """Mines until the next transaction lands in `block_number`."""
    while chain.blocks.head.number + 1 < block_number:
        chain.mine()


def _drawn(tx, market):
    return [(e.nodeId, e.round, e.acceptDeadline) for e in tx.decode_logs(market.SeatDrawn)]


def _seats(market, job_id):
    return [market.replica(job_id, i) for i in range(market.job(job_id).replicaCount)]


# ---------------------------------------------------------------------- the anchor block
def test_draw__in_the_anchor_block_reverts__one_block_later_seats_k(
    chain, market, pool, open_job, keeper
):
    # The seed is the anchor block's hash, so whether rejection sampling fills all 3 seats in one
    # call varies with the chain's history (~1 %: the twin shares node 1's key, so once one of the
    # two sits, drawing the other is an attempt in vain). The one-call path is the one checked
    # here: a history where it is not taken is rolled back and the job posted again.
    for _ in range(10):
        snapshot = chain.snapshot()
        job_id = open_job(replicas=3)
        anchor = market.job(job_id).drawBlock
        assert (
            anchor == chain.blocks.head.number + 1
        )  # the block after creation: unknown at creation
        # The next transaction would be mined in the anchor block itself, whose hash is not known yet.
        with ape.reverts(market.JobMarketNothingToDraw, jobId=job_id, drawBlock=anchor):
            market.draw(job_id, sender=keeper)
        chain.mine()

        tx = market.draw(job_id, sender=keeper)
        if not tx.decode_logs(market.SeatsUnfilled):
            break
        chain.restore(snapshot)

    assert tx.block_number > anchor
    drawn = _drawn(tx, market)
    assert len(drawn) == 3
    assert {(r, d) for _, r, d in drawn} == {(0, tx.timestamp + ACCEPT_WINDOW)}
    job = market.job(job_id)
    assert (job.status, job.seated, job.claims, job.drawBlock, job.redraws) == (
        Status.SEATING,
        3,
        0,
        0,
        0,
    )
    # Nothing left to draw: the round is full and no draw is anchored.
    with ape.reverts(market.JobMarketNothingToDraw, jobId=job_id, drawBlock=0):
        market.draw(job_id, sender=keeper)


def test_draw__anchor_hash_gone_after_256_blocks__re_anchors_without_using_the_budget(
    chain, market, pool, open_job, keeper
):
    job_id = open_job(replicas=3)
    anchor = market.job(job_id).drawBlock
    _mine_until_pending(chain, anchor + BLOCKHASH_WINDOW + 1)  # blockhash(anchor) is now 0

    tx = market.draw(job_id, sender=keeper)

    assert tx.block_number == anchor + BLOCKHASH_WINDOW + 1
    assert tx.decode_logs(market.SeatDrawn) == []
    ev = tx.decode_logs(market.DrawAnchored)[0]
    assert (ev.jobId, ev.round, ev.drawBlock) == (job_id, 0, tx.block_number + 1)
    job = market.job(job_id)
    # A stale anchor is nobody's fault: the redraw budget is untouched, and the new anchor is again
    # a future block, so whoever waited 256 blocks gained no choice of seed.
    assert (job.drawBlock, job.redraws, job.seated) == (tx.block_number + 1, 0, 0)


def test_draw__anchor_256_blocks_old__still_draws(chain, market, pool, open_job, keeper):
    job_id = open_job(replicas=3)
    anchor = market.job(job_id).drawBlock
    _mine_until_pending(chain, anchor + BLOCKHASH_WINDOW)
    tx = market.draw(job_id, sender=keeper)
    # The hash is still there: the draw seats nodes from it (a stale anchor seats nobody).
    drawn = tx.decode_logs(market.SeatDrawn)
    assert drawn and market.job(job_id).seated == len(drawn)
    # The seed is the block hash, so whether rejection sampling fills every seat in this one call
    # varies from run to run (the twin shares node 1's operator: once one sits, the other is
    # drawn in vain); a seat it leaves is announced and drawn again, as in any draw.
    if len(drawn) < 3:
        (unfilled,) = tx.decode_logs(market.SeatsUnfilled)
        assert unfilled.missing == 3 - len(drawn)


# ---------------------------------------------------------------------- who can be drawn
def test_draw__nobody_meets_the_requirements__unfilled_re_anchored_until_the_budget_then_expires(
    chain, market, token, pool, open_job, client, keeper
):
    job_id = open_job(replicas=3, requirements=NOBODY_MEETS)
    for redraws in range(1, MAX_REDRAWS + 2):
        _mine_until_pending(chain, market.job(job_id).drawBlock + 1)
        tx = market.draw(job_id, sender=keeper)
        assert tx.decode_logs(market.SeatDrawn) == []
        unfilled = tx.decode_logs(market.SeatsUnfilled)[0]
        assert (unfilled.jobId, unfilled.round, unfilled.missing) == (job_id, 0, 3)
        anchored = tx.decode_logs(market.DrawAnchored)
        job = market.job(job_id)
        if redraws <= MAX_REDRAWS:
            assert [e.drawBlock for e in anchored] == [tx.block_number + 1]
            assert (job.redraws, job.drawBlock) == (redraws, tx.block_number + 1)
        else:  # budget spent: nothing is anchored any more, the claim deadline decides
            assert anchored == []
            assert (job.redraws, job.drawBlock) == (MAX_REDRAWS, 0)
    with ape.reverts(market.JobMarketNothingToDraw, jobId=job_id, drawBlock=0):
        market.draw(job_id, sender=keeper)

    job = market.job(job_id)
    chain.pending_timestamp = job.deadline
    with ape.reverts(market.JobMarketDeadlineNotReached, jobId=job_id, deadline=job.deadline):
        market.expire(terms_of(market, job_id), sender=keeper)
    chain.pending_timestamp = job.deadline + 1
    escrow = token.balanceOf(market)
    tx = market.expire(terms_of(market, job_id), sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (job_id, Status.SEATING)
    # No penalty to pay the keeper: its bounty comes out of the refund.
    assert [(e.account, e.amount) for e in tx.decode_logs(market.Credited)] == [
        (keeper, BOUNTY),
        (client, PAY - BOUNTY),
    ]
    assert market.pendingFees() == 0 and token.balanceOf(market) == escrow
    assert market.job(job_id).status == Status.EXPIRED


def test_draw__only_nodes_meeting_the_requirements__one_seat_each(
    chain, accounts, deployer, market, registry, pool, setup_node, open_job, keeper, stranger
):
    """Two GPUs needed: only the one node that has them can sit; it sits once, the rest stays empty."""
    gpu_key = accounts.generate_test_account()
    deployer.transfer(gpu_key, E18)
    big = (8, 16_384, 2, 24_576, 2)
    gpu_node = setup_node(stranger, gpu_key, caps=big, stake=20 * registry.minStake())
    job_id = open_job(replicas=3, requirements=NOBODY_MEETS)
    drawn = []
    while market.job(job_id).drawBlock != 0:
        _mine_until_pending(chain, market.job(job_id).drawBlock + 1)
        drawn += [n for n, _, _ in _drawn(market.draw(job_id, sender=keeper), market)]
    assert drawn == [gpu_node]
    assert market.job(job_id).seated == 1


def test_draw__skips_nodes_without_free_stake_and_never_seats_a_node_or_key_twice(
    chain, market, registry, pool, seated_job, open_job, draw_seats, keeper
):
    # Job A locks most of three nodes' stake; job B needs as much collateral again.
    big = registry.freeStake(pool[1].id) * 3 // 5
    _, busy = seated_job(pool, collateral=big)
    free = [n for n in pool if registry.freeStake(n.id) >= big]
    assert len(free) == 2 and all(n not in busy for n in free)
    job_id = open_job(replicas=3, collateral=big)

    drawn = draw_seats(job_id, pool)

    # pool[4] shares pool[0]'s operator key: if both are the free ones, only one of them may sit.
    keys = {n.operator.address for n in free}
    assert {n.id for n in drawn} <= {n.id for n in free} and len(drawn) == len(keys)
    seats = _seats(market, job_id)
    assert len({s.nodeId for s in seats}) == len(seats)
    assert len({s.operator for s in seats}) == len(seats)
    job = market.job(job_id)
    assert job.seated == len(keys) and job.redraws == MAX_REDRAWS and job.drawBlock == 0


# ---------------------------------------------------------------------- accepting a seat
def test_accept__only_the_drawn_nodes_current_operator(
    accounts, deployer, market, registry, pool, seated_job, stranger
):
    job_id, seats = seated_job(pool, accept=False)
    seat = seats[0]
    undrawn = next(
        n for n in pool if n not in seats and n.operator not in {s.operator for s in seats}
    )
    with ape.reverts(market.JobMarketNotReplica, jobId=job_id, nodeId=undrawn.id):
        market.acceptSeat(job_id, undrawn.id, sender=undrawn.operator)
    for who in (stranger, seat.owner):  # not a stranger, not even the licence owner
        with ape.reverts(registry.NodeRegistryNotOperator, nodeId=seat.id, operator=who):
            market.acceptSeat(job_id, seat.id, sender=who)
    # The key rotates after the draw: the seat follows the node to its new key.
    new_key = accounts.generate_test_account()
    deployer.transfer(new_key, E18)
    registry.bindOperator(seat.id, new_key, sender=seat.owner)
    registry.acceptOperator(seat.id, sender=new_key)
    with ape.reverts(registry.NodeRegistryNotOperator, nodeId=seat.id, operator=seat.operator):
        market.acceptSeat(job_id, seat.id, sender=seat.operator)
    locked = registry.node(seat.id).locked

    tx = market.acceptSeat(job_id, seat.id, sender=new_key)

    ev = tx.decode_logs(market.JobClaimed)[0]
    assert (ev.jobId, ev.nodeId, ev.operator, ev.round) == (job_id, seat.id, new_key, 0)
    rep, _ = replica_of(market, job_id, seat.id)
    assert (rep.state, rep.operator) == (SeatState.CLAIMED, new_key)
    assert registry.node(seat.id).locked == locked + COL
    with ape.reverts(
        market.JobMarketWrongSeatState, jobId=job_id, nodeId=seat.id, state=SeatState.CLAIMED
    ):
        market.acceptSeat(job_id, seat.id, sender=new_key)


def test_accept__last_seat_starts_the_execution_window(market, pool, seated_job):
    job_id, seats = seated_job(pool, accept=False)
    for s in seats[:2]:
        market.acceptSeat(job_id, s.id, sender=s.operator)
    assert market.job(job_id).status == Status.SEATING
    tx = market.acceptSeat(job_id, seats[2].id, sender=seats[2].operator)
    ev = tx.decode_logs(market.JobRunning)[0]
    assert (ev.jobId, ev.round, ev.deadline) == (
        job_id,
        0,
        tx.timestamp + WINDOWS["executionWindow"],
    )
    job = market.job(job_id)
    assert (job.status, job.claims, job.deadline) == (
        Status.RUNNING,
        3,
        tx.timestamp + WINDOWS["executionWindow"],
    )


# ---------------------------------------------------------------------- redraw
def test_redraw__before_any_seat_is_late__nothing_to_redraw(
    chain, market, pool, seated_job, keeper
):
    job_id, seats = seated_job(pool, accept=False)
    deadline = replica_of(market, job_id, seats[0].id)[0].acceptDeadline
    chain.pending_timestamp = deadline  # the exact second still belongs to the node
    with ape.reverts(market.JobMarketNothingToRedraw, jobId=job_id):
        market.redraw(job_id, sender=keeper)


def test_redraw__two_late_seats__penalties_pay_a_capped_bounty_rest_to_fees(
    chain, market, token, registry, rewards, pool, seated_job, keeper
):
    job_id, seats = seated_job(pool, accept=False)
    market.acceptSeat(job_id, seats[0].id, sender=seats[0].operator)
    late = seats[1:]
    stakes = {n.id: registry.node(n.id).stake for n in late}
    escrow, fees = token.balanceOf(market), market.pendingFees()
    chain.pending_timestamp = replica_of(market, job_id, late[0].id)[0].acceptDeadline + 1

    tx = market.redraw(job_id, sender=keeper)

    assert [(e.jobId, e.nodeId, e.penalty) for e in tx.decode_logs(market.SeatDropped)] == [
        (job_id, n.id, SEAT_PENALTY) for n in late
    ]
    missed = [(e.nodeId, e.epoch) for e in tx.decode_logs(rewards.SeatMissed)]
    assert missed == [(n.id, rewards.currentEpoch()) for n in late]
    # 2 x 2 TES of penalties; the keeper's bounty is capped at 1 % of the payment.
    assert [(e.account, e.amount) for e in tx.decode_logs(market.Credited)] == [(keeper, BOUNTY)]
    assert market.pendingFees() == fees + 2 * SEAT_PENALTY - BOUNTY
    assert token.balanceOf(market) == escrow + 2 * SEAT_PENALTY
    for n in late:
        rec = registry.node(n.id)
        assert rec.stake == stakes[n.id] - SEAT_PENALTY and rec.slashed == 0
        assert rec.status == NodeStatus.ACTIVE  # a penalty, not a slash: no jail
    states = {s.nodeId: s.state for s in _seats(market, job_id)}  # the dropped seats stay listed
    assert [states[n.id] for n in late] == [SeatState.DROPPED] * 2
    job = market.job(job_id)
    assert (job.seated, job.claims, job.redraws, job.drawBlock) == (1, 1, 1, tx.block_number + 1)
    with ape.reverts(market.JobMarketNotReplica, jobId=job_id, nodeId=late[0].id):
        market.acceptSeat(job_id, late[0].id, sender=late[0].operator)


def test_redraw__penalty_only_from_free_stake__locked_collateral_untouched(
    chain, market, registry, pool, seated_job, open_job, keeper
):
    job_id, seats = seated_job(pool, accept=False)
    late = seats[0]
    # Before its seat lapses, the node locks all but 1 TES of its stake in a k = 1 job.
    other = open_job(collateral=registry.freeStake(late.id) - E18)
    market.claim(terms_of(market, other), late.id, sender=late.operator)
    before = registry.node(late.id)
    assert registry.freeStake(late.id) == E18 < SEAT_PENALTY
    chain.pending_timestamp = replica_of(market, job_id, late.id)[0].acceptDeadline + 1

    tx = market.redraw(job_id, sender=keeper)

    dropped = {e.nodeId: e.penalty for e in tx.decode_logs(market.SeatDropped)}
    assert dropped[late.id] == E18
    rec = registry.node(late.id)
    assert (rec.stake, rec.locked) == (before.stake - E18, before.locked)
    assert registry.freeStake(late.id) == 0


# ---------------------------------------------------------------------- expiry and cancel of Seating
def test_expire_seating__accepted_released_no_fault__late_penalised__client_gets_payment(
    chain, market, token, registry, rewards, pool, seated_job, client, keeper
):
    job_id, seats = seated_job(pool, accept=False)
    accepted, late = seats[:2], seats[2]
    for n in accepted:
        market.acceptSeat(job_id, n.id, sender=n.operator)
    stake = registry.node(late.id).stake
    escrow, fees = token.balanceOf(market), market.pendingFees()
    job = market.job(job_id)
    chain.pending_timestamp = job.deadline + 1

    tx = market.expire(terms_of(market, job_id), sender=keeper)

    ev = tx.decode_logs(market.JobExpired)[0]
    assert (ev.jobId, ev.fromStatus) == (job_id, Status.SEATING)
    assert [
        (e.nodeId, e.amount, e.outcome) for e in tx.decode_logs(registry.CollateralReleased)
    ] == [(n.id, COL, Outcome.NO_FAULT) for n in accepted]
    assert [(e.nodeId, e.penalty) for e in tx.decode_logs(market.SeatDropped)] == [
        (late.id, SEAT_PENALTY)
    ]
    assert rewards.missedSeat(late.id, rewards.currentEpoch())
    # The penalty pays the keeper's bounty, so the client gets its whole payment back.
    assert [(e.account, e.amount) for e in tx.decode_logs(market.Credited)] == [
        (keeper, BOUNTY),
        (client, PAY),
    ]
    assert market.pendingFees() == fees + SEAT_PENALTY - BOUNTY
    assert token.balanceOf(market) == escrow + SEAT_PENALTY
    assert registry.node(late.id).stake == stake - SEAT_PENALTY
    assert tx.decode_logs(market.CollateralSeized) == []
    assert market.job(job_id).status == Status.EXPIRED


def test_cancel_seating__before_any_acceptance__full_refund_no_penalty(
    market, registry, pool, seated_job, client, keeper
):
    job_id, seats = seated_job(pool, accept=False)
    stakes = {n.id: registry.node(n.id).stake for n in seats}
    tx = market.cancel(terms_of(market, job_id), sender=client)
    assert tx.decode_logs(market.JobCancelled)[0].jobId == job_id
    assert [(e.account, e.amount) for e in tx.decode_logs(market.Credited)] == [(client, PAY)]
    assert {n.id: registry.node(n.id).stake for n in seats} == stakes
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.CANCELLED):
        market.acceptSeat(job_id, seats[0].id, sender=seats[0].operator)


def test_cancel_seating__after_one_acceptance__refused(market, pool, seated_job, client):
    job_id, seats = seated_job(pool, accept=False)
    market.acceptSeat(job_id, seats[0].id, sender=seats[0].operator)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.SEATING):
        market.cancel(terms_of(market, job_id), sender=client)


# ---------------------------------------------------------------------- seats follow stake
def _seat_count_distribution(weights: dict, whale: set, k: int) -> list[float]:
    """P(the whale's operators get 0..k seats) when k seats are drawn stake-weighted one after the
    other, each excluding operators already seated: exact, by enumerating ordered draws."""
    total = sum(weights.values())
    dist = [0.0] * (k + 1)
    for order in permutations(weights, k):
        p, left = 1.0, total
        for unit in order:
            p *= weights[unit] / left
            left -= weights[unit]
        dist[sum(unit in whale for unit in order)] += p
    return dist


def test_draw__seat_share_follows_stake_share(
    chain, accounts, deployer, market, registry, pool, setup_node, open_job, keeper, stranger
):
    """One owner (`stranger`) runs four licences with four keys and 4x a pool node's stake each:
    76 % of the stake. Over 60 k = 3 jobs its share of the 180 seats must be near the exact
    expectation of the contract's rule (stake-weighted, one seat per operator key per job),
    72.9 %: a little under the stake share because a key sits at most once per job.

    Tolerance: the whale's seats per job are independent across jobs (each draw hashes its own
    anchor block and job id), with the variance computed below; 4 standard deviations of the
    60-job mean is about 0.116 (a spurious failure has odds of ~1/15,000 for a new chain history).
    A draw that ignored stake (uniform over nodes) would expect 46 %, 9 sd away: the test fails."""
    jobs, k = 60, 3
    whale_nodes = []
    for _ in range(4):
        key = accounts.generate_test_account()
        deployer.transfer(key, E18)
        whale_nodes.append(setup_node(stranger, key, stake=4 * registry.drawWeight(pool[1].id)))
    operator_of = {n: registry.operatorOf(n) for n in [*whale_nodes, *(p.id for p in pool)]}
    weights: dict[str, int] = {}
    for node_id, key in operator_of.items():
        weights[key] = weights.get(key, 0) + registry.drawWeight(node_id)
    whale = {operator_of[n] for n in whale_nodes}
    stake_share = sum(weights[w] for w in whale) / sum(weights.values())

    job_ids = [open_job(replicas=k) for _ in range(jobs)]
    chain.mine()
    seats = []
    for job_id in job_ids:
        tx = market.draw(job_id, sender=keeper)
        drawn = [e.nodeId for e in tx.decode_logs(market.SeatDrawn)]
        assert len(drawn) == k and len({operator_of[n] for n in drawn}) == k  # one seat per key
        seats += drawn

    dist = _seat_count_distribution(weights, whale, k)
    mean = sum(i * p for i, p in enumerate(dist))
    var = sum(i * i * p for i, p in enumerate(dist)) - mean**2
    expected, sd = mean / k, (jobs * var) ** 0.5 / (jobs * k)
    observed = sum(n in whale_nodes for n in seats) / len(seats)
    assert abs(stake_share - 0.762) < 0.001 and abs(expected - 0.7286) < 0.001
    assert abs(observed - expected) <= 4 * sd, (observed, expected, sd)
