"""Claim the TES rewards of your node licences.

    ape run claim-rewards --network http://127.0.0.1:8545 --account alice            # every licence
    ape run claim-rewards --network http://127.0.0.1:8545 --account alice --node-id 3 --node-id 4

Prints what each node can claim first. Rewards of an epoch become claimable once the epoch is
over; when there is nothing to claim it says so (and when the current epoch ends) and exits
with status 1.

A node's job fees (its work, what its share of an epoch's rewards is weighed by) wait in its
ledger in the job market until its first settlement in a later epoch. When any node has such
pending work, this first sends it to Rewards (`JobMarket.pushWork`, anyone may): it counts in
the current epoch, so it becomes claimable once that epoch is over.
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


@click.command(cls=ConnectedProviderCommand, short_help="Claim node rewards")
@network_option()
@account_option()
@deployment_option()
@click.option(
    "--node-id",
    "node_ids",
    type=click.IntRange(1),
    multiple=True,
    help="Licence to claim for (repeatable). Default: every licence the account owns.",
)
@signing_options
def cli(provider: Any, account: Any, deployment: Path | None, node_ids: tuple[int, ...]) -> None:
    """Claims the rewards of finished epochs for --node-id (or all the account's licences)."""
    from ape import chain

    d = load_deployment(provider, deployment)
    me = str(account.address)
    ids = list(dict.fromkeys(node_ids)) or owned_licences(d.licence, me)
    if not ids:
        raise ScriptError(f"{me} owns no node licence: buy one with `ape run buy-node`")
    for node_id in ids:
        try:
            owner = str(d.licence.ownerOf(node_id))
        except Exception as err:  # noqa: BLE001 - ERC721NonexistentToken
            raise ScriptError(f"licence #{node_id}: {explain_revert(err)}") from err
        if owner.lower() != me.lower():
            raise ScriptError(
                f"{me} is not the licence owner of node {node_id} (the owner is {owner}): only the"
                " owner can claim its rewards"
            )

    pending = {node_id: int(d.market.ledger(node_id).work) for node_id in ids}
    pushing = [node_id for node_id, work in pending.items() if work]
    if pushing:
        epoch = d.rewards.currentEpoch()
        ends = d.rewards.genesisTime() + (epoch + 1) * d.rewards.epochLength()
        receipt = transact(
            f"pushing the pending work of node(s) {pushing}",
            d.market.pushWork,
            pushing,
            sender=account,
        )
        echo_tx(f"JobMarket.pushWork({pushing})", receipt)
        for node_id in pushing:
            click.echo(f"  node {node_id}: {format_tes(pending[node_id])} of job fees as work")
        click.echo(
            f"Work pushed now counts in epoch {epoch}: it becomes claimable once that epoch ends"
            f" at {format_time(ends)} (in {format_duration(max(ends - now(chain), 0))})."
        )

    claimable = {node_id: d.rewards.claimable(node_id) for node_id in ids}
    click.echo(f"Claimable rewards for {me}:")
    for node_id, amount in claimable.items():
        click.echo(f"  node {node_id}: {format_tes(amount)}")
    total = sum(claimable.values())
    if total == 0:
        epoch = d.rewards.currentEpoch()
        ends = d.rewards.genesisTime() + (epoch + 1) * d.rewards.epochLength()
        raise ScriptError(
            f"nothing to claim for node(s) {', '.join(map(str, ids))}. Rewards are paid for finished"
            f" epochs to nodes that sent heartbeats or did work; epoch {epoch} ends at"
            f" {format_time(ends)} (in {format_duration(max(ends - now(chain), 0))})."
        )

    paying = [node_id for node_id, amount in claimable.items() if amount]
    before = d.token.balanceOf(me)
    receipt = transact(f"claiming for node(s) {paying}", d.rewards.claim, paying, sender=account)
    echo_tx("claimed", receipt)
    for event in receipt.decode_logs(d.rewards.RewardsClaimed):
        click.echo(f"  node {event.nodeId}: {format_tes(event.amount)}")
    got = d.token.balanceOf(me) - before
    click.echo(f"Claimed {format_tes(got)}; {me} now holds {format_tes(d.token.balanceOf(me))}")
