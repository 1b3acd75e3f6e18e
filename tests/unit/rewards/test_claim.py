"""Pull claims by licence owners, and the `claimable` view that predicts them."""

import ape

from tests.utils.constants import E18, INITIAL_EMISSION
from tests.utils.rewards import outcome, work_share

E = INITIAL_EMISSION


def test_claim__many_nodes_in_one_call__pays_the_sum(
    rewards, rtoken, owned_nodes, node_owner, operator, record_work, goto_epoch
):
    rewards.heartbeat(owned_nodes, sender=operator)
    record_work(rewards, rtoken, owned_nodes[0], 1 * E18)
    record_work(rewards, rtoken, owned_nodes[1], 3 * E18)
    goto_epoch(rewards, 1)
    o = outcome(E, fees=4 * E18, live_nodes=3)
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
    rewards, rtoken, owned_nodes, node_owner, operator, record_work
):
    rewards.heartbeat(owned_nodes, sender=operator)
    record_work(rewards, rtoken, owned_nodes[0], E18)
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
    assert rtoken.balanceOf(node_owner) - before == E
    # Nine idle epochs' emission waits in the carry for whoever shows up next.
    assert rewards.carried() == 9 * E


def test_claimable__matches_claim_before_epochs_close(
    rewards,
    rtoken,
    owned_nodes,
    other_node,
    node_owner,
    operator,
    operators,
    record_work,
    goto_epoch,
    send_fees,
):
    node = owned_nodes[0]
    # Epoch 0: two live nodes, work by both, income.
    rewards.heartbeat([node, owned_nodes[1]], sender=operator)
    record_work(rewards, rtoken, node, 2 * E18)
    record_work(rewards, rtoken, other_node, 5 * E18)
    send_fees(rewards, rtoken, 77 * E18 + 1)
    # Epoch 3 (1 and 2 idle): live again, with work.
    goto_epoch(rewards, 3)
    rewards.heartbeat([node], sender=operator)
    rewards.heartbeat([other_node], sender=operators[1])
    record_work(rewards, rtoken, node, 1 * E18)
    goto_epoch(rewards, 6)
    assert rewards.lastClosedEpoch() == 3  # epochs 3..5 are still open: claimable simulates them

    predicted = rewards.claimable(node)
    before = rtoken.balanceOf(node_owner)
    tx = rewards.claim([node], sender=node_owner)
    assert rtoken.balanceOf(node_owner) - before == predicted > 0
    assert [log.amount for log in tx.decode_logs(rewards.RewardsClaimed)] == [predicted]

    o0 = outcome(E, income=77 * E18 + 1, fees=7 * E18, live_nodes=2)
    o1 = outcome(E, carry_in=o0["carried"])
    o2 = outcome(E, carry_in=o1["carried"])
    o3 = outcome(E, carry_in=o2["carried"], fees=1 * E18, live_nodes=2)
    assert o0["carried"] == 1 and o3["availabilityPot"] == 3 * E + 1
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
    assert rtoken.balanceOf(stranger) == E


def test_claim__in_the_middle_of_a_live_epoch__pays_closed_epochs_and_keeps_the_live_share(
    rewards, rtoken, owned_nodes, node_owner, operator, record_work, goto_epoch
):
    a, b = owned_nodes[:2]
    rewards.heartbeat([a, b], sender=operator)
    record_work(rewards, rtoken, a, 2 * E18)
    goto_epoch(rewards, 1)
    rewards.heartbeat([a], sender=operator)
    record_work(rewards, rtoken, a, 5 * E18)

    before = rtoken.balanceOf(node_owner)
    tx = rewards.claim([a], sender=node_owner)
    assert [log.amount for log in tx.decode_logs(rewards.RewardsClaimed)] == [E // 2 + 2 * E18]
    assert rtoken.balanceOf(node_owner) - before == E // 2 + 2 * E18
    assert rewards.claimable(a) == 0
    # Epoch 1 (a alone, with its work) is paid once it closes, not lost to the early claim.
    goto_epoch(rewards, 2)
    assert rewards.claimable(a) == E + 5 * E18
    before = rtoken.balanceOf(node_owner)
    rewards.claim([a], sender=node_owner)
    assert rtoken.balanceOf(node_owner) - before == E + 5 * E18
    assert rewards.totalClaimed() == E // 2 + 2 * E18 + E + 5 * E18
