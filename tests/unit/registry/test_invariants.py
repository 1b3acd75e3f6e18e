"""Invariants from the NodeRegistry @dev lines, checked after every step of a mixed scenario."""

from tests.utils.constants import E18, MIN_STAKE, UNBONDING_DELAY

from .conftest import NO_NEED, Outcome


def _check(reg, token, node_ids):
    nodes = [reg.node(i) for i in node_ids]
    # Invariant (stake): locked <= stake for every node.
    assert all(n.locked <= n.stake for n in nodes)
    assert all(reg.freeStake(i) == n.stake - n.locked for i, n in zip(node_ids, nodes, strict=True))
    # Invariant (solvency): the registry holds every node's stake and unbonding amount.
    assert token.balanceOf(reg) >= sum(n.stake + n.unbonding for n in nodes)


def test_invariant__stake_and_solvency(
    chain, mregistry, token, make_node, node_owners, operators, keeper, stranger, stake_for
):
    reg = mregistry
    a = make_node(reg, owner=node_owners[0], op=operators[0])
    b = make_node(reg, stake=3 * MIN_STAKE, owner=node_owners[1], op=operators[1])
    ids = [a, b]
    steps = [
        lambda: reg.lockForClaim(a, operators[0], NO_NEED, 5 * E18, sender=keeper),
        lambda: reg.lockForClaim(b, operators[1], NO_NEED, 7 * E18, sender=keeper),
        lambda: reg.requestUnbond(a, MIN_STAKE, sender=node_owners[0]),
        lambda: stake_for(reg, a, stranger, 2 * E18),
        lambda: reg.release(a, 2 * E18, Outcome.COMPLETED, 1, sender=keeper),
        lambda: reg.seize(a, 10 * E18, sender=keeper),
        lambda: reg.seize(b, 4 * E18, sender=keeper),
        lambda: reg.release(b, 3 * E18, Outcome.FAILED, 1, sender=keeper),
        lambda: reg.requestUnbond(b, 3 * MIN_STAKE - 4 * E18, sender=node_owners[1]),
    ]
    for step in steps:
        step()
        _check(reg, token, ids)
    chain.pending_timestamp += UNBONDING_DELAY
    reg.withdrawUnbonded(a, sender=node_owners[0])
    reg.withdrawUnbonded(b, sender=node_owners[1])
    _check(reg, token, ids)
    assert token.balanceOf(reg) == sum(reg.node(i).stake + reg.node(i).unbonding for i in ids)
