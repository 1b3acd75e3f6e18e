"""Sale proceeds are pulled to the treasury; a treasury that rejects ETH never blocks buying."""

import ape

from tests.utils.constants import TIER_PRICE as PRICE


def test_withdraw_proceeds__by_anyone__pays_treasury_and_emits(
    licence, treasury, node_owner, stranger
):
    licence.buy(0, 3, value=3 * PRICE, sender=node_owner)
    treasury_before, stranger_before = treasury.balance, stranger.balance
    tx = licence.withdrawProceeds(sender=stranger)
    assert treasury.balance == treasury_before + 3 * PRICE
    assert stranger.balance == stranger_before - tx.total_fees_paid
    assert licence.proceeds() == licence.balance == 0
    [log] = tx.decode_logs(licence.ProceedsWithdrawn)
    assert (log.treasury, log.amount) == (treasury.address, 3 * PRICE)


def test_withdraw_proceeds__goes_to_current_treasury(
    licence, deployer, treasury, node_owner, keeper
):
    licence.buy(0, 1, value=PRICE, sender=node_owner)
    licence.setTreasury(keeper, sender=deployer)
    treasury_before, keeper_before = treasury.balance, keeper.balance
    licence.withdrawProceeds(sender=deployer)
    assert keeper.balance == keeper_before + PRICE
    assert treasury.balance == treasury_before


def test_withdraw_proceeds__accumulates_between_withdrawals(
    licence, treasury, node_owner, stranger
):
    licence.buy(0, 1, value=PRICE, sender=node_owner)
    licence.withdrawProceeds(sender=stranger)
    licence.buy(0, 2, value=2 * PRICE, sender=node_owner)
    before = treasury.balance
    tx = licence.withdrawProceeds(sender=stranger)
    assert treasury.balance == before + 2 * PRICE
    assert tx.decode_logs(licence.ProceedsWithdrawn)[0].amount == 2 * PRICE


def test_withdraw_proceeds__with_nothing__reverts(licence, stranger):
    with ape.reverts(licence.NodeLicenseNothingToWithdraw):
        licence.withdrawProceeds(sender=stranger)


def test_withdraw_proceeds__twice__reverts(licence, node_owner, stranger):
    licence.buy(0, 1, value=PRICE, sender=node_owner)
    licence.withdrawProceeds(sender=stranger)
    with ape.reverts(licence.NodeLicenseNothingToWithdraw):
        licence.withdrawProceeds(sender=stranger)


def test_withdraw_proceeds__treasury_rejects_eth__reverts_and_keeps_proceeds(
    licence, deployer, reverting_buyer, node_owner, stranger
):
    licence.setTreasury(reverting_buyer, sender=deployer)
    licence.buy(0, 2, value=2 * PRICE, sender=node_owner)
    with ape.reverts(
        licence.NodeLicenseWithdrawFailed, treasury=reverting_buyer.address, amount=2 * PRICE
    ):
        licence.withdrawProceeds(sender=stranger)
    assert licence.proceeds() == licence.balance == 2 * PRICE


def test_buy__with_treasury_rejecting_eth__still_works(
    licence, deployer, treasury, reverting_buyer, node_owner, client, stranger
):
    licence.setTreasury(reverting_buyer, sender=deployer)
    licence.buy(0, 1, value=PRICE, sender=node_owner)
    with ape.reverts(licence.NodeLicenseWithdrawFailed):
        licence.withdrawProceeds(sender=stranger)
    licence.buy(0, 2, value=3 * PRICE, sender=client)  # refund path too
    assert licence.proceeds() == licence.balance == 3 * PRICE
    # Governance points proceeds at a working treasury; nothing was lost.
    licence.setTreasury(treasury, sender=deployer)
    before = treasury.balance
    licence.withdrawProceeds(sender=stranger)
    assert treasury.balance == before + 3 * PRICE
