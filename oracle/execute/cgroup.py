"""Per-job cgroups: exact memory, process and CPU limits.

rlimits are per process (RLIMIT_AS) or per user (RLIMIT_NPROC); a cgroup bounds the job as a
whole, tells afterwards whether the OOM killer or the pids limit struck, and can kill every
process in it. Works on cgroup v2, and on v1 with the `memory`, `pids` and `cpu` hierarchies.

On v2 a cgroup may only hand controllers to children while it holds no process itself ("no
internal processes"), so a node started inside a busy cgroup cannot simply make job children
there. In order: an operator-delegated parent (`cgroup_parent`, e.g. a systemd unit with
`Delegate=yes`); else this process's own cgroup, after moving this process into a leaf
`tes-node` beside the jobs when it is the only one there (what systemd asks of a delegated
service); else nothing. `ensure_sandbox` refuses to run untrusted jobs when memory and pids
cannot be bounded this way, rather than silently falling back to per-process rlimits.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from pathlib import Path

log = logging.getLogger("oracle.execute")
ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
NODE_LEAF = "tes-node"


class JobCgroup:
    def __init__(self, dirs: dict[str, Path], v2: bool):
        self.dirs = dirs  # controller ("memory", "pids") -> its directory (one directory on v2)
        self.v2 = v2

    @classmethod
    def create(
        cls,
        name: str,
        memory_bytes: int,
        max_pids: int,
        cpus: float | None = None,
        parent: Path | None = None,
    ) -> JobCgroup | None:
        """A job cgroup with the limits set (CPU as a CFS quota of `cpus` cores), under `parent`
        (a delegated v2 cgroup) or this process's own cgroup; None if not possible."""
        own = _own_cgroups()
        dirs: dict[str, Path] = {}
        v2 = (ROOT / "cgroup.controllers").exists() and "" in own
        if v2:
            base = _v2_parent(parent)
            if base is None:
                return None
            enabled = _read(base / "cgroup.subtree_control").split()
            try:
                (base / name).mkdir()
            except OSError:
                return None
            dirs = {c: base / name for c in CONTROLLERS if c in enabled}
        else:
            for c in CONTROLLERS:
                if c in own and (ROOT / c).is_dir():
                    d = ROOT / c / own[c].lstrip("/") / name
                    try:
                        d.mkdir()
                        dirs[c] = d
                    except OSError:
                        continue
        if not dirs:
            return None
        cg = cls(dirs, v2)
        try:
            if "memory" in dirs:
                cg._write(
                    "memory", "memory.max" if v2 else "memory.limit_in_bytes", str(memory_bytes)
                )
                try:  # no swapping past the limit, where swap is accounted
                    if v2:
                        cg._write("memory", "memory.swap.max", "0")
                    else:
                        cg._write("memory", "memory.memsw.limit_in_bytes", str(memory_bytes))
                except OSError:
                    pass
            if "pids" in dirs:
                cg._write("pids", "pids.max", str(max_pids))
            if "cpu" in dirs and cpus:
                quota = max(int(cpus * CPU_PERIOD_US), 1000)
                if v2:
                    cg._write("cpu", "cpu.max", f"{quota} {CPU_PERIOD_US}")
                else:
                    cg._write("cpu", "cpu.cfs_period_us", str(CPU_PERIOD_US))
                    cg._write("cpu", "cpu.cfs_quota_us", str(quota))
        except OSError as err:
            log.debug("cgroup limits not writable (%s); using rlimits only", err)
            cg.remove()
            return None
        return cg

    @property
    def has_memory(self) -> bool:
        return "memory" in self.dirs

    @property
    def has_pids(self) -> bool:
        return "pids" in self.dirs

    @property
    def has_cpu(self) -> bool:
        return "cpu" in self.dirs

    def procs_files(self) -> list[str]:
        """Where a process writes its pid to join (all of them)."""
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def oom_killed(self) -> bool:
        if self.v2:
            return self._counter("memory", "memory.events", "oom_kill") > 0
        return self._counter("memory", "memory.oom_control", "oom_kill") > 0

    def pids_limited(self) -> bool:
        """True if a fork failed because of pids.max."""
        return self._counter("pids", "pids.events", "max") > 0

    def kill(self) -> None:
        """SIGKILLs every process in the cgroup."""
        if self.v2:
            try:
                self._write("pids", "cgroup.kill", "1")
                return
            except OSError:
                pass  # before Linux 5.14
        for _ in range(50):
            pids = {int(p) for f in self.procs_files() for p in _read(Path(f)).split()}
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        for d in set(self.dirs.values()):
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # the last processes are still exiting
            else:
                log.warning("could not remove cgroup %s", d)

    def _write(self, controller: str, file: str, value: str) -> None:
        (self.dirs[controller] / file).write_text(value)

    def _counter(self, controller: str, file: str, key: str) -> int:
        text = _read(self.dirs[controller] / file) if controller in self.dirs else ""
        m = re.search(rf"^{key} (\d+)$", text, re.M)
        return int(m.group(1)) if m else 0


def _v2_parent(parent: Path | None) -> Path | None:
    """The v2 cgroup job cgroups go under, with memory and pids (and cpu where offered) enabled
    for its children; None if there is none this process may use."""
    if parent is not None:
        return parent if _enable_controllers(parent) else None
    own = ROOT / _own_cgroups()[""].lstrip("/")
    if _enable_controllers(own):
        return own
    # Busy: processes live in our cgroup. If they are all ours (this process alone), step into a
    # leaf of our own, which leaves the cgroup free to delegate controllers to job children.
    procs = _read(own / "cgroup.procs").split()
    if procs != [str(os.getpid())]:
        return None
    try:
        (own / NODE_LEAF).mkdir(exist_ok=True)
        (own / NODE_LEAF / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    log.info("moved this process into cgroup %s so jobs can get their own limits", own / NODE_LEAF)
    return own if _enable_controllers(own) else None


def _enable_controllers(cgroup: Path) -> bool:
    """Enables memory and pids (required) and cpu (where offered) for `cgroup`'s children."""
    offered = _read(cgroup / "cgroup.controllers").split()
    wanted = [c for c in CONTROLLERS if c in offered]
    if "memory" not in wanted or "pids" not in wanted:
        return False
    enabled = _read(cgroup / "cgroup.subtree_control").split()
    missing = [c for c in wanted if c not in enabled]
    try:
        if missing:  # EBUSY while the cgroup itself holds processes (the root excepted)
            (cgroup / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
    except OSError:
        return False
    return True


def _own_cgroups() -> dict[str, str]:
    """controller -> this process's cgroup path ("" is the v2 hierarchy)."""
    paths = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(","):
            paths[c] = path
    return paths


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
