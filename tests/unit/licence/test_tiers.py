"""Deployment, tier management and the owner's settings."""

import ape

from tests.utils.constants import TIER_PRICE as PRICE

ZERO = "0x0000000000000000000000000000000000000000"


def test_deploy__sets_metadata_owner_and_treasury(licence, deployer, treasury):
    assert licence.name() == "TES Node Licence"
    assert licence.symbol() == "TESNODE"
    assert licence.owner() == deployer.address
    assert licence.treasury() == treasury.address
    assert licence.registry() == ZERO
    assert licence.proceeds() == 0
    assert licence.totalMinted() == 0
    assert licence.tierCount() == 1


def test_deploy__emits_treasury_set(project, deployer, treasury, stranger):
    c = project.NodeLicense.deploy(stranger, treasury, sender=deployer)
    assert c.owner() == stranger.address
    assert [log.treasury for log in c.creation_metadata.receipt.decode_logs(c.TreasurySet)] == [
        treasury.address
    ]


def test_deploy__with_zero_treasury__reverts(project, deployer):
    with ape.reverts(project.NodeLicense.NodeLicenseInvalidAddress):
        project.NodeLicense.deploy(deployer, ZERO, sender=deployer)


def test_deploy__with_zero_owner__reverts(project, deployer, treasury):
    with ape.reverts(project.NodeLicense.OwnableInvalidOwner, owner=ZERO):
        project.NodeLicense.deploy(ZERO, treasury, sender=deployer)


def test_supports_interface__erc721_and_erc165(licence):
    assert licence.supportsInterface("0x80ac58cd")  # ERC-721
    assert licence.supportsInterface("0x5b5e139f")  # ERC-721 metadata
    assert licence.supportsInterface("0x01ffc9a7")  # ERC-165
    assert not licence.supportsInterface("0xffffffff")


def test_add_tier__stores_tier_and_emits(licence, deployer):
    tx = licence.addTier(2 * PRICE, 50, 3, 1_000, 2_000, sender=deployer)
    [log] = tx.decode_logs(licence.TierAdded)
    assert (log.tierId, log.price, log.supply, log.perWalletCap, log.saleStart, log.saleEnd) == (
        1,
        2 * PRICE,
        50,
        3,
        1_000,
        2_000,
    )
    assert licence.tierCount() == 2
    t = licence.tier(1)
    assert (t.price, t.supply, t.sold, t.perWalletCap, t.saleStart, t.saleEnd) == (
        2 * PRICE,
        50,
        0,
        3,
        1_000,
        2_000,
    )


def test_add_tier__returns_sequential_ids(licence, deployer):
    assert licence.addTier.call(PRICE, 1, 0, 0, 0, sender=deployer) == 1
    licence.addTier(PRICE, 1, 0, 0, 0, sender=deployer)
    assert licence.addTier.call(PRICE, 1, 0, 0, 0, sender=deployer) == 2


def test_add_tier__open_ended_with_start__is_valid(licence, deployer):
    licence.addTier(PRICE, 1, 0, 5_000, 0, sender=deployer)
    assert licence.tier(1).saleStart == 5_000
    assert licence.tier(1).saleEnd == 0


def test_add_tier__free_tier__is_valid(licence, deployer):
    licence.addTier(0, 1, 0, 0, 0, sender=deployer)
    assert licence.tier(1).price == 0


def test_add_tier__by_stranger__reverts(licence, stranger):
    with ape.reverts(licence.OwnableUnauthorizedAccount, account=stranger.address):
        licence.addTier(PRICE, 1, 0, 0, 0, sender=stranger)


def test_add_tier__zero_supply__reverts(licence, deployer):
    with ape.reverts(licence.NodeLicenseInvalidTier):
        licence.addTier(PRICE, 0, 0, 0, 0, sender=deployer)


def test_add_tier__end_not_after_start__reverts(licence, deployer):
    with ape.reverts(licence.NodeLicenseInvalidTier):
        licence.addTier(PRICE, 1, 0, 2_000, 2_000, sender=deployer)
    with ape.reverts(licence.NodeLicenseInvalidTier):
        licence.addTier(PRICE, 1, 0, 2_000, 1_999, sender=deployer)


def test_tier__unknown_id__reverts(licence):
    with ape.reverts(licence.NodeLicenseUnknownTier, tierId=1):
        licence.tier(1)


def test_tier_of__unminted_token__reverts(licence):
    with ape.reverts(licence.ERC721NonexistentToken, tokenId=1):
        licence.tierOf(1)


def test_set_treasury__by_owner__updates_and_emits(licence, deployer, stranger):
    tx = licence.setTreasury(stranger, sender=deployer)
    assert licence.treasury() == stranger.address
    assert [log.treasury for log in tx.decode_logs(licence.TreasurySet)] == [stranger.address]


def test_set_treasury__by_stranger__reverts(licence, stranger):
    with ape.reverts(licence.OwnableUnauthorizedAccount, account=stranger.address):
        licence.setTreasury(stranger, sender=stranger)


def test_set_treasury__zero_address__reverts(licence, deployer):
    with ape.reverts(licence.NodeLicenseInvalidAddress):
        licence.setTreasury(ZERO, sender=deployer)


def test_set_registry__by_owner__wires_once_and_emits(project, licence, deployer):
    r = project.MockLicenceRegistry.deploy(sender=deployer)
    tx = licence.setRegistry(r, sender=deployer)
    assert licence.registry() == r.address
    assert [log.registry for log in tx.decode_logs(licence.RegistrySet)] == [r.address]


def test_set_registry__twice__reverts(licence, deployer, mock_registry, stranger):
    with ape.reverts(licence.NodeLicenseRegistryAlreadySet, registry=mock_registry.address):
        licence.setRegistry(stranger, sender=deployer)


def test_set_registry__zero_address__reverts(licence, deployer):
    with ape.reverts(licence.NodeLicenseInvalidAddress):
        licence.setRegistry(ZERO, sender=deployer)


def test_set_registry__by_stranger__reverts(licence, stranger):
    with ape.reverts(licence.OwnableUnauthorizedAccount, account=stranger.address):
        licence.setRegistry(stranger, sender=stranger)


def test_ownership__two_step_transfer__needs_acceptance(licence, deployer, stranger):
    licence.transferOwnership(stranger, sender=deployer)
    assert licence.owner() == deployer.address
    assert licence.pendingOwner() == stranger.address
    with ape.reverts(licence.OwnableUnauthorizedAccount, account=deployer.address):
        licence.acceptOwnership(sender=deployer)
    licence.acceptOwnership(sender=stranger)
    assert licence.owner() == stranger.address
    licence.addTier(PRICE, 1, 0, 0, 0, sender=stranger)
    with ape.reverts(licence.OwnableUnauthorizedAccount, account=deployer.address):
        licence.addTier(PRICE, 1, 0, 0, 0, sender=deployer)
