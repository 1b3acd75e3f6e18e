"""The licence contract notifies `registry` (wired in the root conftest) on every transfer."""

import ape

from tests.utils.constants import E18, MIN_STAKE, UNBONDING_DELAY

from .conftest import ZERO, Status


def test_transfer__unbinds_operator_and_deactivates(
    registry, licence, active_node, node_owner, operator, stranger
):
    tx = licence.transferFrom(node_owner, stranger, active_node, sender=node_owner)
    n = registry.node(active_node)
    assert n.operator == ZERO
    assert n.status == Status.INACTIVE
    unbound = tx.decode_logs(registry.OperatorUnbound)
    assert [(e.nodeId, e.operator) for e in unbound] == [(active_node, operator.address)]
    changed = tx.decode_logs(registry.NodeStatusChanged)
    assert [(e.nodeId, e.status) for e in changed] == [(active_node, Status.INACTIVE)]


def test_transfer__stake_unbonding_and_reputation_travel_with_licence(
    chain, registry, licence, token, active_node, node_owner, stranger
):
    registry.requestUnbond(active_node, E18, sender=node_owner)
    before = registry.node(active_node)
    licence.transferFrom(node_owner, stranger, active_node, sender=node_owner)
    after = registry.node(active_node)
    assert (after.stake, after.unbonding, after.unbondingReleaseAt) == (
        before.stake,
        before.unbonding,
        before.unbondingReleaseAt,
    )
    assert tuple(after.capabilities) == tuple(before.capabilities)
    assert registry.ownerOfNode(active_node) == stranger

    # the new owner withdraws the pending unbond; the old one no longer can
    chain.pending_timestamp += UNBONDING_DELAY
    with ape.reverts(
        registry.NodeRegistryNotLicenceOwner, nodeId=active_node, caller=node_owner.address
    ):
        registry.withdrawUnbonded(active_node, sender=node_owner)
    old_before, new_before = token.balanceOf(node_owner), token.balanceOf(stranger)
    registry.withdrawUnbonded(active_node, sender=stranger)
    assert token.balanceOf(stranger) == new_before + E18
    assert token.balanceOf(node_owner) == old_before


def test_transfer__new_owner_rebinds_and_reactivates(
    registry, licence, active_node, node_owner, stranger, keeper
):
    licence.transferFrom(node_owner, stranger, active_node, sender=node_owner)
    with ape.reverts(registry.NodeRegistryNoOperator, nodeId=active_node):
        registry.activate(active_node, sender=stranger)
    registry.bindOperator(active_node, keeper, sender=stranger)
    with ape.reverts(registry.NodeRegistryNoOperator, nodeId=active_node):
        registry.activate(active_node, sender=stranger)
    registry.acceptOperator(active_node, sender=keeper)
    registry.activate(active_node, sender=stranger)
    assert registry.isActive(active_node)
    assert registry.operatorOf(active_node) == keeper
    assert registry.node(active_node).stake == 2 * MIN_STAKE


def test_transfer__clears_a_pending_proposal(
    registry, licence, active_node, node_owner, operator, stranger, keeper
):
    registry.bindOperator(active_node, keeper, sender=node_owner)
    assert registry.pendingOperatorOf(active_node) == keeper
    licence.transferFrom(node_owner, stranger, active_node, sender=node_owner)
    assert registry.pendingOperatorOf(active_node) == ZERO
    # the key the old owner proposed cannot take over the new owner's node
    with ape.reverts(
        registry.NodeRegistryNotPendingOperator, nodeId=active_node, caller=keeper.address
    ):
        registry.acceptOperator(active_node, sender=keeper)
    assert registry.operatorOf(active_node) == ZERO


def test_transfer__drops_the_draw_weight(registry, licence, active_node, node_owner, stranger):
    total = registry.totalDrawWeight()
    assert registry.drawWeight(active_node) == 2 * MIN_STAKE
    tx = licence.transferFrom(node_owner, stranger, active_node, sender=node_owner)
    assert registry.drawWeight(active_node) == 0
    assert registry.totalDrawWeight() == total - 2 * MIN_STAKE
    changed = tx.decode_logs(registry.DrawWeightChanged)
    assert [(e.nodeId, e.weight) for e in changed] == [(active_node, 0)]


def test_transfer__unconfigured_licence__emits_nothing(
    registry, licence, node_id, node_owner, stranger
):
    tx = licence.transferFrom(node_owner, stranger, node_id, sender=node_owner)
    assert tx.decode_logs(registry.OperatorUnbound) == []
    assert tx.decode_logs(registry.NodeStatusChanged) == []
    assert tx.decode_logs(registry.DrawWeightChanged) == []


def test_transfer__retired_node__stays_retired(
    registry, licence, active_node, node_owner, stranger
):
    registry.retire(active_node, sender=node_owner)
    licence.transferFrom(node_owner, stranger, active_node, sender=node_owner)
    assert registry.node(active_node).status == Status.RETIRED
    assert registry.operatorOf(active_node) == ZERO


def test_on_licence_transfer__not_from_licence__reverts(
    registry, active_node, node_owner, stranger
):
    with ape.reverts(registry.NodeRegistryNotLicence, caller=node_owner.address):
        registry.onLicenceTransfer(active_node, node_owner, stranger, sender=node_owner)
    assert registry.isActive(active_node)
