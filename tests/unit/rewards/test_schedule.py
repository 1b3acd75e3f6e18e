"""Epoch clock, emission schedule and the cap proof."""

from tests.utils.constants import (
    E18,
    EPOCH_LENGTH,
    GENESIS_SUPPLY,
    HALVING_EPOCHS,
    INITIAL_EMISSION,
    TOKEN_CAP,
)
from tests.utils.rewards import emission


def test_current_epoch__counts_whole_epochs_since_genesis(rewards, chain, goto_epoch):
    assert rewards.currentEpoch() == 0
    goto_epoch(rewards, 1)
    goto_epoch(rewards, 7)
    # The last second of epoch 7, then the first of epoch 8.
    end_of_7 = rewards.genesisTime() + 8 * EPOCH_LENGTH - 1
    chain.pending_timestamp = end_of_7
    chain.mine()
    assert chain.blocks.head.timestamp == end_of_7
    assert rewards.currentEpoch() == 7
    chain.mine(timestamp=end_of_7 + 1)
    assert rewards.currentEpoch() == 8


def test_current_epoch__before_genesis__is_zero(project, chain, deployer, rtoken, registry):
    c = project.Rewards.deploy(
        deployer,
        rtoken,
        registry,
        EPOCH_LENGTH,
        chain.pending_timestamp + 10 * EPOCH_LENGTH,
        INITIAL_EMISSION,
        HALVING_EPOCHS,
        sender=deployer,
    )
    assert c.currentEpoch() == 0


def test_emission_for_epoch__halves_every_halving_period(rewards):
    h, e = HALVING_EPOCHS, INITIAL_EMISSION
    assert rewards.emissionForEpoch(0) == e
    assert rewards.emissionForEpoch(h - 1) == e
    assert rewards.emissionForEpoch(h) == e // 2
    assert rewards.emissionForEpoch(2 * h - 1) == e // 2
    assert rewards.emissionForEpoch(2 * h) == e // 4
    assert rewards.emissionForEpoch(10 * h) == e >> 10
    assert rewards.emissionForEpoch(255 * h) == e >> 255 == 0
    assert rewards.emissionForEpoch(256 * h) == 0
    assert rewards.emissionForEpoch(2**200) == 0


def test_emission_for_epoch__once_every_bit_is_shifted_out__is_zero(
    deploy_rewards, project, deployer, treasury
):
    # A huge first emission keeps bits alive through many halvings; halving every epoch.
    big = 2**128 - 1
    token = project.TESToken.deploy(
        treasury, GENESIS_SUPPLY + 2 * big, GENESIS_SUPPLY, sender=deployer
    )
    c = deploy_rewards(token, initial_emission=big, halving_epochs=1)
    assert [c.emissionForEpoch(k) for k in (0, 1, 127, 128, 255, 256, 257)] == [
        big,
        big >> 1,
        1,
        0,
        0,
        0,
        0,
    ]


def test_schedule__whole_schedule__fits_under_cap():
    total = sum(emission(k * HALVING_EPOCHS, INITIAL_EMISSION, HALVING_EPOCHS) for k in range(256))
    total *= HALVING_EPOCHS
    assert total <= 2 * INITIAL_EMISSION * HALVING_EPOCHS <= TOKEN_CAP - GENESIS_SUPPLY


def test_schedule__minted_to_exhaustion_on_tight_cap__never_passes_cap(
    deploy_rewards, project, deployer, treasury, goto_epoch
):
    # Cap exactly at genesis + 2 * E * H (what the constructor demands), halving every epoch:
    # after 130 epochs every bit of E has been shifted out and minted.
    big = 2**128 - 1
    cap = GENESIS_SUPPLY + 2 * big
    token = project.TESToken.deploy(treasury, cap, GENESIS_SUPPLY, sender=deployer)
    c = deploy_rewards(token, initial_emission=big, halving_epochs=1)
    goto_epoch(c, 130)
    c.checkpoint(1_000, sender=deployer)
    expected = sum(big >> k for k in range(130))
    assert c.totalMinted() == expected == token.balanceOf(c)
    assert token.totalSupply() == GENESIS_SUPPLY + expected <= cap
    assert c.emissionForEpoch(130) == 0


def test_schedule__default_parameters__mint_e_per_epoch(rewards, rtoken, goto_epoch, keeper):
    goto_epoch(rewards, 3)
    rewards.checkpoint(10, sender=keeper)
    assert rewards.totalMinted() == 3 * INITIAL_EMISSION == 300_000 * E18
    assert rtoken.balanceOf(rewards) == 3 * INITIAL_EMISSION
