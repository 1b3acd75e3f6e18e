import ape

from tests.utils.constants import E18, MIN_STAKE, UNBONDING_DELAY

from .conftest import NO_NEED, Status


# ---------------------------------------------------------------------- stake
def test_stake__by_licence_owner__pulls_tokens_and_emits(
    registry, token, node_id, node_owner, fund
):
    fund(node_owner, 3 * E18)
    token.approve(registry, 3 * E18, sender=node_owner)
    reg_before = token.balanceOf(registry)

    tx = registry.stake(node_id, 3 * E18, sender=node_owner)

    assert token.balanceOf(node_owner) == 0
    assert token.balanceOf(registry) == reg_before + 3 * E18
    assert registry.node(node_id).stake == 3 * E18
    assert registry.freeStake(node_id) == 3 * E18
    logs = tx.decode_logs(registry.Staked)
    assert [(e.nodeId, e["from"], e.amount, e.newStake) for e in logs] == [
        (node_id, node_owner.address, 3 * E18, 3 * E18)
    ]


def test_stake__by_stranger__tops_up_the_node(registry, node_id, stranger, node_owner, stake_for):
    stake_for(registry, node_id, node_owner, MIN_STAKE)
    tx = stake_for(registry, node_id, stranger, 5 * E18)
    assert registry.node(node_id).stake == MIN_STAKE + 5 * E18
    (log,) = tx.decode_logs(registry.Staked)
    assert log["from"] == stranger.address
    assert log.newStake == MIN_STAKE + 5 * E18


def test_stake__zero__reverts(registry, node_id, node_owner):
    with ape.reverts(registry.NodeRegistryZeroAmount):
        registry.stake(node_id, 0, sender=node_owner)


def test_stake__unknown_licence__reverts(registry, licence, node_owner, fund, token):
    fund(node_owner, E18)
    token.approve(registry, E18, sender=node_owner)
    with ape.reverts(licence.ERC721NonexistentToken, tokenId=12345):
        registry.stake(12345, E18, sender=node_owner)


def test_stake__retired_node__reverts(registry, node_id, node_owner, fund, token):
    registry.retire(node_id, sender=node_owner)
    fund(node_owner, E18)
    token.approve(registry, E18, sender=node_owner)
    with ape.reverts(registry.NodeRegistryWrongStatus, nodeId=node_id, status=Status.RETIRED):
        registry.stake(node_id, E18, sender=node_owner)


def test_stake__without_allowance__reverts(registry, token, node_id, node_owner, fund):
    fund(node_owner, E18)
    with ape.reverts(token.ERC20InsufficientAllowance):
        registry.stake(node_id, E18, sender=node_owner)


# ---------------------------------------------------------------------- requestUnbond
def test_request_unbond__moves_stake_to_unbonding_and_emits(
    chain, registry, active_node, node_owner, token
):
    reg_before = token.balanceOf(registry)
    tx = registry.requestUnbond(active_node, MIN_STAKE, sender=node_owner)
    release_at = tx.timestamp + UNBONDING_DELAY

    n = registry.node(active_node)
    assert n.stake == MIN_STAKE
    assert n.unbonding == MIN_STAKE
    assert n.unbondingReleaseAt == release_at
    assert n.status == Status.ACTIVE  # still at minStake
    assert token.balanceOf(registry) == reg_before  # nothing leaves yet
    logs = tx.decode_logs(registry.UnbondRequested)
    assert [(e.nodeId, e.amount, e.releaseAt) for e in logs] == [
        (active_node, MIN_STAKE, release_at)
    ]
    assert tx.decode_logs(registry.NodeStatusChanged) == []


def test_request_unbond__below_min_stake__deactivates(registry, active_node, node_owner):
    tx = registry.requestUnbond(active_node, MIN_STAKE + 1, sender=node_owner)
    assert registry.node(active_node).status == Status.INACTIVE
    assert not registry.isActive(active_node)
    logs = tx.decode_logs(registry.NodeStatusChanged)
    assert [(e.nodeId, e.status) for e in logs] == [(active_node, Status.INACTIVE)]


def test_request_unbond__inactive_node_below_min__stays_inactive(registry, make_node, node_owner):
    nid = make_node(registry, activate=False)
    tx = registry.requestUnbond(nid, 2 * MIN_STAKE, sender=node_owner)
    assert registry.node(nid).status == Status.INACTIVE
    assert registry.node(nid).stake == 0
    assert tx.decode_logs(registry.NodeStatusChanged) == []


def test_request_unbond__twice__adds_and_restarts_the_delay(
    chain, registry, active_node, node_owner
):
    registry.requestUnbond(active_node, E18, sender=node_owner)
    chain.pending_timestamp += UNBONDING_DELAY - 10
    tx = registry.requestUnbond(active_node, 2 * E18, sender=node_owner)
    n = registry.node(active_node)
    assert n.unbonding == 3 * E18
    assert n.unbondingReleaseAt == tx.timestamp + UNBONDING_DELAY
    assert n.stake == 2 * MIN_STAKE - 3 * E18


def test_request_unbond__locked_collateral__reverts(
    mregistry, market_node, node_owner, keeper, operator
):
    mregistry.lockForClaim(market_node, operator, NO_NEED, MIN_STAKE, sender=keeper)
    with ape.reverts(
        mregistry.NodeRegistryInsufficientFreeStake,
        nodeId=market_node,
        free=MIN_STAKE,
        need=MIN_STAKE + 1,
    ):
        mregistry.requestUnbond(market_node, MIN_STAKE + 1, sender=node_owner)
    mregistry.requestUnbond(market_node, MIN_STAKE, sender=node_owner)  # the free part is fine
    assert mregistry.freeStake(market_node) == 0


def test_request_unbond__more_than_stake__reverts(registry, active_node, node_owner):
    with ape.reverts(
        registry.NodeRegistryInsufficientFreeStake,
        nodeId=active_node,
        free=2 * MIN_STAKE,
        need=2 * MIN_STAKE + 1,
    ):
        registry.requestUnbond(active_node, 2 * MIN_STAKE + 1, sender=node_owner)


def test_request_unbond__zero__reverts(registry, active_node, node_owner):
    with ape.reverts(registry.NodeRegistryZeroAmount):
        registry.requestUnbond(active_node, 0, sender=node_owner)


def test_request_unbond__by_stranger__reverts(registry, active_node, stranger):
    with ape.reverts(
        registry.NodeRegistryNotLicenceOwner, nodeId=active_node, caller=stranger.address
    ):
        registry.requestUnbond(active_node, E18, sender=stranger)


# ---------------------------------------------------------------------- withdrawUnbonded
def test_withdraw_unbonded__after_delay__pays_owner_and_emits(
    chain, registry, token, active_node, node_owner
):
    registry.requestUnbond(active_node, MIN_STAKE, sender=node_owner)
    chain.pending_timestamp += UNBONDING_DELAY
    owner_before = token.balanceOf(node_owner)
    reg_before = token.balanceOf(registry)

    tx = registry.withdrawUnbonded(active_node, sender=node_owner)

    assert token.balanceOf(node_owner) == owner_before + MIN_STAKE
    assert token.balanceOf(registry) == reg_before - MIN_STAKE
    n = registry.node(active_node)
    assert (n.unbonding, n.unbondingReleaseAt, n.stake) == (0, 0, MIN_STAKE)
    logs = tx.decode_logs(registry.Unbonded)
    assert [(e.nodeId, e.to, e.amount) for e in logs] == [
        (active_node, node_owner.address, MIN_STAKE)
    ]


def test_withdraw_unbonded__before_release__reverts(chain, registry, active_node, node_owner):
    tx = registry.requestUnbond(active_node, MIN_STAKE, sender=node_owner)
    release_at = tx.timestamp + UNBONDING_DELAY
    chain.pending_timestamp = release_at - 1
    with ape.reverts(
        registry.NodeRegistryUnbondingNotReady, nodeId=active_node, releaseAt=release_at
    ):
        registry.withdrawUnbonded(active_node, sender=node_owner)


def test_withdraw_unbonded__nothing_pending__reverts(registry, active_node, node_owner):
    with ape.reverts(registry.NodeRegistryNothingUnbonding, nodeId=active_node):
        registry.withdrawUnbonded(active_node, sender=node_owner)


def test_withdraw_unbonded__twice__reverts(chain, registry, active_node, node_owner):
    registry.requestUnbond(active_node, MIN_STAKE, sender=node_owner)
    chain.pending_timestamp += UNBONDING_DELAY
    registry.withdrawUnbonded(active_node, sender=node_owner)
    with ape.reverts(registry.NodeRegistryNothingUnbonding, nodeId=active_node):
        registry.withdrawUnbonded(active_node, sender=node_owner)


def test_withdraw_unbonded__by_stranger__reverts(
    chain, registry, active_node, node_owner, stranger
):
    registry.requestUnbond(active_node, MIN_STAKE, sender=node_owner)
    chain.pending_timestamp += UNBONDING_DELAY
    with ape.reverts(
        registry.NodeRegistryNotLicenceOwner, nodeId=active_node, caller=stranger.address
    ):
        registry.withdrawUnbonded(active_node, sender=stranger)


def test_withdraw_unbonded__retired_node__returns_everything(
    chain, registry, token, active_node, node_owner
):
    registry.retire(active_node, sender=node_owner)
    registry.requestUnbond(active_node, 2 * MIN_STAKE, sender=node_owner)
    chain.pending_timestamp += UNBONDING_DELAY
    before = token.balanceOf(node_owner)
    registry.withdrawUnbonded(active_node, sender=node_owner)
    assert token.balanceOf(node_owner) == before + 2 * MIN_STAKE
    assert registry.node(active_node).stake == 0
