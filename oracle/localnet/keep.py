"""A kept local network (`tes-localnet up`): where it lives on disk, how it is made (deploy, licences,
nodes, funded accounts) and resumed, and its node processes supervised. The command line is
`oracle/localnet/cli.py`."""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import click

from oracle.core.units import format_tes
from oracle.localnet.network import (
    PASSPHRASE,
    REPO,
    Anvil,
    NodeProcess,
    dev_key,
    free_port,
    make_keystore,
)

E18 = 10**18
DEFAULT_DIR = ".localnet"
STATE, INFO, RECORD, ENV, LOCK = "state.json", "localnet.json", "deployment.json", "env", "lock"
# Roles by anvil development account index; node i's operator key is account OPERATOR0 + i.
# Operators start past ape's ten test accounts, which the tests, the demo and the benchmark run
# their nodes with: tes-node allows one process per operator key on a machine (a lock file), so
# the test suite and `make localnet` can run side by side.
DEPLOYER, TREASURY, CLIENT, OWNER, OPERATOR0 = 0, 1, 2, 3, 10


def _address_of(key: str) -> str:
    from eth_account import Account

    return Account.from_key(key).address


def _tes(wei: int) -> str:
    return format_tes(wei)


class Layout:
    """Where a local network keeps its things: one directory, nothing outside it."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.state = self.root / STATE
        self.info = self.root / INFO
        self.record = self.root / RECORD
        self.env = self.root / ENV
        self.ape = self.root / "ape"
        self.nodes = self.root / "nodes"
        self.anvil_log = self.root / "anvil.log"

    def read_info(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.info.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def exports(self, rpc_url: str) -> dict[str, str]:
        return {
            "TES_LOCALNET_DIR": str(self.root),
            "TES_RPC_URL": rpc_url,
            "TES_DEPLOYMENT": str(self.record),
            "APE_DATA_FOLDER": str(self.ape),
            "TES_PASSPHRASE": PASSPHRASE,
            "TES_CLIENT_ACCOUNT": "client",
            # ape's own scripts (`ape run claim-rewards --account owner`) unlock with these
            "APE_ACCOUNTS_client_PASSPHRASE": PASSPHRASE,
            "APE_ACCOUNTS_owner_PASSPHRASE": PASSPHRASE,
        }

    def write_env(self, rpc_url: str) -> None:
        lines = [
            "# TES local network (tes-localnet up). In another shell: source this file.",
            "# Development keys and passphrase: for this local chain only.",
        ]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in self.exports(rpc_url).items()]
        self.env.write_text("\n".join(lines) + "\n")


def _layout(directory: str | None) -> Layout:
    return Layout(Path(directory or os.environ.get("TES_LOCALNET_DIR") or DEFAULT_DIR))


def _has_code(w3, addresses: list[str]) -> bool:
    return all(len(w3.eth.get_code(a)) > 0 for a in addresses)


def _wipe(lay: Layout) -> None:
    """Deletes a kept network, and only that: the directory must be one `up` made."""
    if not lay.root.exists():
        return
    if not lay.info.exists() and any(lay.root.iterdir()):
        names = {p.name for p in lay.root.iterdir()}
        if not names <= {STATE, RECORD, ENV, LOCK, "ape", "nodes", "anvil.log"}:
            raise click.ClickException(
                f"--fresh: {lay.root} is not a tes-localnet directory; not deleting it"
            )
    lock = lay.root / LOCK
    if lock.exists():
        with open(lock) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise click.ClickException(
                    f"another `tes-localnet up` is running on {lay.root}: stop it first"
                ) from None
    shutil.rmtree(lay.root)


def _create(lay: Layout, url: str, n_nodes: int, epoch_s: int, client_wei: int) -> dict:
    """Deploys and wires the contracts, sets up n_nodes active nodes for the owner, funds the
    client, writes the ape keystores, the record and DIR/localnet.json (written last: a network
    is only resumed once all of this is done)."""
    import dataclasses

    click.echo("deploying the contracts and setting up the nodes (a new network)...")
    t = time.monotonic()
    cwd = os.getcwd()
    os.chdir(REPO)  # ape's project (the compiled contracts) is the repository
    try:
        from ape import accounts, networks, project
        from ape.logging import logger

        from oracle.localnet.deployment import DEFAULTS, deploy_all, save_record

        logger.set_level("WARNING")

        def dev(index: int):  # an ape signer for anvil's development account `index`
            return accounts.init_test_account(index, _address_of(dev_key(index)), dev_key(index))

        with networks.parse_network_choice(url):
            deployer, treasury, client, owner = (
                dev(i) for i in (DEPLOYER, TREASURY, CLIENT, OWNER)
            )
            params = dataclasses.replace(DEFAULTS, epoch_length=epoch_s)
            d = deploy_all(project, deployer, treasury, params=params)
            save_record("local", d, lay.record, abis=True)
            price = d.licence.tier(0).price
            tx = d.licence.buy(0, n_nodes, value=price * n_nodes, sender=owner)
            first = tx.decode_logs(d.licence.LicencesPurchased)[0].firstTokenId
            node_ids = list(range(first, first + n_nodes))
            stake = 2 * d.registry.minStake()
            d.token.transfer(owner, stake * n_nodes, sender=treasury)
            d.token.approve(d.registry, stake * n_nodes, sender=owner)
            caps = _capabilities()
            for i, node_id in enumerate(node_ids):
                op = dev(OPERATOR0 + i)
                d.registry.bindOperator(node_id, op, sender=owner)
                d.registry.acceptOperator(node_id, sender=op)  # the operator key consents
                d.registry.declareCapabilities(node_id, caps, sender=owner)
                d.registry.stake(node_id, stake, sender=owner)
                d.registry.activate(node_id, sender=owner)
            d.token.transfer(client, client_wei, sender=treasury)
            addresses = {
                "deployer": str(deployer.address),
                "treasury": str(treasury.address),
                "client": str(client.address),
                "owner": str(owner.address),
            }
    finally:
        os.chdir(cwd)
    make_keystore(lay.ape, "client", dev_key(CLIENT))
    make_keystore(lay.ape, "owner", dev_key(OWNER))
    info = {
        "nodes": n_nodes,
        "node_ids": node_ids,
        "stake": str(stake),
        "capabilities": list(caps),
        "epoch_length": epoch_s,
        "operator_account_index": OPERATOR0,
        "accounts": addresses,
        "client_tes": str(client_wei),
    }
    tmp = lay.info.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(lay.info)
    click.echo(f"deployed and set up in {time.monotonic() - t:.1f} s")
    return info


def _capabilities() -> tuple[int, int, int, int, int]:
    """What each node declares: this machine's cores and memory, no GPU (cpuCores, memoryMb,
    gpuCount, gpuMemoryMb, gpuClass)."""
    try:
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError):
        memory_mb = 4096
    return (os.cpu_count() or 1, int(memory_mb), 0, 0, 0)


def _resume_checks(lay: Layout, w3, info: dict) -> None:
    """A kept network: the chain must still hold the contracts, and no node may remember blocks
    the chain does not have (a chain state older than the nodes' databases, after a crash)."""
    try:
        record = json.loads(lay.record.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as err:
        raise click.ClickException(
            f"{lay.record} is missing or broken ({err}): start a new network with --fresh"
        ) from err
    if not _has_code(w3, list(record["contracts"].values())):
        raise click.ClickException(
            f"the chain restored from {lay.state} does not hold the contracts of {lay.record}:"
            " start a new network with --fresh"
        )
    head = w3.eth.block_number
    for i in range(info["nodes"]):
        node_dir = lay.nodes / f"op{i}"
        cursor = NodeProcess(f"op{i}", lay.nodes, "", lay.record, lay.ape).cursor()
        if cursor is not None and cursor > head:
            aside = node_dir.with_name(f"op{i}.stale-{int(time.time())}")
            node_dir.rename(aside)
            click.echo(
                f"warning: node op{i} had read up to block {cursor}, the restored chain ends at"
                f" {head} (its state file was older: an unclean stop?). Its database is moved to"
                f" {aside}; it starts afresh."
            )
    click.echo(f"resumed the network in {lay.root} at block {head}")


def _start_nodes(lay: Layout, url: str, n_nodes: int) -> list[NodeProcess]:
    procs = []
    for i in range(n_nodes):
        n = NodeProcess(
            f"op{i}", lay.nodes, url, lay.record, lay.ape, "--workers", "2",
            http_port=free_port(), metrics_port=free_port(), die_with_parent=True,
        )  # fmt: skip
        n.env["TES_POLL_INTERVAL_S"] = "0.5"
        for stale in ("http.url", "metrics.url"):
            (n.data_dir / stale).unlink(missing_ok=True)
        procs.append(n.start())
    end = time.monotonic() + 120
    for n in procs:
        while not (n.data_dir / "metrics.url").exists():
            if not n.alive():
                raise click.ClickException(
                    f"node {n.name} exited at start (log {n.log_path}):\n{n.log()[-3000:]}"
                )
            if time.monotonic() > end:
                raise click.ClickException(
                    f"node {n.name} did not start within 120 s ({n.log_path})"
                )
            time.sleep(0.2)
    return procs


def _print_ready(
    lay: Layout, anvil: Anvil, info: dict, procs: list[NodeProcess], block_time
) -> None:
    acc = info["accounts"]
    click.echo("")
    click.echo(
        f"TES local network ready: chain 31337 at {anvil.url}, a block every {block_time:g} s"
    )
    click.echo(f"  deployment  {lay.record}")
    click.echo(f"  client      {acc['client']} (ape account `client`)")
    click.echo(
        f"  owner       {acc['owner']} (ape account `owner`): licences {info['node_ids']},"
        f" each staked {_tes(int(info['stake']))}"
    )
    for i, n in enumerate(procs):
        http = (n.data_dir / "http.url").read_text()
        metrics = (n.data_dir / "metrics.url").read_text()
        click.echo(
            f"  node {info['node_ids'][i]}      tes-node `op{i}`: results {http}, metrics"
            f" {metrics}/metrics, log {n.log_path}"
        )
    click.echo(f"  epoch       {info['epoch_length']} s (rewards; `tes-localnet warp` skips ahead)")
    click.echo("")
    click.echo(f"In another shell (or `source {lay.env}`):")
    for k, v in lay.exports(anvil.url).items():
        click.echo(f"  export {k}={shlex.quote(v)}")
    click.echo("")
    click.echo(
        "These are anvil's public development keys under a published passphrase: this chain only."
    )
    click.echo(
        f"Ctrl-C stops everything; the network is kept in {lay.root} (`--fresh` starts over)."
    )
    click.echo("ready", nl=True)
    sys.stdout.flush()


def _supervise(procs: list[NodeProcess]) -> None:
    reported: set[str] = set()
    while True:
        time.sleep(1)
        for n in procs:
            if not n.alive() and n.name not in reported:
                reported.add(n.name)
                code = n.proc.returncode if n.proc else None
                click.echo(
                    f"warning: node {n.name} exited ({code}); see {n.log_path}. The chain and the"
                    " other nodes keep running; restart with Ctrl-C and `tes-localnet up`.",
                    err=True,
                )
