"""A job from the client to the chain: `Client.submit`'s checks and its createJob /
createJobWithPermit / createAndAssign transaction, as functions of the `Client`.

Payment uses an EIP-2612 permit signed off-chain: one transaction, no separate approve. A
client that deposited TES in the market (`deposit`, or a refund it left there) pays from that
balance instead: `createJob` with no permit and no token transfer, whenever the balance covers
the whole payment. The client's counters (nonces, market balance, quote nonce) live on the
`Client`, which keeps them between submits.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account import Account
from web3.logs import DISCARD

from oracle.client.errors import ClientError
from oracle.client.inputs import (
    DEFAULT_WINDOWS,
    MAX_WINDOW,
    check_replicas,
    fmt_tes,
    requirements_of,
)
from oracle.core import bundle as bundles
from oracle.core.errors import FetchError
from oracle.core.fetch import fetch_bundle
from oracle.core.permit import permit_message
from oracle.core.protocol import Capabilities, JobId
from oracle.core.quote import NO_PERMIT, Quote

if TYPE_CHECKING:
    from oracle.client.sdk import Client

HEAD_KEEP_S = 2.0  # how long a head block read for a submit serves the next ones


@dataclass(frozen=True)
class Prepared:
    """A job checked against the chain's rules and ready to send: the JobRequest tuple the market
    takes, and what the client needs to pay for it."""

    request: tuple
    payment: int
    replicas: int


def prepare(
    client: Client,
    bundle: Path,
    uri: str,
    payment: int,
    *,
    replicas: int = 1,
    collateral: int | None = None,
    windows: Mapping[str, int] | None = None,
    check_uri: bool = True,
    warn: Callable[[str], None] | None = None,
) -> Prepared:
    """Every input of one job checked (bundle, URI, minimum fee and collateral, windows,
    capacity warnings) before any gas is spent; the JobRequest built."""
    check_replicas(replicas)
    bundle = Path(bundle)
    if not bundle.is_file():
        raise ClientError(
            f"bundle file {bundle} does not exist (make one with `tes-client package`)"
        )
    data = bundle.read_bytes()
    digest = bundles.bundle_hash(data)
    manifest = manifest_of(data)
    if check_uri:
        try:
            fetch_bundle(uri, digest, max(len(data), 1) * 2, timeout_s=10, allow_local=True)
        except FetchError as err:
            raise ClientError(f"nodes could not get this bundle from {uri}: {err}") from err
    params = client.parameters()
    if payment < params["minJobFee"]:
        raise ClientError(
            f"payment {fmt_tes(payment)} is below the market's minimum job fee of {fmt_tes(params['minJobFee'])}"
        )
    min_collateral = payment * params["minCollateralBps"] // 10_000
    collateral = min_collateral if collateral is None else collateral
    if collateral < min_collateral:
        raise ClientError(
            f"collateral {fmt_tes(collateral)} is below the minimum of {fmt_tes(min_collateral)}"
            f" ({params['minCollateralBps'] / 100:g}% of the payment)"
        )
    w = {**DEFAULT_WINDOWS, **(windows or {})}
    for name, value in w.items():
        optional = name == "disputeWindow" and replicas > 1
        if value > MAX_WINDOW or value < 0 or (value == 0 and not optional):
            raise ClientError(
                f"{name} must be between 1 s and {MAX_WINDOW} s (30 days), got {value} s"
            )
    if warn is not None:
        need = Capabilities(*requirements_of(manifest))
        try:
            found = client.capacity_warnings(need, replicas, collateral)
        except Exception as err:  # noqa: BLE001 (advice only: never stops a submit)
            found = [f"could not read the node registry to check capacity: {err}"]
        for text in found:
            warn(text)
    request = (
        digest, uri, requirements_of(manifest), payment, collateral, replicas,
        w["claimWindow"], w["executionWindow"], w["revealWindow"], w["disputeWindow"],
    )  # fmt: skip
    return Prepared(request, payment, replicas)


def head_and_deadline(client: Client, permit_deadline: int | None) -> tuple[Any, int]:
    """The head block a submit prices and dates itself by, and the permit's deadline. Its time
    dates the permit and the quote's time left, its base fee the tx (which offers twice it): a
    head a few seconds old serves a burst of submits as well as a fresh one."""
    head = client._keep("head", lambda: client.w3.eth.get_block("latest"), HEAD_KEEP_S)
    now = int(head["timestamp"])
    deadline = permit_deadline if permit_deadline is not None else now + 3_600
    if deadline <= now:
        raise ClientError(f"permit deadline {deadline} is in the past (chain time is {now})")
    return head, deadline


def submit(
    client: Client,
    bundle: Path,
    uri: str,
    payment: int,
    *,
    replicas: int = 1,
    collateral: int | None = None,
    windows: Mapping[str, int] | None = None,
    permit_deadline: int | None = None,
    check_uri: bool = True,
    warn: Callable[[str], None] | None = None,
    quote: bool = True,
) -> int:
    """`Client.submit`: every input checked, then the job created; returns its id."""
    job = prepare(client, bundle, uri, payment, replicas=replicas, collateral=collateral,
                  windows=windows, check_uri=check_uri, warn=warn)  # fmt: skip
    head, deadline = head_and_deadline(client, permit_deadline)
    now = int(head["timestamp"])
    request = job.request
    receipt = None
    offer = client.ask_quote(request, warn, now) if quote and replicas == 1 else None
    if offer is not None:
        try:
            receipt = create(client, request, payment, deadline, head, offer)
        except ClientError as err:
            # Refused by the estimate or reverted: no money moved, so the open post is safe.
            client._quote_nonce = None
            if warn is not None:
                warn(f"node {offer.node_id}'s quote could not be used ({err}); posting open")
        else:
            client._quote_nonce = offer.nonce + 1
    if receipt is None:
        receipt = create(client, request, payment, deadline, head)
        offer = None
    job_id = created_id(client, receipt)
    if offer is not None:
        client.assigned[job_id] = offer.node_id
    return job_id


def created_id(client: Client, receipt: Any) -> JobId:
    """The id of the job a receipt's JobCreated event announces."""
    events = client.chain.market.events.JobCreated().process_receipt(receipt, errors=DISCARD)
    return JobId(events[0]["args"]["jobId"])


def create_call(
    client: Client,
    request: tuple,
    permit: tuple[int, int, bytes, bytes] | None,
    quote: Quote | None = None,
) -> Any:
    """The market call that creates the job: createAndAssign with a quote, else createJob, with
    the permit when one pays it."""
    market = client.chain.market.functions
    if quote is not None:
        return market.createAndAssign(request, quote.as_tuple(), permit or NO_PERMIT)
    return (
        market.createJob(request)
        if permit is None
        else market.createJobWithPermit(request, *permit)
    )


def create(
    client: Client,
    request: tuple,
    payment: int,
    deadline: int,
    head: Any,
    quote: Quote | None = None,
) -> Any:
    """createJob (or, with a quote, createAndAssign) from our market balance when it covers
    `payment` (no permit, no transfer), else with a permit. A balance we counted wrong
    (someone else used the key) is read again once and the job paid the other way."""
    if client._credit is None:
        client.credited()
    if client._credit is not None and client._credit >= payment:
        try:
            receipt = client._send(create_call(client, request, None, quote), head)
        except ClientError:
            if client.credited() >= payment:
                raise
        else:
            client._credit -= payment
            return receipt
    v, r, s = sign_permit(client, client.chain.market.address, payment, deadline)
    try:
        receipt = client._send(create_call(client, request, (deadline, v, r, s), quote), head)
    except ClientError:
        client._permit_nonce = None
        client._credit = None
        # The balance is read only when the chain refused: the common case costs no request.
        have = client.balance()
        if have < payment:
            raise ClientError(
                f"insufficient TES balance: {client.address} holds {fmt_tes(have)}, the job needs {fmt_tes(payment)}"
            ) from None
        raise
    client._permit_nonce = None if client._permit_nonce is None else client._permit_nonce + 1
    # No token transfer in the receipt: the market took the payment from a balance we had not
    # counted (a refund since our last read); read it again next time.
    token = client.chain.token
    moved = token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    if not [e for e in moved if e["address"] == token.address]:
        client._credit = None
    return receipt


def manifest_of(data: bytes) -> bundles.Manifest:
    with tempfile.TemporaryDirectory(prefix="tes-check-") as tmp:
        try:
            return bundles.unpack(data, Path(tmp), 64 * len(data) + (1 << 20))
        except bundles.BundleError as err:
            raise ClientError(f"not a valid bundle: {err}") from err


def permit_nonce_next(client: Client) -> int:
    """The token's permit nonce for us: read once, then counted (every createJobWithPermit that
    is mined used one, ours or a front-runner's copy); read again after any refusal."""
    if client._permit_nonce is None:
        client._permit_nonce = int(client.chain.token.functions.nonces(client.address).call())
    return client._permit_nonce


def sign_permit(
    client: Client, spender: str, value: int, deadline: int, nonce: int | None = None
) -> tuple[int, bytes, bytes]:
    """EIP-2612 signature over the one Permit definition (`oracle.core.permit`), at `nonce` (by
    default the next one we have not used: `permit_nonce_next`)."""
    token = client.chain.token
    if client._domain is None:
        client._domain = tuple(token.functions.eip712Domain().call())
    _, name, version, chain_id, verifying, _, _ = client._domain
    msg = permit_message(
        name=name, version=version, chain_id=int(chain_id), token=verifying, owner=client.address,
        spender=spender, value=value,
        nonce=permit_nonce_next(client) if nonce is None else nonce, deadline=deadline,
    )  # fmt: skip
    signed = Account.sign_message(msg.signable_message, client.key.key)  # type: ignore[union-attr]
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
