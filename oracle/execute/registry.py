"""Execution backends by name: a new backend is one module plus one entry in BACKENDS, and the
node's `backend` setting (TOML, TES_BACKEND, `tes-node run --backend`) and `tes-client run-local
--backend` offer it from here.

Each entry builds its backend from the same `BackendOptions`; a backend that needs a heavy
import (Ray) imports it only when chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from oracle.execute.base import Backend


@dataclass(frozen=True)
class BackendOptions:
    work_dir: Path
    workers: int | None = None  # jobs at once (None: the backend's own default)
    allow_unsafe: bool = False
    use_cgroups: bool = True
    cgroup_parent: str | None = None
    ray_address: str | None = None


def _local(o: BackendOptions) -> Backend:
    from oracle.execute.local import LocalSandboxBackend
    from oracle.execute.sandbox import SandboxConfig

    config = SandboxConfig.detect(
        allow_unsafe=o.allow_unsafe, use_cgroups=o.use_cgroups, cgroup_parent=o.cgroup_parent
    )
    return LocalSandboxBackend(
        o.work_dir / "local", max_workers=o.workers, allow_unsafe=o.allow_unsafe, config=config
    )


def _ray(o: BackendOptions) -> Backend:
    from oracle.execute.ray_backend import RayBackend  # a second or two: only when chosen

    options = {"use_cgroups": o.use_cgroups, "cgroup_parent": o.cgroup_parent}
    return RayBackend(
        o.ray_address,
        work_dir=o.work_dir / "ray",
        allow_unsafe=o.allow_unsafe,
        sandbox_options=options,  # each worker detects its own paths
    )


BACKENDS: dict[str, Callable[[BackendOptions], Backend]] = {
    "local": _local,  # bubblewrap sandboxes on this machine (oracle/execute/local.py)
    "ray": _ray,  # the same sandbox on a Ray cluster's workers (oracle/execute/ray_backend.py)
}


def make(name: str, options: BackendOptions) -> Backend:
    try:
        build = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}: one of {', '.join(BACKENDS)}") from None
    return build(options)
