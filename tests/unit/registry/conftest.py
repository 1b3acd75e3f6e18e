"""Registry fixtures (values read from the deployed contracts, so nothing is imported from the
root conftest): licences, funded stakers, configured nodes, and a registry whose job
market is a plain account (`keeper`) so market-only functions can be called directly."""

import pytest


CAPS = (8, 32_768, 1, 24_576, 2)  # cpuCores, memoryMb, gpuCount, gpuMemoryMb, gpuClass
NO_NEED = (0, 0, 0, 0, 0)


@pytest.fixture(scope="session")
def mregistry(project, deployer, token, licence, registry, keeper):
    """A second registry on the same token and licence; `keeper` plays the job market.

    The licence notifies only the conftest `registry` of transfers, so transfer tests use that one.
    """
    c = project.NodeRegistry.deploy(
        deployer,
        token,
        licence,
        registry.minStake(),
        registry.unbondingDelay(),
        registry.jailPeriod(),
        sender=deployer,
    )
    c.setJobMarket(keeper, sender=deployer)
    return c


@pytest.fixture(scope="session")
def buy_licence(licence):
    price = licence.tier(0).price

    def buy(owner):
        tx = licence.buy(0, 1, value=price, sender=owner)
        return tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId

    return buy


@pytest.fixture(scope="session")
def fund(token, treasury):
    """Sends `amount` TES from the treasury to `account` and approves `spender` for it."""

    def fund_(account, amount, spender):
        token.transfer(account, amount, sender=treasury)
        token.approve(spender, amount, sender=account)

    return fund_


@pytest.fixture
def node_id(registry, buy_licence, node_owner):
    """A licence owned by `node_owner`, nothing configured (conftest registry)."""
    return buy_licence(node_owner)


@pytest.fixture(scope="session")
def make_active_node(buy_licence, fund, node_owner, operator):
    """Factory: a licence with operator, capabilities and `stake_amount` bonded, activated."""

    def make(reg, stake_amount=None, owner=node_owner, op=operator, caps=CAPS):
        stake_amount = reg.minStake() if stake_amount is None else stake_amount
        nid = buy_licence(owner)
        reg.bindOperator(nid, op, sender=owner)
        reg.declareCapabilities(nid, caps, sender=owner)
        fund(owner, stake_amount, reg)
        reg.stake(nid, stake_amount, sender=owner)
        reg.activate(nid, sender=owner)
        return nid

    return make


@pytest.fixture(scope="session")
def min_stake(registry):
    return registry.minStake()


@pytest.fixture
def active_node(registry, make_active_node, min_stake):
    """An active node on the conftest registry, staked with 2 x minStake."""
    return make_active_node(registry, 2 * min_stake)


@pytest.fixture
def market_node(mregistry, make_active_node, min_stake):
    """An active node on `mregistry`, staked with 2 x minStake."""
    return make_active_node(mregistry, 2 * min_stake)
