"""Registry fixtures: licences, staked nodes, and `mregistry`, a second registry whose job market
is a plain account (`keeper`) so the market-only functions can be called directly."""

import pytest

from tests.utils.constants import JAIL_PERIOD, MIN_STAKE, TIER_PRICE, UNBONDING_DELAY

CAPS = (8, 32_768, 1, 24_576, 2)  # cpuCores, memoryMb, gpuCount, gpuMemoryMb, gpuClass
NO_NEED = (0, 0, 0, 0, 0)
ZERO = "0x0000000000000000000000000000000000000000"


class Status:
    INACTIVE, ACTIVE, JAILED, RETIRED = range(4)


class Outcome:
    NO_FAULT, COMPLETED, FAILED = range(3)


@pytest.fixture(scope="session")
def mregistry(project, deployer, token, licence, registry, keeper):
    """Same token and licence as `registry`, job market = `keeper`.

    The licence notifies only `registry` of transfers, so transfer tests use that one."""
    c = project.NodeRegistry.deploy(
        deployer, token, licence, MIN_STAKE, UNBONDING_DELAY, JAIL_PERIOD, sender=deployer
    )
    c.setJobMarket(keeper, sender=deployer)
    return c


@pytest.fixture(scope="session")
def buy_licence(licence):
    """buy_licence(owner) -> the new licence's token id (= node id)."""

    def _buy(owner):
        tx = licence.buy(0, 1, value=TIER_PRICE, sender=owner)
        return tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId

    return _buy


@pytest.fixture(scope="session")
def stake_for(token, fund):
    """stake_for(reg, node_id, staker, amount): funds `staker`, approves `reg`, stakes."""

    def _stake(reg, node_id, staker, amount):
        fund(staker, amount)
        token.approve(reg, amount, sender=staker)
        return reg.stake(node_id, amount, sender=staker)

    return _stake


@pytest.fixture(scope="session")
def make_node(buy_licence, stake_for, node_owner, operator):
    """make_node(reg, stake=2*MIN_STAKE, activate=True, owner, op, caps) -> node id.

    The owner proposes `op` and `op` accepts (two-step binding)."""

    def _make(reg, stake=2 * MIN_STAKE, activate=True, owner=node_owner, op=operator, caps=CAPS):
        nid = buy_licence(owner)
        reg.bindOperator(nid, op, sender=owner)
        reg.acceptOperator(nid, sender=op)
        reg.declareCapabilities(nid, caps, sender=owner)
        if stake:
            stake_for(reg, nid, owner, stake)
        if activate:
            reg.activate(nid, sender=owner)
        return nid

    return _make


@pytest.fixture
def node_id(registry, buy_licence, node_owner):
    """A licence owned by `node_owner`; nothing configured in `registry`."""
    return buy_licence(node_owner)


@pytest.fixture
def active_node(registry, make_node):
    """An active node on `registry`, 2 x MIN_STAKE bonded."""
    return make_node(registry)


@pytest.fixture
def market_node(mregistry, make_node):
    """An active node on `mregistry`, 2 x MIN_STAKE bonded."""
    return make_node(mregistry)
