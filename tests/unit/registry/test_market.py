"""Job-market-only functions, on `mregistry` where `keeper` is the job market."""

import ape
import pytest

from tests.utils.constants import E18, JAIL_PERIOD, MIN_STAKE, UNBONDING_DELAY

from .conftest import CAPS, NO_NEED, Outcome, Status


# ---------------------------------------------------------------------- lockForClaim
def test_lock_for_claim__locks_collateral_and_emits(
    mregistry, token, market_node, keeper, operator
):
    reg_before = token.balanceOf(mregistry)
    tx = mregistry.lockForClaim(market_node, operator, CAPS, 3 * E18, sender=keeper)
    n = mregistry.node(market_node)
    assert n.locked == 3 * E18
    assert n.stake == 2 * MIN_STAKE  # a lien, not a transfer
    assert mregistry.freeStake(market_node) == 2 * MIN_STAKE - 3 * E18
    assert token.balanceOf(mregistry) == reg_before
    logs = tx.decode_logs(mregistry.CollateralLocked)
    assert [(e.nodeId, e.amount) for e in logs] == [(market_node, 3 * E18)]


def test_lock_for_claim__all_free_stake_twice__second_reverts(
    mregistry, market_node, keeper, operator
):
    mregistry.lockForClaim(market_node, operator, NO_NEED, MIN_STAKE, sender=keeper)
    mregistry.lockForClaim(market_node, operator, NO_NEED, MIN_STAKE, sender=keeper)
    assert mregistry.freeStake(market_node) == 0
    with ape.reverts(
        mregistry.NodeRegistryInsufficientFreeStake, nodeId=market_node, free=0, need=1
    ):
        mregistry.lockForClaim(market_node, operator, NO_NEED, 1, sender=keeper)


def test_lock_for_claim__more_than_free__reverts(mregistry, market_node, keeper, operator):
    with ape.reverts(
        mregistry.NodeRegistryInsufficientFreeStake,
        nodeId=market_node,
        free=2 * MIN_STAKE,
        need=2 * MIN_STAKE + 1,
    ):
        mregistry.lockForClaim(market_node, operator, NO_NEED, 2 * MIN_STAKE + 1, sender=keeper)


@pytest.mark.parametrize("field", range(5))
def test_lock_for_claim__capability_short__reverts(mregistry, market_node, keeper, operator, field):
    need = list(CAPS)
    need[field] += 1
    with ape.reverts(mregistry.NodeRegistryCapabilitiesNotMet, nodeId=market_node):
        mregistry.lockForClaim(market_node, operator, tuple(need), E18, sender=keeper)


def test_lock_for_claim__wrong_operator__reverts(mregistry, market_node, keeper, stranger):
    with ape.reverts(
        mregistry.NodeRegistryNotOperator, nodeId=market_node, caller=stranger.address
    ):
        mregistry.lockForClaim(market_node, stranger, NO_NEED, E18, sender=keeper)


def test_lock_for_claim__inactive__reverts(mregistry, market_node, node_owner, keeper, operator):
    mregistry.deactivate(market_node, sender=node_owner)
    with ape.reverts(mregistry.NodeRegistryNotActive, nodeId=market_node, status=Status.INACTIVE):
        mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)


def test_lock_for_claim__jailed__reverts(mregistry, market_node, keeper, operator):
    mregistry.seize(market_node, 0, sender=keeper)
    with ape.reverts(mregistry.NodeRegistryNotActive, nodeId=market_node, status=Status.JAILED):
        mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)


def test_lock_for_claim__retired__reverts(mregistry, market_node, node_owner, keeper, operator):
    mregistry.retire(market_node, sender=node_owner)
    with ape.reverts(mregistry.NodeRegistryNotActive, nodeId=market_node, status=Status.RETIRED):
        mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)


def test_lock_for_claim__unknown_node__reverts(mregistry, keeper, operator):
    with ape.reverts(mregistry.NodeRegistryNotActive, nodeId=777, status=Status.INACTIVE):
        mregistry.lockForClaim(777, operator, NO_NEED, E18, sender=keeper)


# ---------------------------------------------------------------------- release
@pytest.mark.parametrize(
    "outcome, counts",
    [(Outcome.COMPLETED, (1, 0)), (Outcome.FAILED, (0, 1)), (Outcome.NO_FAULT, (0, 0))],
)
def test_release__unlocks_counts_outcome_and_emits(
    mregistry, token, market_node, keeper, operator, outcome, counts
):
    mregistry.lockForClaim(market_node, operator, NO_NEED, 5 * E18, sender=keeper)
    reg_before = token.balanceOf(mregistry)
    tx = mregistry.release(market_node, 2 * E18, outcome, 1, sender=keeper)
    n = mregistry.node(market_node)
    assert n.locked == 3 * E18
    assert n.stake == 2 * MIN_STAKE
    assert (n.completed, n.failed, n.slashed) == (*counts, 0)
    assert token.balanceOf(mregistry) == reg_before
    logs = tx.decode_logs(mregistry.CollateralReleased)
    assert [(e.nodeId, e.amount, e.outcome, e.replicas) for e in logs] == [
        (market_node, 2 * E18, outcome, 1)
    ]


def test_release__a_run_of_replicas__counts_each__and_saturates_instead_of_wrapping(
    mregistry, market_node, keeper, operator
):
    """settleAndWithdraw releases a node's run of jobs in one call: each replica counts. A count
    at its width's maximum stays there (a wrap would reset a node's record to zero)."""
    mregistry.lockForClaim(market_node, operator, NO_NEED, 3 * E18, sender=keeper)
    tx = mregistry.release(market_node, 3 * E18, Outcome.COMPLETED, 3, sender=keeper)
    n = mregistry.node(market_node)
    assert (n.locked, n.completed, n.failed) == (0, 3, 0)
    assert [e.replicas for e in tx.decode_logs(mregistry.CollateralReleased)] == [3]

    mregistry.release(market_node, 0, Outcome.COMPLETED, 2**32 - 4, sender=keeper)  # to the max
    mregistry.release(market_node, 0, Outcome.FAILED, 2**24 + 5, sender=keeper)  # past it
    mregistry.release(market_node, 0, Outcome.COMPLETED, 2**256 - 1, sender=keeper)
    n = mregistry.node(market_node)
    assert (n.completed, n.failed) == (2**32 - 1, 2**24 - 1)


def test_release__inactive_node__still_releases(
    mregistry, market_node, node_owner, keeper, operator
):
    mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)
    mregistry.retire(market_node, sender=node_owner)
    mregistry.release(market_node, E18, Outcome.COMPLETED, 1, sender=keeper)
    assert mregistry.freeStake(market_node) == 2 * MIN_STAKE
    assert mregistry.node(market_node).completed == 1


def test_release__more_than_locked__reverts(mregistry, market_node, keeper, operator):
    mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)
    with ape.reverts():
        mregistry.release(market_node, E18 + 1, Outcome.COMPLETED, 1, sender=keeper)


# ---------------------------------------------------------------------- seize
def test_seize__takes_locked_collateral_to_market_and_jails(
    mregistry, token, market_node, keeper, operator
):
    mregistry.lockForClaim(market_node, operator, NO_NEED, 5 * E18, sender=keeper)
    reg_before, market_before = token.balanceOf(mregistry), token.balanceOf(keeper)

    assert mregistry.seize.call(market_node, 3 * E18, sender=keeper) == 3 * E18
    tx = mregistry.seize(market_node, 3 * E18, sender=keeper)

    assert token.balanceOf(mregistry) == reg_before - 3 * E18
    assert token.balanceOf(keeper) == market_before + 3 * E18
    n = mregistry.node(market_node)
    assert (n.stake, n.locked, n.slashed) == (2 * MIN_STAKE - 3 * E18, 2 * E18, 1)
    assert n.status == Status.JAILED
    assert n.jailedUntil == tx.timestamp + JAIL_PERIOD
    slashed = tx.decode_logs(mregistry.NodeSlashed)
    assert [(e.nodeId, e.amount, e.jailedUntil) for e in slashed] == [
        (market_node, 3 * E18, tx.timestamp + JAIL_PERIOD)
    ]
    changed = tx.decode_logs(mregistry.NodeStatusChanged)
    assert [(e.nodeId, e.status) for e in changed] == [(market_node, Status.JAILED)]


def test_seize__more_than_locked__takes_only_locked(
    mregistry, token, market_node, keeper, operator
):
    mregistry.lockForClaim(market_node, operator, NO_NEED, 2 * E18, sender=keeper)
    market_before = token.balanceOf(keeper)
    assert mregistry.seize.call(market_node, 10 * E18, sender=keeper) == 2 * E18
    tx = mregistry.seize(market_node, 10 * E18, sender=keeper)
    assert token.balanceOf(keeper) == market_before + 2 * E18
    assert mregistry.node(market_node).locked == 0
    assert mregistry.node(market_node).stake == 2 * MIN_STAKE - 2 * E18
    (log,) = tx.decode_logs(mregistry.NodeSlashed)
    assert log.amount == 2 * E18


def test_seize__nothing_locked__moves_no_tokens_but_jails(mregistry, token, market_node, keeper):
    reg_before = token.balanceOf(mregistry)
    assert mregistry.seize.call(market_node, E18, sender=keeper) == 0
    mregistry.seize(market_node, E18, sender=keeper)
    assert token.balanceOf(mregistry) == reg_before
    n = mregistry.node(market_node)
    assert (n.status, n.slashed, n.stake) == (Status.JAILED, 1, 2 * MIN_STAKE)


def test_seize__never_touches_unbonding_stake(
    mregistry, token, market_node, node_owner, keeper, operator
):
    mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)
    mregistry.requestUnbond(market_node, 2 * MIN_STAKE - E18, sender=node_owner)
    assert mregistry.seize.call(market_node, 2 * MIN_STAKE, sender=keeper) == E18
    tx = mregistry.seize(market_node, 2 * MIN_STAKE, sender=keeper)
    assert [e.amount for e in tx.decode_logs(mregistry.NodeSlashed)] == [E18]
    n = mregistry.node(market_node)
    assert (n.stake, n.locked, n.unbonding) == (0, 0, 2 * MIN_STAKE - E18)


def test_seize__already_jailed__restarts_the_term(chain, mregistry, market_node, keeper):
    mregistry.seize(market_node, 0, sender=keeper)
    chain.pending_timestamp += JAIL_PERIOD // 2
    tx = mregistry.seize(market_node, 0, sender=keeper)
    n = mregistry.node(market_node)
    assert (n.status, n.slashed, n.jailedUntil) == (
        Status.JAILED,
        2,
        tx.timestamp + JAIL_PERIOD,
    )
    assert tx.decode_logs(mregistry.NodeStatusChanged) == []


def test_seize__retired_node__stays_retired(
    chain, mregistry, token, market_node, node_owner, keeper, operator
):
    mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)
    mregistry.retire(market_node, sender=node_owner)
    tx = mregistry.seize(market_node, E18, sender=keeper)
    assert [e.amount for e in tx.decode_logs(mregistry.NodeSlashed)] == [E18]
    assert mregistry.node(market_node).status == Status.RETIRED
    assert tx.decode_logs(mregistry.NodeStatusChanged) == []
    # the rest is still the owner's: unbond and withdraw it
    mregistry.requestUnbond(market_node, 2 * MIN_STAKE - E18, sender=node_owner)
    chain.pending_timestamp += UNBONDING_DELAY
    before = token.balanceOf(node_owner)
    mregistry.withdrawUnbonded(market_node, sender=node_owner)
    assert token.balanceOf(node_owner) == before + 2 * MIN_STAKE - E18


def test_seize__inactive_node__is_jailed(mregistry, market_node, node_owner, keeper):
    mregistry.deactivate(market_node, sender=node_owner)
    mregistry.seize(market_node, 0, sender=keeper)
    assert mregistry.node(market_node).status == Status.JAILED


# ---------------------------------------------------------------------- access
@pytest.mark.parametrize("who", ["stranger", "operator", "node_owner", "deployer"])
def test_market_functions__not_the_job_market__revert(request, mregistry, market_node, who):
    caller = request.getfixturevalue(who)
    err = mregistry.NodeRegistryNotJobMarket
    with ape.reverts(err, caller=caller.address):
        mregistry.lockForClaim(market_node, caller, NO_NEED, E18, sender=caller)
    with ape.reverts(err, caller=caller.address):
        mregistry.release(market_node, 0, Outcome.COMPLETED, 1, sender=caller)
    with ape.reverts(err, caller=caller.address):
        mregistry.seize(market_node, 0, sender=caller)


def test_market_functions__before_market_is_set__revert(registry, active_node, keeper, operator):
    with ape.reverts(registry.NodeRegistryNotJobMarket, caller=keeper.address):
        registry.lockForClaim(active_node, operator, NO_NEED, E18, sender=keeper)
