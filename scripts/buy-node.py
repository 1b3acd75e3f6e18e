"""Buy node licences with ETH.

    ape run buy-node --network http://127.0.0.1:8545 --account alice --tier 0 --quantity 2

Pays exactly price x quantity. Before sending, it reads the tier and says plainly why a purchase
cannot work (unknown tier, sale not open yet or over, sold out, wallet cap, not enough ETH); if
the transaction still reverts (someone bought the last licence first), the contract's error is
decoded into the same kind of message. Prints the token ids: each is a node id for setup-node.
"""

from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option

from oracle.ape_helpers import (
    EXPLAIN,
    ScriptError,
    deployment_option,
    echo_tx,
    format_eth,
    load_deployment,
    now,
    signing_options,
    transact,
)


def check_purchase(licence: Any, buyer: Any, tier_id: int, quantity: int, timestamp: int) -> int:
    """The price to pay; a ScriptError saying why the purchase would revert."""
    count = licence.tierCount()
    if tier_id >= count:
        known = (
            f"tiers 0 to {count - 1}"
            if count > 1
            else "the only tier is 0"
            if count
            else "no tiers"
        )
        raise ScriptError(EXPLAIN["NodeLicenseUnknownTier"]({"tierId": tier_id}) + f" ({known})")
    t = licence.tier(tier_id)
    if (t.saleStart and timestamp < t.saleStart) or (t.saleEnd and timestamp >= t.saleEnd):
        raise ScriptError(
            EXPLAIN["NodeLicenseSaleNotOpen"](
                {
                    "tierId": tier_id,
                    "now_": timestamp,
                    "saleStart": t.saleStart,
                    "saleEnd": t.saleEnd,
                }
            )
        )
    remaining = t.supply - t.sold
    if quantity > remaining:
        raise ScriptError(
            EXPLAIN["NodeLicenseSoldOut"](
                {"tierId": tier_id, "requested": quantity, "remaining": remaining}
            )
        )
    if t.perWalletCap:
        owned = licence.purchasedInTier(tier_id, buyer)
        if owned + quantity > t.perWalletCap:
            raise ScriptError(
                EXPLAIN["NodeLicenseWalletCapExceeded"](
                    {
                        "tierId": tier_id,
                        "buyer": str(buyer.address),
                        "owned": owned,
                        "cap": t.perWalletCap,
                    }
                )
                + f"; you can buy {max(t.perWalletCap - owned, 0)} more"
            )
    price = t.price * quantity
    if buyer.balance < price:
        raise ScriptError(
            f"{buyer.address} holds {format_eth(buyer.balance)}; {quantity} licence(s) of tier"
            f" {tier_id} cost {format_eth(price)} (plus gas)"
        )
    return price


@click.command(cls=ConnectedProviderCommand, short_help="Buy node licences")
@network_option()
@account_option()
@deployment_option()
@click.option(
    "--tier",
    "tier_id",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Sale tier to buy from.",
)
@click.option(
    "--quantity", type=click.IntRange(1), default=1, show_default=True, help="Licences to buy."
)
@signing_options
def cli(provider: Any, account: Any, deployment: Path | None, tier_id: int, quantity: int) -> None:
    """Buys --quantity licences of --tier, paying exactly price x quantity in ETH."""
    from ape import chain

    d = load_deployment(provider, deployment)
    price = check_purchase(d.licence, account, tier_id, quantity, now(chain))
    click.echo(
        f"Buying {quantity} licence(s) of tier {tier_id} for {format_eth(price)} from {account.address}"
    )
    receipt = transact(
        f"buying {quantity} licence(s) of tier {tier_id}",
        d.licence.buy,
        tier_id,
        quantity,
        value=price,
        sender=account,
    )
    event = receipt.decode_logs(d.licence.LicencesPurchased)[0]
    ids = list(range(event.firstTokenId, event.firstTokenId + event.quantity))
    echo_tx("bought", receipt)
    click.echo(f"Node ids: {', '.join(map(str, ids))}")
    click.echo(
        f"Next: ape run setup-node --network {provider.network_choice} --account"
        f" {getattr(account, 'alias', None) or account.address} --node-id {ids[0]} --operator <hot key address>"
    )
