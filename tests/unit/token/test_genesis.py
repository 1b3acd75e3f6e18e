"""Deployment: metadata, cap and the genesis allocation to the treasury."""

import ape
import pytest

from tests.utils.constants import GENESIS_SUPPLY, TOKEN_CAP

ZERO = "0x0000000000000000000000000000000000000000"


def test_deploy__mints_genesis_to_treasury(token, treasury, deployer):
    assert token.name() == "TES Token"
    assert token.symbol() == "TES"
    assert token.decimals() == 18
    assert token.cap() == TOKEN_CAP
    assert token.totalSupply() == GENESIS_SUPPLY
    assert token.balanceOf(treasury) == GENESIS_SUPPLY
    assert token.balanceOf(deployer) == 0
    assert token.minter() == ZERO


def test_deploy__emits_genesis_transfer(project, deployer, treasury):
    t = project.TESToken.deploy(treasury, 100, 40, sender=deployer)
    logs = t.creation_metadata.receipt.decode_logs(t.Transfer)
    assert len(logs) == 1
    assert (logs[0]["from"], logs[0].to, logs[0].value) == (ZERO, treasury.address, 40)


def test_deploy__with_genesis_equal_to_cap__mints_all(project, deployer, treasury):
    t = project.TESToken.deploy(treasury, 100, 100, sender=deployer)
    assert t.totalSupply() == t.cap() == 100


def test_deploy__with_zero_genesis__mints_nothing(project, deployer, treasury):
    t = project.TESToken.deploy(treasury, 100, 0, sender=deployer)
    assert t.totalSupply() == 0
    assert t.balanceOf(treasury) == 0


def test_deploy__with_genesis_above_cap__reverts(project, deployer, treasury):
    with ape.reverts(project.TESToken.TESTokenGenesisExceedsCap, genesis=101, cap=100):
        project.TESToken.deploy(treasury, 100, 101, sender=deployer)


def test_deploy__with_zero_cap__reverts(project, deployer, treasury):
    with ape.reverts(project.TESToken.ERC20InvalidCap, cap=0):
        project.TESToken.deploy(treasury, 0, 0, sender=deployer)


def test_deploy__with_zero_treasury__reverts(project, deployer):
    with ape.reverts(project.TESToken.ERC20InvalidReceiver, receiver=ZERO):
        project.TESToken.deploy(ZERO, 100, 1, sender=deployer)


@pytest.mark.parametrize("amount", [0, 1, GENESIS_SUPPLY])
def test_transfer__moves_balance_and_emits(token, treasury, client, amount):
    before = (token.balanceOf(treasury), token.balanceOf(client))
    tx = token.transfer(client, amount, sender=treasury)
    assert token.balanceOf(treasury) == before[0] - amount
    assert token.balanceOf(client) == before[1] + amount
    [log] = tx.decode_logs(token.Transfer)
    assert (log["from"], log.to, log.value) == (treasury.address, client.address, amount)
