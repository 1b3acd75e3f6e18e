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
from oracle.core.units import format_tes as tes
from oracle.node.store import IntentStatus, Stage

# Exceptions that mean "the RPC endpoint is not there" (requests' and the stdlib's).
try:
    from requests.exceptions import ConnectionError as _ReqConnectionError
    from requests.exceptions import Timeout as _ReqTimeout

    RPC_DOWN: tuple[type[BaseException], ...] = (
        _ReqConnectionError,
        _ReqTimeout,
        ConnectionError,
        TimeoutError,
    )
except ImportError:  # pragma: no cover - web3 depends on requests
    RPC_DOWN = (ConnectionError, TimeoutError)


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


# ------------------------------------------------------------------ chain checks
def connect_checked(s) -> Any:
    """The node's chain access, checked before anything else starts: the deployment record is
    there and readable, the RPC answers, it is the record's chain, and the contracts exist there.
    Each failure is a ConfigError saying what to do."""
    from oracle.core.chain import Chain

    path = Path(s.deployment)
    if not path.is_file():
        raise ConfigError(
            f"no deployment record at {path}: pass --deployment (or TES_DEPLOYMENT) with the"
            " file `ape run deploy` wrote (deployments/<network>.json)"
        )
    try:
        record = json.loads(path.read_text())
        contracts = record["contracts"]
        registry = contracts["NodeRegistry"]
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise ConfigError(
            f"{path} is not a deployment record ({type(err).__name__}: {err}): use the file"
            " `ape run deploy` wrote"
        ) from None
    chain = Chain.connect(s.rpc_url, path, timeout_s=10.0)
    try:
        chain_id = chain.chain_id
        code = chain.w3.eth.get_code(chain.w3.to_checksum_address(registry))
    except RPC_DOWN as err:
        raise ConfigError(
            f"cannot reach the chain at {s.rpc_url} ({type(err).__name__}): is the chain node"
            " running and the URL right? Pass --rpc-url, or set rpc_url in the config /"
            " TES_RPC_URL"
        ) from None
    except Exception as err:  # noqa: BLE001 - an HTTP server that is no JSON-RPC endpoint
        raise ConfigError(
            f"{s.rpc_url} does not answer as an Ethereum JSON-RPC endpoint"
            f" ({type(err).__name__}: {err}): check --rpc-url"
        ) from None
    want = record.get("chainId", record.get("chain_id"))
    if want is not None and int(want) != chain_id:
        raise ConfigError(
            f"{path} records a deployment on chain {want}, but {s.rpc_url} is chain {chain_id}:"
            " pass the record of this chain, or the RPC of that one"
        )
    if not code:
        raise ConfigError(
            f"the contracts of {path} do not exist on chain {chain_id} at {s.rpc_url} (the chain"
            " was reset since it was written?): deploy again with `ape run deploy`"
        )
    return chain


def served_licences(chain, operator: str, node_ids: list[int]) -> tuple[dict[int, Any], list[int]]:
    """({node id: NodeRecord} of the licences `operator` is the operator of, [named licences
    proposing `operator`, which the node will accept]). Without `node_ids` the candidates are
    the licences an OperatorBound event ever named this key for (one eth_getLogs)."""
    from oracle.core.protocol import NodeRecord

    reg = chain.registry
    if node_ids:
        candidates = sorted(set(node_ids))
    else:
        logs = reg.events.OperatorBound.get_logs(
            from_block=chain.deployment_block, argument_filters={"operator": operator}
        )
        candidates = sorted({int(entry["args"]["nodeId"]) for entry in logs})
    records = {i: NodeRecord.from_raw(reg.functions.node(i).call()) for i in candidates}
    mine = {i: n for i, n in records.items() if n.operator.lower() == operator.lower()}
    pending = [
        i
        for i in node_ids
        if i not in mine and reg.functions.pendingOperatorOf(i).call().lower() == operator.lower()
    ]
    return mine, pending


def check_serves_something(chain, operator: str, node_ids: list[int]) -> dict[int, Any]:
    """The licences the node will serve; a ConfigError naming the key (and the fix) when it
    would serve none, and a warning per licence that is not active."""
    from oracle.core.protocol import NodeStatus

    mine, pending = served_licences(chain, operator, node_ids)
    if not mine and not pending:
        named = f" (named: {', '.join(map(str, node_ids))})" if node_ids else ""
        raise ConfigError(
            f"the operator key {operator} serves no licence{named}: no licence has it as its"
            " operator or proposes it. The licence owner runs `ape run setup-node --node-id <id>"
            f" --operator {operator}`, then this key accepts with `ape run accept-operator"
            " --node-id <id>` (or start tes-node with --node-id <id> to accept it)"
        )
    for i, n in sorted(mine.items()):
        if n.status != NodeStatus.ACTIVE:
            click.echo(
                f"warning: licence {i} is {n.status.name.lower()}: it gets no jobs until its owner"
                f" runs `ape run rejoin --node-id {i}`",
                err=True,
            )
    for i in pending:
        click.echo(f"licence {i} proposes this key: the node accepts it", err=True)
    return mine


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
            node.served_node_ids,
            s.tls_cert,
            s.tls_key,
            quote=node.quotes.ask if node.quotes is not None else None,
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
            jobs=[_redacted(j) for j in store.jobs()[-20:]],
            pending_intents=[_redacted(dict(i.__dict__)) for i in store.intents(*_OPEN_INTENTS)],
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
    _print_status(out, store is not None)


def _operator_address(account: str) -> str | None:
    """The address of ape account `account`, from its keystore (no passphrase needed)."""
    from oracle.core.chain import ape_data_folder

    path = ape_data_folder() / "accounts" / f"{account}.json"
    try:
        address = json.loads(path.read_text())["address"]
    except (OSError, ValueError, KeyError):
        return None
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


def chain_status(s) -> dict[str, Any]:
    """Per licence of this operator, from the chain: status, stake, locked collateral, unbonding,
    job counters, claimable rewards, rewards claimed, job earnings (every `EarningsCredited` to
    the licence's ledger, what of it is still unwithdrawn, and the fees kept as work not yet
    pushed to Rewards), and the endpoint last announced; and the market's price floor. One call
    per value, and one eth_getLogs per event kind for all licences."""
    chain = connect_checked(s)
    operator = _operator_address(s.account)
    if operator is None and not s.node_ids:
        raise ConfigError(
            f"no ape account {s.account!r} to find this node's licences by: pass --account <alias>"
            " or --node-id <id>"
        )
    if s.node_ids:
        from oracle.core.protocol import NodeRecord

        reg = chain.registry
        records = {i: NodeRecord.from_raw(reg.functions.node(i).call()) for i in s.node_ids}
    else:
        records, _ = served_licences(chain, operator or "", [])
    reg, rewards, market = chain.registry, chain.rewards, chain.market
    ids = sorted(records)
    start = chain.deployment_block
    endpoints: dict[int, str] = {}
    claimed: dict[int, int] = dict.fromkeys(ids, 0)
    earned: dict[int, int] = dict.fromkeys(ids, 0)
    if ids:
        for entry in reg.events.EndpointAnnounced.get_logs(
            from_block=start, argument_filters={"nodeId": ids}
        ):
            endpoints[int(entry["args"]["nodeId"])] = entry["args"]["url"]  # the last one wins
        for entry in rewards.events.RewardsClaimed.get_logs(
            from_block=start, argument_filters={"nodeId": ids}
        ):
            claimed[int(entry["args"]["nodeId"])] += int(entry["args"]["amount"])
        for entry in market.events.EarningsCredited.get_logs(
            from_block=start, argument_filters={"nodeId": ids}
        ):
            earned[int(entry["args"]["nodeId"])] += int(entry["args"]["amount"])
    owners = {i: reg.functions.ownerOfNode(i).call() for i in ids}
    licences = []
    for i in ids:
        n = records[i]
        ledger = market.functions.ledger(i).call()  # (earned, work, workEpoch)
        licences.append(
            {
                "node_id": i,
                "owner": owners[i],
                "operator": n.operator,
                "status": n.status.name.lower(),
                "stake": n.stake,
                "locked": n.locked,
                "free": n.free_stake,
                "unbonding": n.unbonding,
                "unbonding_release_at": n.unbondingReleaseAt,
                "completed": n.completed,
                "failed": n.failed,
                "slashed": n.slashed,
                "earned_jobs": earned[i],
                "unwithdrawn_earnings": int(ledger[0]),
                "pending_work": int(ledger[1]),
                "pending_work_epoch": int(ledger[2]),
                "claimable_rewards": rewards.functions.claimable(i).call(),
                "claimed_rewards": claimed[i],
                "endpoint": endpoints.get(i),
            }
        )
    params = market.functions.parameters().call()
    names = [o["name"] for o in _outputs(market, "parameters")]
    return {
        "chain_id": chain.chain_id,
        "operator": operator,
        "licences": licences,
        "market": dict(zip(names, params, strict=False)) if names else {},
        "min_stake": reg.functions.minStake().call(),
    }


def _outputs(contract, fn: str) -> list[dict[str, Any]]:
    for item in contract.abi:
        if item.get("type") == "function" and item.get("name") == fn:
            outs = item.get("outputs", [])
            if len(outs) == 1 and outs[0].get("components"):
                return outs[0]["components"]
            return outs
    return []


def _work_epoch(lic: dict[str, Any]) -> str:
    if not lic["pending_work"]:
        return ""
    return (
        f" (epoch {lic['pending_work_epoch']}; sent at the node's first settlement in a later"
        " epoch, or by `ape run claim-rewards`)"
    )


def _utc(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _print_status(out: dict[str, Any], has_db: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if "licences" in out:
        console.print(f"operator {out['operator'] or '-'} on chain {out['chain_id']}")
        for lic in out["licences"]:
            unbonding = ""
            if lic["unbonding"]:
                unbonding = (
                    f", {tes(lic['unbonding'])} unbonding until {_utc(lic['unbonding_release_at'])}"
                )
            console.print(
                f"licence {lic['node_id']}: {lic['status']} (owner {lic['owner']})\n"
                f"  stake {tes(lic['stake'])}: {tes(lic['locked'])} locked as collateral,"
                f" {tes(lic['free'])} free{unbonding}\n"
                f"  jobs completed {lic['completed']}, failed {lic['failed']}, slashed"
                f" {lic['slashed']}; earned from jobs {tes(lic['earned_jobs'])}, of which"
                f" {tes(lic['unwithdrawn_earnings'])} not withdrawn yet\n"
                f"  work (fees) not yet pushed to Rewards {tes(lic['pending_work'])}"
                f"{_work_epoch(lic)}\n"
                f"  rewards: claimable {tes(lic['claimable_rewards'])}, claimed"
                f" {tes(lic['claimed_rewards'])}\n"
                f"  endpoint {lic['endpoint'] or '(none announced yet)'}",
                highlight=False,
            )
        if not out["licences"]:
            console.print("no licence has this key as its operator")
        m = out.get("market", {})
        floor = ""
        if "minJobFee" in m:
            floor = f"; market: min job fee {tes(m['minJobFee'])}"
        if "minCollateralBps" in m:
            floor += f", min collateral {m['minCollateralBps'] / 100:g}% of the payment"
        console.print(f"min stake {tes(out['min_stake'])}{floor}")
    elif out.get("chain_error"):
        console.print(f"chain: not read ({out['chain_error']})")
    p = out["pricing"]
    console.print(
        f"pricing in force: min_margin {p['min_margin']:g}, compute_price_per_cpu_s"
        f" {p['compute_price_per_cpu_s']} wei, gas_limit_estimate {p['gas_limit_estimate']:,}"
    )
    if not has_db:
        console.print("no node database here yet (pass --data-dir where `tes-node run` ran)")
        return
    console.print(
        f"cursor: block {out['cursor'][0] if out['cursor'] else '-'}   gas spent: {out['gas_spent']:,}"
    )
    console.print(
        "jobs by stage: " + ", ".join(f"{k}={v}" for k, v in out["jobs_by_stage"].items())
    )
    table = Table("job", "node", "stage", "payment", "result", "reason")
    for j in out["jobs"]:
        table.add_row(
            str(j["job_id"]),
            str(j["node_id"] or "-"),
            j["stage"],
            tes(int(j["payment"])) if j.get("payment") else "-",
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
