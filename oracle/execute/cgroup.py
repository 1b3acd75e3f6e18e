"""Per-job cgroups, where this process may create them: exact memory and process limits.

rlimits are per process (RLIMIT_AS) or per user (RLIMIT_NPROC); a cgroup bounds the job as a
whole, tells afterwards whether the OOM killer or the pids limit struck, and can kill every
process in it. Works on cgroup v2, and on v1 with the `memory` and `pids` hierarchies (each
used if writable). Anything unavailable is simply not used: callers fall back to rlimits.
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


class JobCgroup:
    def __init__(self, dirs: dict[str, Path], v2: bool):
        self.dirs = dirs  # controller ("memory", "pids") -> its directory (one directory on v2)
        self.v2 = v2

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_pids: int) -> JobCgroup | None:
        """A child of this process's own cgroup with the limits set, or None if not possible."""
        own = _own_cgroups()
        dirs: dict[str, Path] = {}
        v2 = (ROOT / "cgroup.controllers").exists() and "" in own
        if v2:
            parent = ROOT / own[""].lstrip("/")
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
                missing = [c for c in ("memory", "pids") if c not in enabled]
                if missing:  # fails unless the parent holds no processes (or is the root)
                    (parent / "cgroup.subtree_control").write_text(
                        " ".join(f"+{c}" for c in missing)
                    )
                (parent / name).mkdir()
            except OSError:
                return None
            dirs = {"memory": parent / name, "pids": parent / name}
        else:
            for c in ("memory", "pids"):
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
