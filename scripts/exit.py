"""Take a node out of service: it stops getting jobs (deactivate), or, with --retire, leaves the
network for good.

    ape run exit --network http://127.0.0.1:8545 --account alice --node-id 3
    ape run exit --network http://127.0.0.1:8545 --account alice --node-id 3 --unbond   # and unbond
    ape run exit ... --node-id 3 --retire        # for good: a retired node never serves again

A deactivated node keeps its stake, operator and reputation; `ape run rejoin` puts it back. Jobs
it already holds are unaffected: its `tes-node` should keep running until they settle (their
collateral stays locked until then; `tes-node status` shows it). --unbond also starts unbonding
all free stake (`ape run unbond`).
"""

from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option

from oracle.ape_helpers import (
    ScriptError,
    deployment_option,
    echo_tx,
    format_duration,
    format_tes,
    format_time,
    load_deployment,
    node_of_owner,
    node_record,
    now,
    signing_options,
    transact,
)
from oracle.core.protocol import NodeRecord, NodeStatus


@click.command(cls=ConnectedProviderCommand, short_help="Deactivate (or retire) a node")
@network_option()
@account_option()
@deployment_option()
@click.option("--node-id", type=click.IntRange(1), required=True, help="Licence token id.")
@click.option("--unbond", is_flag=True, help="Also start unbonding all free stake.")
@click.option(
    "--retire",
    is_flag=True,
    help="Leave for good (NodeRegistry.retire): the node can never be activated again.",
)
@signing_options
def cli(
    provider: Any, account: Any, deployment: Path | None, node_id: int, unbond: bool, retire: bool
) -> None:
    """Deactivates node --node-id (--retire: retires it), optionally unbonding its free stake."""
    from ape import chain

    d = load_deployment(provider, deployment)
    me = str(account.address)
    n: NodeRecord = node_of_owner(d, node_id, me)
    if n.status == NodeStatus.RETIRED:
        raise ScriptError(f"node {node_id} is already retired")
    if retire:
        echo_tx(
            f"NodeRegistry.retire({node_id})",
            transact(f"retiring node {node_id}", d.registry.retire, node_id, sender=account),
        )
    elif n.status == NodeStatus.ACTIVE:
        echo_tx(
            f"NodeRegistry.deactivate({node_id})",
            transact(
                f"deactivating node {node_id}", d.registry.deactivate, node_id, sender=account
            ),
        )
    else:
        click.echo(f"  [done] node {node_id} is {n.status.name.lower()}: no jobs come to it")
    if unbond:
        n = node_record(d, node_id)
        if n.free_stake:
            echo_tx(
                f"NodeRegistry.requestUnbond({node_id}, {format_tes(n.free_stake)})",
                transact(
                    f"unbonding {format_tes(n.free_stake)} of node {node_id}",
                    d.registry.requestUnbond,
                    node_id,
                    n.free_stake,
                    sender=account,
                ),
            )
        else:
            click.echo(f"  node {node_id} has no free stake to unbond")
    n = node_record(d, node_id)
    click.echo(
        f"Node {node_id} is {n.status.name.lower()}: {format_tes(n.stake)} staked"
        f" ({format_tes(n.locked)} locked by jobs it holds), {format_tes(n.unbonding)} unbonding."
    )
    if n.locked:
        click.echo(
            "Keep its tes-node running until the jobs it holds settle: their collateral is at stake."
        )
    if n.unbonding:
        release = n.unbondingReleaseAt
        click.echo(
            f"Unbonding stake is released at {format_time(release)} (in"
            f" {format_duration(max(release - now(chain), 0))}): `ape run withdraw --unbonded {node_id}`."
        )
    if n.status == NodeStatus.INACTIVE:
        click.echo(f"To serve again: `ape run rejoin --node-id {node_id}`.")
