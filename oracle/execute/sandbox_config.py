"""How jobs are sandboxed on this machine: `SandboxConfig` (bwrap, the node's Python, the job's
uid/gid, cgroups or rlimits only, the watchdog's polling) and the units the limits use."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1 << 20
NOBODY = 65534


@dataclass(frozen=True)
class SandboxConfig:
    """How jobs are sandboxed on this machine. `SandboxConfig.detect()` fills it in."""

    bwrap: str | None
    python_dirs: tuple[str, ...]  # bound read-only at the same path (venv + base install)
    path: str  # PATH inside the sandbox: the node's venv first
    extra_ro_binds: tuple[str, ...] = ()
    uid: int = NOBODY
    gid: int = NOBODY
    use_cgroups: bool = True  # False: per-process rlimits only, by the operator's explicit choice
    cgroup_parent: str | None = None  # a delegated cgroup v2 directory (cgroup.py)
    allow_unsafe: bool = False
    tail_bytes: int = 8192
    poll_s: float = 0.1
    output_poll_s: float = 0.5
    unsafe_reasons: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def detect(cls, *, allow_unsafe: bool = False, **overrides: object) -> SandboxConfig:
        prefixes = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
        dirs = sorted(p for p in prefixes if not _under(p, "/usr"))
        # Drop a prefix that lies inside another one (already bound).
        dirs = [d for d in dirs if not any(d != o and _under(d, o) for o in dirs)]
        venv_bin = os.path.join(os.path.realpath(sys.prefix), "bin")
        values: dict[str, object] = dict(
            bwrap=shutil.which("bwrap"),
            python_dirs=tuple(dirs),
            path=f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            allow_unsafe=allow_unsafe,
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def cgroup_parent_dir(config: SandboxConfig) -> Path | None:
    """The delegated cgroup v2 directory the job cgroups go under (cgroup.py), if any."""
    return Path(config.cgroup_parent) if config.cgroup_parent else None
