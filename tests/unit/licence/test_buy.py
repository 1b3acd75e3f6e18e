"""Buying licences: checks, minting, accounting, refunds of excess ETH."""

import ape
import pytest

from tests.utils.constants import TIER_PRICE as PRICE

ZERO = "0x0000000000000000000000000000000000000000"


def test_buy__one_at_exact_price__mints_token_1_and_keeps_payment(licence, node_owner):
    eth_before = node_owner.balance
    assert licence.buy.call(0, 1, value=PRICE, sender=node_owner) == 1
    tx = licence.buy(0, 1, value=PRICE, sender=node_owner)
    assert licence.ownerOf(1) == node_owner.address
    assert licence.balanceOf(node_owner) == 1
    assert licence.tierOf(1) == 0
    assert licence.totalMinted() == 1
    assert licence.purchasedInTier(0, node_owner) == 1
    assert licence.tier(0).sold == 1
    assert licence.proceeds() == PRICE
    assert licence.balance == PRICE
    assert node_owner.balance == eth_before - PRICE - tx.total_fees_paid


def test_buy__emits_purchase_and_transfer(licence, node_owner):
    tx = licence.buy(0, 2, value=2 * PRICE, sender=node_owner)
    [log] = tx.decode_logs(licence.LicencesPurchased)
    assert (log.buyer, log.tierId, log.firstTokenId, log.quantity, log.paid) == (
        node_owner.address,
        0,
        1,
        2,
        2 * PRICE,
    )
    transfers = [(t["from"], t.to, t.tokenId) for t in tx.decode_logs(licence.Transfer)]
    assert transfers == [(ZERO, node_owner.address, 1), (ZERO, node_owner.address, 2)]


def test_buy__many__mints_consecutive_ids(licence, node_owner, client):
    licence.buy(0, 2, value=2 * PRICE, sender=client)
    assert licence.buy.call(0, 3, value=3 * PRICE, sender=node_owner) == 3
    tx = licence.buy(0, 3, value=3 * PRICE, sender=node_owner)
    assert tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId == 3
    assert [licence.ownerOf(i) for i in range(1, 6)] == [client.address] * 2 + [
        node_owner.address
    ] * 3
    assert licence.totalMinted() == 5
    assert licence.tier(0).sold == 5
    assert licence.purchasedInTier(0, node_owner) == 3
    assert licence.purchasedInTier(0, client) == 2
    assert licence.proceeds() == licence.balance == 5 * PRICE


def test_buy__across_tiers__ids_continue_and_tier_is_recorded(licence, add_tier, node_owner):
    t1 = add_tier(price=3 * PRICE, supply=10)
    licence.buy(0, 2, value=2 * PRICE, sender=node_owner)
    tx = licence.buy(t1, 2, value=6 * PRICE, sender=node_owner)
    assert tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId == 3
    assert [licence.tierOf(i) for i in range(1, 5)] == [0, 0, t1, t1]
    assert licence.tier(t1).sold == 2
    assert licence.purchasedInTier(t1, node_owner) == 2
    assert licence.proceeds() == 8 * PRICE


def test_buy__with_excess__refunds_it_in_same_tx(licence, node_owner):
    eth_before = node_owner.balance
    tx = licence.buy(0, 2, value=5 * PRICE + 123, sender=node_owner)
    assert node_owner.balance == eth_before - 2 * PRICE - tx.total_fees_paid
    assert licence.balance == licence.proceeds() == 2 * PRICE
    assert tx.decode_logs(licence.LicencesPurchased)[0].paid == 2 * PRICE


def test_buy__free_tier__refunds_everything(licence, add_tier, node_owner):
    t = add_tier(price=0, supply=5)
    eth_before = node_owner.balance
    tx = licence.buy(t, 1, value=PRICE, sender=node_owner)
    assert licence.ownerOf(1) == node_owner.address
    assert node_owner.balance == eth_before - tx.total_fees_paid
    assert licence.balance == licence.proceeds() == 0


def test_buy__unknown_tier__reverts(licence, node_owner):
    with ape.reverts(licence.NodeLicenseUnknownTier, tierId=1):
        licence.buy(1, 1, value=PRICE, sender=node_owner)


def test_buy__zero_quantity__reverts(licence, node_owner):
    with ape.reverts(licence.NodeLicenseZeroQuantity):
        licence.buy(0, 0, value=PRICE, sender=node_owner)


def test_buy__below_price__reverts(licence, node_owner):
    with ape.reverts(
        licence.NodeLicenseInsufficientPayment, tierId=0, sent=3 * PRICE - 1, required=3 * PRICE
    ):
        licence.buy(0, 3, value=3 * PRICE - 1, sender=node_owner)


def test_buy__without_payment__reverts(licence, node_owner):
    with ape.reverts(licence.NodeLicenseInsufficientPayment, tierId=0, sent=0, required=PRICE):
        licence.buy(0, 1, sender=node_owner)


def test_buy__more_than_remaining__reverts(licence, add_tier, node_owner, client):
    t = add_tier(supply=3)
    licence.buy(t, 2, value=2 * PRICE, sender=client)
    with ape.reverts(licence.NodeLicenseSoldOut, tierId=t, requested=2, remaining=1):
        licence.buy(t, 2, value=2 * PRICE, sender=node_owner)
    licence.buy(t, 1, value=PRICE, sender=node_owner)
    assert licence.tier(t).sold == 3
    with ape.reverts(licence.NodeLicenseSoldOut, tierId=t, requested=1, remaining=0):
        licence.buy(t, 1, value=PRICE, sender=node_owner)


def test_buy__past_wallet_cap__reverts(licence, add_tier, node_owner, client):
    t = add_tier(per_wallet_cap=2)
    licence.buy(t, 1, value=PRICE, sender=node_owner)
    with ape.reverts(
        licence.NodeLicenseWalletCapExceeded, tierId=t, buyer=node_owner.address, owned=1, cap=2
    ):
        licence.buy(t, 2, value=2 * PRICE, sender=node_owner)
    licence.buy(t, 1, value=PRICE, sender=node_owner)
    licence.buy(t, 2, value=2 * PRICE, sender=client)  # the cap is per wallet
    assert licence.purchasedInTier(t, node_owner) == licence.purchasedInTier(t, client) == 2


def test_buy__wallet_cap__counts_purchases_not_holdings(licence, add_tier, node_owner, stranger):
    t = add_tier(per_wallet_cap=1)
    licence.buy(t, 1, value=PRICE, sender=node_owner)
    licence.transferFrom(node_owner, stranger, 1, sender=node_owner)
    assert licence.balanceOf(node_owner) == 0
    with ape.reverts(licence.NodeLicenseWalletCapExceeded, owned=1, cap=1):
        licence.buy(t, 1, value=PRICE, sender=node_owner)


def test_buy__wallet_cap__is_per_tier(licence, add_tier, node_owner):
    t = add_tier(per_wallet_cap=1)
    licence.buy(t, 1, value=PRICE, sender=node_owner)
    licence.buy(0, 5, value=5 * PRICE, sender=node_owner)  # tier 0 has no cap
    assert licence.purchasedInTier(0, node_owner) == 5


@pytest.fixture
def windowed_tier(add_tier, chain):
    start = chain.pending_timestamp + 1_000
    end = start + 1_000
    return add_tier(sale_start=start, sale_end=end), start, end


def test_buy__before_sale_start__reverts(licence, windowed_tier, node_owner):
    t, start, end = windowed_tier
    with ape.reverts(licence.NodeLicenseSaleNotOpen, tierId=t, saleStart=start, saleEnd=end):
        licence.buy(t, 1, value=PRICE, sender=node_owner)


def test_buy__at_sale_start__succeeds(licence, windowed_tier, node_owner, chain):
    t, start, _ = windowed_tier
    chain.pending_timestamp = start
    tx = licence.buy(t, 1, value=PRICE, sender=node_owner)
    assert tx.timestamp == start
    assert licence.ownerOf(1) == node_owner.address


def test_buy__just_before_sale_end__succeeds(licence, windowed_tier, node_owner, chain):
    t, _, end = windowed_tier
    chain.pending_timestamp = end - 1
    licence.buy(t, 1, value=PRICE, sender=node_owner)
    assert licence.tier(t).sold == 1


def test_buy__at_sale_end__reverts(licence, windowed_tier, node_owner, chain):
    t, start, end = windowed_tier
    chain.pending_timestamp = end
    with ape.reverts(
        licence.NodeLicenseSaleNotOpen, tierId=t, now_=end, saleStart=start, saleEnd=end
    ):
        licence.buy(t, 1, value=PRICE, sender=node_owner)


def test_buy__open_ended_tier__stays_open(licence, add_tier, node_owner, chain):
    start = chain.pending_timestamp + 10
    t = add_tier(sale_start=start)
    chain.pending_timestamp = start + 10 * 365 * 86_400
    licence.buy(t, 1, value=PRICE, sender=node_owner)
    assert licence.tier(t).sold == 1


def test_buy__contract_rejecting_refund__reverts_whole_purchase(licence, reverting_buyer, stranger):
    with ape.reverts(licence.NodeLicenseRefundFailed, buyer=reverting_buyer.address, amount=PRICE):
        reverting_buyer.buy(0, 1, value=2 * PRICE, sender=stranger)
    assert licence.totalMinted() == 0
    assert licence.balance == licence.proceeds() == 0
    assert reverting_buyer.balance == 0


def test_buy__contract_rejecting_eth_at_exact_price__succeeds(licence, reverting_buyer, stranger):
    assert reverting_buyer.buy.call(0, 2, value=2 * PRICE, sender=stranger) == 1
    reverting_buyer.buy(0, 2, value=2 * PRICE, sender=stranger)
    assert licence.balanceOf(reverting_buyer) == 2
    assert licence.purchasedInTier(0, reverting_buyer) == 2
    assert licence.balance == licence.proceeds() == 2 * PRICE


def test_buy__reentered_from_refund__reverts(licence, reverting_buyer, stranger):
    """The refund goes out after all effects, under the reentrancy guard: a buyer that calls buy
    again from receive() is stopped, so its refund fails and the whole purchase reverts."""
    reverting_buyer.setReenter(True, sender=stranger)
    with ape.reverts(licence.NodeLicenseRefundFailed, buyer=reverting_buyer.address, amount=PRICE):
        reverting_buyer.buy(0, 1, value=2 * PRICE, sender=stranger)
    assert licence.totalMinted() == 0


def test_receive__plain_eth__reverts(licence, node_owner):
    with ape.reverts():
        node_owner.transfer(licence, PRICE)


def test_balance__equals_proceeds(licence, add_tier, node_owner, client, stranger):
    """Invariant: the contract holds exactly the unwithdrawn proceeds, refunds included."""
    t = add_tier(price=PRICE // 3, supply=10)
    licence.buy(0, 2, value=2 * PRICE + 1, sender=node_owner)
    licence.buy(t, 3, value=PRICE, sender=client)
    licence.buy(t, 1, value=PRICE // 3, sender=stranger)
    assert licence.balance == licence.proceeds() == 2 * PRICE + 4 * (PRICE // 3)
    licence.withdrawProceeds(sender=stranger)
    assert licence.balance == licence.proceeds() == 0


def test_tier__sold_never_exceeds_supply(licence, add_tier, node_owner):
    """Invariant: a tier sells at most its supply, whatever the batch sizes."""
    t = add_tier(supply=4)
    licence.buy(t, 3, value=3 * PRICE, sender=node_owner)
    with ape.reverts(licence.NodeLicenseSoldOut):
        licence.buy(t, 2, value=2 * PRICE, sender=node_owner)
    licence.buy(t, 1, value=PRICE, sender=node_owner)
    with ape.reverts(licence.NodeLicenseSoldOut):
        licence.buy(t, 1, value=PRICE, sender=node_owner)
    assert licence.tier(t).sold == licence.tier(t).supply == 4
