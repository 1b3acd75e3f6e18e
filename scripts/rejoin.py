"""Put a deactivated (or jailed, once its jail period is over) node back into service.

    ape run rejoin --network http://127.0.0.1:8545 --account alice --node-id 3
    ape run rejoin --network http://127.0.0.1:8545 --account alice --node-id 3 --stake 1000

Checks what activation needs before sending anything: an operator key bound, at least the
minimum stake (--stake tops it up to that total), and the jail period over. An active node is
left alone; a retired one cannot return.
"""

from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option

from oracle.ape_helpers import (
    TES,
    ScriptError,
    deployment_option,
    echo_tx,
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


@click.command(cls=ConnectedProviderCommand, short_help="Reactivate a node")
@network_option()
@account_option()
@deployment_option()
@click.option("--node-id", type=click.IntRange(1), required=True, help="Licence token id.")
@click.option(
    "--stake",
    "stake_target",
    type=TES,
    help="Total TES the node should have bonded; what is missing is staked first."
    " Default: stake nothing (the node needs the registry's minimum already).",
)
@signing_options
def cli(
    provider: Any, account: Any, deployment: Path | None, node_id: int, stake_target: int | None
) -> None:
    """Reactivates node --node-id, staking up to --stake first if given."""
    from ape import chain

    d = load_deployment(provider, deployment)
    me = str(account.address)
    n: NodeRecord = node_of_owner(d, node_id, me)
    if n.status == NodeStatus.ACTIVE:
        click.echo(f"  [done] node {node_id} is already active")
        return
    if n.status == NodeStatus.RETIRED:
        raise ScriptError(f"node {node_id} is retired: it can never serve again")
    if n.status == NodeStatus.JAILED and now(chain) < n.jailedUntil:
        raise ScriptError(
            f"node {node_id} is jailed until {format_time(n.jailedUntil)}: rejoin after that"
        )
    if int(n.operator, 16) == 0:
        raise ScriptError(
            f"node {node_id} has no operator key bound: run `ape run setup-node --node-id"
            f" {node_id} --operator <hot key>`, and `ape run accept-operator` with that key"
        )
    min_stake = d.registry.minStake()
    target = max(stake_target or 0, 0)
    missing = max(target - n.stake, 0)
    if n.stake + missing < min_stake:
        raise ScriptError(
            f"node {node_id} has {format_tes(n.stake)} staked; activation needs"
            f" {format_tes(min_stake)}: pass --stake {format_tes(min_stake, exact=True).replace(',', '')}"
            " (nothing was sent)"
        )
    if missing:
        balance = d.token.balanceOf(me)
        if balance < missing:
            raise ScriptError(
                f"staking needs {format_tes(missing)} more but {me} holds {format_tes(balance)}"
                " (nothing was sent)"
            )
        if d.token.allowance(me, d.registry.address) < missing:
            echo_tx(
                f"approve {format_tes(missing)}",
                transact(
                    "approving TES for staking",
                    d.token.approve,
                    d.registry.address,
                    missing,
                    sender=account,
                ),
            )
        echo_tx(
            f"stake {format_tes(missing)}",
            transact(
                f"staking {format_tes(missing)}", d.registry.stake, node_id, missing, sender=account
            ),
        )
    echo_tx(
        f"NodeRegistry.activate({node_id})",
        transact(f"activating node {node_id}", d.registry.activate, node_id, sender=account),
    )
    n = node_record(d, node_id)
    click.echo(
        f"Node {node_id} is {n.status.name.lower()}: operator {n.operator},"
        f" {format_tes(n.stake)} staked. Its tes-node picks up jobs again."
    )
