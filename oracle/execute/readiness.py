"""Whether this machine can sandbox jobs: `ensure_sandbox` starts one trivial sandbox and creates
one job cgroup before the node accepts work, and refuses (or, with `allow_unsafe`, warns loudly
and runs jobs bare) when either fails."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from oracle.core.errors import SandboxUnavailableError
from oracle.core.tree import remove_tree
from oracle.execute.base import ExecSpec
from oracle.execute.bwrap import HOST_ENV, bwrap_command
from oracle.execute.cgroup import JobCgroup
from oracle.execute.sandbox_config import MIB, SandboxConfig, cgroup_parent_dir
from oracle.execute.seccomp import filter_fd

log = logging.getLogger("oracle.execute")


@functools.lru_cache(maxsize=8)
def _probe(config: SandboxConfig) -> str | None:
    """Starts one trivial sandbox; returns why it failed, or None."""
    for tool in ("prlimit",) + (("setpriv",) if os.geteuid() == 0 else ()):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed"
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"tes-probe-{uuid.uuid4().hex[:12]}"
    (scratch / "job").mkdir(parents=True)
    (scratch / "out").mkdir()
    try:
        os.chmod(scratch / "job", 0o755)
        if os.geteuid() == 0:
            os.chown(scratch / "out", config.uid, config.gid)
        spec = ExecSpec(job_id="probe", bundle_dir=scratch / "job", entrypoint=("true",))
        try:
            seccomp_fd = filter_fd()
        except SandboxUnavailableError as err:
            return str(err)
        cmd = bwrap_command(
            config, spec, scratch / "job", scratch / "out", (), memory_rlimit=False, nproc=64,
            seccomp_fd=seccomp_fd,
        )  # fmt: skip
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=30, env=HOST_ENV,
                pass_fds=() if seccomp_fd is None else (seccomp_fd,),
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bwrap did not start: {err}"
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip()[-500:] or f"exit code {proc.returncode}"
        return None
    finally:
        remove_tree(scratch)


def _cgroup_probe(config: SandboxConfig) -> str | None:
    """Creates one job cgroup; returns why memory and pids cannot be bounded per job, or None.
    Not cached: a few file writes, and a delegation the operator fixes is seen at once."""
    cg = JobCgroup.create(
        f"tes-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        64 * MIB,
        16,
        1.0,
        cgroup_parent_dir(config),
    )
    if cg is None or not (cg.has_memory and cg.has_pids):
        missing = "memory and pids" if cg is None else "memory" if not cg.has_memory else "pids"
        if cg:
            cg.remove()
        return (
            f"per-job cgroup limits ({missing}) cannot be applied here: run the node as root on "
            "cgroup v1, or on v2 in a cgroup delegated to it (systemd `Delegate=yes`, then "
            "`cgroup_parent`); `rlimits_only = true` accepts per-process rlimits instead"
        )
    if not cg.has_cpu:
        log.warning("no cpu cgroup controller: a job's CPU use is bounded by its processes only")
    cg.remove()
    return None


def ensure_sandbox(config: SandboxConfig) -> SandboxConfig:
    """Returns a config jobs can run with, or raises SandboxUnavailableError.

    Without a working bwrap (with its seccomp filter), or without per-job cgroup limits while
    `use_cgroups` is on, this refuses, unless `allow_unsafe`: then it warns loudly and returns a
    config that runs jobs with rlimits only (no isolation at all)."""
    why: str | None
    if config.bwrap is None:
        why = "bubblewrap (bwrap) is not installed: run `make setup` (Debian package bubblewrap)"
    else:
        why = _probe(config)
        if why is None:
            why = _cgroup_probe(config) if config.use_cgroups else None
            if why is None:
                if not config.use_cgroups:
                    log.warning(
                        "rlimits_only: jobs are bounded by per-process rlimits, not cgroups"
                    )
                return config
        else:
            why = f"bubblewrap cannot start a sandbox on this machine: {why}"
    if not config.allow_unsafe:
        raise SandboxUnavailableError(
            f"{why}; refusing to run untrusted jobs (allow_unsafe runs them bare)"
        )
    log.warning("!" * 78)
    log.warning("UNSAFE EXECUTION: %s.", why)
    log.warning("Jobs run WITHOUT a sandbox, as this user, with network and the whole filesystem,")
    log.warning("bounded only by rlimits and a timeout. Run only jobs you trust.")
    log.warning("!" * 78)
    return dataclasses.replace(config, bwrap=None, unsafe_reasons=(why,))
