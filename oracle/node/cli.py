"""`tes-node`: run and inspect a TES compute node.

Every setting (oracle/node/settings.py) is an option of `tes-node run`, with its default in
`--help`; each can also come from a TOML file (`--config` / TES_CONFIG_FILE) or a `TES_<NAME>`
environment variable; options given here win. The operator key is an ape account; its passphrase
comes from TES_PASSPHRASE or --passphrase-file, never from the command line.

Every mistake an operator can make before the node runs (a misspelled setting, bad TOML, a bad
value, an unreachable RPC, a missing or foreign deployment record, a key that serves no licence)
is one `Error: ...` line with the fix and a non-zero exit status, never a traceback
(docs/node-operations.md).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import types
import typing
from pathlib import Path
from typing import Any

import click

from oracle.core.errors import ConfigError, OracleError
from oracle.core.units import format_tes as tes  # noqa: F401 (tests import it from here)
from oracle.node.cli_chain import RPC_DOWN, check_serves_something, connect_checked
from oracle.node.cli_status import OPEN_INTENTS, chain_status, print_status, redacted


class _Main(click.Group):
    """The command group: an error nobody foresaw is still one line (with TES_DEBUG=1 the
    traceback too), so an operator never has to read a stack trace to learn what is wrong."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except OracleError as err:
            raise click.ClickException(str(err)) from None
        except RPC_DOWN as err:
            raise click.ClickException(_rpc_down_message(ctx, err)) from None
        except Exception as err:
            if os.environ.get("TES_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(err).__name__}: {err} (TES_DEBUG=1 shows the traceback;"
                " please report it)"
            ) from None


def _rpc_down_message(ctx: click.Context | None, err: BaseException) -> str:
    url = os.environ.get("TES_RPC_URL") or "the RPC endpoint"
    return (
        f"cannot reach the chain at {url} ({type(err).__name__}): is the chain node running and"
        " the URL right? Pass --rpc-url, or set rpc_url in the config / TES_RPC_URL"
    )


# ------------------------------------------------------------------ settings as options
# Settings that are no option of `run`: the config file is --config.
_NOT_OPTIONS = {"config_file"}
# Settings whose option reads better in the singular (repeatable).
_OPTION_NAMES = {"node_ids": "--node-id"}


def _shown_default(name: str, field: Any) -> str:
    if name == "node_ids":
        return "every licence bound to this key"
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "none"
    if isinstance(default, bool):
        return "off"
    return str(default)


def _setting_option(name: str, field: Any):
    """A click option for one setting: its type, its description and its default in --help.
    The option's own default is None (not given), so the TOML file and TES_* variables apply."""
    from oracle.node.settings import option_name

    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if isinstance(annotation, types.UnionType) and len(args) == 1 else annotation
    flag = _OPTION_NAMES.get(name, option_name(name))
    help_text = (field.description or name.replace("_", " ")).rstrip(".")
    help_text = help_text[0].upper() + help_text[1:] + "."
    if "(default" not in help_text:  # some descriptions say it already, in words
        help_text += f"  [default: {_shown_default(name, field)}]"
    kwargs: dict[str, Any] = {"default": None}
    if base is bool:
        neg = "--no-" + flag[2:]
        return click.option(f"{flag}/{neg}", name, help=help_text, **kwargs)
    if typing.get_origin(base) is list:
        return click.option(flag, name, multiple=True, type=int, help=help_text, **kwargs)
    choices = (
        (field.json_schema_extra or {}).get("choices")
        if isinstance(field.json_schema_extra, dict)
        else None
    )
    if choices:
        kwargs["type"] = click.Choice([str(c) for c in choices])
    elif typing.get_origin(base) is typing.Literal:
        kwargs["type"] = click.Choice([str(a) for a in typing.get_args(base)])
    elif base is Path:
        kwargs["type"] = click.Path(path_type=Path)
    elif base in (int, float):
        kwargs["type"] = base
    return click.option(flag, name, help=help_text, **kwargs)


def with_settings(names: list[str] | None = None):
    """Adds an option per setting (all of them, or `names`), plus --config."""

    def decorate(f):
        from oracle.node.settings import Settings

        fields = Settings.model_fields
        chosen = [n for n in (names or list(fields)) if n not in _NOT_OPTIONS]
        for name in reversed(chosen):
            f = _setting_option(name, fields[name])(f)
        return click.option(
            "--config",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="TOML settings file (any setting below, by its name: docs/tes-node.example.toml).",
        )(f)

    return decorate


def _settings(**given):
    from oracle.node.settings import load_settings, near_miss_env

    config = given.pop("config", None)
    if config:
        os.environ["TES_CONFIG_FILE"] = str(config)
    for warning in near_miss_env():
        click.echo(f"warning: {warning}", err=True)
    return load_settings(**given)


# ------------------------------------------------------------------ commands
@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """TES node software: claims paid compute jobs, runs them in a sandbox or on a Ray cluster,
    and posts signed completion proofs that release payment. docs/node-operations.md explains
    running one."""


@main.command()
@with_settings()
@click.option(
    "--max-seconds", type=float, default=None, help="Stop after this long (for demos and tests)."
)
def run(max_seconds, **opts) -> None:
    """Run the node until interrupted (SIGINT/SIGTERM stop it cleanly).

    Every option is a setting: it can also be set in the --config TOML file by its name
    (rpc_url = "...") or as TES_<NAME> in the environment; an option given here wins."""
    from oracle.node.loop import Node, configure_logging
    from oracle.node.serve import MetricsServer, ResultServer

    s = _settings(**opts)
    connect_checked(s)
    configure_logging(s.log_level)
    node = Node(s)
    try:
        served = check_serves_something(node.chain, node.key.address, list(s.node_ids))
        server = ResultServer(
            s.http_host,
            s.http_port,
            node.chain.chain_id,
            node.chain.market.address,
            node.result_lookup,
            lambda: set(node.licences.records),  # the licences served: a request names one
            s.tls_cert,
            s.tls_key,
            quote=node.quotes.ask if node.quotes is not None else None,
            quote_batch=node.quotes.ask_batch if node.quotes is not None else None,
        ).start()
        metrics_server = _metrics_server(MetricsServer, s)
    except BaseException:
        node.close()
        raise
    click.echo(
        json.dumps(
            {
                "operator": node.key.address,
                "licences": sorted(served),
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


def _metrics_server(cls, s):
    """/metrics on `metrics_port`. The default port (9464) taken by another node on this machine
    falls back to a free port with a warning; a port the operator chose must be free."""
    try:
        return cls(s.metrics_host, s.metrics_port).start()
    except OSError as err:
        if "metrics_port" in s.model_fields_set or s.metrics_port == 0:
            raise ConfigError(
                f"cannot serve /metrics on {s.metrics_host}:{s.metrics_port} ({err.strerror or err}):"
                " choose another --metrics-port (0 = any free port)"
            ) from None
        server = cls(s.metrics_host, 0).start()
        click.echo(
            f"warning: the default metrics port {s.metrics_port} is taken (another node on this"
            f" machine?): /metrics is at {server.url} instead; set metrics_port to fix it",
            err=True,
        )
        return server


_STATUS_SETTINGS = [
    "rpc_url", "deployment", "data_dir", "account", "node_ids",
    "min_margin", "compute_price_per_cpu_s", "gas_limit_estimate",
]  # fmt: skip


@main.command()
@with_settings(_STATUS_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-chain", is_flag=True, help="Only the local database; read nothing on chain.")
def status(as_json, no_chain, **opts) -> None:
    """Show this node's licences on chain (status, stake, locked collateral, unbonding, earnings,
    claimable rewards, endpoint), the pricing in force, its jobs by stage, its recent jobs and its
    transaction intents."""
    from oracle.node.store import Store

    s = _settings(**opts)
    out: dict[str, Any] = {}
    store = Store(s.db_path) if s.db_path.exists() else None
    if store is not None:
        out.update(
            cursor=store.cursor(),
            jobs_by_stage=store.stage_counts(),
            jobs=[redacted(j) for j in store.jobs()[-20:]],
            pending_intents=[redacted(dict(i.__dict__)) for i in store.intents(*OPEN_INTENTS)],
            gas_spent=store.gas_spent(),
        )
    out["pricing"] = {
        "min_margin": s.min_margin,
        "compute_price_per_cpu_s": s.compute_price_per_cpu_s,
        "gas_limit_estimate": s.gas_limit_estimate,
    }
    chain_error = None
    if not no_chain:
        try:
            out.update(chain_status(s))
        except ConfigError as err:
            if store is None:
                raise ConfigError(
                    f"nothing to show: no node database at {s.db_path} (pass --data-dir where"
                    f" `tes-node run` ran), and the chain cannot be read: {err}"
                ) from None
            chain_error = str(err)
            out["chain_error"] = chain_error
    elif store is None:
        raise click.ClickException(
            f"no node database at {s.db_path} (has `tes-node run` been started here? pass"
            " --data-dir)"
        )
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
        return
    print_status(out, store is not None)


if __name__ == "__main__":
    sys.exit(main())
