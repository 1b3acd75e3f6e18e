import ape
import pytest

from tests.utils.constants import DAY, JAIL_PERIOD, MIN_STAKE, UNBONDING_DELAY

from .conftest import ZERO

PARAMS = (MIN_STAKE, UNBONDING_DELAY, JAIL_PERIOD)


@pytest.fixture
def deploy(project, deployer, token, licence):
    def deploy_(*params, token_=None, licence_=None):
        return project.NodeRegistry.deploy(
            deployer,
            token if token_ is None else token_,
            licence if licence_ is None else licence_,
            *(params or PARAMS),
            sender=deployer,
        )

    return deploy_


def test_deploy__sets_wiring_parameters_and_emits(chain, deploy, deployer, token, licence):
    c = deploy()
    assert c.owner() == deployer
    assert c.token() == token
    assert c.licence() == licence
    assert c.jobMarket() == ZERO
    assert (c.minStake(), c.unbondingDelay(), c.jailPeriod()) == PARAMS
    assert c.MAX_UNBONDING_DELAY() == 90 * DAY
    assert c.MAX_JAIL_PERIOD() == 30 * DAY
    logs = chain.provider.get_receipt(c.txn_hash).decode_logs(c.ParametersSet)
    assert [(e.minStake, e.unbondingDelay, e.jailPeriod) for e in logs] == [PARAMS]


def test_deploy__at_the_bounds__succeeds(deploy):
    c = deploy(1, 90 * DAY, 30 * DAY)
    assert (c.minStake(), c.unbondingDelay(), c.jailPeriod()) == (1, 90 * DAY, 30 * DAY)


@pytest.mark.parametrize("which", ["token_", "licence_"])
def test_deploy__with_zero_address__reverts(project, deploy, which):
    with ape.reverts(project.NodeRegistry.NodeRegistryInvalidAddress):
        deploy(**{which: ZERO})


def test_deploy__with_zero_owner__reverts(project, deployer, token, licence):
    with ape.reverts(project.NodeRegistry.OwnableInvalidOwner, owner=ZERO):
        project.NodeRegistry.deploy(ZERO, token, licence, *PARAMS, sender=deployer)


@pytest.mark.parametrize(
    "params, name, value",
    [
        ((0, 7 * DAY, DAY), b"minStake", 0),
        ((1, 90 * DAY + 1, DAY), b"unbondingDelay", 90 * DAY + 1),
        ((1, 7 * DAY, 30 * DAY + 1), b"jailPeriod", 30 * DAY + 1),
    ],
)
def test_deploy__with_parameter_out_of_bounds__reverts(project, deploy, params, name, value):
    with ape.reverts(
        project.NodeRegistry.NodeRegistryParameterOutOfBounds,
        name=name.ljust(32, b"\0"),
        value=value,
    ):
        deploy(*params)
