"""Minter wiring (once, by the deployer) and capped minting (only by the minter)."""

import ape

ZERO = "0x0000000000000000000000000000000000000000"


def test_set_minter__by_deployer__wires_contract_and_emits(project, token, deployer):
    m = project.MockTESMinter.deploy(sender=deployer)
    tx = token.setMinter(m, sender=deployer)
    assert token.minter() == m.address
    assert [log.minter for log in tx.decode_logs(token.MinterSet)] == [m.address]


def test_set_minter__by_stranger__reverts(project, token, deployer, stranger):
    m = project.MockTESMinter.deploy(sender=deployer)
    with ape.reverts(token.TESTokenUnauthorizedDeployer, caller=stranger.address):
        token.setMinter(m, sender=stranger)


def test_set_minter__by_treasury__reverts(project, token, deployer, treasury):
    m = project.MockTESMinter.deploy(sender=deployer)
    with ape.reverts(token.TESTokenUnauthorizedDeployer, caller=treasury.address):
        token.setMinter(m, sender=treasury)


def test_set_minter__twice__reverts(project, token, deployer, minter):
    other = project.MockTESMinter.deploy(sender=deployer)
    with ape.reverts(token.TESTokenMinterAlreadySet, minter=minter.address):
        token.setMinter(other, sender=deployer)
    assert token.minter() == minter.address


def test_set_minter__zero_address__reverts(token, deployer):
    with ape.reverts(token.TESTokenInvalidMinter, minter=ZERO):
        token.setMinter(ZERO, sender=deployer)


def test_set_minter__externally_owned_account__reverts(token, deployer, stranger):
    with ape.reverts(token.TESTokenInvalidMinter, minter=stranger.address):
        token.setMinter(stranger, sender=deployer)


def test_mint__by_minter__credits_and_emits(token, minter, client, stranger):
    supply = token.totalSupply()
    tx = minter.mint(token, client, 5 * 10**18, sender=stranger)
    assert token.balanceOf(client) == 5 * 10**18
    assert token.totalSupply() == supply + 5 * 10**18
    [log] = tx.decode_logs(token.Transfer)
    assert (log["from"], log.to, log.value) == (ZERO, client.address, 5 * 10**18)


def test_mint__up_to_cap__succeeds(token, minter, client, stranger):
    room = token.cap() - token.totalSupply()
    minter.mint(token, client, room, sender=stranger)
    assert token.totalSupply() == token.cap()
    assert token.balanceOf(client) == room


def test_mint__past_cap__reverts(token, minter, client, stranger):
    cap = token.cap()
    room = cap - token.totalSupply()
    with ape.reverts(token.ERC20ExceededCap, increasedSupply=cap + 1, cap=cap):
        minter.mint(token, client, room + 1, sender=stranger)


def test_mint__by_eoa__reverts(token, minter, deployer):
    with ape.reverts(token.TESTokenUnauthorizedMinter, caller=deployer.address):
        token.mint(deployer, 1, sender=deployer)


def test_mint__before_minter_is_set__reverts(token, treasury):
    assert token.minter() == ZERO
    with ape.reverts(token.TESTokenUnauthorizedMinter, caller=treasury.address):
        token.mint(treasury, 1, sender=treasury)


def test_mint__to_zero_address__reverts(token, minter, stranger):
    with ape.reverts(token.ERC20InvalidReceiver, receiver=ZERO):
        minter.mint(token, ZERO, 1, sender=stranger)


def test_total_supply__never_exceeds_cap(token, minter, client, stranger):
    """Invariant: totalSupply() <= cap(), through genesis, mints to the cap and a mint past it."""
    assert token.totalSupply() <= token.cap()
    minter.mint(token, client, token.cap() - token.totalSupply(), sender=stranger)
    with ape.reverts(token.ERC20ExceededCap):
        minter.mint(token, client, 1, sender=stranger)
    assert token.totalSupply() == token.cap()
