"""`penalize`: a drawn node that did not take its seat loses free stake (never locked collateral),
on `mregistry` where `keeper` is the job market."""

import ape
import pytest

from tests.utils.constants import E18, MIN_STAKE

from .conftest import NO_NEED, Outcome, Status


def test_penalize__takes_free_stake_to_market_without_jail(mregistry, token, market_node, keeper):
    reg_before, market_before = token.balanceOf(mregistry), token.balanceOf(keeper)
    assert mregistry.penalize.call(market_node, 3 * E18, sender=keeper) == 3 * E18
    tx = mregistry.penalize(market_node, 3 * E18, sender=keeper)

    assert token.balanceOf(mregistry) == reg_before - 3 * E18
    assert token.balanceOf(keeper) == market_before + 3 * E18
    n = mregistry.node(market_node)
    assert (n.stake, n.locked, n.slashed, n.jailedUntil) == (2 * MIN_STAKE - 3 * E18, 0, 0, 0)
    assert n.status == Status.ACTIVE
    logs = tx.decode_logs(mregistry.NodePenalized)
    assert [(e.nodeId, e.amount) for e in logs] == [(market_node, 3 * E18)]
    assert tx.decode_logs(mregistry.NodeSlashed) == []
    assert tx.decode_logs(mregistry.NodeStatusChanged) == []
    weights = tx.decode_logs(mregistry.DrawWeightChanged)
    assert [(e.nodeId, e.weight) for e in weights] == [(market_node, 2 * MIN_STAKE - 3 * E18)]
    assert mregistry.drawWeight(market_node) == 2 * MIN_STAKE - 3 * E18


def test_penalize__never_takes_locked_collateral(mregistry, token, market_node, keeper, operator):
    mregistry.lockForClaim(market_node, operator, NO_NEED, 5 * E18, sender=keeper)
    free = 2 * MIN_STAKE - 5 * E18
    market_before = token.balanceOf(keeper)
    assert mregistry.penalize.call(market_node, 10 * MIN_STAKE, sender=keeper) == free
    tx = mregistry.penalize(market_node, 10 * MIN_STAKE, sender=keeper)
    assert [e.amount for e in tx.decode_logs(mregistry.NodePenalized)] == [free]
    assert token.balanceOf(keeper) == market_before + free
    n = mregistry.node(market_node)
    assert (n.stake, n.locked) == (5 * E18, 5 * E18)
    assert mregistry.freeStake(market_node) == 0
    # the collateral still answers for the claimed job
    mregistry.release(market_node, 5 * E18, Outcome.COMPLETED, 1, sender=keeper)
    assert mregistry.node(market_node).stake == 5 * E18


def test_penalize__never_touches_unbonding_stake(mregistry, market_node, node_owner, keeper):
    mregistry.requestUnbond(market_node, MIN_STAKE, sender=node_owner)
    assert mregistry.penalize.call(market_node, 10 * MIN_STAKE, sender=keeper) == MIN_STAKE
    mregistry.penalize(market_node, 10 * MIN_STAKE, sender=keeper)
    n = mregistry.node(market_node)
    assert (n.stake, n.unbonding) == (0, MIN_STAKE)


def test_penalize__nothing_free__moves_no_tokens(mregistry, token, market_node, keeper, operator):
    mregistry.lockForClaim(market_node, operator, NO_NEED, 2 * MIN_STAKE, sender=keeper)
    reg_before = token.balanceOf(mregistry)
    assert mregistry.penalize.call(market_node, E18, sender=keeper) == 0
    tx = mregistry.penalize(market_node, E18, sender=keeper)
    assert token.balanceOf(mregistry) == reg_before
    assert [e.amount for e in tx.decode_logs(mregistry.NodePenalized)] == [0]
    assert mregistry.node(market_node).stake == 2 * MIN_STAKE
    assert tx.decode_logs(mregistry.DrawWeightChanged) == []


def test_penalize__below_min_stake__takes_node_out_of_service(mregistry, market_node, keeper):
    tx = mregistry.penalize(market_node, MIN_STAKE + 1, sender=keeper)
    n = mregistry.node(market_node)
    assert (n.status, n.stake, n.jailedUntil) == (Status.INACTIVE, MIN_STAKE - 1, 0)
    changed = tx.decode_logs(mregistry.NodeStatusChanged)
    assert [(e.nodeId, e.status) for e in changed] == [(market_node, Status.INACTIVE)]
    assert mregistry.drawWeight(market_node) == 0
    assert mregistry.totalDrawWeight() == 0


def test_penalize__inactive_node__takes_stake_weight_stays_zero(
    mregistry, market_node, node_owner, keeper
):
    mregistry.deactivate(market_node, sender=node_owner)
    assert mregistry.penalize.call(market_node, E18, sender=keeper) == E18
    tx = mregistry.penalize(market_node, E18, sender=keeper)
    assert mregistry.node(market_node).stake == 2 * MIN_STAKE - E18
    assert mregistry.drawWeight(market_node) == 0
    assert tx.decode_logs(mregistry.DrawWeightChanged) == []


@pytest.mark.parametrize("who", ["stranger", "operator", "node_owner", "deployer"])
def test_penalize__not_the_job_market__reverts(request, mregistry, market_node, who):
    caller = request.getfixturevalue(who)
    with ape.reverts(mregistry.NodeRegistryNotJobMarket, caller=caller.address):
        mregistry.penalize(market_node, E18, sender=caller)
    assert mregistry.node(market_node).stake == 2 * MIN_STAKE


def test_penalize__before_market_is_set__reverts(registry, active_node, keeper):
    with ape.reverts(registry.NodeRegistryNotJobMarket, caller=keeper.address):
        registry.penalize(active_node, E18, sender=keeper)
