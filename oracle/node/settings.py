"""One typed settings object for the node, from (lowest to highest priority) defaults, a TOML
config file and `TES_*` environment variables.

Secrets are never settings: the operator key comes from an ape keystore (`account` is its alias)
and the passphrase from `TES_PASSPHRASE` (taken out of the environment when read: `take_env`) or
the file named by `passphrase_file`.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from oracle.core import strict
from oracle.execute.registry import BACKENDS


def take_env(name: str) -> str | None:
    """Removes `name` from the environment and returns its value. os.environ.pop also unsets it
    for children; the bytes of the value in the environment block the kernel gave the process at
    start (what /proc/<pid>/environ shows, readable by the same user) are overwritten first."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None)
            environ = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
            prefix = name.encode() + b"="
            i = 0
            while environ[i]:
                entry = ctypes.string_at(environ[i])
                if entry.startswith(prefix):
                    ctypes.memset(environ[i] + len(prefix), 0, len(entry) - len(prefix))
                i += 1
        except (OSError, ValueError, AttributeError):
            pass  # no C library to reach: unsetting below still keeps it from children
    return os.environ.pop(name, None)


# Prometheus' registry of default ports lists 9464 for OpenTelemetry-style exporters; a fixed
# default lets an operator point a scrape config at every node the same way (docs/node-operations.md).
DEFAULT_METRICS_PORT = 9464


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TES_", extra="forbid")

    # chain
    rpc_url: str = Field("http://127.0.0.1:8545", description="JSON-RPC endpoint of the chain")
    deployment: Path = Field(
        Path("deployments/local.json"), description="deployment record written by `ape run deploy`"
    )
    account: str = Field("operator", description="ape account alias of the operator key")
    passphrase_file: Path | None = Field(
        None, description="file holding the keystore passphrase (else env TES_PASSPHRASE)"
    )
    confirmations: int = Field(
        0,
        ge=0,
        description="blocks an event must be buried under before it is acted on, and our transaction before its intent is done (a reorg before that sends it again)",
    )
    poll_interval_s: float = Field(0.5, gt=0, description="seconds between two steps of the node")
    reorg_depth: int = Field(64, ge=1, description="how far back a reorg is searched for")
    start_block: int | None = Field(
        None, description="first block to ingest (default: the deployment block)"
    )

    # which licences this operator serves (empty: every node whose operator is this key)
    node_ids: list[int] = Field(
        default_factory=list,
        description="licence to serve (repeatable); a pending operator proposal for a licence named here is accepted",
    )

    # economics
    min_margin: float = Field(0.0, description="claim only when payment >= cost * (1 + min_margin)")
    compute_price_per_cpu_s: int = Field(
        0, ge=0, description="TES wei one CPU-second costs this node"
    )
    gas_limit_estimate: int = Field(
        600_000, description="gas of claim + proof + finalize for the cost estimate"
    )

    # execution
    backend: str = Field(
        "local",
        description="where jobs run: " + ", ".join(BACKENDS) + " (oracle/execute/registry.py)",
        json_schema_extra={"choices": list(BACKENDS)},
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster address (ray://host:10001 or host:6379); default starts a local Ray",
    )
    workers: int = Field(2, ge=1, description="jobs run at the same time")
    claim_prefetch: int = Field(
        2,
        ge=0,
        description="jobs claimed beyond the free workers, so a worker never waits for a claim to be mined",
    )
    quotes: bool = Field(
        True,
        description="answer POST /quote: sign quotes for k = 1 jobs clients then create assigned",
    )
    quote_queue: int = Field(
        64,
        ge=0,
        description="jobs quoted beyond the free workers, each only if it fits its window behind the work held",
    )
    quote_ttl_s: int = Field(
        60, ge=5, le=3_600, description="seconds a signed quote stays usable (and holds a worker)"
    )
    allow_unsafe: bool = Field(False, description="run jobs without bubblewrap (trusted jobs only)")
    rlimits_only: bool = Field(
        False,
        description="bound jobs by per-process rlimits where per-job cgroups cannot be made (weaker: development machines)",
    )
    cgroup_parent: Path | None = Field(
        None,
        description="a cgroup v2 directory delegated to this node (systemd Delegate=yes) for the jobs' cgroups",
    )
    max_bundle_mb: int = Field(64, ge=1, description="largest job bundle fetched")
    fetch_deadline_s: float = Field(
        60.0, gt=0, description="a bundle download slower than this is refused"
    )
    allow_local_bundles: bool = Field(
        False, description="fetch file:// and loopback/private URIs (local networks only)"
    )
    # node-side caps: a job asking for more is refused before any collateral is locked
    max_time_limit_s: int = Field(
        3_600, ge=1, description="longest per-run time limit this node accepts"
    )
    max_output_mb: int = Field(1_024, ge=1, description="largest output a job may ask to write")
    max_processes: int = Field(256, ge=1, description="most processes a job may ask for")
    proof_margin_s: int = Field(
        60, ge=0, description="left after a job's worst case, to get the proof mined"
    )
    data_dir: Path = Field(
        Path(".tes-node"), description="where the node keeps its database, work and results"
    )
    # result retention (oracle/node/retention.py): a result is never pruned while its job is unsettled
    result_retention_s: float = Field(
        7 * 86_400, ge=0,
        description="keep a result this long after its job settled on chain (paid, expired...), for its client to"
                    " fetch; then it is pruned and the results endpoint answers 410 Gone")  # fmt: skip
    result_retention_mb: int = Field(
        0, ge=0,
        description="cap on the stored results' total size (0 = none): past it the longest-settled results are"
                    " pruned first, even inside result_retention_s; an unsettled job's result never")  # fmt: skip

    # submit
    batch_size: int = Field(20, ge=1, description="proofs relayed per transaction")
    tx_timeout_s: float = Field(
        30.0, gt=0, description="wait this long for a receipt before bumping fees"
    )
    fee_bump: float = Field(
        1.25, ge=1.1, description="fee factor of each replacement of a stuck transaction"
    )
    max_fee_gwei: float = Field(
        1_000.0,
        gt=0,
        description="highest max fee per gas ever offered: a stuck transaction is bumped up to it, then waits (logged) until it is raised",
    )
    max_retries: int = Field(
        8, ge=1, description="sends of one intent whose transaction ran out of gas, before it fails"
    )

    # observability
    http_host: str = Field("127.0.0.1", description="bind address of the results endpoint")
    http_port: int = Field(0, ge=0, description="results endpoint; 0 = pick a free port")
    tls_cert: Path | None = Field(None, description="PEM certificate: serve results over HTTPS")
    tls_key: Path | None = Field(None, description="PEM key of tls_cert (if not in the same file)")
    metrics_host: str = Field(
        "127.0.0.1", description="Prometheus /metrics bind address (loopback: operators only)"
    )
    metrics_port: int = Field(
        DEFAULT_METRICS_PORT,
        ge=0,
        description="/metrics port (0 = pick a free port; the default, when taken by another node on"
        " this machine, falls back to a free port with a warning)",
    )
    public_url: str | None = Field(
        None, description="results URL announced on chain (default: the bound address)"
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    config_file: Path | None = Field(None, description="TOML file with any of these settings")

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"no backend {value!r}: use one of {', '.join(BACKENDS)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("not a log level: use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get("TES_CONFIG_FILE")
        if path:
            if not Path(path).is_file():
                from oracle.core.errors import ConfigError

                raise ConfigError(
                    f"no settings file at {path} (--config / TES_CONFIG_FILE): check the path"
                )
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "node.sqlite"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    def passphrase(self) -> str:
        """The keystore passphrase, read once: TES_PASSPHRASE leaves the environment here (and its
        value is wiped from the process's start-up environment block, /proc/<pid>/environ), so no
        child (Ray workers, nvidia-smi, a job's launcher) inherits it and no process can read it
        back. A second call finds only `passphrase_file`."""
        if env := take_env("TES_PASSPHRASE"):
            return env
        from oracle.core.errors import ConfigError

        if self.passphrase_file:
            try:
                return self.passphrase_file.read_text().strip()
            except (OSError, UnicodeDecodeError) as err:
                raise ConfigError(
                    f"cannot read the passphrase file {self.passphrase_file}: {err}"
                ) from None

        raise ConfigError(
            "no passphrase: set TES_PASSPHRASE or --passphrase-file for unattended runs"
        )


def option_name(field: str) -> str:
    """The command-line spelling of a setting: `metrics_port` -> `--metrics-port`."""
    return "--" + field.replace("_", "-")


def _source(field: str, given: dict[str, Any]) -> str:
    """Where the value of `field` came from, as the operator wrote it."""
    if field in given:
        return option_name(field)
    if f"TES_{field.upper()}" in os.environ:
        return f"TES_{field.upper()}"
    return f"{field} in {os.environ.get('TES_CONFIG_FILE') or 'the settings'}"


def suggest(word: str) -> str:
    """' (did you mean 'x'?)' for the setting closest to `word`, or ''."""
    return strict.suggest(word.lower(), Settings.model_fields)


def describe(err: ValidationError, given: dict[str, Any]) -> str:
    """A settings ValidationError as one line per problem, each naming where the value came from
    (an option, a TES_* variable or the TOML file) and the likely spelling of an unknown key."""
    lines = []
    for e in err.errors():
        loc = [str(part) for part in e.get("loc", ())]
        field = loc[0] if loc else "?"
        if e.get("type") == "extra_forbidden":
            where = os.environ.get("TES_CONFIG_FILE") or "the settings"
            hint = suggest(field) or "; `tes-node run --help` lists every setting"
            lines.append(f"unknown setting {field!r} in {where}{hint}")
        else:
            value = e.get("input")
            shown = "" if isinstance(value, dict) else f" = {value!r}"
            msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
            lines.append(f"{_source(field, given)}{shown}: {msg}")
    return "; ".join(lines)


def near_miss_env() -> list[str]:
    """TES_* variables that are no setting but look like one (`TES_WORKRES`): warned about, never
    an error, since jobs and tools use other TES_* names of their own."""
    known = {f"TES_{name.upper()}" for name in Settings.model_fields} | {"TES_PASSPHRASE"}
    out = []
    for name in os.environ:
        if name.startswith("TES_") and name not in known:
            close = strict.closest(name, known, cutoff=0.85)
            if close:
                out.append(f"{name} is not a setting (did you mean {close}?)")
    return out


def load_settings(**given: Any) -> Settings:
    """Settings from the command line's values (`given`, None = not given), the environment and
    the TOML file; every mistake is a ConfigError with one readable message."""
    from oracle.core.errors import ConfigError

    given = {k: v for k, v in given.items() if v not in (None, ())}
    try:
        return Settings(**given)
    except ValidationError as err:
        raise ConfigError(describe(err, given)) from None
    except tomllib.TOMLDecodeError as err:
        path = os.environ.get("TES_CONFIG_FILE")
        raise ConfigError(
            f"{path} is not valid TOML: {err} (strings need quotes, e.g. rpc_url ="
            ' "http://127.0.0.1:8545"; docs/tes-node.example.toml shows every setting)'
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read the settings file: {err}") from None
