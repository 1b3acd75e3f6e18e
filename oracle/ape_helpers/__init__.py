"""What the `ape run` scripts share: amounts, durations and addresses as a user types them, the
deployment record of the connected network, and reverts turned into messages a person can act on.

    amount = parse_tes("1.5e21 wei")                      # 1_500 * 10**18
    d = load_deployment(provider, path)                   # contracts of the connected network
    receipt = transact("buy", d.licence.buy, 0, 1, value=price, sender=account)
    # on a revert: ScriptError("buy failed: tier 0 is sold out [NodeLicense.NodeLicenseSoldOut(...)]")

Every failure the scripts expect is a `ScriptError` (a click exception: "Error: ..." on stderr,
exit status 1), never a traceback.
"""

from __future__ import annotations

import ast
import functools
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from eth_abi import decode as abi_decode
from eth_utils import is_address, keccak, to_checksum_address

from oracle.core.protocol import JobStatus, NodeStatus, SeatState
from oracle.localnet.deployment import (
    CONTRACT_NAMES,
    Deployment,
    DeploymentError,
    attach,
    load_record,
    record_path,
)

E18 = 10**18
# Chains that only ever exist on a developer's machine (anvil / hardhat, ganache / geth --dev).
DEV_CHAIN_IDS = (31337, 1337)


class ScriptError(click.ClickException):
    """An expected failure: printed as `Error: <message>`, exit status 1."""


# ------------------------------------------------------------------ amounts
_UNITS = {"wei": 1, "gwei": 10**9, "tes": E18, "eth": E18, "ether": E18}
_AMOUNT = re.compile(r"^\s*([0-9][0-9_,]*(?:\.[0-9]+)?(?:e[+]?[0-9]+)?)\s*([a-z]*)\s*$", re.I)


def parse_amount(text: str | int, unit: str = "tes") -> int:
    """An amount in wei from "1000", "1000 TES", "1.5e21 wei", "0.25 ETH" or "3 gwei".

    A bare number is in `unit` (`tes` or `eth`). Exact (no floats): refuses negatives, fractions of
    a wei and the other currency's unit ("1 ETH" where TES is meant)."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    m = _AMOUNT.match(str(text))
    if not m:
        raise ValueError(
            f"not an amount: {text!r} (e.g. 1000, '1000 {unit.upper()}', '1.5e21 wei')"
        )
    number, given = m.group(1).replace("_", "").replace(",", ""), (m.group(2) or unit).lower()
    allowed = {"wei", "gwei", unit} | ({"ether"} if unit == "eth" else set())
    if given not in allowed:
        raise ValueError(f"{text!r}: unit {given!r} not allowed here (use {unit.upper()} or wei)")
    try:
        value = Decimal(number) * _UNITS[given]
    except InvalidOperation as err:
        raise ValueError(f"not an amount: {text!r}") from err
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of wei")
    return int(value)


def parse_tes(text: str | int) -> int:
    return parse_amount(text, "tes")


def parse_eth(text: str | int) -> int:
    return parse_amount(text, "eth")


# Decimals shown of an amount: enough for any fee or reward a person compares, never 18.
SHOWN_DECIMALS = 4


def format_amount(wei: int, unit: str, exact: bool = False) -> str:
    """12_500 * 10**17 -> "1,250 TES"; at most SHOWN_DECIMALS decimals, cut (never rounded up),
    trailing zeros dropped; a non-zero amount below that shows as "<0.0001 TES", never as 0.
    `exact` keeps every decimal (for a value a command line will read back)."""
    value = int(wei)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), E18)
    decimals = f"{frac:018d}".rstrip("0")
    if not exact:
        decimals = decimals[:SHOWN_DECIMALS].rstrip("0")
        if frac and not whole and not decimals:
            return f"{sign}<0.{'0' * (SHOWN_DECIMALS - 1)}1 {unit}"
    return f"{sign}{whole:,}{'.' + decimals if decimals else ''} {unit}"


def format_tes(wei: int, exact: bool = False) -> str:
    return format_amount(wei, "TES", exact)


def format_eth(wei: int, exact: bool = False) -> str:
    return format_amount(wei, "ETH", exact)


class Amount(click.ParamType):
    """A click option type for `parse_amount`."""

    def __init__(self, unit: str = "tes") -> None:
        self.unit = unit
        self.name = f"{unit.upper()} amount"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return parse_amount(value, self.unit)
        except ValueError as err:
            self.fail(str(err), param, ctx)


TES = Amount("tes")
ETH = Amount("eth")


# ------------------------------------------------------------------ durations and times
_DURATION = re.compile(r"^\s*([0-9]+)\s*(s|m|h|d|w)?\s*$", re.I)
_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def parse_duration(text: str | int) -> int:
    """Seconds from "3600", "90m", "12h", "7d" or "2w"."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (e.g. 3600, 90m, 12h, 7d)")
    return int(m.group(1)) * _SECONDS[(m.group(2) or "s").lower()]


def parse_time(text: str | int) -> int:
    """A unix timestamp from "0" (none), "1767225600" or an ISO 8601 time ("2026-01-01T00:00Z";
    UTC when it names no zone)."""
    s = str(text).strip()
    if s.isdigit():
        return int(s)
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError as err:
        raise ValueError(f"not a time: {text!r} (unix seconds or ISO 8601)") from err
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp())


def format_time(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: int) -> str:
    """3_720 -> "1h 2m": the two largest units."""
    seconds = int(seconds)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return " ".join(parts[:2]) or "0s"


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return parse_duration(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


class Timestamp(click.ParamType):
    name = "time"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return parse_time(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


# ------------------------------------------------------------------ addresses and accounts
def resolve_address(value: str) -> str:
    """A checksummed address from a 0x address, an ape account alias or `TEST::<n>`."""
    value = str(value).strip()
    if is_address(value):
        return to_checksum_address(value)
    from ape import accounts

    if value.upper().startswith("TEST::") and value[6:].isdigit():
        index = int(value[6:])
        if index < len(accounts.test_accounts):
            return str(accounts.test_accounts[index].address)
    elif value in accounts.aliases:
        return str(accounts.load(value).address)
    raise ValueError(f"{value!r} is neither an address nor an ape account alias")


class AddressParam(click.ParamType):
    name = "address"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        try:
            return resolve_address(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


ADDRESS = AddressParam()


# ------------------------------------------------------------------ signing without prompts
PASSPHRASE_ENV = "TES_PASSPHRASE"


def read_passphrase(passphrase_file: Path | None) -> str | None:
    """The keystore passphrase the way tes-node takes it: TES_PASSPHRASE, else the first line of
    --passphrase-file; None when neither is given."""
    if env := os.environ.get(PASSPHRASE_ENV):
        return env
    if passphrase_file is not None:
        try:
            return Path(passphrase_file).read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise ScriptError(f"cannot read the passphrase file {passphrase_file}: {err}") from err
    return None


def unlock_account(account: Any, yes: bool, passphrase_file: Path | None = None) -> None:
    """Unlocks an ape keystore account with TES_PASSPHRASE / --passphrase-file (no passphrase
    prompt) and, with --yes, lets it sign every transaction of this command without asking
    `Sign: [y/N]`. Test accounts (TEST::n) never ask. --yes without a passphrase asks for it
    once on a terminal and is an error elsewhere (a prompt nobody can answer would hang)."""
    if not hasattr(account, "set_autosign"):
        return  # a test account or a hardware wallet: nothing to unlock here
    from ape.exceptions import AccountsError
    from ape.logging import LogLevel, logger

    alias = getattr(account, "alias", None) or account.address
    passphrase = read_passphrase(passphrase_file)
    ape_env = f"APE_ACCOUNTS_{alias}_PASSPHRASE"
    if yes and passphrase is None and ape_env not in os.environ and not sys.stdin.isatty():
        raise ScriptError(
            f"--yes signs without asking, but there is no passphrase for account {alias!r}: set"
            f" {PASSPHRASE_ENV} or pass --passphrase-file (nothing was sent)"
        )
    try:
        with logger.at_level(LogLevel.ERROR):  # not ape's "Danger! ... will sign any transaction"
            if yes:
                account.set_autosign(True, passphrase=passphrase)
            elif passphrase is not None:
                account.unlock(passphrase=passphrase)
    except AccountsError as err:
        source = PASSPHRASE_ENV if os.environ.get(PASSPHRASE_ENV) else "the passphrase file"
        raise ScriptError(
            f"cannot unlock account {alias!r} with {source}: wrong passphrase? ({err})"
        ) from err
    # ape warns "Using cached key for <alias>" before every signature of an unlocked account.
    logging.getLogger("ape").addFilter(_NoCachedKeyNotice())
    if yes:
        click.echo(f"Signing as {account.address} ({alias}) without prompts (--yes)", err=True)


class _NoCachedKeyNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Using cached key")


def signing_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --yes and --passphrase-file to a script's command; the account is unlocked before
    the command body runs. Put it right above the function, under the click options."""

    @click.option(
        "--yes",
        "-y",
        "yes",
        is_flag=True,
        default=False,
        help="Sign every transaction without a `Sign: [y/N]` prompt; the keystore passphrase"
        f" comes from {PASSPHRASE_ENV} or --passphrase-file (as for tes-node).",
    )
    @click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"File holding the account's keystore passphrase (else env {PASSPHRASE_ENV}).",
    )
    @functools.wraps(f)
    def wrapper(*args: Any, yes: bool, passphrase_file: Path | None, **kwargs: Any) -> Any:
        unlock_account(kwargs.get("account"), yes, passphrase_file)
        return f(*args, **kwargs)

    return wrapper


def account_ref(account: Any) -> str:
    """How to name `account` in a command line: its alias (`TEST::3` for a test account)."""
    return str(getattr(account, "alias", None) or account.address)


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


# ------------------------------------------------------------------ reverts
@dataclass(frozen=True)
class Revert:
    """A decoded custom error: which contract declares it, its name and its arguments."""

    contract: str | None
    name: str
    inputs: dict[str, Any]

    def __str__(self) -> str:
        args = ", ".join(f"{k}={_show(v)}" for k, v in self.inputs.items())
        return f"{self.contract + '.' if self.contract else ''}{self.name}({args})"


def _show(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        text = bytes(value).rstrip(b"\x00")
        if text and all(32 <= c < 127 for c in text):
            return repr(text.decode())
        return "0x" + bytes(value).hex()
    return str(value)


def _error_table() -> dict[bytes, list[tuple[str, Any]]]:
    """Selector -> [(contract name, ErrorABI)] over the five TES contracts (OZ errors included)."""
    from ape import project

    table: dict[bytes, list[tuple[str, Any]]] = {}
    for name in CONTRACT_NAMES:
        for item in getattr(project, name).contract_type.abi:
            if item.type == "error":
                table.setdefault(keccak(text=item.selector)[:4], []).append((name, item))
    return table


def _owner_of_error(name: str, candidates: list[str]) -> str | None:
    for contract in candidates:
        if name.startswith(contract):
            return contract
    return candidates[0] if candidates else None


# anvil answers an eth_call that reverts with a custom error as "execution reverted: custom error
# 0x7e273289: <the arguments>", in hex or, when every byte is printable, as characters; ape keeps
# only that text (ape 0.8.51).
_ANVIL_CUSTOM_ERROR = re.compile(r"custom error (0x[0-9a-fA-F]{8}):? ?(.*)\Z", re.S)


def _anvil_revert_data(err: BaseException) -> bytes | None:
    base = getattr(err, "base_err", None)
    for text in (*getattr(base, "args", ()), *getattr(err, "args", ())):
        m = _ANVIL_CUSTOM_ERROR.search(str(text))
        if m:
            text = m.group(2)
            try:  # hex when not all bytes are printable, else the bytes as they are
                hex_words = re.fullmatch(r"(?:[0-9a-fA-F]{64})*", text) is not None
                args = bytes.fromhex(text) if hex_words else text.encode("latin-1")
            except UnicodeEncodeError:
                args = b""  # not the bytes any more: the error's name, without its arguments
            return bytes.fromhex(m.group(1)[2:]) + args
    return None


def _revert_data(err: BaseException) -> bytes | None:
    """The raw revert data an ape / web3 exception carries, if any."""
    if (data := _anvil_revert_data(err)) is not None:
        return data
    for candidate in (getattr(err, "revert_message", None), *getattr(err, "args", ())):
        data = getattr(candidate, "data", candidate)
        if isinstance(data, bytes | bytearray) and len(data) >= 4:
            return bytes(data)
        if isinstance(data, str):
            s = data.strip()
            if s.startswith(("b'", 'b"')):
                try:
                    return ast.literal_eval(s)
                except (ValueError, SyntaxError):
                    continue
            if re.fullmatch(r"0x([0-9a-fA-F]{2}){4,}", s):
                return bytes.fromhex(s[2:])
    return None


def decode_revert(err: BaseException) -> Revert | None:
    """The TES custom error behind a failed call or transaction, or None if it is not one."""
    abi = getattr(err, "abi", None)
    if abi is not None and getattr(abi, "type", None) == "error":  # ape decoded it already
        entries = _error_table().get(keccak(text=abi.selector)[:4], [])
        contract = _owner_of_error(abi.name, [c for c, _ in entries])
        return Revert(contract, abi.name, dict(getattr(err, "inputs", {}) or {}))
    data = _revert_data(err)
    if data is None:
        return None
    entries = _error_table().get(data[:4], [])
    if not entries:
        return None
    contract = _owner_of_error(entries[0][1].name, [c for c, _ in entries])
    item = entries[0][1]
    try:
        values = abi_decode([i.canonical_type for i in item.inputs], data[4:])
    except Exception:  # noqa: BLE001 - malformed data: name the error without its arguments
        return Revert(contract, item.name, {})
    return Revert(
        contract,
        item.name,
        {
            i.name: to_checksum_address(v) if i.canonical_type == "address" else v
            for i, v in zip(item.inputs, values, strict=True)
        },
    )


def _node_status(value: int) -> str:
    try:
        return NodeStatus(value).name.lower()
    except ValueError:
        return str(value)


def _job_status(value: int) -> str:
    try:
        return JobStatus(value).label
    except ValueError:
        return str(value)


def _seat_state(value: int) -> str:
    try:
        return SeatState(value).name.lower()
    except ValueError:
        return str(value)


def _sale_not_open(a: dict[str, Any]) -> str:
    t, now_, start, end = a["tierId"], a["now_"], a["saleStart"], a["saleEnd"]
    if start and now_ < start:
        return (
            f"the sale of tier {t} has not opened yet: it opens at {format_time(start)}"
            f" (in {format_duration(start - now_)})"
        )
    return f"the sale of tier {t} is over: it closed at {format_time(end)}"


def _sold_out(a: dict[str, Any]) -> str:
    if a["remaining"] == 0:
        return f"tier {a['tierId']} is sold out"
    return f"tier {a['tierId']} has only {a['remaining']} licence(s) left; you asked for {a['requested']}"


# Error name -> a sentence for a person. Anything not here is shown as Contract.Error(args).
EXPLAIN: dict[str, Callable[[dict[str, Any]], str]] = {
    "NodeLicenseUnknownTier": lambda a: f"tier {a['tierId']} does not exist",
    "NodeLicenseSaleNotOpen": _sale_not_open,
    "NodeLicenseSoldOut": _sold_out,
    "NodeLicenseWalletCapExceeded": lambda a: (
        f"wallet cap reached: tier {a['tierId']} sells at most {a['cap']} licence(s) per wallet"
        f" and {a['buyer']} already bought {a['owned']}"
    ),
    "NodeLicenseInsufficientPayment": lambda a: (
        f"wrong ETH amount: sent {format_eth(a['sent'])}, tier {a['tierId']} needs"
        f" {format_eth(a['required'])}"
    ),
    "NodeLicenseZeroQuantity": lambda a: "the quantity must be at least 1",
    "ERC721NonexistentToken": lambda a: f"licence #{a['tokenId']} does not exist",
    "NodeRegistryNotLicenceOwner": lambda a: (
        f"{a['caller']} is not the licence owner of node {a['nodeId']}"
    ),
    "NodeRegistryNoOperator": lambda a: (
        f"node {a['nodeId']} has no operator bound (a proposed key must accept first:"
        " `ape run accept-operator`)"
    ),
    "NodeRegistryNotPendingOperator": lambda a: (
        f"{a['caller']} is not the operator key proposed for node {a['nodeId']}"
    ),
    "NodeRegistryInsufficientStake": lambda a: (
        f"node {a['nodeId']} has {format_tes(a['have'])} staked, needs {format_tes(a['need'])}"
    ),
    "NodeRegistryWrongStatus": lambda a: f"node {a['nodeId']} is {_node_status(a['status'])}",
    "NodeRegistryNotActive": lambda a: (
        f"node {a['nodeId']} is {_node_status(a['status'])}, not active"
    ),
    "NodeRegistryNotOperator": lambda a: (
        f"{a['caller']} is not the current operator of node {a['nodeId']}"
    ),
    "NodeRegistryInsufficientFreeStake": lambda a: (
        f"node {a['nodeId']} has {format_tes(a['free'])} of free stake (not locked as collateral),"
        f" needs {format_tes(a['need'])}"
    ),
    "NodeRegistryCapabilitiesNotMet": lambda a: (
        f"node {a['nodeId']} does not declare the capabilities the job requires"
    ),
    "NodeRegistryStillJailed": lambda a: (
        f"node {a['nodeId']} is jailed until {format_time(a['jailedUntil'])}"
    ),
    "NodeRegistryUnbondingNotReady": lambda a: (
        f"the unbonding stake of node {a['nodeId']} is released at {format_time(a['releaseAt'])}"
    ),
    "NodeRegistryNothingUnbonding": lambda a: f"node {a['nodeId']} has no stake unbonding",
    "RewardsNothingToClaim": lambda a: f"nothing to claim for {a['owner']}",
    "RewardsNotLicenceOwner": lambda a: (
        f"{a['caller']} is not the licence owner of node {a['nodeId']}"
    ),
    "JobMarketNothingToWithdraw": lambda a: f"nothing to withdraw for {a['account']}",
    "JobMarketPaymentBelowMinimum": lambda a: (
        f"the payment {format_tes(a['payment'])} is below the minimum job fee {format_tes(a['minimum'])}"
    ),
    "JobMarketCollateralTooLow": lambda a: (
        f"the collateral {format_tes(a['collateral'])} is below the minimum {format_tes(a['minimum'])}"
    ),
    "JobMarketInvalidReplicas": lambda a: (
        f"{a['replicas']} replicas is not allowed: k must be 1 or odd, 3 to 15"
    ),
    "JobMarketWrongStatus": lambda a: f"job {a['jobId']} is {_job_status(a['status'])}",
    "JobMarketNotClient": lambda a: f"{a['caller']} is not the client of job {a['jobId']}",
    "JobMarketDeadlinePassed": lambda a: (
        f"the deadline of job {a['jobId']} passed at {format_time(a['deadline'])}"
    ),
    "JobMarketDeadlineNotReached": lambda a: (
        f"the deadline of job {a['jobId']} is not reached yet: {format_time(a['deadline'])}"
    ),
    "JobMarketNotDisputable": lambda a: (
        f"job {a['jobId']} cannot be disputed by this account (the job's own node operator or owner"
        " may not, and only an accepted k = 1 result inside its window can be)"
    ),
    "JobMarketSeatsAreDrawn": lambda a: (
        f"job {a['jobId']} has drawn seats (k >= 3 or a dispute jury): it cannot be claimed;"
        " a drawn node accepts its seat instead"
    ),
    "JobMarketNothingToDraw": lambda a: (
        f"nothing to draw for job {a['jobId']} now: its seats are full, no draw is anchored, or"
        f" the anchor block {a['drawBlock']} is not mined yet"
    ),
    "JobMarketNothingToRedraw": lambda a: (
        f"no drawn seat of job {a['jobId']} has missed its accept deadline"
    ),
    "JobMarketWrongSeatState": lambda a: (
        f"node {a['nodeId']}'s seat in job {a['jobId']} is {_seat_state(a['state'])}"
    ),
    "JobMarketNotReplica": lambda a: f"node {a['nodeId']} holds no seat in job {a['jobId']}",
    "JobMarketInvalidWindow": lambda a: f"{_show(a['name'])} = {a['value']} s is out of bounds",
    "JobMarketInvalidBundleHash": lambda a: "the bundle hash is empty",
    "EnforcedPause": lambda a: "the contract is paused by governance",
    "ERC20InsufficientBalance": lambda a: (
        f"{a['sender']} holds {format_tes(a['balance'])}, needs {format_tes(a['needed'])}"
    ),
    "ERC20InsufficientAllowance": lambda a: (
        f"allowance of {a['spender']} is {format_tes(a['allowance'])}, needs {format_tes(a['needed'])}"
    ),
    "ERC2612ExpiredSignature": lambda a: f"the permit expired at {format_time(a['deadline'])}",
    "ERC2612InvalidSigner": lambda a: (
        f"the permit was signed by {a['signer']}, not by the token owner {a['owner']}"
    ),
}


def explain_revert(err: BaseException) -> str:
    """A message for a person, with the precise error behind it in brackets:
    "tier 0 is sold out [NodeLicense.NodeLicenseSoldOut(tierId=0, requested=2, remaining=0)]"."""
    revert = decode_revert(err)
    if revert is None:
        message = getattr(err, "revert_message", None) or str(err) or type(err).__name__
        return f"{message} ({type(err).__name__})"
    explain = EXPLAIN.get(revert.name)
    if explain is None:
        return str(revert)
    try:
        return f"{explain(revert.inputs)} [{revert}]"
    except (KeyError, TypeError, ValueError, IndexError):
        return str(revert)


# A transaction's gas limit, in percent of the node's estimate. anvil under-estimates calls whose
# storage refunds are large (NodeRegistry.deactivate: estimated 51,706, runs out of gas at that).
GAS_HEADROOM_PCT = 130


def transact(what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Sends `method(*args, **kwargs)` and returns the receipt; any failure (a revert at gas
    estimation or on chain, a refused signature, a dropped connection) becomes a ScriptError
    naming `what` and why."""
    from ape.exceptions import ApeException

    if "gas" not in kwargs and hasattr(method, "estimate_gas_cost"):
        try:
            estimate = int(method.estimate_gas_cost(*args, **kwargs))
        except Exception:  # noqa: BLE001 - a revert: the send below raises and decodes it
            estimate = 0
        if estimate:
            kwargs["gas"] = estimate * GAS_HEADROOM_PCT // 100
    try:
        receipt = method(*args, **kwargs)
    except ApeException as err:
        raise ScriptError(f"{what} failed: {explain_revert(err)}") from err
    except Exception as err:  # noqa: BLE001 - web3 / connection errors: say what was being done
        revert = decode_revert(err)
        reason = explain_revert(err) if revert else f"{type(err).__name__}: {err}"
        raise ScriptError(f"{what} failed: {reason}") from err
    if getattr(receipt, "failed", False):
        raise ScriptError(f"{what} failed: transaction {receipt.txn_hash} reverted")
    return receipt


def echo_tx(what: str, receipt: Any) -> None:
    click.echo(
        f"  {what}: tx {receipt.txn_hash} (block {receipt.block_number}, gas {receipt.gas_used:,})"
    )
