import ape
import pytest

from tests.utils.constants import (
    DAY,
    EPOCH_LENGTH,
    GENESIS_SUPPLY,
    HALVING_EPOCHS,
    INITIAL_EMISSION,
)
from tests.utils.rewards import reverts_on_deploy

ZERO = "0x0000000000000000000000000000000000000000"


def b32(text):
    return text.encode().ljust(32, b"\0")


def _deploy(project, deployer, token_, registry_, **overrides):
    args = dict(
        owner=deployer,
        token=token_,
        registry=registry_,
        epoch_length=EPOCH_LENGTH,
        genesis=10**9,
        emission=INITIAL_EMISSION,
        halving=HALVING_EPOCHS,
    )
    args.update(overrides)
    return project.Rewards.deploy(*args.values(), sender=deployer)


def test_deploy__sets_wiring_and_parameters(rewards, deployer, rtoken, registry, keeper, chain):
    assert rewards.owner() == deployer
    assert rewards.token() == rtoken
    assert rewards.registry() == registry
    assert rewards.jobMarket() == keeper
    assert rewards.epochLength() == EPOCH_LENGTH
    assert rewards.genesisTime() <= chain.blocks.head.timestamp
    assert rewards.initialEmission() == INITIAL_EMISSION
    assert rewards.halvingEpochs() == HALVING_EPOCHS
    # Emission pays availability only: there is no availability/work split to configure.
    assert not hasattr(rewards, "availabilityBps")
    assert rewards.currentEpoch() == 0
    assert rewards.lastClosedEpoch() == 0
    assert rewards.totalMinted() == rewards.totalFunded() == rewards.totalClaimed() == 0
    assert rewards.carried() == 0


def test_deploy__with_schedule_exactly_at_cap__succeeds(project, deployer, treasury, registry):
    cap = GENESIS_SUPPLY + 2 * INITIAL_EMISSION * HALVING_EPOCHS
    token = project.TESToken.deploy(treasury, cap, GENESIS_SUPPLY, sender=deployer)
    c = _deploy(project, deployer, token, registry)
    assert c.initialEmission() == INITIAL_EMISSION


def test_deploy__with_schedule_past_cap__reverts(project, deployer, treasury, registry):
    cap = GENESIS_SUPPLY + 2 * INITIAL_EMISSION * HALVING_EPOCHS - 1
    token = project.TESToken.deploy(treasury, cap, GENESIS_SUPPLY, sender=deployer)
    with reverts_on_deploy(
        project.Rewards.RewardsInvalidSchedule,
        genesisSupply=GENESIS_SUPPLY,
        initialEmission=INITIAL_EMISSION,
        halvingEpochs=HALVING_EPOCHS,
        cap=cap,
    ):
        _deploy(project, deployer, token, registry)


def test_deploy__with_emission_over_uint128__reverts(project, deployer, treasury, registry):
    token = project.TESToken.deploy(treasury, 2**255, GENESIS_SUPPLY, sender=deployer)
    with reverts_on_deploy(project.Rewards.RewardsInvalidSchedule, initialEmission=2**128):
        _deploy(project, deployer, token, registry, emission=2**128, halving=1)


def test_deploy__with_zero_halving_epochs__reverts(project, deployer, rtoken, registry):
    with reverts_on_deploy(project.Rewards.RewardsInvalidSchedule, halvingEpochs=0):
        _deploy(project, deployer, rtoken, registry, halving=0)


@pytest.mark.parametrize("length", [59, 365 * DAY + 1])
def test_deploy__with_epoch_length_out_of_bounds__reverts(
    project, deployer, rtoken, registry, length
):
    with reverts_on_deploy(
        project.Rewards.RewardsParameterOutOfBounds, name=b32("epochLength"), value=length
    ):
        _deploy(project, deployer, rtoken, registry, epoch_length=length)


@pytest.mark.parametrize("which", ["token", "registry"])
def test_deploy__with_zero_address__reverts(project, deployer, rtoken, registry, which):
    with reverts_on_deploy(project.Rewards.RewardsInvalidAddress):
        _deploy(project, deployer, rtoken, registry, **{which: ZERO})


def test_set_job_market__by_owner__sets_once_and_emits(deploy_rewards, rtoken, deployer, keeper):
    c = deploy_rewards(rtoken, market=None)
    assert c.jobMarket() == ZERO
    tx = c.setJobMarket(keeper, sender=deployer)
    assert c.jobMarket() == keeper
    assert [log.market for log in tx.decode_logs(c.JobMarketSet)] == [keeper]


def test_set_job_market__twice__reverts(rewards, deployer, keeper, stranger):
    with ape.reverts(rewards.RewardsJobMarketAlreadySet, market=keeper):
        rewards.setJobMarket(stranger, sender=deployer)


def test_set_job_market__zero_address__reverts(deploy_rewards, rtoken, deployer):
    c = deploy_rewards(rtoken, market=None)
    with ape.reverts(c.RewardsInvalidAddress):
        c.setJobMarket(ZERO, sender=deployer)


def test_set_job_market__by_stranger__reverts(deploy_rewards, rtoken, keeper, stranger):
    c = deploy_rewards(rtoken, market=None)
    with ape.reverts(c.OwnableUnauthorizedAccount, account=stranger):
        c.setJobMarket(keeper, sender=stranger)


def test_ownership__transfer__takes_two_steps(rewards, deployer, stranger):
    rewards.transferOwnership(stranger, sender=deployer)
    assert rewards.owner() == deployer
    assert rewards.pendingOwner() == stranger
    rewards.acceptOwnership(sender=stranger)
    assert rewards.owner() == stranger
