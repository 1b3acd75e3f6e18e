"""What the client checks of a user's input before it asks anything of the chain: the deployment
record, the replica count, the windows' bounds, amounts of TES (read and shown through the shared
`oracle.core.units`), and one line for a chain that does not answer."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from oracle.client.errors import ClientError
from oracle.core import bundle as bundles
from oracle.core.chain import CONTRACTS
from oracle.core.units import AmountError, format_tes, parse_amount

DEFAULT_WINDOWS = {
    "claimWindow": 3_600,
    "executionWindow": 7_200,
    "revealWindow": 1_800,
    "disputeWindow": 3_600,
}
MAX_WINDOW = 30 * 86_400  # JobMarket.MAX_WINDOW
MAX_REPLICAS = 15  # JobMarket.MAX_REPLICAS
# docs/protocol.md "Nothing to copy": k is 1 (open claim, disputable) or odd (a majority decides).
REPLICAS_RULE = (
    "k must be 1 (one node, disputable) or odd from 3 to 15 (drawn seats, majority vote)"
)


def check_replicas(replicas: int) -> None:
    """Refuses a k the market would refuse (MarketRules.checkRequest), before any gas is spent."""
    if replicas == 1 or (replicas % 2 == 1 and 3 <= replicas <= MAX_REPLICAS):
        return
    raise ClientError(f"--replicas {replicas} is not allowed: {REPLICAS_RULE}")


def check_deployment(path: Path) -> dict[str, Any]:
    """The deployment record, or a ClientError that says how to get a good one."""
    if not path.is_file():
        raise ClientError(
            f"no deployment record at {path}: pass --deployment (env TES_DEPLOYMENT) with the"
            " network's record, or deploy one (`ape run deploy`)"
        )
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ClientError(
            f"deployment record {path} is not valid JSON ({err}): deploy again"
        ) from err
    contracts = record.get("contracts") if isinstance(record, dict) else None
    missing = [n for n in CONTRACTS if not isinstance(contracts, dict) or n not in contracts]
    if missing:
        raise ClientError(f"deployment record {path} lacks the address of {', '.join(missing)}:"
                          " is it a record written by `ape run deploy`?")  # fmt: skip
    return record


def unreachable(rpc_url: str, err: BaseException) -> str:
    """One line for a chain that does not answer: the cause and what to do."""
    text = str(err)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if m:
        cause = m.group(1).strip()
    elif "timed out" in text.lower():
        cause = "timed out"
    else:
        cause = text.splitlines()[0][:160] if text else type(err).__name__
    return (f"cannot reach the chain at {rpc_url} ({cause}): start it (anvil, or `make localnet`)"
            " or point --rpc-url (env TES_RPC_URL) at a running node")  # fmt: skip


def tes(amount: str | int | Decimal) -> int:
    """'12.5', '12.5 TES', '1,000' or '1e21 wei' -> wei (18 decimals); raises ClientError for
    anything else (`oracle.core.units.parse_amount`)."""
    try:
        return parse_amount(amount, "tes")
    except AmountError as err:
        raise ClientError(f"not an amount of TES: {err.text!r} ({err.why})") from err


def fmt_tes(wei: int) -> str:
    """An amount for people that `tes()` reads back: at most 4 decimals, rounded, trailing zeros
    dropped; an amount too small for that shows its first three significant digits instead of
    rounding to zero (`oracle.core.units.format_amount`, rounded)."""
    return format_tes(wei, rounded=True)


def requirements_of(manifest: bundles.Manifest) -> tuple[int, int, int, int, int]:
    """INodeRegistry.Capabilities a node must declare to claim the job, from the manifest."""
    r = manifest.resources
    return (r.cpus, r.memory_mb, r.gpus, r.gpu_memory_mb, r.gpu_class)
