"""Execute stage: run a job's bundle in a sandbox, locally or on a Ray cluster.

    backend = LocalSandboxBackend(work_dir)            # or RayBackend(address, work_dir=...)
    result = backend.run(ExecSpec(job_id=7, bundle_dir=Path("bundle"), entrypoint=("python3", "main.py")))
    futures = [backend.submit(spec) for spec in specs]  # many at once
    results = backend.wait(futures)

See `base` for the contract every backend keeps, `sandbox` for how a job is confined, and
`oracle.core.results` for the result hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oracle.execute.base import (
    PINNED_ENV,
    STATUS_FILE,
    Backend,
    Capacity,
    ExecResult,
    ExecSpec,
    ExecStatus,
    Limits,
)
from oracle.execute.gpu import GpuInfo, describe_gpus, detect_gpus
from oracle.execute.local import LocalSandboxBackend
from oracle.execute.sandbox import SandboxConfig, ensure_sandbox, run_sandboxed

if TYPE_CHECKING:
    from oracle.execute.ray_backend import RayBackend
    from oracle.node.settings import Settings

__all__ = [
    "PINNED_ENV",
    "STATUS_FILE",
    "Backend",
    "Capacity",
    "ExecResult",
    "ExecSpec",
    "ExecStatus",
    "GpuInfo",
    "Limits",
    "LocalSandboxBackend",
    "RayBackend",
    "SandboxConfig",
    "describe_gpus",
    "detect_gpus",
    "ensure_sandbox",
    "make_backend",
    "run_sandboxed",
]


def __getattr__(name: str):
    if name == "RayBackend":  # importing ray costs a second or two: only when asked for
        from oracle.execute.ray_backend import RayBackend

        return RayBackend
    raise AttributeError(name)


def make_backend(settings: Settings) -> Backend:
    """The backend the node's settings ask for (`backend`, `ray_address`, `workers`, `allow_unsafe`,
    `rlimits_only`, `cgroup_parent`), from the registry (`oracle.execute.registry`)."""
    from oracle.execute.registry import BackendOptions, make

    return make(
        settings.backend,
        BackendOptions(
            work_dir=settings.work_dir,
            workers=settings.workers,
            allow_unsafe=settings.allow_unsafe,
            use_cgroups=not settings.rlimits_only,
            cgroup_parent=str(settings.cgroup_parent) if settings.cgroup_parent else None,
            ray_address=settings.ray_address,
        ),
    )
