"""Start unbonding a node's stake: it stops counting, and after the registry's unbonding delay
the licence owner withdraws it (`ape run withdraw --unbonded <id>`).

    ape run unbond --network http://127.0.0.1:8545 --account alice --node-id 3             # all free stake
    ape run unbond --network http://127.0.0.1:8545 --account alice --node-id 3 --amount 500

Only free stake can unbond: collateral locked for running jobs stays until they settle. An active
node left below the minimum stake is deactivated by the registry (run `ape run exit` first to
leave on purpose; `ape run rejoin` after staking again). A second request adds to the amount
already unbonding and restarts the delay.
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


@click.command(cls=ConnectedProviderCommand, short_help="Unbond a node's free stake")
@network_option()
@account_option()
@deployment_option()
@click.option("--node-id", type=click.IntRange(1), required=True, help="Licence token id.")
@click.option(
    "--amount", type=TES, help="TES to unbond. Default: all free stake (not locked as collateral)."
)
@signing_options
def cli(
    provider: Any, account: Any, deployment: Path | None, node_id: int, amount: int | None
) -> None:
    """Requests unbonding of --amount (default: all free stake) of node --node-id."""
    from ape import chain

    d = load_deployment(provider, deployment)
    me = str(account.address)
    n: NodeRecord = node_of_owner(d, node_id, me)
    free = n.free_stake
    amount = free if amount is None else amount
    if amount <= 0 or free == 0:
        locked = (
            f" ({format_tes(n.locked)} is locked as collateral of running jobs)" if n.locked else ""
        )
        raise ScriptError(f"node {node_id} has no free stake to unbond{locked}")
    if amount > free:
        raise ScriptError(
            f"node {node_id} has {format_tes(free)} of free stake ({format_tes(n.locked)} locked as"
            f" collateral until its jobs settle); --amount {format_tes(amount)} is more"
        )
    min_stake = d.registry.minStake()
    left = n.stake - amount
    if n.status == NodeStatus.ACTIVE and left < min_stake:
        click.echo(
            f"Node {node_id} keeps {format_tes(left)}, below the minimum stake"
            f" {format_tes(min_stake)}: the registry deactivates it (it takes no new jobs)."
        )
    receipt = transact(
        f"unbonding {format_tes(amount)} of node {node_id}",
        d.registry.requestUnbond,
        node_id,
        amount,
        sender=account,
    )
    echo_tx(f"NodeRegistry.requestUnbond({node_id}, {format_tes(amount)})", receipt)
    after = node_record(d, node_id)
    release = after.unbondingReleaseAt
    click.echo(
        f"Node {node_id}: {format_tes(after.stake)} staked, {format_tes(after.unbonding)} unbonding,"
        f" status {after.status.name.lower()}.\n"
        f"The unbonding stake is released at {format_time(release)}"
        f" (in {format_duration(max(release - now(chain), 0))}); then run:\n"
        f"  ape run withdraw --network {provider.network_choice} --account"
        f" {getattr(account, 'alias', None) or me} --unbonded {node_id}"
    )
