"""The connected network and its deployment record: which record it reads, the wired contracts,
a licence's node record, the time a transaction sent now sees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from oracle.ape_helpers.params import ScriptError
from oracle.ape_helpers.reverts import explain_revert
from oracle.localnet.deployment import Deployment, DeploymentError, attach, load_record, record_path

# Chains that only ever exist on a developer's machine (anvil / hardhat, ganache / geth --dev).
DEV_CHAIN_IDS = (31337, 1337)


def now(chain: Any) -> int:
    """The timestamp the next block will (at least) have: what a transaction sent now sees."""
    return int(chain.pending_timestamp)


# ------------------------------------------------------------------ deployment record
def is_dev_network(provider: Any) -> bool:
    """A chain that lives on this machine: ape's local networks, forks, anvil at a URL."""
    network = provider.network
    return bool(
        network.is_local or getattr(network, "is_fork", False) or provider.chain_id in DEV_CHAIN_IDS
    )


def record_name(provider: Any) -> str:
    """The record's name for the connected network: `local` for a chain on this machine, the
    network's name on ethereum (`sepolia`, `mainnet`), `<ecosystem>-<network>` elsewhere, and
    `chain-<id>` for a bare URL."""
    network = provider.network
    if is_dev_network(provider):
        return "local"
    if network.name == "custom":  # `--network https://...`
        return f"chain-{provider.chain_id}"
    eco = network.ecosystem.name
    return network.name if eco == "ethereum" else f"{eco}-{network.name}"


def deployment_path(provider: Any, path: Path | None = None) -> Path:
    return Path(path) if path is not None else record_path(record_name(provider))


def deployment_option(**kwargs: Any) -> Callable:
    return click.option(
        "--deployment",
        "deployment",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="TES_DEPLOYMENT",
        default=None,
        help="Deployment record (default: deployments/<network>.json, as `ape run deploy` writes it;"
        " env TES_DEPLOYMENT).",
        **kwargs,
    )


def load_deployment(provider: Any, path: Path | None = None) -> Deployment:
    """The wired contracts of the connected network, from its record; a ScriptError that says
    what to do when the record is missing, for another chain, or names contracts that are gone."""
    from ape import chain, project

    path = deployment_path(provider, path)
    choice = provider.network_choice
    if provider.name == "test":
        raise ScriptError(
            f"--network {choice} is an empty chain inside this process: pass the network of the"
            " deployment, e.g. --network http://127.0.0.1:8545 for a local anvil"
        )
    try:
        record = load_record(record_name(provider), path)
    except DeploymentError as err:
        raise ScriptError(
            f"{err}: run `ape run deploy --network {choice}` first, or pass --deployment"
        ) from err
    if record.chain_id != chain.chain_id:
        raise ScriptError(
            f"{path} is for chain {record.chain_id} ({record.network}); --network {choice} is chain"
            f" {chain.chain_id}"
        )
    missing = [name for name, a in record.contracts.items() if not provider.get_code(a)]
    if missing:
        raise ScriptError(
            f"{path} names contracts that do not exist on {choice} ({', '.join(missing)}): the chain"
            f" was reset since it was written. Run `ape run deploy --network {choice}` again."
        )
    try:
        return attach(project, record)
    except DeploymentError as err:
        raise ScriptError(str(err)) from err


def node_of_owner(d: Deployment, node_id: int, me: str) -> Any:
    """The registry's record of node `node_id` (a NodeRecord), after checking that the licence
    exists and `me` owns it; a ScriptError that says who does otherwise."""

    try:
        owner = str(d.licence.ownerOf(node_id))
    except Exception as err:  # noqa: BLE001 - ERC721NonexistentToken, decoded
        raise ScriptError(f"licence #{node_id}: {explain_revert(err)}") from err
    if owner.lower() != me.lower():
        raise ScriptError(
            f"{me} is not the licence owner of node {node_id} (the owner is {owner}): run this"
            " with --account set to the owner's account"
        )
    return node_record(d, node_id)


def owned_licences(licence: Any, owner: str) -> list[int]:
    """Token ids `owner` holds (ids run 1..totalMinted; stops once all are found)."""
    want = licence.balanceOf(owner)
    found: list[int] = []
    token_id = 1
    total = licence.totalMinted()
    while len(found) < want and token_id <= total:
        if str(licence.ownerOf(token_id)).lower() == owner.lower():
            found.append(token_id)
        token_id += 1
    return found


def node_record(d: Deployment, node_id: int) -> Any:
    """`NodeRegistry.node(node_id)` as the typed NodeRecord (statuses as NodeStatus)."""
    from dataclasses import fields

    from oracle.core.protocol import NodeRecord

    raw = d.registry.node(node_id)
    names = [f.name for f in fields(NodeRecord)]
    values = [getattr(raw, name) for name in names]
    values[names.index("capabilities")] = tuple(
        getattr(raw.capabilities, k)
        for k in ("cpuCores", "memoryMb", "gpuCount", "gpuMemoryMb", "gpuClass")
    )
    return NodeRecord.from_raw(values)
