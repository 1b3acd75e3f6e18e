"""Liveness: heartbeats and the availability share (emission + income + carry)."""

from tests.utils.constants import INITIAL_EMISSION
from tests.utils.rewards import outcome

E = INITIAL_EMISSION
# IRewards.HeartbeatSkip
NOT_OPERATOR, NOT_ACTIVE, MISSED_SEAT = 0, 1, 2


def _skipped(tx, rewards):
    return [(log.nodeId, log.epoch, log.reason) for log in tx.decode_logs(rewards.HeartbeatSkipped)]


def _proved(tx, rewards):
    return [(log.nodeId, log.epoch) for log in tx.decode_logs(rewards.LivenessProved)]


def test_heartbeat__by_operator__marks_nodes_live_and_emits(rewards, owned_nodes, operator):
    tx = rewards.heartbeat(owned_nodes, sender=operator)
    assert _proved(tx, rewards) == [(n, 0) for n in owned_nodes]
    assert _skipped(tx, rewards) == []
    assert rewards.epoch(0).liveNodes == 3


def test_heartbeat__twice_in_an_epoch__counts_once(rewards, owned_nodes, operator, goto_epoch):
    rewards.heartbeat(owned_nodes[:2], sender=operator)
    tx = rewards.heartbeat(owned_nodes, sender=operator)
    assert [log.nodeId for log in tx.decode_logs(rewards.LivenessProved)] == [owned_nodes[2]]
    tx = rewards.heartbeat([owned_nodes[0], owned_nodes[0]], sender=operator)
    assert tx.decode_logs(rewards.LivenessProved) == []
    assert _skipped(tx, rewards) == []  # a repeat is not a fault: no skip event either
    assert rewards.epoch(0).liveNodes == 3
    goto_epoch(rewards, 1)
    assert rewards.claimable(owned_nodes[0]) == E // 3


def test_heartbeat__by_stranger__skips_every_node_without_reverting(rewards, owned_nodes, stranger):
    tx = rewards.heartbeat(owned_nodes, sender=stranger)
    assert _skipped(tx, rewards) == [(n, 0, NOT_OPERATOR) for n in owned_nodes]
    assert _proved(tx, rewards) == []
    assert rewards.epoch(0).liveNodes == 0


def test_heartbeat__batch_with_inactive_and_foreign_nodes__counts_only_the_good_one(
    rewards, registry, owned_nodes, other_node, node_owner, operator, goto_epoch
):
    inactive, good = owned_nodes[1], owned_nodes[0]
    registry.deactivate(inactive, sender=node_owner)

    tx = rewards.heartbeat([inactive, other_node, good], sender=operator)

    assert _skipped(tx, rewards) == [(inactive, 0, NOT_ACTIVE), (other_node, 0, NOT_OPERATOR)]
    assert _proved(tx, rewards) == [(good, 0)]
    assert rewards.epoch(0).liveNodes == 1
    goto_epoch(rewards, 1)
    assert rewards.claimable(good) == E
    assert rewards.claimable(inactive) == rewards.claimable(other_node) == 0


def test_heartbeat__never_activated_node__is_skipped_not_active(rewards, idle_node, operators):
    tx = rewards.heartbeat([idle_node], sender=operators[2])
    assert _skipped(tx, rewards) == [(idle_node, 0, NOT_ACTIVE)]
    assert rewards.epoch(0).liveNodes == 0


def test_heartbeat__at_last_second_of_epoch__counts_for_it_and_next_second_for_the_next(
    rewards, chain, owned_nodes, operator, goto_epoch
):
    first, second = owned_nodes[:2]
    boundary = rewards.genesisTime() + rewards.epochLength()  # first second of epoch 1

    chain.pending_timestamp = boundary - 1
    tx = rewards.heartbeat([first], sender=operator)
    assert chain.blocks[tx.block_number].timestamp == boundary - 1
    assert _proved(tx, rewards) == [(first, 0)]

    chain.pending_timestamp = boundary
    tx = rewards.heartbeat([second], sender=operator)
    assert chain.blocks[tx.block_number].timestamp == boundary
    assert _proved(tx, rewards) == [(second, 1)]

    assert (rewards.epoch(0).liveNodes, rewards.epoch(1).liveNodes) == (1, 1)
    goto_epoch(rewards, 2)
    assert rewards.claimable(first) == rewards.claimable(second) == E


def test_availability__emission_split_equally_among_live_nodes(
    rewards, owned_nodes, other_node, operator, operators, goto_epoch, stranger
):
    rewards.heartbeat(owned_nodes, sender=operator)
    rewards.heartbeat([other_node], sender=operators[1])
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    # No work: all emission is availability, and only the rounding dust carries.
    assert (log.availabilityPot, log.workPot) == (E, 0)
    assert rewards.epoch(0).availabilityPerNode == E // 4
    assert log.carried == E % 4
    for n in [*owned_nodes, other_node]:
        assert rewards.claimable(n) == E // 4


def test_availability__no_live_node__carries_to_next_epoch(
    rewards, owned_nodes, operator, goto_epoch
):
    goto_epoch(rewards, 1)  # epoch 0: nobody live, nothing paid
    rewards.heartbeat(owned_nodes[:1], sender=operator)
    assert rewards.carried() == E
    goto_epoch(rewards, 2)
    assert rewards.claimable(owned_nodes[0]) == 2 * E


def test_availability__income_joins_the_pot_and_dust_carries(
    rewards, rtoken, owned_nodes, operator, goto_epoch, send_fees, stranger
):
    send_fees(rewards, rtoken, 7)  # availability pot = E + 7: split three ways leaves 2 wei
    rewards.heartbeat(owned_nodes, sender=operator)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    assert (log.availabilityPot, log.workPot) == (E + 7, 0)
    assert (E + 7) % 3 == 2
    assert log.carried == 2
    assert rewards.epoch(0).availabilityPerNode == (E + 7) // 3
    assert rewards.claimable(owned_nodes[0]) == (E + 7) // 3


def test_heartbeat__in_next_epoch__settles_previous_and_accrues_both(
    rewards, owned_nodes, operator, goto_epoch
):
    node = owned_nodes[0]
    rewards.heartbeat(owned_nodes[:2], sender=operator)
    goto_epoch(rewards, 1)
    tx = rewards.heartbeat([node], sender=operator)  # closes epoch 0 and settles it
    assert [log.epoch for log in tx.decode_logs(rewards.EpochClosed)] == [0]
    assert rewards.epoch(1).liveNodes == 1
    goto_epoch(rewards, 2)
    o0 = outcome(E, live_nodes=2)
    o1 = outcome(E, carry_in=o0["carried"], live_nodes=1)
    assert rewards.claimable(node) == o0["availabilityPerNode"] + o1["availabilityPerNode"]
    assert rewards.claimable(owned_nodes[1]) == o0["availabilityPerNode"] == E // 2
