"""Accept serving a node as its operator: the second step of the operator binding.

    ape run accept-operator --network http://127.0.0.1:8545 --account hotkey --node-id 1

Run it with the operator's account (the hot key `tes-node` runs with), after the licence owner
proposed that key with `ape run setup-node --operator <hot key>`. Accepting replaces any key the
node had (key rotation). Already the operator: says so and sends nothing. No proposal for this
key: says who is proposed (if anyone) and exits with status 1.
"""

import shlex
from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option

from oracle.ape_helpers import (
    ScriptError,
    account_ref,
    deployment_option,
    deployment_path,
    echo_tx,
    explain_revert,
    load_deployment,
    signing_options,
    transact,
)
from oracle.core.protocol import NodeStatus


def _status(node: Any) -> NodeStatus:
    return NodeStatus(node.status)


def _is_zero(address: Any) -> bool:
    return int(str(address), 16) == 0


@click.command(cls=ConnectedProviderCommand, short_help="Accept serving a node as its operator")
@network_option()
@account_option()
@deployment_option()
@click.option("--node-id", type=click.IntRange(1), required=True, help="Licence token id.")
@signing_options
def cli(provider: Any, account: Any, deployment: Path | None, node_id: int) -> None:
    """Accepts the licence owner's proposal to operate node --node-id with this account."""
    d = load_deployment(provider, deployment)
    registry = d.registry
    me = str(account.address)
    try:
        owner = str(d.licence.ownerOf(node_id))
    except Exception as err:  # noqa: BLE001 - ERC721NonexistentToken, decoded below
        raise ScriptError(f"licence #{node_id}: {explain_revert(err)}") from err

    current = str(registry.operatorOf(node_id))
    pending = str(registry.pendingOperatorOf(node_id))
    if pending.lower() != me.lower():
        if current.lower() == me.lower():
            click.echo(f"  [done] {me} is already the operator of node {node_id}")
            return
        proposed = "no key is proposed" if _is_zero(pending) else f"the proposed key is {pending}"
        raise ScriptError(
            f"node {node_id} has no proposal for {me} ({proposed}): the licence owner {owner}"
            f" must first run `ape run setup-node --node-id {node_id} --operator {me}`"
        )

    click.echo(f"Accepting node {node_id} (owner {owner}) as operator {me}")
    if not _is_zero(current):
        click.echo(f"  this replaces the current operator {current}")
    echo_tx(
        "accept operator",
        transact(
            "accepting the operator binding", registry.acceptOperator, node_id, sender=account
        ),
    )
    n = registry.node(node_id)
    status = _status(n)
    if status != NodeStatus.ACTIVE:
        click.echo(
            f"Node {node_id} is {status.name.capitalize()}: the licence owner activates it by running"
            f" `ape run setup-node --node-id {node_id} --operator {me}` again."
        )
    rpc = getattr(provider, "http_uri", None) or "<rpc url>"
    record = deployment or deployment_path(provider)
    run = ["tes-node", "run", "--rpc-url", rpc, "--deployment", str(record)]
    run += ["--account", account_ref(account)]
    click.echo(f"Run the node with this key:\n  {shlex.join(run)}")
