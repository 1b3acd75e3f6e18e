"""`tes-localnet`: a TES network of your own on this machine, to keep using between runs.

    tes-localnet up                  # anvil (a block every 2 s) + contracts + 3 tes-node processes
    source .localnet/env             # in another shell: RPC URL, deployment, accounts, passphrase
    tes-localnet fund client 500     # TES (and ETH for gas) from the local treasury
    tes-localnet warp 1h             # move the local chain's clock forward (epochs, windows)

Everything lives under one directory (`--dir`, default `.localnet/`): anvil's state file, the
deployment record, the ape accounts (an ape data folder of its own), each node's database and log.
`up` without `--fresh` resumes that network where it stopped. The keys are anvil's public
development keys under a published passphrase: for local chains only, never for real funds.
See docs/first-job.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import click

from oracle.localnet.keep import (
    DEFAULT_DIR,
    LOCK,
    OPERATOR0,
    Layout,
    _address_of,
    _create,
    _has_code,
    _layout,
    _print_ready,
    _resume_checks,
    _start_nodes,
    _supervise,
    _tes,
    _wipe,
)
from oracle.localnet.network import (
    DEV_CHAIN_IDS,
    Anvil,
    NodeProcess,
    dev_key,
    free_port,
    make_keystore,
)

PUBLIC_CHAINS = {1: "Ethereum mainnet", 11155111: "Sepolia", 17000: "Holesky", 560048: "Hoodi"}
ERC20_ABI = [
    {"type": "function", "name": "balanceOf", "stateMutability": "view",
     "inputs": [{"name": "a", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "transfer", "stateMutability": "nonpayable",
     "inputs": [{"name": "to", "type": "address"}, {"name": "v", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}]},
]  # fmt: skip


# ---------------------------------------------------------------------------- the directory


# ---------------------------------------------------------------------------- the chain
def _web3(rpc_url: str):
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
    try:
        chain_id = w3.eth.chain_id
    except Exception as err:  # noqa: BLE001 - any failure to reach the chain: say where and why
        raise click.ClickException(
            f"no chain answers at {rpc_url} ({type(err).__name__}): is `tes-localnet up` running?"
            " (or pass --rpc-url / set TES_RPC_URL)"
        ) from err
    return w3, chain_id


def _require_dev_chain(chain_id: int, rpc_url: str, what: str, hint: str) -> None:
    """Refuses anything but a local development chain: faucets and clock warps are for chains
    nobody else uses."""
    if chain_id in DEV_CHAIN_IDS:
        return
    name = PUBLIC_CHAINS.get(chain_id, "not a local development chain")
    raise click.ClickException(
        f"refusing to {what}: {rpc_url} is chain {chain_id} ({name}), and only a local"
        f" development chain (chain id {' or '.join(map(str, DEV_CHAIN_IDS))}, e.g."
        f" `tes-localnet up`) may be {hint}"
    )


def _rpc(w3, method: str, params: list) -> Any:
    response = w3.provider.make_request(method, params)
    if "error" in response:
        raise click.ClickException(f"{method} failed: {response['error'].get('message')}")
    return response.get("result")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as servers bind (TIME_WAIT is free)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ---------------------------------------------------------------------------- commands
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """A TES network of your own on this machine: a local chain whose clock moves, the contracts,
    node processes and funded accounts, kept between runs (docs/first-job.md).

    \b
      tes-localnet up              # start (or resume) it; Ctrl-C stops everything
      source .localnet/env         # in another shell: the exports `up` printed
      tes-localnet fund ADDRESS 100
      tes-localnet warp 1d         # skip ahead: rewards epochs, dispute windows
    """


dir_option = click.option(
    "--dir",
    "directory",
    envvar="TES_LOCALNET_DIR",
    help=f"Directory holding the network (default {DEFAULT_DIR}/; env TES_LOCALNET_DIR).",
)


@main.command()
@dir_option
@click.option("--nodes", type=click.IntRange(1, 16), help="tes-node processes (default 3).")
@click.option(
    "--block-time",
    type=click.FloatRange(0.1, 60),
    default=2.0,
    show_default=True,
    help="Seconds between blocks when nothing happens, so the clock moves (transactions are"
    " still mined at once).",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8545, show_default=True, help="RPC port."
)
@click.option(
    "--epoch-length",
    default="1h",
    show_default=True,
    help="Rewards epoch of a new network (protocol default 1d), e.g. 10m, 1h.",
)
@click.option(
    "--client-tes",
    default="10000",
    show_default=True,
    help="TES the client account starts with (a new network).",
)
@click.option("--fresh", is_flag=True, help="Delete the kept network and start a new one.")
def up(directory, nodes, block_time, port, epoch_length, client_tes, fresh) -> None:
    """Start (or resume) the local network and keep it running until Ctrl-C (SIGINT/SIGTERM).

    A new network: anvil, the five contracts deployed and wired, an `owner` account holding N
    licences, each bound to its own operator key with 2x the minimum stake and active, N tes-node
    processes, and a `client` account with TES. Later runs resume it from DIR/state.json (chain),
    DIR/nodes/ (node databases) and the accounts in DIR/ape/; --fresh starts over."""
    from oracle.ape_helpers import parse_duration, parse_tes

    lay = _layout(directory)
    try:
        epoch_s = parse_duration(epoch_length)
        client_wei = parse_tes(client_tes)
    except ValueError as err:
        raise click.BadParameter(str(err)) from err
    if fresh:
        _wipe(lay)
    lay.root.mkdir(parents=True, exist_ok=True)
    lock = open(lay.root / LOCK, "a+")  # noqa: SIM115 (held for the whole run)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise click.ClickException(
            f"another `tes-localnet up` is running on {lay.root} (stop it with Ctrl-C first)"
        ) from None
    info = lay.read_info() if lay.state.exists() else None
    if info is None and lay.info.exists():
        raise click.ClickException(
            f"{lay.root} holds a network whose chain state ({lay.state}) is gone:"
            " start a new one with --fresh"
        )
    if info is not None and nodes is not None and nodes != info["nodes"]:
        raise click.ClickException(
            f"the network in {lay.root} has {info['nodes']} nodes; --nodes {nodes} needs --fresh"
        )
    n_nodes = info["nodes"] if info is not None else (nodes or 3)
    if not _port_free(port):
        raise click.ClickException(
            f"port {port} is in use (another chain?): pass --port, e.g. --port {free_port()}"
        )

    anvil = Anvil(
        port,
        lay.anvil_log,
        block_time,
        state=lay.state,
        state_interval=30,
        accounts=max(10, OPERATOR0 + n_nodes),
        mixed_mining=True,
        die_with_parent=True,
    )
    procs: list[NodeProcess] = []
    # Ctrl-C reaches us only (anvil and the nodes run in sessions of their own); SIGTERM too.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        click.echo(
            f"starting anvil on {anvil.url} (block every {block_time:g} s; log {lay.anvil_log})"
        )
        anvil.start(timeout=120)
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
        if info is None:
            info = _create(lay, anvil.url, n_nodes, epoch_s, client_wei)
            # importing ape made SIGINT exit at once (sys.exit(130)): Ctrl-C must stop the network
            signal.signal(signal.SIGINT, signal.default_int_handler)
        else:
            _resume_checks(lay, w3, info)
        first_op = info.get("operator_account_index", OPERATOR0)
        for i in range(n_nodes):
            make_keystore(lay.ape, f"op{i}", dev_key(first_op + i))  # idempotent
        procs = _start_nodes(lay, anvil.url, n_nodes)
        lay.write_env(anvil.url)
        _print_ready(lay, anvil, info, procs, block_time)
        _supervise(procs)
    except KeyboardInterrupt:
        click.echo("\nstopping...")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup short
        for n in procs:
            if n.alive() and n.proc is not None:
                n.proc.terminate()
        for n in procs:
            n.stop()
        anvil.stop(timeout=120)  # writes the state file
        if lay.info.exists():
            click.echo(
                f"stopped. The network is kept in {lay.root}: `tes-localnet up` resumes it,"
                " `tes-localnet up --fresh` starts over."
            )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------- fund
def _load_record(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise click.ClickException(
            f"no deployment record at {path}: pass --deployment or set TES_DEPLOYMENT"
            " (`tes-localnet up` writes .localnet/deployment.json)"
        ) from err
    except json.JSONDecodeError as err:
        raise click.ClickException(f"{path} is not a deployment record: {err}") from err


def _resolve(who: str, lay: Layout) -> str:
    """An address, or the alias of an ape account (APE_DATA_FOLDER, else the network's own)."""
    from eth_utils import is_address, to_checksum_address

    if is_address(who):
        return to_checksum_address(who)
    folder = Path(os.environ.get("APE_DATA_FOLDER") or lay.ape)
    keyfile = folder / "accounts" / f"{who}.json"
    try:
        return to_checksum_address(
            "0x" + json.loads(keyfile.read_text())["address"].removeprefix("0x")
        )
    except (FileNotFoundError, KeyError, json.JSONDecodeError, ValueError) as err:
        raise click.ClickException(
            f"{who!r} is neither an address nor an ape account in {folder / 'accounts'}"
        ) from err


chain_options = [
    click.option("--rpc-url", envvar="TES_RPC_URL", default="http://127.0.0.1:8545", show_default=True,
                 help="The local chain (env TES_RPC_URL)."),
    dir_option,
]  # fmt: skip


def with_chain(f):
    for opt in reversed(chain_options):
        f = opt(f)
    return f


@main.command()
@click.argument("who")
@click.argument("amount")
@with_chain
@click.option(
    "--deployment",
    envvar="TES_DEPLOYMENT",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Deployment record (default DIR/deployment.json; env TES_DEPLOYMENT).",
)
@click.option(
    "--eth",
    default="10",
    show_default=True,
    help="Also make sure WHO holds at least this much ETH for gas (0: leave it).",
)
def fund(who, amount, rpc_url, directory, deployment, eth) -> None:
    """Give WHO (an address or an ape account alias) AMOUNT TES on a local development chain,
    from its treasury (one of anvil's development accounts), and ETH for gas. Refuses any chain
    whose id is not a local development chain's (31337, 1337)."""
    from oracle.ape_helpers import parse_eth, parse_tes

    try:
        wei, eth_wei = parse_tes(amount), parse_eth(eth)
    except ValueError as err:
        raise click.BadParameter(str(err)) from err
    w3, chain_id = _web3(rpc_url)
    _require_dev_chain(
        chain_id,
        rpc_url,
        "fund an account",
        "funded from its development accounts. On a public"
        " network TES is bought or received from someone who holds it.",
    )
    lay = _layout(directory)
    to = _resolve(who, lay)
    record_path = deployment or lay.record
    record = _load_record(record_path)
    if int(record.get("chainId", 0)) != chain_id or not _has_code(
        w3, [record["contracts"]["TESToken"]]
    ):
        raise click.ClickException(
            f"{record_path} does not describe the chain at {rpc_url} (no TESToken at its address):"
            " pass the matching --deployment"
        )
    token = w3.eth.contract(address=record["contracts"]["TESToken"], abi=ERC20_ABI)
    if wei:
        holders = [
            (token.functions.balanceOf(_address_of(dev_key(i))).call(), i) for i in range(10)
        ]
        balance, index = max(holders)
        if balance < wei:
            raise click.ClickException(
                f"the local treasury (anvil's development accounts) holds {_tes(balance)}, less than"
                f" {_tes(wei)}"
            )
        _send(w3, dev_key(index), token.functions.transfer(to, wei), chain_id)
    if eth_wei and w3.eth.get_balance(to) < eth_wei:
        for method in ("anvil_setBalance", "hardhat_setBalance"):
            response = w3.provider.make_request(method, [to, hex(eth_wei)])
            if "error" not in response:
                break
        else:
            click.echo("warning: this chain cannot set ETH balances; no ETH sent", err=True)
    from oracle.ape_helpers import format_eth

    click.echo(
        f"{to} now holds {_tes(token.functions.balanceOf(to).call())} and"
        f" {format_eth(w3.eth.get_balance(to))}"
    )


def _send(w3, key: str, call, chain_id: int) -> None:
    from eth_account import Account

    sender = Account.from_key(key)
    tx = call.build_transaction(
        {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
         "chainId": chain_id}
    )  # fmt: skip
    signed = sender.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=60
    )
    if receipt["status"] != 1:
        raise click.ClickException(f"the transfer reverted (tx {receipt['transactionHash'].hex()})")


# ---------------------------------------------------------------------------- warp
@main.command()
@click.argument("duration")
@with_chain
def warp(duration, rpc_url, directory) -> None:
    """Move a local development chain's clock DURATION ahead (e.g. 90s, 10m, 1h, 1d) and mine a
    block: ends a rewards epoch or a dispute window without waiting. Refuses other chains."""
    from datetime import UTC, datetime

    from oracle.ape_helpers import format_duration, parse_duration

    try:
        seconds = parse_duration(duration)
    except ValueError as err:
        raise click.BadParameter(str(err)) from err
    w3, chain_id = _web3(rpc_url)
    _require_dev_chain(
        chain_id,
        rpc_url,
        "move the clock",
        "moved: a public chain's time only moves forward at its own pace.",
    )
    _rpc(w3, "evm_increaseTime", [seconds])
    _rpc(w3, "evm_mine", [])
    now = w3.eth.get_block("latest")["timestamp"]
    when = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    click.echo(
        f"chain clock moved {format_duration(seconds)} ahead: now {when} (block {w3.eth.block_number})"
    )


# ---------------------------------------------------------------------------- env
@main.command()
@dir_option
def env(directory) -> None:
    """Print the exports of the network in DIR (for `eval "$(tes-localnet env)"`)."""
    lay = _layout(directory)
    if not lay.env.exists():
        raise click.ClickException(f"no network in {lay.root}: start one with `tes-localnet up`")
    click.echo(lay.env.read_text(), nl=False)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
