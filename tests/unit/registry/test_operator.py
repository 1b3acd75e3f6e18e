import ape
import pytest

from .conftest import CAPS, ZERO


def test_bind_operator__by_licence_owner__binds_and_emits(registry, node_id, node_owner, operator):
    tx = registry.bindOperator(node_id, operator, sender=node_owner)
    assert registry.operatorOf(node_id) == operator
    assert registry.node(node_id).operator == operator
    logs = tx.decode_logs(registry.OperatorBound)
    assert [(e.nodeId, e.operator) for e in logs] == [(node_id, operator.address)]
    assert tx.decode_logs(registry.OperatorUnbound) == []


def test_bind_operator__replacing_a_key__unbinds_the_old_one(
    registry, node_id, node_owner, operator, stranger
):
    registry.bindOperator(node_id, operator, sender=node_owner)
    tx = registry.bindOperator(node_id, stranger, sender=node_owner)
    assert registry.operatorOf(node_id) == stranger
    unbound = tx.decode_logs(registry.OperatorUnbound)
    assert [(e.nodeId, e.operator) for e in unbound] == [(node_id, operator.address)]
    bound = tx.decode_logs(registry.OperatorBound)
    assert [(e.nodeId, e.operator) for e in bound] == [(node_id, stranger.address)]


def test_bind_operator__zero_address__reverts(registry, node_id, node_owner):
    with ape.reverts(registry.NodeRegistryInvalidAddress):
        registry.bindOperator(node_id, ZERO, sender=node_owner)


def test_bind_operator__by_stranger__reverts(registry, node_id, stranger):
    with ape.reverts(registry.NodeRegistryNotLicenceOwner, nodeId=node_id, caller=stranger.address):
        registry.bindOperator(node_id, stranger, sender=stranger)


def test_bind_operator__by_operator__reverts(registry, node_id, node_owner, operator):
    registry.bindOperator(node_id, operator, sender=node_owner)
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
    assert registry.freeStake(424242) == 0
    assert not registry.isActive(424242)


def test_owner_of_node__follows_the_licence(registry, licence, node_id, node_owner):
    assert registry.ownerOfNode(node_id) == node_owner
    with ape.reverts(licence.ERC721NonexistentToken, tokenId=424242):
        registry.ownerOfNode(424242)
