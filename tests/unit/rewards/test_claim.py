"""Pull claims by licence owners, and the `claimable` view that predicts them."""

import ape

from tests.utils.constants import AVAILABILITY_BPS, E18, INITIAL_EMISSION
from tests.utils.rewards import outcome, split, work_share

E = INITIAL_EMISSION
AVAIL, WORK = split(E, AVAILABILITY_BPS)


def test_claim__many_nodes_in_one_call__pays_the_sum(
    rewards, rtoken, owned_nodes, node_owner, operator, keeper, goto_epoch
):
    rewards.heartbeat(owned_nodes, sender=operator)
    rewards.recordWork(owned_nodes[0], 1 * E18, sender=keeper)
    rewards.recordWork(owned_nodes[1], 3 * E18, sender=keeper)
    goto_epoch(rewards, 1)
    o = outcome(E, 0, 0, 3, 4 * E18, AVAILABILITY_BPS)
    expected = [
        o["availabilityPerNode"] + work_share(1 * E18, o["workRate"]),
        o["availabilityPerNode"] + work_share(3 * E18, o["workRate"]),
        o["availabilityPerNode"],
    ]
    before = rtoken.balanceOf(node_owner)

    tx = rewards.claim(owned_nodes, sender=node_owner)

    logs = tx.decode_logs(rewards.RewardsClaimed)
    assert [(log.owner, log.nodeId, log.amount) for log in logs] == [
        (node_owner, n, a) for n, a in zip(owned_nodes, expected, strict=True)
    ]
    assert rtoken.balanceOf(node_owner) - before == sum(expected)
    assert rewards.totalClaimed() == sum(expected)
    assert rtoken.balanceOf(rewards) == rewards.totalFunded() - sum(expected)
    assert all(rewards.claimable(n) == 0 for n in owned_nodes)


def test_claim__twice__second_reverts_nothing_to_claim(
    rewards, owned_nodes, node_owner, operator, goto_epoch
):
    rewards.heartbeat(owned_nodes, sender=operator)
    goto_epoch(rewards, 1)
    rewards.claim(owned_nodes, sender=node_owner)
    with ape.reverts(rewards.RewardsNothingToClaim, owner=node_owner):
        rewards.claim(owned_nodes, sender=node_owner)


def test_claim__during_the_live_epoch__reverts_nothing_to_claim(
    rewards, owned_nodes, node_owner, operator, keeper
):
    rewards.heartbeat(owned_nodes, sender=operator)
    rewards.recordWork(owned_nodes[0], E18, sender=keeper)
    assert rewards.claimable(owned_nodes[0]) == 0
    with ape.reverts(rewards.RewardsNothingToClaim, owner=node_owner):
        rewards.claim(owned_nodes, sender=node_owner)


def test_claim__licence_not_owned__reverts(
    rewards, owned_nodes, other_node, node_owner, operators, goto_epoch
):
    rewards.heartbeat([other_node], sender=operators[1])
    goto_epoch(rewards, 1)
    with ape.reverts(rewards.RewardsNotLicenceOwner, nodeId=other_node, caller=node_owner):
        rewards.claim([owned_nodes[0], other_node], sender=node_owner)


def test_claim__after_epochs_skipped__closes_them_and_pays(
    rewards, rtoken, owned_nodes, node_owner, operator, goto_epoch
):
    node = owned_nodes[0]
    rewards.heartbeat([node], sender=operator)
    goto_epoch(rewards, 10)
    before = rtoken.balanceOf(node_owner)
    tx = rewards.claim([node], sender=node_owner)
    assert [log.epoch for log in tx.decode_logs(rewards.EpochClosed)] == list(range(10))
    assert rewards.lastClosedEpoch() == 10
    assert rewards.totalMinted() == 10 * E
    assert rtoken.balanceOf(node_owner) - before == AVAIL
    # Nine idle epochs and epoch 0's work pot wait in the carry for whoever shows up next.
    assert rewards.carried() == 10 * E - AVAIL


def test_claimable__matches_claim_before_epochs_close(
    rewards,
    rtoken,
    owned_nodes,
    other_node,
    node_owner,
    operator,
    operators,
    keeper,
    goto_epoch,
    send_fees,
):
    node = owned_nodes[0]
    # Epoch 0: two live nodes, work by both, fees.
    rewards.heartbeat([node, owned_nodes[1]], sender=operator)
    rewards.recordWork(node, 2 * E18, sender=keeper)
    rewards.recordWork(other_node, 5 * E18, sender=keeper)
    send_fees(rewards, rtoken, 77 * E18)
    # Epoch 3 (1 and 2 idle): live again, with work.
    goto_epoch(rewards, 3)
    rewards.heartbeat([node], sender=operator)
    rewards.heartbeat([other_node], sender=operators[1])
    rewards.recordWork(node, 1 * E18, sender=keeper)
    goto_epoch(rewards, 6)
    assert rewards.lastClosedEpoch() == 3  # epochs 3..5 are still open: claimable simulates them

    predicted = rewards.claimable(node)
    before = rtoken.balanceOf(node_owner)
    tx = rewards.claim([node], sender=node_owner)
    assert rtoken.balanceOf(node_owner) - before == predicted > 0
    assert [log.amount for log in tx.decode_logs(rewards.RewardsClaimed)] == [predicted]

    o0 = outcome(E, 77 * E18, 0, 2, 7 * E18, AVAILABILITY_BPS)
    o1 = outcome(E, 0, o0["carried"], 0, 0, AVAILABILITY_BPS)
    o2 = outcome(E, 0, o1["carried"], 0, 0, AVAILABILITY_BPS)
    o3 = outcome(E, 0, o2["carried"], 2, 1 * E18, AVAILABILITY_BPS)
    assert predicted == (
        o0["availabilityPerNode"]
        + work_share(2 * E18, o0["workRate"])
        + o3["availabilityPerNode"]
        + work_share(1 * E18, o3["workRate"])
    )


def test_claimable__unknown_node__is_zero(rewards):
    assert rewards.claimable(999_999) == 0


def test_claim__after_licence_sale__pays_new_owner(
    rewards, rtoken, licence, owned_nodes, node_owner, operator, stranger, goto_epoch
):
    node = owned_nodes[0]
    rewards.heartbeat([node], sender=operator)
    goto_epoch(rewards, 1)
    licence.transferFrom(node_owner, stranger, node, sender=node_owner)
    with ape.reverts(rewards.RewardsNotLicenceOwner, nodeId=node, caller=node_owner):
        rewards.claim([node], sender=node_owner)
    rewards.claim([node], sender=stranger)
    assert rtoken.balanceOf(stranger) == AVAIL
