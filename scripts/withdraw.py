"""Withdraw TES owed to you: the job market's credited balance (job payouts, refunds, keeper
bounties) and, with --unbonded, the matured unbonding stake of your nodes.

    ape run withdraw --network http://127.0.0.1:8545 --account alice
    ape run withdraw --network http://127.0.0.1:8545 --account alice --unbonded 3

Says what is available first; with nothing to withdraw it says why and exits with status 1.
"""

from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option

from oracle.ape_helpers import (
    ScriptError,
    deployment_option,
    echo_tx,
    explain_revert,
    format_duration,
    format_tes,
    format_time,
    load_deployment,
    now,
    signing_options,
    transact,
)


@click.command(cls=ConnectedProviderCommand, short_help="Withdraw credited TES and unbonded stake")
@network_option()
@account_option()
@deployment_option()
@click.option(
    "--unbonded",
    "node_ids",
    type=click.IntRange(1),
    multiple=True,
    help="Also withdraw this node's matured unbonding stake (repeatable; licence owner).",
)
@signing_options
def cli(provider: Any, account: Any, deployment: Path | None, node_ids: tuple[int, ...]) -> None:
    """Withdraws the account's JobMarket balance and the unbonded stake of --unbonded nodes."""
    from ape import chain

    d = load_deployment(provider, deployment)
    me = str(account.address)
    t = now(chain)
    credited = d.market.credited(me)
    click.echo(f"JobMarket balance of {me}: {format_tes(credited)}")
    ready: list[int] = []
    reasons: list[str] = [] if credited else [f"no JobMarket balance for {me}"]
    for node_id in dict.fromkeys(node_ids):
        try:
            owner = str(d.licence.ownerOf(node_id))
        except Exception as err:  # noqa: BLE001 - ERC721NonexistentToken
            raise ScriptError(f"licence #{node_id}: {explain_revert(err)}") from err
        if owner.lower() != me.lower():
            raise ScriptError(
                f"{me} is not the licence owner of node {node_id} (the owner is {owner})"
            )
        n = d.registry.node(node_id)
        if n.unbonding == 0:
            reasons.append(f"node {node_id} has no stake unbonding")
        elif t < n.unbondingReleaseAt:
            reasons.append(
                f"node {node_id}: {format_tes(n.unbonding)} unbonding, released at"
                f" {format_time(n.unbondingReleaseAt)} (in {format_duration(n.unbondingReleaseAt - t)})"
            )
        else:
            click.echo(f"Node {node_id} unbonded stake: {format_tes(n.unbonding)}")
            ready.append(node_id)
    if not credited and not ready:
        raise ScriptError("nothing to withdraw: " + "; ".join(reasons))

    before = d.token.balanceOf(me)
    if credited:
        echo_tx(
            "JobMarket.withdraw",
            transact("withdrawing the JobMarket balance", d.market.withdraw, sender=account),
        )
    for node_id in ready:
        receipt = transact(
            f"withdrawing node {node_id}'s unbonded stake",
            d.registry.withdrawUnbonded,
            node_id,
            sender=account,
        )
        echo_tx(f"NodeRegistry.withdrawUnbonded({node_id})", receipt)
    for reason in reasons if credited or ready else []:
        click.echo(f"  not withdrawn: {reason}")
    got = d.token.balanceOf(me) - before
    click.echo(f"Withdrew {format_tes(got)}; {me} now holds {format_tes(d.token.balanceOf(me))}")
