"""Submit a job: escrow its payment and open it, in one transaction. The payment comes from the
account's JobMarket balance (a deposit, refunds) when that covers it, else from its wallet with a
signed EIP-2612 permit.

    ape run submit-job --network http://127.0.0.1:8545 --account client --bundle job/ --payment 100
    ape run submit-job ... --bundle https://example.org/job.tar.gz --replicas 3 --claim-window 2h

--bundle is a bundle directory (packed deterministically next to it, as <dir>.tar.gz), a packed
bundle file, or an http(s)/file URI. Its hash goes on chain; nodes fetch the URI and refuse
anything else. The requirements default to the manifest's resources. A thin wrapper: watching,
fetching and checking the result belong to the client SDK.
"""

import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option
from ape.exceptions import ContractLogicError

from oracle.ape_helpers import (
    TES,
    Duration,
    ScriptError,
    deployment_option,
    echo_tx,
    explain_revert,
    format_duration,
    format_tes,
    format_time,
    load_deployment,
    now,
    signing_options,
    transact,
)
from oracle.client.errors import ClientError
from oracle.client.inputs import (
    DEFAULT_WINDOWS,
    MAX_WINDOW,
    REPLICAS_RULE,
    check_replicas,
    requirements_of,
)
from oracle.core import bundle as bundles
from oracle.core.errors import OracleError
from oracle.core.permit import sign_permit
from oracle.core.protocol import job_hex
from oracle.localnet.deployment import JOB_PAYMENT

MAX_BUNDLE_BYTES = 64 << 20
PERMIT_TTL_S = 3_600
BPS = 10_000


def resolve_bundle(spec: str) -> tuple[str, bytes, bundles.Manifest]:
    """(URI nodes fetch, bundle bytes, manifest) for a directory, a file or a URI."""
    parsed = urlparse(spec)
    if parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(spec, timeout=30) as resp:  # noqa: S310 (scheme checked)
                data = resp.read(MAX_BUNDLE_BYTES + 1)
        except OSError as err:
            raise ScriptError(f"cannot fetch the bundle {spec}: {err}") from err
        uri = spec
    else:
        path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(spec)
        if path.is_dir():
            try:
                data = bundles.pack(path)
            except OracleError as err:
                raise ScriptError(f"cannot pack {path}: {err}") from err
            path = path.parent / f"{path.resolve().name}.tar.gz"
            path.write_bytes(data)
            click.echo(f"Packed the bundle into {path}")
        elif path.is_file():
            data = path.read_bytes()
        else:
            raise ScriptError(
                f"no bundle at {spec}: give a directory, a .tar.gz file or an http(s) URI"
            )
        uri = path.resolve().as_uri()
    if len(data) > MAX_BUNDLE_BYTES:
        raise ScriptError(
            f"the bundle is larger than {MAX_BUNDLE_BYTES >> 20} MiB: nodes refuse it"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            manifest = bundles.unpack(data, Path(tmp), MAX_BUNDLE_BYTES)
        except OracleError as err:
            raise ScriptError(f"{spec} is not a valid job bundle: {err}") from err
    return uri, data, manifest


def _checked_permit(account, d, chain, payment: int):
    """Signs the permit and simulates it before the job is sent: `createJobWithPermit` ignores a
    permit that fails (someone may have used it first), so a bad one would otherwise surface as a
    confusing "allowance is 0". A stale read (nonce, time) gets one fresh signature."""
    reason = ""
    for _ in range(2):
        try:
            permit = sign_permit(
                account,
                d.token,
                spender=d.market.address,
                value=payment,
                deadline=now(chain) + PERMIT_TTL_S,
            )
        except OracleError as err:
            raise ScriptError(str(err)) from err
        try:
            d.token.permit.call(
                permit.owner,
                d.market.address,
                payment,
                permit.deadline,
                permit.v,
                permit.r,
                permit.s,
            )
            return permit
        except ContractLogicError as err:
            reason = explain_revert(err)
    raise ScriptError(f"the token refuses the permit this account signed: {reason}")


@click.command(cls=ConnectedProviderCommand, short_help="Submit a job (paid by balance or permit)")
@network_option()
@account_option()
@deployment_option()
@click.option(
    "--bundle", "bundle_spec", required=True, help="Bundle directory, .tar.gz file or URI."
)
@click.option(
    "--payment",
    type=TES,
    default=str(JOB_PAYMENT) + " wei",
    show_default="100 TES",
    help="TES escrowed for the job, shared by the replicas that agree.",
)
@click.option(
    "--collateral",
    type=TES,
    help="TES each replica locks from its stake. Default: the market's minimum.",
)
@click.option(
    "--replicas",
    type=int,
    default=1,
    show_default=True,
    help="k: 1 = claimed by one node, disputable in a window; odd 3..15 = seats drawn by the"
    " contract, commit-reveal, the majority of the revealed seats decides. " + REPLICAS_RULE + ".",
)
@click.option(
    "--claim-window",
    type=Duration(),
    default=str(DEFAULT_WINDOWS["claimWindow"]),
    show_default="1h",
    help="Time to fill the seats (k = 1: a claim; k >= 3: draw and accept).",
)
@click.option(
    "--execution-window",
    type=Duration(),
    default=str(DEFAULT_WINDOWS["executionWindow"]),
    show_default="2h",
    help="Time from the last claim to the last proof.",
)
@click.option(
    "--reveal-window",
    type=Duration(),
    default=str(DEFAULT_WINDOWS["revealWindow"]),
    show_default="30m",
    help="k >= 3: time from the last commitment to the reveals.",
)
@click.option(
    "--dispute-window",
    type=Duration(),
    default=str(DEFAULT_WINDOWS["disputeWindow"]),
    show_default="1h",
    help="k = 1: time after the proof in which a dispute may be raised.",
)
@click.option("--cpu-cores", type=click.IntRange(0, 2**16 - 1), help="Default: the manifest's.")
@click.option("--memory-mb", type=click.IntRange(0, 2**32 - 1), help="Default: the manifest's.")
@click.option("--gpus", type=click.IntRange(0, 255), help="Default: the manifest's.")
@click.option("--gpu-memory-mb", type=click.IntRange(0, 2**32 - 1), help="Default: the manifest's.")
@click.option("--gpu-class", type=click.IntRange(0, 255), help="Default: the manifest's.")
@signing_options
def cli(
    provider: Any,
    account: Any,
    deployment: Path | None,
    bundle_spec: str,
    payment: int,
    collateral: int | None,
    replicas: int,
    claim_window: int,
    execution_window: int,
    reveal_window: int,
    dispute_window: int,
    cpu_cores: int | None,
    memory_mb: int | None,
    gpus: int | None,
    gpu_memory_mb: int | None,
    gpu_class: int | None,
) -> None:
    """Packs or reads --bundle, pays --payment from the JobMarket balance or with a signed
    permit, and creates the job."""
    from ape import chain

    try:
        check_replicas(replicas)  # before anything is read or signed: the market refuses even k
    except ClientError as err:
        raise ScriptError(str(err)) from err
    d = load_deployment(provider, deployment)
    me = str(account.address)
    windows = dict(
        zip(
            DEFAULT_WINDOWS,
            (claim_window, execution_window, reveal_window, dispute_window),
            strict=True,
        )
    )
    for name, value in windows.items():
        optional = name == "disputeWindow" and replicas > 1
        if value > MAX_WINDOW or (value == 0 and not optional):
            raise ScriptError(f"{name} must be between 1 s and 30 days, got {value} s")
    params = d.market.parameters()
    if payment < params.minJobFee:
        raise ScriptError(
            f"--payment {format_tes(payment)} is below the minimum job fee {format_tes(params.minJobFee)}"
        )
    minimum = payment * params.minCollateralBps // BPS
    if collateral is None:
        collateral = minimum
    elif collateral < minimum:
        raise ScriptError(
            f"--collateral {format_tes(collateral)} is below the minimum {format_tes(minimum)}"
            f" ({params.minCollateralBps / 100:g}% of the payment)"
        )
    credit = d.market.credited(me)
    from_balance = credit >= payment  # the market spends a balance that covers the payment
    if not from_balance:
        balance = d.token.balanceOf(me)
        if balance < payment:
            covers = f" (its JobMarket balance, {format_tes(credit)}, does not cover it)"
            raise ScriptError(
                f"{me} holds {format_tes(balance)}; the job escrows {format_tes(payment)}"
                + (covers if credit else "")
            )

    uri, data, manifest = resolve_bundle(bundle_spec)
    given = (cpu_cores, memory_mb, gpus, gpu_memory_mb, gpu_class)
    requirements = tuple(
        default if value is None else value
        for value, default in zip(given, requirements_of(manifest), strict=True)
    )

    request = (
        bundles.bundle_hash(data), uri, requirements, payment, collateral, replicas,
        *windows.values(),
    )  # fmt: skip
    permit = None if from_balance else _checked_permit(account, d, chain, payment)
    click.echo(
        f"Submitting a {manifest.kind} job: k = {replicas}, payment {format_tes(payment)},"
        f" collateral {format_tes(collateral)} per replica, bundle 0x{request[0].hex()}"
    )
    started = time.monotonic()
    if permit is None:
        click.echo(f"Paid from the JobMarket balance of {me} ({format_tes(credit)}): no permit")
        receipt = transact("creating the job", d.market.createJob, request, sender=account)
        echo_tx("JobMarket.createJob", receipt)
    else:
        receipt = transact(
            "creating the job",
            d.market.createJobWithPermit,
            request,
            permit.deadline,
            permit.v,
            permit.r,
            permit.s,
            sender=account,
        )
        echo_tx("JobMarket.createJobWithPermit", receipt)
    event = receipt.decode_logs(d.market.JobCreated)[0]
    if replicas == 1:
        click.echo(
            f"Job {job_hex(event.jobId)} is open: the first eligible node claims it; nodes fetch {uri}"
        )
    else:
        anchored = receipt.decode_logs(d.market.DrawAnchored)
        block = f" from the hash of block {anchored[0].drawBlock}" if anchored else ""
        click.echo(
            f"Job {job_hex(event.jobId)} is seating: {replicas} nodes will be drawn{block} (anyone may call"
            f" draw once it is mined) and must accept their seats; nodes fetch {uri}"
        )
    click.echo(
        f"Seats must be filled by {format_time(event.claimDeadline)}"
        f" (in {format_duration(max(event.claimDeadline - now(chain), 0))});"
        f" submitted in {time.monotonic() - started:.1f} s"
    )
