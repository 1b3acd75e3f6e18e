"""Liveness: heartbeats and the availability share."""

import ape

from tests.utils.constants import AVAILABILITY_BPS, INITIAL_EMISSION
from tests.utils.rewards import split

E = INITIAL_EMISSION
AVAIL, WORK = split(E, AVAILABILITY_BPS)


def test_heartbeat__by_operator__marks_nodes_live_and_emits(rewards, owned_nodes, operator):
    tx = rewards.heartbeat(owned_nodes, sender=operator)
    logs = tx.decode_logs(rewards.LivenessProved)
    assert [(log.nodeId, log.epoch) for log in logs] == [(n, 0) for n in owned_nodes]
    assert rewards.epoch(0).liveNodes == 3


def test_heartbeat__twice_in_an_epoch__counts_once(rewards, owned_nodes, operator, goto_epoch):
    rewards.heartbeat(owned_nodes[:2], sender=operator)
    tx = rewards.heartbeat(owned_nodes, sender=operator)
    assert [log.nodeId for log in tx.decode_logs(rewards.LivenessProved)] == [owned_nodes[2]]
    tx = rewards.heartbeat([owned_nodes[0], owned_nodes[0]], sender=operator)
    assert tx.decode_logs(rewards.LivenessProved) == []
    assert rewards.epoch(0).liveNodes == 3
    goto_epoch(rewards, 1)
    assert rewards.claimable(owned_nodes[0]) == AVAIL // 3


def test_heartbeat__by_stranger__reverts(rewards, owned_nodes, stranger):
    with ape.reverts(rewards.RewardsNotOperator, nodeId=owned_nodes[0], caller=stranger):
        rewards.heartbeat(owned_nodes, sender=stranger)


def test_heartbeat__for_other_operators_node__reverts(rewards, owned_nodes, other_node, operator):
    with ape.reverts(rewards.RewardsNotOperator, nodeId=other_node, caller=operator):
        rewards.heartbeat([owned_nodes[0], other_node], sender=operator)
    assert rewards.epoch(0).liveNodes == 0


def test_heartbeat__inactive_node__reverts(rewards, idle_node, operators):
    with ape.reverts(rewards.RewardsNodeNotActive, nodeId=idle_node):
        rewards.heartbeat([idle_node], sender=operators[2])


def test_heartbeat__after_deactivation__reverts(
    rewards, registry, owned_nodes, node_owner, operator
):
    registry.deactivate(owned_nodes[1], sender=node_owner)
    with ape.reverts(rewards.RewardsNodeNotActive, nodeId=owned_nodes[1]):
        rewards.heartbeat(owned_nodes, sender=operator)


def test_availability__split_equally_among_live_nodes(
    rewards, owned_nodes, other_node, operator, operators, goto_epoch, stranger
):
    rewards.heartbeat(owned_nodes, sender=operator)
    rewards.heartbeat([other_node], sender=operators[1])
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    assert (log.availabilityPot, log.workPot) == (AVAIL, WORK)
    assert rewards.epoch(0).availabilityPerNode == AVAIL // 4
    # No work this epoch: the whole work pot (and the availability dust) carries.
    assert log.carried == WORK + AVAIL % 4
    for n in [*owned_nodes, other_node]:
        assert rewards.claimable(n) == AVAIL // 4


def test_availability__no_live_node__carries_to_next_epoch(
    rewards, owned_nodes, operator, goto_epoch
):
    goto_epoch(rewards, 1)  # epoch 0: nobody live, nothing paid
    rewards.heartbeat(owned_nodes[:1], sender=operator)
    assert rewards.carried() == E
    goto_epoch(rewards, 2)
    avail, _ = split(2 * E, AVAILABILITY_BPS)
    assert rewards.claimable(owned_nodes[0]) == avail


def test_availability__rounding_dust__carries(
    rewards, rtoken, owned_nodes, operator, goto_epoch, send_fees, stranger
):
    send_fees(rewards, rtoken, 7)  # pot = E + 7: its availability third leaves 2 wei of dust
    rewards.heartbeat(owned_nodes, sender=operator)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    avail, work = split(E + 7, AVAILABILITY_BPS)
    assert avail % 3 == 2
    assert log.carried == work + 2
    assert rewards.epoch(0).availabilityPerNode == avail // 3


def test_heartbeat__in_next_epoch__settles_previous_and_accrues_both(
    rewards, owned_nodes, operator, goto_epoch
):
    node = owned_nodes[0]
    rewards.heartbeat([node], sender=operator)
    goto_epoch(rewards, 1)
    tx = rewards.heartbeat([node], sender=operator)  # closes epoch 0 and settles it
    assert [log.epoch for log in tx.decode_logs(rewards.EpochClosed)] == [0]
    assert rewards.epoch(1).liveNodes == 1
    goto_epoch(rewards, 2)
    # Epoch 1's pot includes epoch 0's unspent work pot.
    avail1, _ = split(E + WORK, AVAILABILITY_BPS)
    assert rewards.claimable(node) == AVAIL + avail1
