"""Rewards fixtures.

Each test gets a fresh TES token and Rewards contract (genesis = now), so epoch numbers and pots
are exact whatever earlier tests did to the clock. `keeper` plays the job market, so tests drive
`recordWork` / `notifyFees` / `recordMissedSeat` directly, paying in TES first as the market does
(`record_work`, `send_fees`). Nodes live in the shared (session) licence and registry:

- `owned_nodes`: three nodes owned by `node_owner`, all run by `operator`;
- `other_node`: one node owned by `node_owners[1]`, run by `operators[1]`;
- `idle_node`: owned by `node_owners[2]` with an operator bound but never activated.

The nodes are package fixtures: ape reverts them when the package ends, so the registry's later
tests (test_sortition: "no active node") never see these Active nodes' draw weight.
"""

import pytest

from tests.utils.constants import (
    EPOCH_LENGTH,
    GENESIS_SUPPLY,
    HALVING_EPOCHS,
    INITIAL_EMISSION,
    TOKEN_CAP,
)


@pytest.fixture(scope="session")
def _buy(licence):
    price = licence.tier(0).price

    def buy(owner):
        tx = licence.buy(0, 1, value=price, sender=owner)
        return tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId

    return buy


@pytest.fixture(scope="session")
def _make_node(_buy, registry, token, treasury):
    def make(owner, op, activate=True):
        nid = _buy(owner)
        registry.bindOperator(nid, op, sender=owner)
        if registry.operatorOf(nid) != op.address:
            registry.acceptOperator(nid, sender=op)
        if activate:
            stake = registry.minStake()
            token.transfer(owner, stake, sender=treasury)
            token.approve(registry, stake, sender=owner)
            registry.stake(nid, stake, sender=owner)
            registry.activate(nid, sender=owner)
        return nid

    return make


@pytest.fixture(scope="package")
def owned_nodes(_make_node, node_owner, operator):
    return [_make_node(node_owner, operator) for _ in range(3)]


@pytest.fixture(scope="package")
def other_node(_make_node, node_owners, operators, deployer):
    deployer.transfer(operators[1], 10**18)  # gas money for a generated key
    return _make_node(node_owners[1], operators[1])


@pytest.fixture(scope="package")
def idle_node(_make_node, node_owners, operators, deployer):
    deployer.transfer(operators[2], 10**18)
    return _make_node(node_owners[2], operators[2], activate=False)


@pytest.fixture
def rtoken(project, deployer, treasury):
    """A fresh TES token per test (a token's minter can be wired only once)."""
    return project.TESToken.deploy(treasury, TOKEN_CAP, GENESIS_SUPPLY, sender=deployer)


@pytest.fixture
def deploy_rewards(project, chain, deployer, registry, keeper):
    """Factory: Rewards on `token` (genesis = now), minter wired, `keeper` as job market."""

    def deploy(
        token,
        epoch_length=EPOCH_LENGTH,
        initial_emission=INITIAL_EMISSION,
        halving_epochs=HALVING_EPOCHS,
        market=keeper,
    ):
        c = project.Rewards.deploy(
            deployer,
            token,
            registry,
            epoch_length,
            chain.pending_timestamp,
            initial_emission,
            halving_epochs,
            sender=deployer,
        )
        token.setMinter(c, sender=deployer)
        if market is not None:
            c.setJobMarket(market, sender=deployer)
        return c

    return deploy


@pytest.fixture
def rewards(deploy_rewards, rtoken):
    return deploy_rewards(rtoken)


@pytest.fixture
def goto_epoch(chain):
    """Moves the clock to the middle of epoch `e` of `rewards` (never backwards)."""

    def goto(rewards, e):
        target = rewards.genesisTime() + e * rewards.epochLength() + rewards.epochLength() // 2
        assert target >= chain.pending_timestamp, "cannot move back in time"
        chain.pending_timestamp = target
        chain.mine()
        assert rewards.currentEpoch() == e

    return goto


@pytest.fixture
def pay_in(treasury, keeper):
    """The market moving `amount` TES into rewards (funded from the treasury first)."""

    def pay(rewards, token, amount):
        token.transfer(keeper, amount, sender=treasury)
        token.transfer(rewards, amount, sender=keeper)

    return pay


@pytest.fixture
def send_fees(pay_in, keeper):
    """Unattributed income, as the market sends it: transfer `amount` TES, then notify."""

    def send(rewards, token, amount):
        pay_in(rewards, token, amount)
        return rewards.notifyFees(amount, sender=keeper)

    return send


@pytest.fixture
def record_work(pay_in, keeper):
    """A settled job's protocol fee, as the market sends it: transfer `fee` TES, then record it."""

    def record(rewards, token, node, fee):
        pay_in(rewards, token, fee)
        return rewards.recordWork(node, fee, sender=keeper)

    return record
