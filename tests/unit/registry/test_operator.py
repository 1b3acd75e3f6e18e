import ape
import pytest

from tests.utils.constants import E18, MIN_STAKE

from .conftest import CAPS, NO_NEED, ZERO


def test_bind_operator__by_licence_owner__only_proposes(registry, node_id, node_owner, operator):
    tx = registry.bindOperator(node_id, operator, sender=node_owner)
    assert registry.pendingOperatorOf(node_id) == operator
    assert registry.operatorOf(node_id) == ZERO  # not bound until the key consents
    assert registry.node(node_id).operator == ZERO
    proposed = tx.decode_logs(registry.OperatorProposed)
    assert [(e.nodeId, e.operator) for e in proposed] == [(node_id, operator.address)]
    assert tx.decode_logs(registry.OperatorBound) == []
    assert tx.decode_logs(registry.OperatorUnbound) == []


def test_accept_operator__by_proposed_key__binds_and_emits(registry, node_id, node_owner, operator):
    registry.bindOperator(node_id, operator, sender=node_owner)
    tx = registry.acceptOperator(node_id, sender=operator)
    assert registry.operatorOf(node_id) == operator
    assert registry.node(node_id).operator == operator
    assert registry.pendingOperatorOf(node_id) == ZERO
    bound = tx.decode_logs(registry.OperatorBound)
    assert [(e.nodeId, e.operator) for e in bound] == [(node_id, operator.address)]
    assert tx.decode_logs(registry.OperatorUnbound) == []


def test_accept_operator__twice__second_reverts(registry, node_id, node_owner, operator):
    registry.bindOperator(node_id, operator, sender=node_owner)
    registry.acceptOperator(node_id, sender=operator)
    with ape.reverts(
        registry.NodeRegistryNotPendingOperator, nodeId=node_id, caller=operator.address
    ):
        registry.acceptOperator(node_id, sender=operator)


@pytest.mark.parametrize("who", ["stranger", "node_owner", "keeper"])
def test_accept_operator__not_the_proposed_key__reverts(
    request, registry, node_id, node_owner, operator, who
):
    caller = request.getfixturevalue(who)
    registry.bindOperator(node_id, operator, sender=node_owner)
    with ape.reverts(
        registry.NodeRegistryNotPendingOperator, nodeId=node_id, caller=caller.address
    ):
        registry.acceptOperator(node_id, sender=caller)
    assert registry.operatorOf(node_id) == ZERO
    assert registry.pendingOperatorOf(node_id) == operator


def test_accept_operator__nothing_proposed__reverts(registry, node_id, operator):
    with ape.reverts(
        registry.NodeRegistryNotPendingOperator, nodeId=node_id, caller=operator.address
    ):
        registry.acceptOperator(node_id, sender=operator)


def test_bind_operator__proposed_key__cannot_act_until_it_accepts(
    registry, node_id, node_owner, operator, stake_for
):
    registry.bindOperator(node_id, operator, sender=node_owner)
    stake_for(registry, node_id, node_owner, MIN_STAKE)
    with ape.reverts(registry.NodeRegistryNoOperator, nodeId=node_id):
        registry.activate(node_id, sender=node_owner)
    with ape.reverts(registry.NodeRegistryNotOperator, nodeId=node_id, caller=operator.address):
        registry.announceEndpoint(node_id, "https://node.example", sender=operator)
    registry.acceptOperator(node_id, sender=operator)
    registry.activate(node_id, sender=node_owner)
    assert registry.isActive(node_id)


def test_bind_operator__proposing_again__replaces_the_proposal(
    registry, node_id, node_owner, operator, stranger
):
    registry.bindOperator(node_id, operator, sender=node_owner)
    registry.bindOperator(node_id, stranger, sender=node_owner)
    assert registry.pendingOperatorOf(node_id) == stranger
    with ape.reverts(
        registry.NodeRegistryNotPendingOperator, nodeId=node_id, caller=operator.address
    ):
        registry.acceptOperator(node_id, sender=operator)
    registry.acceptOperator(node_id, sender=stranger)
    assert registry.operatorOf(node_id) == stranger


def test_rotation__proposal_keeps_the_old_key_until_the_new_one_accepts(
    registry, active_node, node_owner, operator, stranger
):
    tx = registry.bindOperator(active_node, stranger, sender=node_owner)
    assert tx.decode_logs(registry.OperatorUnbound) == []
    assert registry.operatorOf(active_node) == operator
    assert registry.isActive(active_node)
    registry.announceEndpoint(active_node, "https://still.me", sender=operator)


def test_rotation__accepting__replaces_the_old_key(
    registry, active_node, node_owner, operator, stranger
):
    weight = registry.drawWeight(active_node)
    registry.bindOperator(active_node, stranger, sender=node_owner)
    tx = registry.acceptOperator(active_node, sender=stranger)
    assert registry.operatorOf(active_node) == stranger
    assert registry.operatorOf(active_node) != operator
    unbound = tx.decode_logs(registry.OperatorUnbound)
    assert [(e.nodeId, e.operator) for e in unbound] == [(active_node, operator.address)]
    bound = tx.decode_logs(registry.OperatorBound)
    assert [(e.nodeId, e.operator) for e in bound] == [(active_node, stranger.address)]
    # the old key can no longer act for the node; the node stays in service with its weight
    with ape.reverts(registry.NodeRegistryNotOperator, nodeId=active_node, caller=operator.address):
        registry.announceEndpoint(active_node, "https://old.key", sender=operator)
    assert registry.isActive(active_node)
    assert registry.drawWeight(active_node) == weight
    assert tx.decode_logs(registry.DrawWeightChanged) == []


def test_rotation__old_key_cannot_claim(
    mregistry, market_node, node_owner, operator, stranger, keeper
):
    mregistry.bindOperator(market_node, stranger, sender=node_owner)
    mregistry.acceptOperator(market_node, sender=stranger)
    with ape.reverts(
        mregistry.NodeRegistryNotOperator, nodeId=market_node, caller=operator.address
    ):
        mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)
    mregistry.lockForClaim(market_node, stranger, NO_NEED, E18, sender=keeper)


def test_rotation__same_key_again__emits_no_unbind(registry, active_node, node_owner, operator):
    registry.bindOperator(active_node, operator, sender=node_owner)
    tx = registry.acceptOperator(active_node, sender=operator)
    assert registry.operatorOf(active_node) == operator
    assert tx.decode_logs(registry.OperatorUnbound) == []


def test_bind_operator__zero_address__reverts(registry, node_id, node_owner):
    with ape.reverts(registry.NodeRegistryInvalidAddress):
        registry.bindOperator(node_id, ZERO, sender=node_owner)


def test_bind_operator__by_stranger__reverts(registry, node_id, stranger):
    with ape.reverts(registry.NodeRegistryNotLicenceOwner, nodeId=node_id, caller=stranger.address):
        registry.bindOperator(node_id, stranger, sender=stranger)


def test_bind_operator__by_operator__reverts(registry, node_id, node_owner, operator):
    registry.bindOperator(node_id, operator, sender=node_owner)
    registry.acceptOperator(node_id, sender=operator)
    with ape.reverts(registry.NodeRegistryNotLicenceOwner, nodeId=node_id, caller=operator.address):
        registry.bindOperator(node_id, operator, sender=operator)


def test_bind_operator__unknown_licence__reverts(registry, licence, node_owner, operator):
    with ape.reverts(licence.ERC721NonexistentToken, tokenId=999):
        registry.bindOperator(999, operator, sender=node_owner)


def test_declare_capabilities__by_licence_owner__stores_and_emits(registry, node_id, node_owner):
    tx = registry.declareCapabilities(node_id, CAPS, sender=node_owner)
    assert tuple(registry.node(node_id).capabilities) == CAPS
    logs = tx.decode_logs(registry.CapabilitiesDeclared)
    assert [
        (e.nodeId, e.cpuCores, e.memoryMb, e.gpuCount, e.gpuMemoryMb, e.gpuClass) for e in logs
    ] == [(node_id, *CAPS)]


def test_declare_capabilities__again__overwrites(registry, node_id, node_owner):
    registry.declareCapabilities(node_id, CAPS, sender=node_owner)
    registry.declareCapabilities(node_id, (2, 4096, 0, 0, 0), sender=node_owner)
    assert tuple(registry.node(node_id).capabilities) == (2, 4096, 0, 0, 0)


def test_declare_capabilities__at_type_maxima__round_trip(registry, node_id, node_owner):
    caps = (2**16 - 1, 2**32 - 1, 2**8 - 1, 2**32 - 1, 2**8 - 1)
    registry.declareCapabilities(node_id, caps, sender=node_owner)
    assert tuple(registry.node(node_id).capabilities) == caps


def test_declare_capabilities__by_stranger__reverts(registry, node_id, stranger):
    with ape.reverts(registry.NodeRegistryNotLicenceOwner, nodeId=node_id, caller=stranger.address):
        registry.declareCapabilities(node_id, CAPS, sender=stranger)


@pytest.mark.parametrize(
    "need, ok",
    [
        ((0, 0, 0, 0, 0), True),
        (CAPS, True),
        ((9, 0, 0, 0, 0), False),
        ((0, 32_769, 0, 0, 0), False),
        ((0, 0, 2, 0, 0), False),
        ((0, 0, 0, 24_577, 0), False),
        ((0, 0, 0, 0, 3), False),
        ((1, 1024, 1, 1024, 1), True),
    ],
)
def test_meets__compares_every_field(registry, need, ok):
    assert registry.meets(CAPS, need) is ok


def test_node__unknown_id__is_all_zero(registry):
    n = registry.node(424242)
    assert n.operator == ZERO
    fields = (n.status, n.jailedUntil, n.stake, n.locked, n.unbonding, n.unbondingReleaseAt)
    assert fields == (0,) * 6
    assert (n.completed, n.failed, n.slashed) == (0, 0, 0)
    assert tuple(n.capabilities) == (0, 0, 0, 0, 0)
    assert registry.operatorOf(424242) == ZERO
    assert registry.pendingOperatorOf(424242) == ZERO
    assert registry.drawWeight(424242) == 0
    assert registry.freeStake(424242) == 0
    assert not registry.isActive(424242)


def test_owner_of_node__follows_the_licence(registry, licence, node_id, node_owner):
    assert registry.ownerOfNode(node_id) == node_owner
    with ape.reverts(licence.ERC721NonexistentToken, tokenId=424242):
        registry.ownerOfNode(424242)
