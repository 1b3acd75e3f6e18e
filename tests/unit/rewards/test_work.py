"""Verified work and protocol fees, both pushed by the job market (`keeper` here)."""

import ape

from tests.utils.constants import AVAILABILITY_BPS, E18, INITIAL_EMISSION
from tests.utils.rewards import SCALE, outcome, split, work_share

E = INITIAL_EMISSION
AVAIL, WORK = split(E, AVAILABILITY_BPS)


def test_record_work__by_market__adds_to_node_and_epoch(rewards, owned_nodes, keeper):
    tx = rewards.recordWork(owned_nodes[0], 5 * E18, sender=keeper)
    rewards.recordWork(owned_nodes[0], 2 * E18, sender=keeper)
    rewards.recordWork(owned_nodes[1], 3 * E18, sender=keeper)
    [log] = tx.decode_logs(rewards.WorkRecorded)
    assert (log.nodeId, log.epoch, log.amount) == (owned_nodes[0], 0, 5 * E18)
    assert rewards.epoch(0).totalWork == 10 * E18


def test_record_work__by_stranger__reverts(rewards, owned_nodes, stranger):
    with ape.reverts(rewards.RewardsNotJobMarket, caller=stranger):
        rewards.recordWork(owned_nodes[0], E18, sender=stranger)


def test_record_work__before_market_is_wired__reverts(deploy_rewards, rtoken, owned_nodes, keeper):
    c = deploy_rewards(rtoken, market=None)
    with ape.reverts(c.RewardsNotJobMarket, caller=keeper):
        c.recordWork(owned_nodes[0], E18, sender=keeper)


def test_work__split_pro_rata(rewards, owned_nodes, other_node, keeper, goto_epoch, stranger):
    works = {owned_nodes[0]: 1 * E18, owned_nodes[1]: 3 * E18, other_node: 6 * E18}
    for node, amount in works.items():
        rewards.recordWork(node, amount, sender=keeper)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    rate = WORK * SCALE // (10 * E18)
    assert rewards.epoch(0).workRate == rate
    for node, amount in works.items():
        assert rewards.claimable(node) == work_share(amount, rate) == WORK * amount // (10 * E18)
    # Nobody proved liveness: the availability pot carries.
    assert log.carried == AVAIL + WORK - rate * 10 * E18 // SCALE
    assert rewards.claimable(owned_nodes[2]) == 0


def test_work__none_recorded__work_pot_carries(rewards, owned_nodes, operator, keeper, goto_epoch):
    rewards.heartbeat(owned_nodes[:1], sender=operator)
    goto_epoch(rewards, 1)
    rewards.recordWork(owned_nodes[0], E18, sender=keeper)  # closes epoch 0
    assert rewards.carried() == WORK
    goto_epoch(rewards, 2)
    _, work1 = split(E + WORK, AVAILABILITY_BPS)
    rate = work1 * SCALE // E18
    assert rewards.claimable(owned_nodes[0]) == AVAIL + work_share(E18, rate)


def test_work__in_two_epochs__settles_first_when_second_is_recorded(
    rewards, owned_nodes, keeper, goto_epoch
):
    node = owned_nodes[0]
    rewards.recordWork(node, 2 * E18, sender=keeper)
    goto_epoch(rewards, 1)
    rewards.recordWork(node, E18, sender=keeper)
    assert rewards.epoch(1).totalWork == E18
    goto_epoch(rewards, 2)
    o0 = outcome(E, 0, 0, 0, 2 * E18, AVAILABILITY_BPS)
    o1 = outcome(E, 0, o0["carried"], 0, E18, AVAILABILITY_BPS)
    expected = work_share(2 * E18, o0["workRate"]) + work_share(E18, o1["workRate"])
    assert rewards.claimable(node) == expected


def test_work__tiny_amount__rate_is_clamped_and_rest_carries(
    rewards, owned_nodes, keeper, goto_epoch, stranger
):
    # 1 wei of work: the exact rate would not fit uint128, so it is clamped; nothing is lost.
    rewards.recordWork(owned_nodes[0], 1, sender=keeper)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    u128 = 2**128 - 1
    assert rewards.epoch(0).workRate == u128
    assert rewards.claimable(owned_nodes[0]) == u128 // SCALE
    assert log.carried == E - u128 // SCALE


def test_notify_fees__by_market__credits_current_epoch(rewards, rtoken, send_fees, goto_epoch):
    goto_epoch(rewards, 2)
    tx = send_fees(rewards, rtoken, 500 * E18)
    [log] = tx.decode_logs(rewards.FeesReceived)
    assert (log.epoch, log.amount) == (2, 500 * E18)
    assert rewards.epoch(2).fees == 500 * E18
    # Epochs 0 and 1 were closed first, so their emission is in the funded total too.
    assert rewards.totalFunded() == 2 * E + 500 * E18
    assert rtoken.balanceOf(rewards) == rewards.totalFunded()


def test_notify_fees__by_stranger__reverts(rewards, stranger):
    with ape.reverts(rewards.RewardsNotJobMarket, caller=stranger):
        rewards.notifyFees(E18, sender=stranger)


def test_fees__join_the_epoch_pot(
    rewards, rtoken, owned_nodes, operator, keeper, send_fees, goto_epoch, stranger
):
    fees = 1_234 * E18
    send_fees(rewards, rtoken, fees)
    rewards.heartbeat(owned_nodes, sender=operator)
    rewards.recordWork(owned_nodes[0], E18, sender=keeper)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    assert (log.emission, log.fees) == (E, fees)
    expected = outcome(E, fees, 0, 3, E18, AVAILABILITY_BPS)
    assert (log.availabilityPot, log.workPot) == (expected["availabilityPot"], expected["workPot"])
    assert log.carried == expected["carried"]
    assert rewards.claimable(owned_nodes[0]) == expected["availabilityPerNode"] + work_share(
        E18, expected["workRate"]
    )
    assert rewards.claimable(owned_nodes[1]) == expected["availabilityPerNode"]
