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
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TES_", extra="forbid")

    # chain
    rpc_url: str = "http://127.0.0.1:8545"
    deployment: Path = Field(
        Path("deployments/local.json"), description="deployment record written by `ape run deploy`"
    )
    account: str = Field("operator", description="ape account alias of the operator key")
    passphrase_file: Path | None = None
    confirmations: int = Field(
        0,
        ge=0,
        description="blocks an event must be buried under before it is acted on, and our transaction before its intent is done (a reorg before that sends it again)",
    )
    poll_interval_s: float = Field(0.5, gt=0)
    reorg_depth: int = Field(64, ge=1, description="how far back a reorg is searched for")
    start_block: int | None = Field(
        None, description="first block to ingest (default: the deployment block)"
    )

    # which licences this operator serves (empty: every node whose operator is this key)
    node_ids: list[int] = Field(default_factory=list)

    # economics
    min_margin: float = Field(0.0, description="claim only when payment >= cost * (1 + min_margin)")
    compute_price_per_cpu_s: int = Field(
        0, ge=0, description="TES wei one CPU-second costs this node"
    )
    gas_limit_estimate: int = Field(
        600_000, description="gas of claim + proof + finalize for the cost estimate"
    )

    # execution
    backend: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    workers: int = Field(2, ge=1, description="jobs run at the same time")
    claim_prefetch: int = Field(
        2,
        ge=0,
        description="jobs claimed beyond the free workers, so a worker never waits for a claim to be mined",
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
    max_bundle_mb: int = Field(64, ge=1)
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
    data_dir: Path = Path(".tes-node")
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
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, ge=0, description="results endpoint; 0 = pick a free port")
    tls_cert: Path | None = Field(None, description="PEM certificate: serve results over HTTPS")
    tls_key: Path | None = Field(None, description="PEM key of tls_cert (if not in the same file)")
    metrics_host: str = Field(
        "127.0.0.1", description="Prometheus /metrics bind address (loopback: operators only)"
    )
    metrics_port: int = Field(0, ge=0, description="/metrics port; 0 = pick a free port")
    public_url: str | None = Field(
        None, description="results URL announced on chain (default: the bound address)"
    )
    log_level: str = "INFO"

    config_file: Path | None = Field(None, description="TOML file with any of these settings")

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
        if self.passphrase_file:
            return self.passphrase_file.read_text().strip()
        from oracle.core.errors import ConfigError

        raise ConfigError(
            "no passphrase: set TES_PASSPHRASE or --passphrase-file for unattended runs"
        )
