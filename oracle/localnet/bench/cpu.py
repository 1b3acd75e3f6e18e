"""Where a run's CPU went: the machine's busy time (/proc/stat) over a window, split into the
processes the benchmark knows (the node processes, anvil, this process: the client SDK, the bundle
server and the bench's own chain watcher) and the rest, which is the jobs' sandboxes (bubblewrap
and the job's own processes; reparented or reaped, they are not counted under any process we
started) plus whatever else the machine ran.

A throughput on a machine that was busy all the window is bound by CPU: the split says who took
it. Linux only (/proc); elsewhere the numbers are absent, not guessed."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_cpu_s() -> tuple[float, float] | None:
    """(busy, total) CPU-seconds of all cores since boot; None without /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    busy = user + nice + system + irq + softirq + steal
    return busy / _TICK, (busy + idle + iowait) / _TICK


def process_cpu_s(pid: int) -> float | None:
    """A live process's own user + system CPU-seconds (all its threads, not its children)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def with_descendants(pid: int) -> list[int]:
    """`pid` and every live process below it (a launcher script's real server, say)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rfind(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


@dataclass(frozen=True)
class _Snapshot:
    at: float  # time.monotonic()
    machine: tuple[float, float] | None
    processes: dict[str, float]


class CpuWindow:
    """CPU used between `start()` and `stop()`, by the named process groups and by the rest.

    `groups`: name -> pids, read at both ends (a process that ended in between is counted up to
    its last reading; none does in a benchmark phase, whose processes outlive the window)."""

    def __init__(self, groups: Mapping[str, list[int]]):
        self.groups = {k: list(v) for k, v in groups.items()}
        self._start: _Snapshot | None = None
        self._stop: _Snapshot | None = None

    def _snap(self) -> _Snapshot:
        procs = {
            f"{name}/{pid}": cpu
            for name, pids in self.groups.items()
            for pid in pids
            if (cpu := process_cpu_s(pid)) is not None
        }
        return _Snapshot(time.monotonic(), machine_cpu_s(), procs)

    def start(self) -> CpuWindow:
        self._start = self._snap()
        return self

    def stop(self) -> CpuWindow:
        self._stop = self._snap()
        return self

    def report(self, jobs: int) -> dict[str, Any] | None:
        """The machine's busy share of the window and CPU-seconds (and ms per job) by group;
        `jobs_and_rest` is what no named process took. None where /proc could not be read."""
        a, b = self._start, self._stop
        if a is None or b is None or a.machine is None or b.machine is None:
            return None
        cores = os.cpu_count() or 1
        window_s = b.at - a.at
        busy = b.machine[0] - a.machine[0]
        by_group = dict.fromkeys(self.groups, 0.0)
        for key, cpu in b.processes.items():
            by_group[key.split("/", 1)[0]] += cpu - a.processes.get(key, 0.0)
        by_group["jobs_and_rest"] = max(busy - sum(by_group.values()), 0.0)
        per = max(jobs, 1)
        return {
            "window_s": round(window_s, 3),
            "cores": cores,
            "busy_cpu_s": round(busy, 2),
            "busy_share": round(busy / (cores * window_s), 3) if window_s > 0 else None,
            "cpu_s": {k: round(v, 2) for k, v in by_group.items()},
            "ms_per_job": {k: round(1000 * v / per, 1) for k, v in by_group.items()},
        }
