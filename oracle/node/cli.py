"""`tes-node`: run and inspect a TES compute node.

Every option can also come from a TOML file (`--config` / TES_CONFIG_FILE) or a `TES_<NAME>`
environment variable; options given here win. The operator key is an ape account; its passphrase
comes from TES_PASSPHRASE or --passphrase-file, never from the command line.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from oracle.core.errors import OracleError
from oracle.node.store import IntentStatus, Stage


def _settings(**overrides):
    from oracle.node.settings import Settings

    config = overrides.pop("config", None)
    if config:
        os.environ["TES_CONFIG_FILE"] = str(config)
    return Settings(**{k: v for k, v in overrides.items() if v not in (None, ())})


common = [
    click.option(
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="TOML settings file.",
    ),
    click.option(
        "--rpc-url", help="JSON-RPC endpoint of the chain (default http://127.0.0.1:8545)."
    ),
    click.option(
        "--deployment",
        type=click.Path(path_type=Path),
        help="Deployment record from `ape run deploy`.",
    ),
    click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        help="Where the node keeps its database, work and results.",
    ),
]


def with_common(f):
    for opt in reversed(common):
        f = opt(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """TES node software: claims paid compute jobs, runs them in a sandbox or on a Ray cluster,
    and posts signed completion proofs that release payment."""


@main.command()
@with_common
@click.option("--account", help="ape account alias of the operator key (default: operator).")
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding the keystore passphrase (else TES_PASSPHRASE).",
)
@click.option(
    "--node-id",
    "node_ids",
    multiple=True,
    type=int,
    help="Licence to serve (repeatable; default: all bound to this key).",
)
@click.option(
    "--confirmations",
    type=int,
    help="Blocks an event must be buried under before the node acts on it, and its own transaction before it counts as done.",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    help="Run jobs in a local sandbox pool or on Ray.",
)
@click.option(
    "--ray-address",
    help="Ray cluster address (ray://host:10001 or host:6379); default starts a local Ray.",
)
@click.option("--workers", type=int, help="Jobs run at the same time.")
@click.option(
    "--allow-unsafe",
    is_flag=True,
    default=None,
    help="Run jobs WITHOUT the bubblewrap sandbox (trusted jobs only).",
)
@click.option(
    "--allow-local-bundles",
    is_flag=True,
    default=None,
    help="Fetch file:// and loopback/private bundle URIs (a local network only; refused otherwise).",
)
@click.option("--batch-size", type=int, help="Proofs relayed per transaction.")
@click.option("--http-host", help="Address of the results endpoint.")
@click.option("--http-port", type=int, help="Port of the results endpoint (0 = any free port).")
@click.option(
    "--metrics-port", type=int, help="Port of /metrics, on --metrics-host (loopback by default)."
)
@click.option(
    "--public-url", help="URL clients use to reach the results endpoint (announced on chain)."
)
@click.option(
    "--max-seconds", type=float, default=None, help="Stop after this long (for demos and tests)."
)
@click.option("--log-level", help="DEBUG, INFO, WARNING...")
def run(max_seconds, **opts) -> None:
    """Run the node until interrupted (SIGINT/SIGTERM stop it cleanly)."""
    from oracle.node.loop import Node, configure_logging
    from oracle.node.serve import MetricsServer, ResultServer

    try:
        s = _settings(**opts)
        configure_logging(s.log_level)
        node = Node(s)
    except OracleError as err:
        raise click.ClickException(str(err)) from err
    server = ResultServer(
        s.http_host,
        s.http_port,
        node.chain.chain_id,
        node.chain.market.address,
        node.result_lookup,
        node.served_node_ids,
        s.tls_cert,
        s.tls_key,
    ).start()
    metrics_server = MetricsServer(s.metrics_host, s.metrics_port).start()
    click.echo(
        json.dumps(
            {
                "operator": node.key.address,
                "http": server.url,
                "metrics": metrics_server.url,
                "pid": os.getpid(),
            }
        ),
        err=True,
    )
    logging.getLogger("oracle.node.loop").info(
        "results at %s, metrics at %s/metrics", server.url, metrics_server.url
    )
    (s.data_dir / "http.url").write_text(server.url)
    (s.data_dir / "metrics.url").write_text(metrics_server.url)
    node.announce(s.public_url or server.url)
    signal.signal(signal.SIGTERM, lambda *_: node.stop())
    try:
        node.run(max_seconds=max_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        metrics_server.stop()
        node.close()


@main.command()
@with_common
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json, **opts) -> None:
    """Show this node's jobs by stage, its recent jobs and its transaction intents."""
    from oracle.node.store import Store

    s = _settings(**opts)
    if not s.db_path.exists():
        raise click.ClickException(
            f"no node database at {s.db_path} (has `tes-node run` been started here?)"
        )
    store = Store(s.db_path)
    out: dict[str, Any] = {
        "cursor": store.cursor(),
        "jobs_by_stage": store.stage_counts(),
        "jobs": [_redacted(j) for j in store.jobs()[-20:]],
        "pending_intents": [_redacted(dict(i.__dict__)) for i in store.intents(*_OPEN_INTENTS)],
        "gas_spent": store.gas_spent(),
    }
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"cursor: block {out['cursor'][0] if out['cursor'] else '-'}   gas spent: {out['gas_spent']}"
    )
    console.print(
        "jobs by stage: " + ", ".join(f"{k}={v}" for k, v in out["jobs_by_stage"].items())
    )
    table = Table("job", "node", "stage", "result", "reason")
    for j in out["jobs"]:
        table.add_row(
            str(j["job_id"]),
            str(j["node_id"] or "-"),
            j["stage"],
            (j["result_hash"] or "")[:16],
            j["reason"] or "",
        )
    console.print(table)


# Stages at which our result hash is public or can no longer be copied for pay: the round is
# revealing (our reveal queued, every commitment already in) or the job has ended with our seat.
_RESULT_PUBLIC = (Stage.REVEALED, Stage.DONE)
_OPEN_INTENTS = (IntentStatus.PENDING, IntentStatus.SENT, IntentStatus.MINED)


def _redacted(row: dict) -> dict:
    """A salt opens a commitment, and before the reveal the result hash alone is enough to copy: a
    lazy replica, or a dispute's juror, commits to it without running the job. Status output gets
    pasted into tickets and logs, so salts (in jobs and in reveal payloads) never appear in it,
    and a result hash only once it is public (`_RESULT_PUBLIC`)."""
    if row.get("salt"):
        row["salt"] = "<hidden>"
    if row.get("result_hash") and "stage" in row and row["stage"] not in _RESULT_PUBLIC:
        row["result_hash"] = "<hidden>"
    payload = row.get("payload")
    if isinstance(payload, dict):
        row["payload"] = {
            k: "<hidden>" if k in ("salt", "result") else v for k, v in payload.items()
        }
    return row


if __name__ == "__main__":
    sys.exit(main())
