import ape
import pytest

from tests.utils.constants import E18, JAIL_PERIOD, MIN_STAKE

from .conftest import Status


def _status_logs(reg, tx):
    return [(e.nodeId, e.status) for e in tx.decode_logs(reg.NodeStatusChanged)]


# ---------------------------------------------------------------------- activate
def test_activate__configured_node__becomes_active_and_emits(registry, make_node, node_owner):
    nid = make_node(registry, activate=False)
    assert not registry.isActive(nid)
    tx = registry.activate(nid, sender=node_owner)
    assert registry.isActive(nid)
    assert registry.node(nid).status == Status.ACTIVE
    assert _status_logs(registry, tx) == [(nid, Status.ACTIVE)]


def test_activate__with_exactly_min_stake__succeeds(registry, make_node):
    nid = make_node(registry, stake=MIN_STAKE)
    assert registry.isActive(nid)


def test_activate__without_operator__reverts(registry, node_id, node_owner, stake_for):
    stake_for(registry, node_id, node_owner, MIN_STAKE)
    with ape.reverts(registry.NodeRegistryNoOperator, nodeId=node_id):
        registry.activate(node_id, sender=node_owner)


def test_activate__below_min_stake__reverts(registry, make_node, node_owner):
    nid = make_node(registry, stake=MIN_STAKE - 1, activate=False)
    with ape.reverts(
        registry.NodeRegistryInsufficientStake, nodeId=nid, have=MIN_STAKE - 1, need=MIN_STAKE
    ):
        registry.activate(nid, sender=node_owner)


def test_activate__after_min_stake_raised__reverts(registry, deployer, make_node, node_owner):
    nid = make_node(registry, stake=MIN_STAKE, activate=False)
    registry.setParameters(MIN_STAKE + E18, 0, 0, sender=deployer)
    with ape.reverts(registry.NodeRegistryInsufficientStake):
        registry.activate(nid, sender=node_owner)


def test_activate__already_active__reverts(registry, active_node, node_owner):
    with ape.reverts(registry.NodeRegistryWrongStatus, nodeId=active_node, status=Status.ACTIVE):
        registry.activate(active_node, sender=node_owner)


def test_activate__retired__reverts(registry, active_node, node_owner):
    registry.retire(active_node, sender=node_owner)
    with ape.reverts(registry.NodeRegistryWrongStatus, nodeId=active_node, status=Status.RETIRED):
        registry.activate(active_node, sender=node_owner)


def test_activate__by_stranger__reverts(registry, make_node, stranger):
    nid = make_node(registry, activate=False)
    with ape.reverts(registry.NodeRegistryNotLicenceOwner, nodeId=nid, caller=stranger.address):
        registry.activate(nid, sender=stranger)


def test_activate__jailed_during_jail_period__reverts(
    chain, mregistry, market_node, node_owner, keeper, operator
):
    tx = mregistry.seize(market_node, 0, sender=keeper)
    jailed_until = tx.timestamp + JAIL_PERIOD
    assert mregistry.node(market_node).jailedUntil == jailed_until
    chain.pending_timestamp = jailed_until - 1
    with ape.reverts(
        mregistry.NodeRegistryStillJailed, nodeId=market_node, jailedUntil=jailed_until
    ):
        mregistry.activate(market_node, sender=node_owner)


def test_activate__jailed_after_jail_period__returns_to_service(
    chain, mregistry, market_node, node_owner, keeper
):
    tx = mregistry.seize(market_node, 0, sender=keeper)
    chain.pending_timestamp = tx.timestamp + JAIL_PERIOD
    tx = mregistry.activate(market_node, sender=node_owner)
    assert mregistry.isActive(market_node)
    assert _status_logs(mregistry, tx) == [(market_node, Status.ACTIVE)]


# ---------------------------------------------------------------------- deactivate
def test_deactivate__active__becomes_inactive_and_can_come_back(registry, active_node, node_owner):
    tx = registry.deactivate(active_node, sender=node_owner)
    assert registry.node(active_node).status == Status.INACTIVE
    assert _status_logs(registry, tx) == [(active_node, Status.INACTIVE)]
    registry.activate(active_node, sender=node_owner)
    assert registry.isActive(active_node)


@pytest.mark.parametrize("status", [Status.INACTIVE, Status.RETIRED])
def test_deactivate__not_active__reverts(registry, active_node, node_owner, status):
    if status == Status.INACTIVE:
        registry.deactivate(active_node, sender=node_owner)
    else:
        registry.retire(active_node, sender=node_owner)
    with ape.reverts(registry.NodeRegistryWrongStatus, nodeId=active_node, status=status):
        registry.deactivate(active_node, sender=node_owner)


def test_deactivate__by_stranger__reverts(registry, active_node, stranger):
    with ape.reverts(
        registry.NodeRegistryNotLicenceOwner, nodeId=active_node, caller=stranger.address
    ):
        registry.deactivate(active_node, sender=stranger)


# ---------------------------------------------------------------------- retire
@pytest.mark.parametrize("start", [Status.INACTIVE, Status.ACTIVE, Status.JAILED])
def test_retire__from_any_live_status__retires_and_emits(
    mregistry, make_node, node_owner, keeper, start
):
    nid = make_node(mregistry, activate=start != Status.INACTIVE)
    if start == Status.JAILED:
        mregistry.seize(nid, 0, sender=keeper)
    assert mregistry.node(nid).status == start
    tx = mregistry.retire(nid, sender=node_owner)
    assert mregistry.node(nid).status == Status.RETIRED
    assert _status_logs(mregistry, tx) == [(nid, Status.RETIRED)]


def test_retire__keeps_locked_collateral_locked(
    mregistry, market_node, node_owner, keeper, operator
):
    mregistry.lockForClaim(market_node, operator, (0, 0, 0, 0, 0), MIN_STAKE, sender=keeper)
    mregistry.retire(market_node, sender=node_owner)
    assert mregistry.node(market_node).locked == MIN_STAKE
    assert mregistry.freeStake(market_node) == MIN_STAKE


def test_retire__twice__reverts(registry, active_node, node_owner):
    registry.retire(active_node, sender=node_owner)
    with ape.reverts(registry.NodeRegistryWrongStatus, nodeId=active_node, status=Status.RETIRED):
        registry.retire(active_node, sender=node_owner)


def test_retire__by_stranger__reverts(registry, active_node, stranger):
    with ape.reverts(
        registry.NodeRegistryNotLicenceOwner, nodeId=active_node, caller=stranger.address
    ):
        registry.retire(active_node, sender=stranger)
