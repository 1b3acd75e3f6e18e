"""`tes-client`: package, publish, submit, watch, fetch, verify and dispute TES compute jobs.

The key is an ape account (an encrypted keystore under $APE_DATA_FOLDER/accounts, default
~/.ape); its passphrase comes from TES_PASSPHRASE or --passphrase-file, never the command line.
Contract addresses come from the deployment record written by `ape run deploy`.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING

import click

from oracle.core.errors import OracleError

if TYPE_CHECKING:
    from oracle.execute.base import Backend

DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}


def parse_duration(text: str, what: str) -> int:
    m = DURATION.match(str(text).strip())
    if not m:
        raise click.BadParameter(f"{what}: {text!r} is not a duration (e.g. 90, 90s, 30m, 2h, 1d)")
    return int(m.group(1)) * UNITS[m.group(2)]


def fail_clearly(f):
    """Turns every error into one line on stderr and exit status 1: the client's own errors
    (which say what to do), a chain that stops answering, a revert, and, as a last resort,
    anything else (type and message; TES_DEBUG=1 shows the traceback)."""

    @wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except OracleError as err:
            raise click.ClickException(str(err)) from err
        except TimeoutError as err:
            raise click.ClickException(str(err) or "timed out") from err
        except Exception as err:  # noqa: BLE001 (the user gets one line, never a traceback)
            import os

            if os.environ.get("TES_DEBUG"):
                raise
            raise click.ClickException(_unexpected(err, kwargs.get("rpc_url"))) from err

    return wrapper


def _unexpected(err: Exception, rpc_url: str | None) -> str:
    """One line for an error the commands did not foresee."""
    import requests
    from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

    from oracle.client.sdk import explain_revert, unreachable

    if isinstance(err, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return unreachable(rpc_url or "the RPC URL", err)
    if isinstance(err, ContractCustomError | ContractLogicError | Web3RPCError):
        return f"the chain refused: {explain_revert(err, {})}"
    text = " ".join(str(err).split())[:300]
    return f"{type(err).__name__}: {text} (set TES_DEBUG=1 to see where)"


chain_options = [
    click.option("--rpc-url", envvar="TES_RPC_URL", default="http://127.0.0.1:8545", show_default=True,
                 help="JSON-RPC endpoint of the chain (env TES_RPC_URL)."),
    click.option("--deployment", envvar="TES_DEPLOYMENT", default="deployments/local.json", show_default=True,
                 type=click.Path(path_type=Path), help="Deployment record from `ape run deploy` (env TES_DEPLOYMENT)."),
    click.option("--account", envvar="TES_CLIENT_ACCOUNT", default="client", show_default=True,
                 help="ape account alias of your key (env TES_CLIENT_ACCOUNT)."),
    click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="File holding the keystore passphrase (else env TES_PASSPHRASE)."),
]  # fmt: skip


def with_chain(f):
    for opt in reversed(chain_options):
        f = opt(f)
    return f


def connect(
    rpc_url: str,
    deployment: Path,
    account: str | None,
    passphrase_file: Path | None,
    need_key: bool = True,
):
    import os

    from oracle.client.errors import ClientError
    from oracle.client.sdk import Client, check_deployment
    from oracle.core.chain import load_operator_key

    check_deployment(Path(deployment))  # before the key: a wrong path is the likelier mistake
    key = None
    passphrase = os.environ.get("TES_PASSPHRASE")
    if passphrase is None and passphrase_file is not None:
        passphrase = passphrase_file.read_text().strip()
    if need_key:
        if passphrase is None:
            raise ClientError(
                "no passphrase for your key: set TES_PASSPHRASE or pass --passphrase-file"
            )
        if account is None:
            raise ClientError("this command needs your key: pass --account ALIAS")
        key = load_operator_key(account, passphrase)
    elif passphrase is not None and account:
        # status and watch read the chain without a key; with one, they also look at the
        # result to tell a failed run from a good one (only the job's client may fetch it)
        try:
            key = load_operator_key(account, passphrase)
        except OracleError as err:
            click.echo(f"note: not checking results ({err})", err=True)
    return Client.connect(rpc_url, deployment, key)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """Client of the TES compute market: pay nodes to run your jobs and check what they return.

    \b
    A typical job, end to end:
      tes-client package --kind train --config cfg.json --out job.tar.gz
      tes-client run-local job.tar.gz              # optional: try it in the sandbox first
      tes-client publish job.tar.gz &              # or: --file for a file:// URI
      tes-client submit job.tar.gz --uri URI --payment 10 --replicas 3
      tes-client watch JOB_ID
      tes-client fetch JOB_ID --out result/        # checked against the job's on-chain record
      tes-client verify JOB_ID result/             # again, later (k = 1: with result.tes-salt)
    """


# ---------------------------------------------------------------------------- offline commands
@main.command()
def kinds() -> None:
    """List the built-in job kinds."""
    from oracle.kinds import KINDS

    for k in KINDS.values():
        click.echo(f"{k.name:9} {k.summary}")


@main.command()
@click.option(
    "--kind", required=True, help="train, tune, simulate, map or command (`tes-client kinds`)."
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object merged over the kind's default config (see examples/<kind>/).",
)
@click.option(
    "--dir",
    "source_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Your own files to include (required for --kind command; a manifest.json there gives defaults).",
)
@click.option(
    "--data",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Data file or directory copied under data/ (repeatable).",
)
@click.option(
    "--entrypoint", help="Command of a `command` job, run in /job, e.g. 'python3 main.py'."
)
@click.option(
    "--shards", type=click.IntRange(1, 256), help="Fan out into N shard runs plus a reduce step."
)
@click.option("--reduce", "reduce_cmd", help="Reduce command of a fanned-out `command` job.")
@click.option("--cpus", type=click.IntRange(1, 256), help="CPU cores the job needs.")
@click.option("--memory-mb", type=click.IntRange(16), help="Memory limit in MiB.")
@click.option(
    "--gpus", type=click.IntRange(0, 16), help="GPUs the job needs (train uses CUDA when >= 1)."
)
@click.option("--gpu-memory-mb", type=click.IntRange(0), help="Memory per GPU the job needs, MiB.")
@click.option("--time-limit", help="Wall-time limit per run (e.g. 300, 10m).")
@click.option("--seed", type=int, help="Seed given to the job (env SEED / TES_SEED).")
@click.option(
    "--env", "env_pairs", multiple=True, help="NAME=VALUE for the job's environment (repeatable)."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bundle file to write.",
)
@click.option(
    "--keep-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Materialize the bundle here (must be empty).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@fail_clearly
def package(
    kind,
    config,
    source_dir,
    data,
    entrypoint,
    shards,
    reduce_cmd,
    cpus,
    memory_mb,
    gpus,
    gpu_memory_mb,
    time_limit,
    seed,
    env_pairs,
    out,
    keep_dir,
    as_json,
) -> None:
    """Make a bundle: the kind's runner (or your files), config, data and a manifest that pins
    resources, time limit, seed and package versions; packed deterministically. Its sha256 is
    the bundle hash that goes on chain."""
    from oracle.client.package import package as make

    env = {}
    for pair in env_pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"--env wants NAME=VALUE, got {pair!r}")
        env[name] = value
    p = make(
        kind, out, config=config, source_dir=source_dir, data=data,
        entrypoint=shlex.split(entrypoint) if entrypoint else None,
        reduce=shlex.split(reduce_cmd) if reduce_cmd else None, shards=shards, cpus=cpus, memory_mb=memory_mb,
        gpus=gpus, gpu_memory_mb=gpu_memory_mb,
        time_limit_s=parse_duration(time_limit, "--time-limit") if time_limit else None,
        seed=seed, env=env, workdir=keep_dir,
    )  # fmt: skip
    m = p.manifest
    info = {"bundle": str(p.path), "bundle_hash": p.hash_hex, "size": p.path.stat().st_size, "kind": m.kind,
            "files": len(m.inputs), "resources": m.resources.model_dump(), "time_limit_s": m.time_limit_s,
            "fanout": m.fanout.model_dump() if m.fanout else None, "packages": m.packages}  # fmt: skip
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"bundle  {p.path} ({info['size']} bytes, {len(m.inputs)} files)")
    click.echo(f"hash    {p.hash_hex}")
    r = m.resources
    click.echo(
        f"kind    {m.kind}: {shlex.join(m.entrypoint)}; cpus={r.cpus} memory={r.memory_mb} MiB gpus={r.gpus}"
        f"; time limit {m.time_limit_s} s"
        + (f"; {m.fanout.shards} shards + reduce" if m.fanout else "")
    )
    if m.packages:
        click.echo("pins    " + ", ".join(f"{k}=={v}" for k, v in sorted(m.packages.items())))


@main.command("run-local")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to put the output (default: a temp dir).",
)
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option(
    "--allow-unsafe",
    is_flag=True,
    help="Run without bubblewrap if it is missing (your own code only).",
)
@fail_clearly
def run_local(bundle, out, backend, allow_unsafe) -> None:
    """Run a bundle on this machine in the same sandbox a node uses, and print its result hash:
    the hash replicas will commit if the nodes run the same pinned environment."""
    import logging
    import tempfile

    from oracle.client.errors import ClientError
    from oracle.core import bundle as bundles

    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="tes-run-"))
    manifest = bundles.unpack(Path(bundle).read_bytes(), work / "bundle", 1 << 32)
    out = out or work / "out"
    if out.exists() and any(out.iterdir()):
        raise ClientError(f"{out} is not empty")
    if backend == "ray":
        from oracle.execute import RayBackend

        be: Backend = RayBackend(work_dir=work / "ray", allow_unsafe=allow_unsafe)
    else:
        from oracle.execute import LocalSandboxBackend

        be = LocalSandboxBackend(work / "local", allow_unsafe=allow_unsafe)
    with be:
        result = be.run_bundle(0, work / "bundle", manifest, out)
    click.echo(result.stdout_tail.rstrip()[-2000:], err=True)
    if not result.ok:
        click.echo(result.stderr_tail.rstrip()[-4000:], err=True)
    click.echo(f"status  {result.status} {result.reason} ({result.elapsed_s:.1f} s)")
    click.echo(f"output  {result.output_dir}")
    click.echo(f"result  0x{(result.result_hash or b'').hex()}")
    if not result.ok:
        sys.exit(1)


@main.command()
@click.argument(
    "bundles", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve on (nodes must reach it).",
)
@click.option("--port", type=int, default=0, show_default=True, help="Port (0: any free port).")
@click.option("--public-host", help="Host name nodes use to reach this machine, if not --host.")
@click.option(
    "--file",
    "as_file",
    is_flag=True,
    help="Print file:// URIs instead of serving (nodes on this machine only).",
)
@fail_clearly
def publish(bundles, host, port, public_host, as_file) -> None:
    """Make bundles fetchable by nodes: serve them over HTTP until interrupted (one URI per line
    on stdout, then it keeps serving), or print file:// URIs with --file."""
    if as_file:
        for b in bundles:
            click.echo(b.resolve().as_uri())
        return
    from oracle.client.publish import BundleServer

    server = BundleServer(list(bundles), host, port).start()
    for b in bundles:
        uri = server.uri(b)
        if public_host:
            uri = uri.replace(f"//{host}:", f"//{public_host}:", 1)
        click.echo(uri)
    sys.stdout.flush()
    click.echo("serving; Ctrl-C to stop", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


# ---------------------------------------------------------------------------- chain commands
@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--uri",
    required=True,
    help="Where nodes fetch the bundle (from `publish`: http(s):// or file://).",
)
@click.option(
    "--payment",
    required=True,
    help="TES escrowed for the job, e.g. 10 or 2.5 (>= the market's minimum fee).",
)
@click.option(
    "--replicas",
    "-k",
    type=int,
    default=1,
    show_default=True,
    help="Nodes that run it: 1 (claimed by one node, disputable) or odd 3..15 (drawn, majority).",
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "optimistic", "replicated"]),
    default="auto",
    show_default=True,
    help="Verification: optimistic = k 1 with a dispute window; replicated = k >= 3 (odd) drawn seats, commit-reveal.",
)
@click.option(
    "--collateral", help="TES each replica locks (default: the market's minimum for this payment)."
)
@click.option(
    "--claim-window",
    default="1h",
    show_default=True,
    help="Time to fill the seats (k = 1: a claim; k >= 3: draw + accept).",
)
@click.option(
    "--execution-window",
    default="2h",
    show_default=True,
    help="Time from the last claim to the last proof.",
)
@click.option(
    "--reveal-window",
    default="30m",
    show_default=True,
    help="Time for replicas to reveal their results.",
)
@click.option(
    "--dispute-window",
    default="1h",
    show_default=True,
    help="k = 1: time to dispute after the result.",
)
@click.option(
    "--permit-deadline",
    help="Unix time (or +DURATION) until which the payment permit is valid (default +1h).",
)
@click.option(
    "--no-check-uri",
    is_flag=True,
    help="Do not check that the URI serves this bundle before paying.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_chain
@fail_clearly
def submit(
    bundle,
    uri,
    payment,
    replicas,
    mode,
    collateral,
    claim_window,
    execution_window,
    reveal_window,
    dispute_window,
    permit_deadline,
    no_check_uri,
    as_json,
    rpc_url,
    deployment,
    account,
    passphrase_file,
) -> None:
    """Pay for a job: escrow the payment with an EIP-2612 permit (one transaction, no separate
    approve) and open it for k replicas. Prints the job id on stdout."""
    from oracle.client.errors import ClientError
    from oracle.client.sdk import check_replicas, fmt_tes, tes

    check_replicas(replicas)
    if not bundle.is_file():
        raise ClientError(
            f"bundle file {bundle} does not exist (make one with `tes-client package`)"
        )
    if mode == "optimistic" and replicas != 1:
        raise ClientError(
            "optimistic verification runs k = 1 replica (with a dispute window); drop --replicas"
        )
    if mode == "replicated" and replicas < 3:
        raise ClientError("replicated verification needs --replicas 3 or more (odd)")
    windows = {
        "claimWindow": parse_duration(claim_window, "--claim-window"),
        "executionWindow": parse_duration(execution_window, "--execution-window"),
        "revealWindow": parse_duration(reveal_window, "--reveal-window"),
        "disputeWindow": parse_duration(dispute_window, "--dispute-window") if replicas == 1 else 0,
    }
    wei = tes(payment)  # amounts are read before anything is asked of the chain
    collateral_wei = tes(collateral) if collateral else None
    client = connect(rpc_url, deployment, account, passphrase_file)
    deadline = None
    if permit_deadline:
        text = permit_deadline.strip()
        if text.startswith("+"):
            deadline = client.chain_time() + parse_duration(text[1:], "--permit-deadline")
        elif text.lstrip("-").isdigit():
            deadline = int(text)
        else:
            raise click.BadParameter(
                f"--permit-deadline: {text!r} is neither a unix time nor +DURATION"
            )
    job_id = client.submit(
        bundle, uri, wei, replicas=replicas, collateral=collateral_wei, windows=windows,
        permit_deadline=deadline, check_uri=not no_check_uri,
        warn=lambda text: click.echo(f"warning: {text}", err=True),
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps({"job_id": job_id, "payment": str(wei), "replicas": replicas}))
        return
    click.echo(job_id)
    click.echo(
        f"job {job_id} opened: {fmt_tes(wei)} escrowed for k={replicas}; `tes-client watch {job_id}`",
        err=True,
    )


def _progress(view) -> str:
    j = view.job
    if view.status.name == "SEATING":
        return f"{j.seated}/{j.k} drawn, {j.claims}/{j.k} accepted"
    return f"{j.claims}/{j.k} seated, {j.commits}/{j.k} proven, {j.reveals} revealed"


def _outcome(client, view):
    """The job's outcome when it can be known (see Client.outcome); never fails a command."""
    try:
        return client.outcome(view)
    except Exception:  # noqa: BLE001 (advice only)
        return None


def _summary(status: str, outcome) -> str:
    """'paid', or 'paid (job failed: exit 1)' when the job's program failed."""
    return f"{status} ({outcome.label})" if outcome is not None and outcome.failed else status


def _describe(view, now: int, outcome=None) -> dict:
    j = view.job
    result = view.result_hash or view.commitment
    return {
        "job": view.job_id, "status": view.status.label, "summary": _summary(view.status.label, outcome),
        "outcome": outcome.to_dict() if outcome is not None else None, "round": j.round, "k": j.k,
        "progress": _progress(view), "deadline_in": j.deadline - now,
        "result": ("0x" + result.hex()) if result else None,
        "replicas": [f"node {seat.nodeId}: {seat.state.name.lower()}" + (f" (round {seat.round})" if seat.round else "")
                     for seat in view.seats],
    }  # fmt: skip


def _secs(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def _stages_text(stages: list[tuple[str, float]]) -> str:
    return ", ".join(f"{label} {_secs(t)}" for label, t in stages)


def _table(rows: list[dict]):
    from rich.table import Table

    from oracle.client.sdk import TERMINAL

    ended = {s.label for s in TERMINAL}
    table = Table(title="TES jobs", expand=False)
    for col in ("job", "status", "in stage", "progress", "deadline in", "replicas", "result"):
        table.add_column(col)
    colours = {"paid": "green", "accepted": "cyan", "seating": "magenta", "failed": "red", "expired": "red",
               "overturned": "red", "cancelled": "yellow"}  # fmt: skip
    for r in rows:
        st = r["status"]
        colour = "red" if (r["outcome"] or {}).get("failed") else colours.get(st, "white")
        table.add_row(
            str(r["job"]), f"[{colour}]{r['summary']}[/]" + (" (dispute re-run)" if r["round"] else ""),
            _secs(r["stage_s"]), r["progress"],
            "-" if st in ended else f"{r['deadline_in']} s" if r["deadline_in"] > 0 else "passed",
            "\n".join(r["replicas"]) or "-", (r["result"] or "-")[:18],
        )  # fmt: skip
    return table


@main.command()
@click.argument("job_ids", nargs=-1, required=True, type=int)
@click.option(
    "--until",
    type=click.Choice(["accepted", "paid"]),
    default="paid",
    show_default=True,
    help="Stop when every job reaches this status (or any end state).",
)
@click.option("--timeout", default="1h", show_default=True, help="Give up after this long.")
@click.option(
    "--interval", type=float, default=1.0, show_default=True, help="Seconds between polls."
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON line per change instead of the live table."
)
@with_chain
@fail_clearly
def watch(
    job_ids, until, timeout, interval, as_json, rpc_url, deployment, account, passphrase_file
) -> None:
    """Follow jobs live (status, time in each stage, claims, proofs, reveals, replicas, deadline)
    until they are paid (or accepted, with --until accepted) or end otherwise. With your key
    (TES_PASSPHRASE) it also looks at the result once it is served, and shows a run that failed
    as `paid (job failed: exit 1)`. Exit status 0 when every job reached the goal (a failed run
    still was run and paid: `fetch` shows why it failed), 1 if any ended cancelled, expired,
    failed or overturned."""
    from rich.console import Console
    from rich.live import Live

    from oracle.client.sdk import TERMINAL

    client = connect(rpc_url, deployment, account, passphrase_file, need_key=False)
    goal = {"paid"} if until == "paid" else {"accepted", "paid"}
    ended = {s.label for s in TERMINAL}
    began = time.monotonic()
    end = began + parse_duration(timeout, "--timeout")
    console = Console(stderr=False)
    live = console.is_terminal and not as_json
    last: dict[int, str] = {}
    # per job: the status seen and since when (the first one: since the watch began), and the
    # stages it went through with their durations
    current: dict[int, tuple[str, float]] = {}
    stages: dict[int, list[tuple[str, float]]] = {j: [] for j in job_ids}

    def poll() -> list[dict]:
        now, t = client.chain_time(), time.monotonic()
        rows = []
        for j in job_ids:
            view = client.job(j)
            label = view.status.label
            seen = current.get(j)
            if seen is None:
                current[j] = (label, t)
            elif seen[0] != label:
                stages[j].append((seen[0], t - seen[1]))
                current[j] = (label, t)
            row = _describe(view, now, _outcome(client, view))
            row["stage_s"] = round(t - current[j][1], 1)
            row["stages"] = [{"status": a, "seconds": round(b, 1)} for a, b in stages[j]]
            rows.append(row)
        return rows

    def done(rows) -> bool:
        return all(r["status"] in goal or r["status"] in ended for r in rows)

    def emit(rows) -> None:
        for r in rows:
            key = json.dumps({k: v for k, v in r.items() if k not in ("deadline_in", "stage_s", "stages")},
                             sort_keys=True)  # fmt: skip
            if last.get(r["job"]) != key:
                last[r["job"]] = key
                took = stages[r["job"]]
                click.echo(
                    json.dumps(r)
                    if as_json
                    else f"job {r['job']}: {r['summary']} - {r['progress']}"
                    + (f" - result {r['result']}" if r["result"] else "")
                    + (f" [{took[-1][0]} took {_secs(took[-1][1])}]" if took else "")
                )
                sys.stdout.flush()

    rows = poll()
    if live:
        with Live(_table(rows), console=console, refresh_per_second=4) as view:
            while not done(rows) and time.monotonic() < end:
                time.sleep(interval)
                rows = poll()
                view.update(_table(rows))
    else:
        emit(rows)
        while not done(rows) and time.monotonic() < end:
            time.sleep(interval)
            rows = poll()
            emit(rows)
    if not done(rows):
        raise TimeoutError(
            f"gave up after {timeout}: " + ", ".join(f"job {r['job']} {r['status']}" for r in rows)
        )
    if not as_json:
        for r in rows:
            took = stages[r["job"]]
            if took:
                click.echo(f"job {r['job']}: {r['summary']} after {_secs(sum(t for _, t in took))}"
                           f" ({_stages_text(took)}; the first since the watch began)")  # fmt: skip
            if (r["outcome"] or {}).get("failed"):
                click.echo(
                    f"job {r['job']}: `tes-client fetch {r['job']} --out DIR` shows why it failed"
                )
    bad = [r for r in rows if r["status"] not in goal]
    if bad:
        raise click.ClickException(", ".join(f"job {r['job']} ended {r['status']}" for r in bad))


@main.command()
@click.argument("job_id", type=int)
@with_chain
@fail_clearly
def status(job_id, rpc_url, deployment, account, passphrase_file) -> None:
    """Print a job's on-chain state as JSON (status, windows, replicas, result hash; amounts in
    wei and, as `payment_tes` / `collateral_tes`, in TES). With your key (TES_PASSPHRASE) it
    also reads the served result: `summary` is then e.g. `paid (job failed: exit 1)` and
    `outcome` holds the exit code and the end of the job's stderr."""
    from oracle.client.sdk import fmt_tes

    client = connect(rpc_url, deployment, account, passphrase_file, need_key=False)
    view = client.job(job_id)
    outcome = _outcome(client, view)
    d = view.to_dict()
    d = {"job_id": d.pop("job_id"), "status": d.pop("status"), "summary": _summary(view.status.label, outcome),
         "outcome": outcome.to_dict() if outcome is not None else None,
         "payment_tes": fmt_tes(view.job.payment), "collateral_tes": fmt_tes(view.job.collateral), **d}  # fmt: skip
    click.echo(json.dumps(d, indent=2, default=str))


@main.command()
@click.argument("job_id", type=int)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the result (new or empty).",
)
@with_chain
@fail_clearly
def fetch(job_id, out, rpc_url, deployment, account, passphrase_file) -> None:
    """Download a job's result from a node that produced it (the URL the node announced on
    chain; the request is signed with your key, since only the job's client may fetch it),
    and check it against the chain: a mismatch is refused and nothing is written.

    \b
    k = 1: the chain holds keccak(jobId, nodeId, resultHash, salt); the node sends its salt,
           which is checked and kept next to the result as OUT.tes-salt (for `verify`).
           Served once the proof is in (accepted or paid).
    k >= 3: the chain holds the agreed result hash; served once the job is paid."""
    from oracle.client.sdk import outcome_of, salt_path

    client = connect(rpc_url, deployment, account, passphrase_file)
    digest = client.fetch(job_id, out)
    kept = salt_path(out)
    click.echo(f"result of job {job_id} in {out}: 0x{digest.hex()} matches the chain"
               + (f" (salt kept in {kept})" if kept.is_file() else ""))  # fmt: skip
    outcome = outcome_of(out)
    if outcome.failed:
        click.echo(f"job {job_id}: {outcome.label} (the run was paid: the failure is the result)")
        if outcome.stderr_tail:
            click.echo("the end of its stderr:")
            click.echo("\n".join("  | " + line for line in outcome.stderr_tail.splitlines()))
        elif outcome.exit_code is None or not 0 < outcome.exit_code < 128:
            click.echo("(no stderr is kept for a run stopped by a limit or a signal: try"
                       " `tes-client run-local` on the bundle)")  # fmt: skip


@main.command()
@click.argument("job_id", type=int)
@click.argument("result_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also check this bundle is what the job ran.",
)
@click.option(
    "--salt",
    help="k = 1: the node's salt, 0x + 64 hex (default: RESULT_DIR.tes-salt from `fetch`).",
)
@click.option(
    "--node",
    "node_id",
    type=int,
    help="k = 1, with --salt: the node that sent it (default: the job's node).",
)
@with_chain
@fail_clearly
def verify(
    job_id, result_dir, bundle, salt, node_id, rpc_url, deployment, account, passphrase_file
) -> None:
    """Recompute the result hash of a directory (docs/bundle.md) and check it against the job's
    on-chain record: the agreed result hash (k >= 3, or a k = 1 result revealed in a dispute),
    or for k = 1 the salted commitment, with the salt `fetch` kept (or --salt). Exit status 1 on
    a mismatch."""
    from oracle.client.sdk import parse_salt

    client = connect(rpc_url, deployment, account, passphrase_file, need_key=False)
    digest = client.verify(
        job_id, result_dir, bundle, salt=parse_salt(salt) if salt else None, node_id=node_id
    )
    click.echo(f"OK: {result_dir} is job {job_id}'s result 0x{digest.hex()}")


@main.command()
@click.argument("job_id", type=int)
@with_chain
@fail_clearly
def dispute(job_id, rpc_url, deployment, account, passphrase_file) -> None:
    """Dispute a k = 1 job's accepted result inside its dispute window (anyone but the job's own
    node operator or owner may). You post a bond equal to the job's collateral (approve +
    dispute); a jury of nodes is drawn by the contract, re-runs the job and commits, then the
    jurors and the original node reveal. What happens to your bond:

    \b
      overturned (the jury's majority disagrees, or the node does not reveal):
                 your bond back plus 50 % of the node's seized collateral; the
                 client's payment is refunded
      upheld     (the majority agrees with the node): you lose the bond; it pays
                 the jurors who were right, and the node is paid as usual
      no answer  (no jury forms, or no juror reveals): the result stands and you
                 get the bond back minus a 10 % fee, paid to the node you held up

    Refunds and winnings are credited: collect them with `tes-client withdraw`."""
    from oracle.client.sdk import fmt_tes

    client = connect(rpc_url, deployment, account, passphrase_file)
    bond = client.dispute(job_id)
    click.echo(
        f"job {job_id} disputed with a {fmt_tes(bond)} bond; a jury is being drawn to re-run it"
    )


@main.command()
@click.argument("job_id", type=int)
@with_chain
@fail_clearly
def cancel(job_id, rpc_url, deployment, account, passphrase_file) -> None:
    """Withdraw an open job nobody has claimed yet (the payment is credited back: `withdraw`)."""
    connect(rpc_url, deployment, account, passphrase_file).cancel(job_id)
    click.echo(f"job {job_id} cancelled")


@main.command()
@with_chain
@fail_clearly
def withdraw(rpc_url, deployment, account, passphrase_file) -> None:
    """Send your credited TES (refunds, won dispute bonds) to your wallet."""
    from oracle.client.sdk import fmt_tes

    amount = connect(rpc_url, deployment, account, passphrase_file).withdraw()
    click.echo(f"withdrew {fmt_tes(amount)}")


@main.command()
@with_chain
@fail_clearly
def balance(rpc_url, deployment, account, passphrase_file) -> None:
    """Show your address, TES balance, credited TES and the market's minimum fee."""
    from oracle.client.sdk import fmt_tes

    client = connect(rpc_url, deployment, account, passphrase_file)
    p = client.parameters()
    credited = client.chain.market.functions.credited(client.address).call()
    click.echo(f"address   {client.address}")
    click.echo(f"balance   {fmt_tes(client.balance())}")
    click.echo(f"credited  {fmt_tes(credited)}")
    click.echo(
        f"min fee   {fmt_tes(p['minJobFee'])} (collateral >= {p['minCollateralBps'] / 100:g}% of payment)"
    )


if __name__ == "__main__":
    sys.exit(main())
