"""Reverts turned into messages a person can act on, and transactions that fail with them.

    receipt = transact("buy", d.licence.buy, 0, 1, value=price, sender=account)
    # on a revert: ScriptError("buy failed: tier 0 is sold out [NodeLicense.NodeLicenseSoldOut(...)]")

The decoding is the shared one (`oracle.core.reverts`) over the ape project's ABIs; here each
error the scripts can hit also gets a sentence (`EXPLAIN`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from oracle.ape_helpers.params import ScriptError
from oracle.core import reverts
from oracle.core.protocol import JobStatus, NodeStatus, SeatState, job_hex
from oracle.core.reverts import ErrorTable, Revert, show_arg
from oracle.core.units import format_duration, format_eth, format_tes, format_time
from oracle.localnet.deployment import CONTRACT_NAMES


def _error_table() -> ErrorTable:
    """Selector -> declarations over the five TES contracts (OZ errors included)."""
    from ape import project

    return reverts.error_table({
        name: [item.model_dump(by_alias=True, mode="json")
               for item in getattr(project, name).contract_type.abi if item.type == "error"]
        for name in CONTRACT_NAMES
    })  # fmt: skip


def decode_revert(err: BaseException) -> Revert | None:
    """The TES custom error behind a failed call or transaction, or None if it is not one."""
    return reverts.decode_revert(err, _error_table())


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
    "JobMarketWrongStatus": lambda a: f"job {job_hex(a['jobId'])} is {_job_status(a['status'])}",
    "JobMarketNotClient": lambda a: f"{a['caller']} is not the client of job {job_hex(a['jobId'])}",
    "JobMarketDeadlinePassed": lambda a: (
        f"the deadline of job {job_hex(a['jobId'])} passed at {format_time(a['deadline'])}"
    ),
    "JobMarketDeadlineNotReached": lambda a: (
        f"the deadline of job {job_hex(a['jobId'])} is not reached yet: {format_time(a['deadline'])}"
    ),
    "JobMarketNotDisputable": lambda a: (
        f"job {job_hex(a['jobId'])} cannot be disputed by this account (the job's own node operator or owner"
        " may not, and only an accepted k = 1 result inside its window can be)"
    ),
    "JobMarketSeatsAreDrawn": lambda a: (
        f"job {job_hex(a['jobId'])} has drawn seats (k >= 3 or a dispute jury): it cannot be claimed;"
        " a drawn node accepts its seat instead"
    ),
    "JobMarketNothingToDraw": lambda a: (
        f"nothing to draw for job {job_hex(a['jobId'])} now: its seats are full, no draw is anchored, or"
        f" the anchor block {a['drawBlock']} is not mined yet"
    ),
    "JobMarketNothingToRedraw": lambda a: (
        f"no drawn seat of job {job_hex(a['jobId'])} has missed its accept deadline"
    ),
    "JobMarketWrongSeatState": lambda a: (
        f"node {a['nodeId']}'s seat in job {job_hex(a['jobId'])} is {_seat_state(a['state'])}"
    ),
    "JobMarketNotReplica": lambda a: (
        f"node {a['nodeId']} holds no seat in job {job_hex(a['jobId'])}"
    ),
    "JobMarketInvalidWindow": lambda a: f"{show_arg(a['name'])} = {a['value']} s is out of bounds",
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
