import ape
import pytest

from tests.utils.constants import DAY, JAIL_PERIOD, MIN_STAKE, UNBONDING_DELAY

from .conftest import ZERO


@pytest.fixture
def unwired(project, deployer, token, licence):
    """A registry whose job market is not set yet (the shared one is wired at deployment)."""
    return project.NodeRegistry.deploy(
        deployer, token, licence, MIN_STAKE, UNBONDING_DELAY, JAIL_PERIOD, sender=deployer
    )


def test_set_job_market__by_owner__sets_and_emits(unwired, deployer, keeper):
    tx = unwired.setJobMarket(keeper, sender=deployer)
    assert unwired.jobMarket() == keeper
    assert [e.market for e in tx.decode_logs(unwired.JobMarketSet)] == [keeper.address]


def test_set_job_market__twice__reverts(registry, market, deployer, stranger):
    with ape.reverts(registry.NodeRegistryJobMarketAlreadySet, market=market.address):
        registry.setJobMarket(stranger, sender=deployer)


def test_set_job_market__zero_address__reverts(registry, deployer):
    with ape.reverts(registry.NodeRegistryInvalidAddress):
        registry.setJobMarket(ZERO, sender=deployer)


def test_set_job_market__by_stranger__reverts(registry, stranger):
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=stranger.address):
        registry.setJobMarket(stranger, sender=stranger)


def test_set_parameters__by_owner__sets_and_emits(registry, deployer):
    tx = registry.setParameters(5 * 10**18, 90 * DAY, 30 * DAY, sender=deployer)
    assert registry.minStake() == 5 * 10**18
    assert registry.unbondingDelay() == 90 * DAY
    assert registry.jailPeriod() == 30 * DAY
    logs = tx.decode_logs(registry.ParametersSet)
    assert [(e.minStake, e.unbondingDelay, e.jailPeriod) for e in logs] == [
        (5 * 10**18, 90 * DAY, 30 * DAY)
    ]


def test_set_parameters__zero_delays__are_allowed(registry, deployer):
    registry.setParameters(1, 0, 0, sender=deployer)
    assert (registry.minStake(), registry.unbondingDelay(), registry.jailPeriod()) == (1, 0, 0)


@pytest.mark.parametrize(
    "params, name, value",
    [
        ((0, DAY, DAY), b"minStake", 0),
        ((1, 90 * DAY + 1, DAY), b"unbondingDelay", 90 * DAY + 1),
        ((1, DAY, 30 * DAY + 1), b"jailPeriod", 30 * DAY + 1),
    ],
)
def test_set_parameters__out_of_bounds__reverts(registry, deployer, params, name, value):
    with ape.reverts(
        registry.NodeRegistryParameterOutOfBounds, name=name.ljust(32, b"\0"), value=value
    ):
        registry.setParameters(*params, sender=deployer)


def test_set_parameters__by_stranger__reverts(registry, stranger):
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=stranger.address):
        registry.setParameters(1, DAY, DAY, sender=stranger)


def test_ownership__transfers_in_two_steps(registry, deployer, stranger):
    registry.transferOwnership(stranger, sender=deployer)
    assert registry.owner() == deployer
    registry.acceptOwnership(sender=stranger)
    assert registry.owner() == stranger
