"""The invariants written in Rewards' @dev, each checked after every step of one mixed scenario
(liveness, missed seats, work fees, income, claims, idle epochs and checkpoints, emission halving
every 2 epochs).

The scenario runs once per module; it records the contract's totals after each step and every
test checks its invariant on all of them."""

import random

import pytest

from tests.utils.constants import E18, GENESIS_SUPPLY, TOKEN_CAP
from tests.utils.rewards import emission

HALVING = 2


@pytest.fixture(scope="module")
def trace(
    project,
    chain,
    deployer,
    treasury,
    registry,
    owned_nodes,
    other_node,
    node_owner,
    node_owners,
    operator,
    operators,
    keeper,
    stranger,
):
    token = project.TESToken.deploy(treasury, TOKEN_CAP, GENESIS_SUPPLY, sender=deployer)
    r = project.Rewards.deploy(
        deployer,
        token,
        registry,
        86_400,
        chain.pending_timestamp,
        100_000 * E18,
        HALVING,
        sender=deployer,
    )
    token.setMinter(r, sender=deployer)
    r.setJobMarket(keeper, sender=deployer)
    nodes = [(n, node_owner, operator) for n in owned_nodes]
    nodes.append((other_node, node_owners[1], operators[1]))
    steps = []

    def record():
        steps.append(
            dict(
                minted=r.totalMinted(),
                funded=r.totalFunded(),
                claimed=r.totalClaimed(),
                balance=token.balanceOf(r),
                closed=r.lastClosedEpoch(),
                supply=token.totalSupply(),
            )
        )

    def goto(e):
        chain.pending_timestamp = r.genesisTime() + e * 86_400 + 43_200
        chain.mine()

    def claim_some(rng, p):
        for node, owner, _ in nodes:
            if r.claimable(node) and rng.random() < p:
                r.claim([node], sender=owner)
                record()

    rng = random.Random(7)
    record()
    for e in range(7):
        if e:
            goto(e)
        if e in (3, 4):  # idle epochs
            continue
        for node, _, op in rng.sample(nodes, rng.randint(1, len(nodes))):
            r.heartbeat([node], sender=op)
        record()
        for node, _, _ in rng.sample(nodes, 2):
            fee = rng.randint(1, 50) * E18 + rng.randint(0, 999)
            token.transfer(r, fee, sender=treasury)
            r.recordWork(node, fee, sender=keeper)
        record()
        if e in (1, 5):  # two nodes miss a seat (undoing their heartbeat where they had one)
            for node, _, _ in rng.sample(nodes, 2):
                r.recordMissedSeat(node, sender=keeper)
            record()
        fees = rng.randint(1, 10**6) * E18 // 1000
        token.transfer(r, fees, sender=treasury)
        r.notifyFees(fees, sender=keeper)
        record()
        claim_some(rng, 0.5)
        if e == 6:
            goto(9)
            r.checkpoint(1, sender=stranger)
            record()
    claim_some(rng, 1.0)
    assert steps[-1]["claimed"] > 0
    assert steps[-1]["closed"] == 9
    return steps


def test_rewards_claimed_never_exceed_funded(trace):
    for s in trace:
        assert s["claimed"] <= s["funded"]


def test_rewards_balance_equals_funded_minus_claimed(trace):
    for s in trace:
        assert s["balance"] == s["funded"] - s["claimed"]


def test_rewards_minted_within_schedule(trace):
    for s in trace:
        schedule = sum(emission(e, 100_000 * E18, HALVING) for e in range(s["closed"]))
        assert s["minted"] == schedule
        assert s["supply"] == GENESIS_SUPPLY + s["minted"] <= TOKEN_CAP
