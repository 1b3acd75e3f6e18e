"""Work (the protocol fees of settled jobs) and unattributed income, both pushed by the job market
(`keeper` here, paying the TES in first as the market does)."""

import ape

from tests.utils.constants import E18, INITIAL_EMISSION
from tests.utils.rewards import SCALE, outcome

E = INITIAL_EMISSION


def test_record_work__by_market__adds_fee_to_node_epoch_and_funded(
    rewards, rtoken, owned_nodes, record_work
):
    tx = record_work(rewards, rtoken, owned_nodes[0], 5 * E18)
    record_work(rewards, rtoken, owned_nodes[0], 2 * E18)
    record_work(rewards, rtoken, owned_nodes[1], 3 * E18)
    [log] = tx.decode_logs(rewards.WorkRecorded)
    assert (log.nodeId, log.epoch, log.amount) == (owned_nodes[0], 0, 5 * E18)
    e0 = rewards.epoch(0)
    assert (e0.totalWork, e0.fees, e0.income) == (10 * E18, 10 * E18, 0)
    assert rewards.totalFunded() == 10 * E18 == rtoken.balanceOf(rewards)


def test_record_work__by_stranger__reverts(rewards, owned_nodes, stranger):
    with ape.reverts(rewards.RewardsNotJobMarket, caller=stranger):
        rewards.recordWork(owned_nodes[0], E18, sender=stranger)


def test_record_work__before_market_is_wired__reverts(deploy_rewards, rtoken, owned_nodes, keeper):
    c = deploy_rewards(rtoken, market=None)
    with ape.reverts(c.RewardsNotJobMarket, caller=keeper):
        c.recordWork(owned_nodes[0], E18, sender=keeper)


def test_wash_trading__self_dealt_fees__return_exactly_the_fee_never_emission(
    rewards, rtoken, owned_nodes, record_work, goto_epoch, stranger
):
    # The node's owner pays jobs to their own node: the only thing recorded is the fee.
    washer = owned_nodes[0]
    fee = 3 * E18 + 7  # odd wei: nothing may round in the washer's favour (or against it)
    record_work(rewards, rtoken, washer, fee)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    assert (log.availabilityPot, log.workPot) == (E, fee)
    assert rewards.epoch(0).workRate == SCALE
    assert rewards.claimable(washer) == fee
    # Nobody proved liveness: all of the emission carries, none of it went to the washer.
    assert log.carried == E


def test_wash_trading__alongside_a_live_node__emission_goes_to_the_live_node(
    rewards, rtoken, owned_nodes, operator, record_work, goto_epoch
):
    washer, honest = owned_nodes[:2]
    record_work(rewards, rtoken, washer, 1_000 * E18)
    rewards.heartbeat([honest], sender=operator)
    goto_epoch(rewards, 1)
    assert rewards.claimable(washer) == 1_000 * E18
    assert rewards.claimable(honest) == E


def test_work__two_nodes__split_the_work_pot_in_proportion_to_their_fees(
    rewards, rtoken, owned_nodes, other_node, operator, operators, record_work, goto_epoch, stranger
):
    a, b = owned_nodes[0], other_node
    f1, f2 = 2 * E18 + 1, 5 * E18 + 3
    record_work(rewards, rtoken, a, f1)
    record_work(rewards, rtoken, b, f2)
    rewards.heartbeat([a], sender=operator)
    rewards.heartbeat([b], sender=operators[1])
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    assert log.workPot == f1 + f2
    work_a, work_b = rewards.claimable(a) - E // 2, rewards.claimable(b) - E // 2
    assert (work_a, work_b) == (f1, f2)
    assert work_a * f2 == work_b * f1  # f1 : f2
    assert log.carried == 0


def test_work__in_two_epochs__settles_first_when_second_is_recorded(
    rewards, rtoken, owned_nodes, record_work, goto_epoch
):
    node = owned_nodes[0]
    record_work(rewards, rtoken, node, 2 * E18)
    goto_epoch(rewards, 1)
    record_work(rewards, rtoken, node, E18)
    assert rewards.epoch(1).totalWork == E18
    goto_epoch(rewards, 2)
    assert rewards.claimable(node) == 3 * E18


def test_work__one_wei_fee__is_paid_back_exactly(
    rewards, rtoken, owned_nodes, record_work, goto_epoch, stranger
):
    record_work(rewards, rtoken, owned_nodes[0], 1)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    assert rewards.claimable(owned_nodes[0]) == 1
    assert log.carried == E


def test_notify_fees__by_market__credits_current_epochs_income(
    rewards, rtoken, send_fees, goto_epoch
):
    goto_epoch(rewards, 2)
    tx = send_fees(rewards, rtoken, 500 * E18)
    [log] = tx.decode_logs(rewards.FeesReceived)
    assert (log.epoch, log.amount) == (2, 500 * E18)
    e2 = rewards.epoch(2)
    assert (e2.income, e2.fees, e2.totalWork) == (500 * E18, 0, 0)
    # Epochs 0 and 1 were closed first, so their emission is in the funded total too.
    assert rewards.totalFunded() == 2 * E + 500 * E18
    assert rtoken.balanceOf(rewards) == rewards.totalFunded()


def test_notify_fees__by_stranger__reverts(rewards, stranger):
    with ape.reverts(rewards.RewardsNotJobMarket, caller=stranger):
        rewards.notifyFees(E18, sender=stranger)


def test_income__pays_availability_and_fees_pay_work(
    rewards, rtoken, owned_nodes, operator, record_work, send_fees, goto_epoch, stranger
):
    income, fee = 1_234 * E18, 3 * E18
    send_fees(rewards, rtoken, income)
    rewards.heartbeat(owned_nodes, sender=operator)
    record_work(rewards, rtoken, owned_nodes[0], fee)
    goto_epoch(rewards, 1)
    tx = rewards.checkpoint(1, sender=stranger)
    [log] = tx.decode_logs(rewards.EpochClosed)
    assert (log.emission, log.fees) == (E, fee)
    expected = outcome(E, income=income, fees=fee, live_nodes=3)
    assert (log.availabilityPot, log.workPot) == (E + income, fee)
    assert (log.availabilityPot, log.workPot) == (expected["availabilityPot"], expected["workPot"])
    assert log.carried == expected["carried"] == (E + income) % 3
    assert rewards.claimable(owned_nodes[0]) == (E + income) // 3 + fee
    assert rewards.claimable(owned_nodes[1]) == (E + income) // 3


def test_carry__joins_the_next_availability_pot_never_the_work_pot(
    rewards, rtoken, owned_nodes, operator, record_work, goto_epoch, stranger
):
    worker, live = owned_nodes[:2]
    record_work(rewards, rtoken, worker, E18)  # epoch 0: work, nobody live
    goto_epoch(rewards, 1)
    tx = rewards.heartbeat([live], sender=operator)  # closes epoch 0
    [log0] = tx.decode_logs(rewards.EpochClosed)
    assert (log0.availabilityPot, log0.workPot, log0.carried) == (E, E18, E)
    record_work(rewards, rtoken, worker, 2 * E18)
    goto_epoch(rewards, 2)
    tx = rewards.checkpoint(1, sender=stranger)
    [log1] = tx.decode_logs(rewards.EpochClosed)
    assert (log1.availabilityPot, log1.workPot, log1.carried) == (2 * E, 2 * E18, 0)
    assert rewards.claimable(worker) == 3 * E18
    assert rewards.claimable(live) == 2 * E
