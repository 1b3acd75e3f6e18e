"""Missed seats: a node drawn for a seat that it did not accept loses that epoch's availability
share, and only that epoch's (`keeper` plays the job market)."""

import ape

from tests.utils.constants import INITIAL_EMISSION

E = INITIAL_EMISSION
MISSED_SEAT = 2  # IRewards.HeartbeatSkip.MissedSeat


def test_record_missed_seat__by_stranger__reverts(rewards, owned_nodes, stranger):
    with ape.reverts(rewards.RewardsNotJobMarket, caller=stranger):
        rewards.recordMissedSeat(owned_nodes[0], sender=stranger)


def test_record_missed_seat__before_market_is_wired__reverts(
    deploy_rewards, rtoken, owned_nodes, keeper
):
    c = deploy_rewards(rtoken, market=None)
    with ape.reverts(c.RewardsNotJobMarket, caller=keeper):
        c.recordMissedSeat(owned_nodes[0], sender=keeper)


def test_record_missed_seat__emits_and_marks_only_the_current_epoch(
    rewards, owned_nodes, keeper, goto_epoch
):
    node = owned_nodes[0]
    goto_epoch(rewards, 2)
    tx = rewards.recordMissedSeat(node, sender=keeper)
    assert [(log.nodeId, log.epoch) for log in tx.decode_logs(rewards.SeatMissed)] == [(node, 2)]
    assert rewards.missedSeat(node, 2)
    assert not rewards.missedSeat(node, 1)
    assert not rewards.missedSeat(node, 3)
    assert not rewards.missedSeat(owned_nodes[1], 2)


def test_missed_seat__after_heartbeat__removes_that_epochs_share_only(
    rewards, rtoken, owned_nodes, node_owner, operator, keeper, goto_epoch
):
    a, b = owned_nodes[:2]
    rewards.heartbeat([a, b], sender=operator)  # epoch 0: E / 2 each
    goto_epoch(rewards, 1)
    rewards.heartbeat([a, b], sender=operator)  # settles epoch 0 for both
    assert rewards.epoch(1).liveNodes == 2

    rewards.recordMissedSeat(a, sender=keeper)
    rewards.recordMissedSeat(a, sender=keeper)  # a second miss changes nothing more
    assert rewards.epoch(1).liveNodes == 1
    tx = rewards.heartbeat([a, b], sender=operator)  # a cannot come back in this epoch
    assert [(log.nodeId, log.reason) for log in tx.decode_logs(rewards.HeartbeatSkipped)] == [
        (a, MISSED_SEAT)
    ]
    assert tx.decode_logs(rewards.LivenessProved) == []
    assert rewards.epoch(1).liveNodes == 1
    # Epoch 1 is not over: only epoch 0 is owed so far, and it still is.
    assert rewards.claimable(a) == E // 2

    goto_epoch(rewards, 2)
    tx = rewards.heartbeat([a, b], sender=operator)  # the next epoch is unaffected
    assert [log.nodeId for log in tx.decode_logs(rewards.LivenessProved)] == [a, b]
    goto_epoch(rewards, 3)
    assert rewards.claimable(a) == E // 2 + 0 + E // 2
    assert rewards.claimable(b) == E // 2 + E + E // 2  # alone in epoch 1
    before = rtoken.balanceOf(node_owner)
    rewards.claim([a], sender=node_owner)
    assert rtoken.balanceOf(node_owner) - before == E


def test_missed_seat__before_heartbeat__keeps_previous_pending_share_and_blocks_this_epoch(
    rewards, owned_nodes, operator, keeper, goto_epoch
):
    a, b = owned_nodes[:2]
    rewards.heartbeat([a, b], sender=operator)
    goto_epoch(rewards, 1)
    # a's epoch-0 share is still pending (not settled) when it misses a seat in epoch 1.
    rewards.recordMissedSeat(a, sender=keeper)
    assert rewards.epoch(1).liveNodes == 0
    assert rewards.claimable(a) == E // 2
    tx = rewards.heartbeat([a, b], sender=operator)
    assert [
        (log.nodeId, log.epoch, log.reason) for log in tx.decode_logs(rewards.HeartbeatSkipped)
    ] == [(a, 1, MISSED_SEAT)]
    assert [log.nodeId for log in tx.decode_logs(rewards.LivenessProved)] == [b]
    assert rewards.epoch(1).liveNodes == 1

    goto_epoch(rewards, 2)
    rewards.heartbeat([a], sender=operator)  # settles epoch 0; epoch 2 counts again
    assert rewards.epoch(2).liveNodes == 1
    goto_epoch(rewards, 3)
    assert rewards.claimable(a) == E // 2 + 0 + E  # alone in epoch 2
    assert rewards.claimable(b) == E // 2 + E  # alone in epoch 1


def test_missed_seat__by_the_only_live_node__carries_the_pot(
    rewards, owned_nodes, operator, keeper, goto_epoch, stranger
):
    rewards.heartbeat(owned_nodes[:1], sender=operator)
    rewards.recordMissedSeat(owned_nodes[0], sender=keeper)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    assert log.carried == E
    assert rewards.claimable(owned_nodes[0]) == 0
