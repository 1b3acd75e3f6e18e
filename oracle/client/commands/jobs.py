"""The commands that open and follow jobs on chain: submit (pay from the market balance or with
a permit), watch (live), status (the job's on-chain record as JSON)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from oracle.client.commands.common import (
    JOB_ID,
    connect,
    fail_clearly,
    parse_duration,
    with_chain,
)
from oracle.core.protocol import job_hex


@click.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--uri",
    "uris",
    required=True,
    multiple=True,
    help="Where nodes fetch the bundle (from `publish`: http(s):// or file://); one per bundle, in order.",
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
@click.option(
    "--open",
    "post_open",
    is_flag=True,
    help="k = 1: post the job open for any node to claim, without asking nodes for a quote.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@with_chain
@fail_clearly
def submit(
    bundles,
    uris,
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
    post_open,
    as_json,
    rpc_url,
    deployment,
    account,
    passphrase_file,
) -> None:
    """Pay for a job: escrow the payment from your market balance (`deposit`) when it covers
    it, else with an EIP-2612 permit (one transaction, no separate approve). A k = 1 job is
    first offered to nodes for a quote and, when one takes it, created already assigned to it
    (one transaction, no claim); otherwise, and for k replicas, it is opened for the nodes.
    Prints the job id on stdout.

    Several bundles (each with its own --uri, in order) are sent as one burst with the same
    terms (`Client.submit_many`): every job and the funds for all are checked first, quotes are
    asked for together, and one job id is printed per bundle, in order."""
    from oracle.client.errors import ClientError
    from oracle.client.inputs import check_replicas, fmt_tes, tes

    check_replicas(replicas)
    if len(uris) != len(bundles):
        raise click.BadParameter(
            f"{len(bundles)} bundle(s) but {len(uris)} --uri: give one --uri per bundle, in order"
        )
    for bundle in bundles:
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
    warn = lambda text: click.echo(f"warning: {text}", err=True)  # noqa: E731
    if len(bundles) > 1:
        from oracle.client.burst import JobSpec

        specs = [JobSpec(b, u, wei, replicas=replicas, collateral=collateral_wei, windows=windows)
                 for b, u in zip(bundles, uris, strict=True)]  # fmt: skip
        done = client.submit_many(specs, permit_deadline=deadline, check_uri=not no_check_uri,
                                  warn=warn, quote=not post_open)  # fmt: skip
        _print_burst(done, wei, replicas, as_json)
        return
    job_id = client.submit(
        bundles[0], uris[0], wei, replicas=replicas, collateral=collateral_wei, windows=windows,
        permit_deadline=deadline, check_uri=not no_check_uri, warn=warn, quote=not post_open,
    )  # fmt: skip
    node_id = client.assigned.get(job_id)
    if as_json:
        click.echo(json.dumps({"job_id": job_hex(job_id), "payment": str(wei), "replicas": replicas,
                               "node_id": node_id}))  # fmt: skip
        return
    click.echo(job_hex(job_id))
    how = f"assigned to node {node_id} by its quote" if node_id else f"opened for k={replicas}"
    click.echo(
        f"job {job_id} {how}: {fmt_tes(wei)} escrowed; `tes-client watch {job_id}`",
        err=True,
    )


def _print_burst(done, wei: int, replicas: int, as_json: bool) -> None:
    """One line per bundle, in order: its job id (stdout), or why it was not created (stderr,
    and exit status 1 once every line is printed)."""
    from oracle.client.inputs import fmt_tes

    failed = 0
    for d in done:
        if as_json:
            click.echo(json.dumps({"bundle": str(d.spec.bundle), "job_id": d.job_id and job_hex(d.job_id), "payment": str(wei),
                                   "replicas": replicas, "node_id": d.node_id, "error": d.error}))  # fmt: skip
        elif d.job_id is not None:
            click.echo(job_hex(d.job_id))
        if d.job_id is None:
            failed += 1
            click.echo(f"error: {d.spec.bundle}: {d.error}", err=True)
    created = len(done) - failed
    click.echo(
        f"{created} of {len(done)} job(s) created, {fmt_tes(wei * created)} escrowed", err=True
    )
    if failed:
        sys.exit(1)


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


@click.command()
@click.argument("job_ids", nargs=-1, required=True, type=JOB_ID)
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
                    json.dumps({**r, "job": job_hex(r["job"])})
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


@click.command()
@click.argument("job_id", type=JOB_ID)
@with_chain
@fail_clearly
def status(job_id, rpc_url, deployment, account, passphrase_file) -> None:
    """Print a job's on-chain state as JSON (status, windows, replicas, result hash; amounts in
    wei and, as `payment_tes` / `collateral_tes`, in TES). With your key (TES_PASSPHRASE) it
    also reads the served result: `summary` is then e.g. `paid (job failed: exit 1)` and
    `outcome` holds the exit code and the end of the job's stderr."""
    from oracle.client.inputs import fmt_tes

    client = connect(rpc_url, deployment, account, passphrase_file, need_key=False)
    view = client.job(job_id)
    outcome = _outcome(client, view)
    d = view.to_dict()
    d = {"job_id": d.pop("job_id"), "status": d.pop("status"), "summary": _summary(view.status.label, outcome),
         "outcome": outcome.to_dict() if outcome is not None else None,
         "payment_tes": fmt_tes(view.job.payment), "collateral_tes": fmt_tes(view.job.collateral), **d}  # fmt: skip
    click.echo(json.dumps(d, indent=2, default=str))


@click.command("jobs")
@click.option("--active", is_flag=True, help="Only jobs that can still change (not settled).")
@click.option("--address", help="Another client's address (default: your key's).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job.")
@with_chain
@fail_clearly
def jobs_list(active, address, as_json, rpc_url, deployment, account, passphrase_file) -> None:
    """List your jobs, rebuilt from the chain alone (their JobCreated events, seats and state):
    nothing is kept on this machine, so the list is the same after a reinstall or on another
    machine. Terms shown are the ones the chain recorded: bundle hash and URI, payment,
    collateral, k; `assigned` marks a k = 1 job created on a node's quote."""
    from rich.console import Console
    from rich.table import Table
    from web3 import Web3

    from oracle.client.errors import ClientError
    from oracle.client.inputs import fmt_tes

    if address is not None and not Web3.is_address(address):
        raise ClientError(f"--address {address!r} is not an address")
    client = connect(rpc_url, deployment, account, passphrase_file, need_key=address is None)
    rows = client.my_jobs(address)
    if active:
        rows = [r for r in rows if not r.status.terminal]
    if as_json:
        for r in rows:
            click.echo(json.dumps(r.to_dict()))
        return
    table = Table(title=f"TES jobs of {address or client.address}", expand=False)
    for col in ("job", "status", "k", "payment", "nodes", "bundle", "created (block)"):
        table.add_column(col)
    for r in rows:
        seats = ", ".join(map(str, r.nodes)) or "-"
        table.add_row(str(r.job_id), r.status.label, str(r.k), fmt_tes(r.payment),
                      seats + (" (quote)" if r.assigned else ""), r.bundle_uri[:48],
                      str(r.created_block))  # fmt: skip
    Console().print(table) if rows else click.echo("no jobs", err=True)
