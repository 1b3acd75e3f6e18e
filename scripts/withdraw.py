"""Withdraw TES owed to you: the job market's credited balance (refunds, deposits not spent,
keeper bounties, dispute bonds), the job earnings of the node licences you own (each node's
ledger in the market, `withdrawEarnings`) and, with --unbonded, the matured unbonding stake of
your nodes.

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
    owned_licences,
    signing_options,
    transact,
)


@click.command(
    cls=ConnectedProviderCommand, short_help="Withdraw credited TES, node earnings, unbonded stake"
)
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
    """Withdraws the account's JobMarket balance, the job earnings of the licences it owns and
    the unbonded stake of --unbonded nodes."""
    from ape import chain

    d = load_deployment(provider, deployment)
    me = str(account.address)
    t = now(chain)
    credited = d.market.credited(me)
    click.echo(f"JobMarket balance of {me}: {format_tes(credited)}")
    reasons: list[str] = [] if credited else [f"no JobMarket balance for {me}"]
    owned = owned_licences(d.licence, me)
    earnings = {node_id: int(d.market.ledger(node_id).earned) for node_id in owned}
    earning = [node_id for node_id, amount in earnings.items() if amount]
    for node_id in earning:
        click.echo(f"Node {node_id} job earnings: {format_tes(earnings[node_id])}")
    if owned and not earning:
        reasons.append(f"no job earnings to withdraw on node(s) {', '.join(map(str, owned))}")
    ready: list[int] = []
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
    if not credited and not earning and not ready:
        raise ScriptError("nothing to withdraw: " + "; ".join(reasons))

    before = d.token.balanceOf(me)
    if credited:
        echo_tx(
            "JobMarket.withdraw",
            transact("withdrawing the JobMarket balance", d.market.withdraw, sender=account),
        )
    if earning:
        receipt = transact(
            f"withdrawing the job earnings of node(s) {earning}",
            d.market.withdrawEarnings,
            earning,
            sender=account,
        )
        echo_tx(f"JobMarket.withdrawEarnings({earning})", receipt)
    for node_id in ready:
        receipt = transact(
            f"withdrawing node {node_id}'s unbonded stake",
            d.registry.withdrawUnbonded,
            node_id,
            sender=account,
        )
        echo_tx(f"NodeRegistry.withdrawUnbonded({node_id})", receipt)
    for reason in reasons if credited or earning or ready else []:
        click.echo(f"  not withdrawn: {reason}")
    got = d.token.balanceOf(me) - before
    click.echo(f"Withdrew {format_tes(got)}; {me} now holds {format_tes(d.token.balanceOf(me))}")
