"""Stake-weighted sortition: the tree follows every change of stake and status, `drawNode` maps a
seed onto the active stake exactly (checked against a Python model of the prefix sums), and its
cost grows with log(n). Market-only steps run on `mregistry` (job market = `keeper`)."""

import ape
import pytest
from eth_utils import keccak

from tests.utils.constants import E18, JAIL_PERIOD, MIN_STAKE, TIER_PRICE

from .conftest import CAPS, NO_NEED, ZERO, Status


def _seed(i):
    return keccak(i.to_bytes(32, "big"))


def _word(r):
    return r.to_bytes(32, "big")


def _model_weights(reg, ids):
    """What the tree must hold: stake if Active with an operator, else 0."""
    out = {}
    for i in ids:
        n = reg.node(i)
        active = n.status == Status.ACTIVE and n.operator != ZERO
        out[i] = n.stake if active else 0
    return out


def _model_draw(weights, r):
    """The id i (ascending order) with prefix(i - 1) <= r % total < prefix(i); 0 if total is 0."""
    total = sum(weights.values())
    if total == 0:
        return 0
    target, acc = r % total, 0
    for i in sorted(weights):
        acc += weights[i]
        if target < acc:
            return i
    raise AssertionError("unreachable")


def _check_tree(reg, ids):
    weights = _model_weights(reg, ids)
    assert {i: reg.drawWeight(i) for i in ids} == weights
    assert reg.totalDrawWeight() == sum(weights.values())
    return weights


def _weight_logs(reg, tx):
    return [(e.nodeId, e.weight) for e in tx.decode_logs(reg.DrawWeightChanged)]


@pytest.fixture
def bulk_nodes(mregistry, licence, token, fund, node_owner, operator, stranger):
    """bulk_nodes(stakes) -> ids: one licence per stake (bought at once), `operator` bound and
    accepted, staked by `stranger` and activated. Four transactions per node."""

    def _make(stakes):
        n = len(stakes)
        tx = licence.buy(0, n, value=n * TIER_PRICE, sender=node_owner)
        first = tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId
        fund(stranger, sum(stakes))
        token.approve(mregistry, sum(stakes), sender=stranger)
        ids = list(range(first, first + n))
        for nid, amount in zip(ids, stakes, strict=True):
            mregistry.bindOperator(nid, operator, sender=node_owner)
            mregistry.acceptOperator(nid, sender=operator)
            mregistry.stake(nid, amount, sender=stranger)
            mregistry.activate(nid, sender=node_owner)
        return ids

    return _make


# ---------------------------------------------------------------------- weights follow the node
def test_weights__follow_stake_and_status_through_every_transition(
    chain, mregistry, make_node, stake_for, node_owner, node_owners, operators, keeper, stranger
):
    reg = mregistry
    a = make_node(reg, activate=False, owner=node_owners[0], op=operators[0])
    b = make_node(reg, stake=3 * MIN_STAKE, owner=node_owners[1], op=operators[1])
    ids = [a, b]
    assert _check_tree(reg, ids) == {a: 0, b: 3 * MIN_STAKE}

    tx = reg.activate(a, sender=node_owners[0])
    assert _weight_logs(reg, tx) == [(a, 2 * MIN_STAKE)]
    assert _check_tree(reg, ids)[a] == 2 * MIN_STAKE

    tx = stake_for(reg, a, stranger, 5 * E18)
    assert _weight_logs(reg, tx) == [(a, 2 * MIN_STAKE + 5 * E18)]
    _check_tree(reg, ids)

    tx = reg.requestUnbond(a, 5 * E18, sender=node_owners[0])
    assert _weight_logs(reg, tx) == [(a, 2 * MIN_STAKE)]
    _check_tree(reg, ids)

    # a lien is not a change of stake: claims and releases leave the tree alone
    tx = reg.lockForClaim(a, operators[0], NO_NEED, 4 * E18, sender=keeper)
    assert _weight_logs(reg, tx) == []
    assert _check_tree(reg, ids)[a] == 2 * MIN_STAKE

    tx = reg.deactivate(a, sender=node_owners[0])
    assert _weight_logs(reg, tx) == [(a, 0)]
    assert _check_tree(reg, ids) == {a: 0, b: 3 * MIN_STAKE}
    reg.activate(a, sender=node_owners[0])
    _check_tree(reg, ids)

    tx = reg.seize(a, 3 * E18, sender=keeper)  # jailed: out of the draw
    assert _weight_logs(reg, tx) == [(a, 0)]
    assert _check_tree(reg, ids) == {a: 0, b: 3 * MIN_STAKE}
    tx = stake_for(reg, a, stranger, E18)  # a jailed node's top-up does not make it drawable
    assert _weight_logs(reg, tx) == []
    chain.pending_timestamp += JAIL_PERIOD
    tx = reg.activate(a, sender=node_owners[0])
    assert _weight_logs(reg, tx) == [(a, 2 * MIN_STAKE - 2 * E18)]
    _check_tree(reg, ids)

    tx = reg.penalize(b, E18, sender=keeper)
    assert _weight_logs(reg, tx) == [(b, 3 * MIN_STAKE - E18)]
    _check_tree(reg, ids)

    tx = reg.requestUnbond(b, 2 * MIN_STAKE, sender=node_owners[1])  # below min: out of service
    assert _weight_logs(reg, tx) == [(b, 0)]
    assert reg.node(b).status == Status.INACTIVE
    _check_tree(reg, ids)

    tx = reg.retire(a, sender=node_owners[0])
    assert _weight_logs(reg, tx) == [(a, 0)]
    assert _check_tree(reg, ids) == {a: 0, b: 0}
    assert reg.totalDrawWeight() == 0
    assert reg.drawNode(_seed(1)) == 0


def test_weights__inactive_node_staking__stays_out_of_the_tree(
    registry, node_id, node_owner, stake_for
):
    tx = stake_for(registry, node_id, node_owner, 3 * MIN_STAKE)
    assert registry.drawWeight(node_id) == 0
    assert registry.totalDrawWeight() == 0
    assert _weight_logs(registry, tx) == []


def test_weights__total_equals_sum_of_active_stakes(mregistry, bulk_nodes, node_owner, keeper):
    stakes = [MIN_STAKE + k * E18 for k in range(10)]
    ids = bulk_nodes(stakes)
    assert mregistry.totalDrawWeight() == sum(stakes)
    mregistry.deactivate(ids[3], sender=node_owner)
    mregistry.seize(ids[7], 0, sender=keeper)
    mregistry.penalize(ids[5], E18, sender=keeper)  # still above minStake: stays in
    mregistry.penalize(ids[0], E18, sender=keeper)  # below minStake: out of service
    weights = _check_tree(mregistry, ids)
    assert (weights[ids[5]], weights[ids[0]]) == (stakes[5] - E18, 0)
    expected = sum(stakes) - stakes[0] - stakes[3] - stakes[7] - E18
    assert mregistry.totalDrawWeight() == sum(weights.values()) == expected


def test_stake__node_id_past_the_tree_range__reverts(registry, node_owner):
    with ape.reverts(registry.NodeRegistryNodeIdTooLarge, nodeId=2**32):
        registry.stake(2**32, E18, sender=node_owner)


# ---------------------------------------------------------------------- drawNode
def test_draw__no_active_node__returns_zero(registry, make_node):
    make_node(registry, activate=False)
    assert registry.totalDrawWeight() == 0
    assert registry.drawNode(_seed(0)) == 0
    assert registry.drawNode(_word(0)) == 0


def test_draw__boundary_between_two_nodes(mregistry, bulk_nodes):
    a_stake, b_stake = MIN_STAKE + 7, MIN_STAKE + 3 * E18
    n1, n2 = bulk_nodes([a_stake, b_stake])
    total = a_stake + b_stake
    assert mregistry.drawNode(_word(0)) == n1
    assert mregistry.drawNode(_word(a_stake - 1)) == n1
    assert mregistry.drawNode(_word(a_stake)) == n2
    assert mregistry.drawNode(_word(total - 1)) == n2
    assert mregistry.drawNode(_word(total)) == n1  # r is taken modulo the total
    assert mregistry.drawNode(_word(total + a_stake)) == n2
    assert mregistry.drawNode(_word(2**256 - 1)) == _model_draw(
        {n1: a_stake, n2: b_stake}, 2**256 - 1
    )


def test_draw__never_returns_a_zero_weight_node(
    chain, mregistry, bulk_nodes, licence, node_owner, keeper, stranger
):
    ids = bulk_nodes([MIN_STAKE, 2 * MIN_STAKE, 3 * MIN_STAKE, MIN_STAKE, 2 * MIN_STAKE])
    mregistry.deactivate(ids[0], sender=node_owner)  # inactive
    mregistry.seize(ids[2], 0, sender=keeper)  # jailed
    mregistry.retire(ids[4], sender=node_owner)  # retired
    drawable = {ids[1], ids[3]}
    weights = _check_tree(mregistry, ids)
    assert {i for i, w in weights.items() if w} == drawable
    # exact for every seed, and only active nodes
    for k in range(60):
        seed = _seed(k)
        got = mregistry.drawNode(seed)
        assert got in drawable
        assert got == _model_draw(weights, int.from_bytes(seed, "big"))
        assert mregistry.isActive(got)
    # every boundary around the two drawable ranges
    a = weights[ids[1]]
    for r, want in [(0, ids[1]), (a - 1, ids[1]), (a, ids[3]), (a + MIN_STAKE - 1, ids[3])]:
        assert mregistry.drawNode(_word(r)) == want


def test_draw__proportional_to_stake(mregistry, bulk_nodes):
    """3 nodes staked 1:2:5; 400 fixed seeds (keccak of 0..399): each node's share is within
    0.05 of stake / total, and every draw is exactly the model's."""
    ids = bulk_nodes([MIN_STAKE, 2 * MIN_STAKE, 5 * MIN_STAKE])
    weights = _check_tree(mregistry, ids)
    counts = dict.fromkeys(ids, 0)
    for k in range(400):
        seed = _seed(k)
        got = mregistry.drawNode(seed)
        assert got == _model_draw(weights, int.from_bytes(seed, "big"))
        counts[got] += 1
    shares = [counts[i] / 400 for i in ids]
    for share, expected in zip(shares, [1 / 8, 2 / 8, 5 / 8], strict=True):
        assert abs(share - expected) < 0.05, (shares, counts)


def test_draw__capacity_grows_with_a_late_large_id(
    mregistry, bulk_nodes, licence, node_owner, operator, stake_for
):
    """Only a high id is active first (capacity jumps from 0 to 32), then a low one joins."""
    tx = licence.buy(0, 20, value=20 * TIER_PRICE, sender=node_owner)
    first = tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId
    high, low = first + 19, first
    for nid in (high, low):
        mregistry.bindOperator(nid, operator, sender=node_owner)
        mregistry.acceptOperator(nid, sender=operator)
        stake_for(mregistry, nid, node_owner, MIN_STAKE)
    mregistry.activate(high, sender=node_owner)
    for k in range(5):
        assert mregistry.drawNode(_seed(k)) == high
    mregistry.activate(low, sender=node_owner)
    weights = _check_tree(mregistry, [low, high])
    assert mregistry.drawNode(_word(MIN_STAKE - 1)) == low
    assert mregistry.drawNode(_word(MIN_STAKE)) == high
    for k in range(20):
        seed = _seed(k)
        assert mregistry.drawNode(seed) == _model_draw(weights, int.from_bytes(seed, "big"))


# ---------------------------------------------------------------------- canServe
def test_can_serve__active_node__ok_with_its_operator(mregistry, market_node, operator):
    assert mregistry.canServe(market_node, CAPS, 2 * MIN_STAKE) == (True, operator.address)


def test_can_serve__each_rule(mregistry, market_node, node_owner, operator, keeper):
    short = list(CAPS)
    short[4] += 1
    assert mregistry.canServe(market_node, tuple(short), 0) == (False, operator.address)
    assert mregistry.canServe(market_node, NO_NEED, 2 * MIN_STAKE + 1) == (False, operator.address)
    mregistry.lockForClaim(market_node, operator, NO_NEED, E18, sender=keeper)
    assert mregistry.canServe(market_node, NO_NEED, 2 * MIN_STAKE - E18) == (True, operator.address)
    assert mregistry.canServe(market_node, NO_NEED, 2 * MIN_STAKE - E18 + 1)[0] is False
    mregistry.deactivate(market_node, sender=node_owner)
    assert mregistry.canServe(market_node, NO_NEED, 0) == (False, operator.address)


def test_can_serve__unknown_node__not_ok(mregistry):
    assert mregistry.canServe(424242, NO_NEED, 0) == (False, ZERO)


# ---------------------------------------------------------------------- cost is O(log n)
def test_gas__draw_and_stake_grow_logarithmically(mregistry, bulk_nodes, stake_for, stranger):
    """drawNode reads one tree node per level (log2 capacity); a stake update writes one per
    level on its path (node 1's path is the longest: 1, 2, 4, ..., capacity). Measured on the
    in-process EVM (optimizer 200 runs; drawNode = estimate incl. the 21k base, max of 8 seeds;
    stake = a 1 TES top-up of node 1, incl. the token transfer):
      8 nodes:   drawNode 36,213 gas, stake 80,426 gas
      256 nodes: drawNode 50,851 gas, stake 106,951 gas
    i.e. x1.40 and x1.33 for 32x the nodes (~2.9k and ~5.3k gas per extra level; linear growth
    would be x32)."""

    def measure(ids):
        draw = max(mregistry.drawNode.estimate_gas_cost(_seed(k)) for k in range(8))
        tx = stake_for(mregistry, ids[0], stranger, E18)
        return draw, tx.gas_used

    small = bulk_nodes([MIN_STAKE] * 8)
    draw8, stake8 = measure(small)
    big = small + bulk_nodes([MIN_STAKE] * 248)
    assert len(big) == 256
    draw256, stake256 = measure(big)
    print(f"drawNode: {draw8} -> {draw256}; stake: {stake8} -> {stake256}")
    assert draw256 < 1.6 * draw8
    assert stake256 < 1.6 * stake8
    # and the extra cost per level is bounded: 5 more levels (8 -> 256)
    assert draw256 - draw8 < 5 * 4_000
    assert stake256 - stake8 < 5 * 8_000
