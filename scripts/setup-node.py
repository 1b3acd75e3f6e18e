"""Put a licence into service: propose the operator key, declare the hardware, stake, activate.

    ape run setup-node --network http://127.0.0.1:8545 --account alice --node-id 1 \\
        --operator 0xHotKey --stake 5000
    ape run accept-operator --network http://127.0.0.1:8545 --account hotkey --node-id 1
    ape run setup-node --network http://127.0.0.1:8545 --account alice --node-id 1 \\
        --operator 0xHotKey --stake 5000        # again: activates

Run it with the licence owner's account (cold wallet); --operator is the hot key `tes-node`
runs with. Binding is two-step: the owner only proposes the key, and the key itself must accept
(`ape run accept-operator` with the operator's account) before the node can be activated; until
then this command stops before activation and prints the command the operator runs.
Capabilities default to what this machine has (CPU cores, memory, GPUs by nvidia-smi or torch);
pass them to declare another machine's. Every step is skipped when the chain shows it done, so
the same command finishes a setup that stopped half-way (or waited for the operator); on a
failure it prints which steps are done and the exact command to finish.
"""

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option

from oracle.ape_helpers import (
    ADDRESS,
    TES,
    ScriptError,
    account_ref,
    deployment_option,
    deployment_path,
    echo_tx,
    explain_revert,
    format_tes,
    format_time,
    load_deployment,
    now,
    signing_options,
    transact,
)
from oracle.core.protocol import NodeStatus


def _status(node: Any) -> NodeStatus:
    return NodeStatus(node.status)


U8, U16, U32 = 2**8 - 1, 2**16 - 1, 2**32 - 1


def detect_capabilities() -> tuple[int, int, int, int, int]:
    """(cpuCores, memoryMb, gpuCount, gpuMemoryMb, gpuClass) of this machine. GPU memory is the
    smallest card's (a job needing N GB per GPU fits every card); class 1 = "has a GPU"."""
    from oracle.execute.gpu import describe_gpus

    cores = os.cpu_count() or 1
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    gpus = describe_gpus()
    gpu_mem = min((g.memory_mb for g in gpus), default=0)
    return (
        min(cores, U16),
        min(memory_mb, U32),
        min(len(gpus), U8),
        min(gpu_mem, U32),
        1 if gpus else 0,
    )


@dataclass
class Step:
    name: str
    done: bool
    detail: str


def _tes_arg(wei: int) -> str:
    return format_tes(wei, exact=True).replace(",", "")


@click.command(
    cls=ConnectedProviderCommand, short_help="Propose operator, declare, stake and activate a node"
)
@network_option()
@account_option()
@deployment_option()
@click.option("--node-id", type=click.IntRange(1), required=True, help="Licence token id.")
@click.option(
    "--operator",
    type=ADDRESS,
    help="Hot key that claims jobs and signs proofs (address or ape alias); it must accept"
    " with `ape run accept-operator`. Default: the operator already bound (or proposed).",
)
@click.option("--cpu-cores", type=click.IntRange(1, U16), help="Default: this machine's.")
@click.option(
    "--memory-mb", type=click.IntRange(1, U32), help="Default: this machine's total memory."
)
@click.option("--gpus", type=click.IntRange(0, U8), help="Default: GPUs found on this machine.")
@click.option("--gpu-memory-mb", type=click.IntRange(0, U32), help="Per GPU. Default: detected.")
@click.option(
    "--gpu-class",
    type=click.IntRange(0, U8),
    help="0 = no GPU; higher = more capable. Default: 1 with a GPU, else 0.",
)
@click.option(
    "--stake",
    "stake_target",
    type=TES,
    help="Total TES the node should have bonded; only what is missing is staked."
    " Default: the registry's minimum stake.",
)
@signing_options
def cli(
    provider: Any,
    account: Any,
    deployment: Path | None,
    node_id: int,
    operator: str | None,
    cpu_cores: int | None,
    memory_mb: int | None,
    gpus: int | None,
    gpu_memory_mb: int | None,
    gpu_class: int | None,
    stake_target: int | None,
) -> None:
    """Proposes --operator, declares the capabilities, stakes up to --stake and, once the
    operator has accepted, activates node --node-id, skipping whatever is already done."""
    from ape import chain

    d = load_deployment(provider, deployment)
    registry, token, licence = d.registry, d.token, d.licence
    me = str(account.address)

    # ---- checks: everything that would stop the setup half-way, before the first transaction
    try:
        owner = str(licence.ownerOf(node_id))
    except Exception as err:  # noqa: BLE001 - ERC721NonexistentToken, decoded below
        raise ScriptError(f"licence #{node_id}: {explain_revert(err)}") from err
    if owner.lower() != me.lower():
        raise ScriptError(
            f"{me} is not the licence owner of node {node_id} (the owner is {owner}): run this"
            " with --account set to the owner's account"
        )
    node = registry.node(node_id)
    status = _status(node)
    if status == NodeStatus.RETIRED:
        raise ScriptError(f"node {node_id} is retired: it cannot serve again")
    pending = str(registry.pendingOperatorOf(node_id))
    if operator is None:
        if int(str(node.operator), 16) != 0:
            operator = str(node.operator)
        elif int(pending, 16) != 0:
            operator = pending
        else:
            raise ScriptError(
                f"node {node_id} has no operator yet: pass --operator <hot key address>"
            )
    given = (cpu_cores, memory_mb, gpus, gpu_memory_mb, gpu_class)
    detected = detect_capabilities() if None in given else given
    caps = tuple(d if g is None else g for g, d in zip(given, detected, strict=True))
    min_stake = registry.minStake()
    target = min_stake if stake_target is None else stake_target
    if target < min_stake:
        raise ScriptError(
            f"--stake {format_tes(target)} is below the minimum stake {format_tes(min_stake)}:"
            " the node could not be activated"
        )
    missing = max(target - node.stake, 0)
    if missing and token.balanceOf(me) < missing:
        raise ScriptError(
            f"staking needs {format_tes(missing)} more but {me} holds"
            f" {format_tes(token.balanceOf(me))}: get TES first (nothing was sent)"
        )
    if status == NodeStatus.JAILED and now(chain) < node.jailedUntil:
        raise ScriptError(f"node {node_id} is jailed until {format_time(node.jailedUntil)}")

    finish = [
        "ape", "run", "setup-node", "--network", provider.network_choice, "--account", account_ref(account),
        *(["--deployment", str(deployment)] if deployment else []),
        "--node-id", str(node_id), "--operator", operator,
        "--cpu-cores", str(caps[0]), "--memory-mb", str(caps[1]), "--gpus", str(caps[2]),
        "--gpu-memory-mb", str(caps[3]), "--gpu-class", str(caps[4]), "--stake", _tes_arg(target),
    ]  # fmt: skip
    bound = str(node.operator).lower() == operator.lower()
    proposed = pending.lower() == operator.lower()
    steps = [
        Step(
            "propose operator",
            bound or proposed,
            f"{operator} {'bound' if bound else 'proposed, not accepted yet'}",
        ),
        Step(
            "declare capabilities",
            tuple(node.capabilities) == caps,
            "cpu {} cores, {} MB memory, {} GPU(s) x {} MB, GPU class {}".format(*caps),
        ),
        Step(
            "stake", missing == 0, f"{format_tes(node.stake)} bonded, target {format_tes(target)}"
        ),
        Step("activate", status == NodeStatus.ACTIVE, status.name.capitalize()),
    ]

    click.echo(f"Setting up node {node_id} on {provider.network_choice} as {me}")
    for step in steps:
        if step.done:
            click.echo(f"  [done] {step.name}: already ({step.detail})")
            continue
        if step.name == "activate" and not _accepted(registry, node_id, operator):
            click.echo(f"  [wait] {step.name}: operator {operator} has not accepted yet")
            break
        try:
            _run(step.name, d, account, node_id, operator, caps, missing)
        except ScriptError as err:
            done = [s.name for s in steps if s.done]
            todo = [s.name for s in steps if not s.done]
            raise ScriptError(
                f"{err.message}\n"
                f"  done: {', '.join(done) or 'nothing'}; not done: {', '.join(todo)}\n"
                f"  to finish, fix the cause and run:\n    {shlex.join(finish)}"
            ) from err
        step.done = True
    n = registry.node(node_id)
    rpc = getattr(provider, "http_uri", None) or "<rpc url>"
    record = deployment or deployment_path(provider)
    if not _accepted(registry, node_id, operator):
        accept = [
            "ape", "run", "accept-operator", "--network", provider.network_choice,
            "--account", "<operator alias>", *(["--deployment", str(deployment)] if deployment else []),
            "--node-id", str(node_id),
        ]  # fmt: skip
        current = "none" if int(str(n.operator), 16) == 0 else str(n.operator)
        active = _status(n) == NodeStatus.ACTIVE
        click.echo(
            f"Node {node_id} is {_status(n).name.capitalize()} (operator: {current}).\n"
            f"ACTION NEEDED: the operator key {operator} must accept the binding before it can"
            f" act for the node{'' if active else ' and the node can be activated'}."
            f" With the operator's account, run:\n  {shlex.join(accept)}"
        )
        if not active:
            click.echo(f"Then run this command again to activate:\n  {shlex.join(finish)}")
        return
    click.echo(
        f"Node {node_id} is {_status(n).name.capitalize()}: operator {n.operator}, stake {format_tes(n.stake)}.\n"
        f"Run it on the node machine with the operator key:\n"
        f"  tes-node run --rpc-url {rpc} --deployment {record} --account <operator alias>"
    )


def _accepted(registry: Any, node_id: int, operator: str) -> bool:
    return str(registry.operatorOf(node_id)).lower() == operator.lower()


def _run(
    name: str, d: Any, account: Any, node_id: int, operator: str, caps: tuple, missing: int
) -> None:
    registry, token = d.registry, d.token
    if name == "propose operator":
        echo_tx(name, transact(name, registry.bindOperator, node_id, operator, sender=account))
    elif name == "declare capabilities":
        echo_tx(name, transact(name, registry.declareCapabilities, node_id, caps, sender=account))
    elif name == "stake":
        if token.allowance(account.address, registry.address) < missing:
            r = transact(
                "approve TES for staking", token.approve, registry.address, missing, sender=account
            )
            echo_tx(f"approve {format_tes(missing)}", r)
        echo_tx(
            f"stake {format_tes(missing)}",
            transact(name, registry.stake, node_id, missing, sender=account),
        )
    elif name == "activate":
        echo_tx(name, transact(name, registry.activate, node_id, sender=account))
