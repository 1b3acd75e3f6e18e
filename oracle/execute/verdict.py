"""How a finished job is judged: which limit it broke, if any (wall time, output, memory,
processes), or how it failed, and the result hash it commits; a job that did not succeed keeps
only its status record, so replicas that saw the same failure commit the same hash."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import NamedTuple

from oracle.core.errors import ResultError
from oracle.core.results import output_size, result_hash
from oracle.core.tree import remove_tree
from oracle.execute.base import STATUS_FILE, ExecSpec, ExecStatus
from oracle.execute.cgroup import JobCgroup
from oracle.execute.sandbox_config import MIB


class Verdict(NamedTuple):
    status: ExecStatus
    exit_code: int | None  # as written to the status record (None when we killed the job)
    limit: str | None  # the `Limits` field the job broke
    reason: str


def _limit(limit: str, reason: str, status: ExecStatus = ExecStatus.LIMIT) -> Verdict:
    return Verdict(status, None, limit, reason)


def judge(
    spec: ExecSpec,
    rc: int,
    killed_for: str | None,
    cgroup: JobCgroup | None,
    stderr: str,
    output_dir: Path,
) -> Verdict:
    lim = spec.limits
    sig = rc - 128 if rc > 128 else None
    pids_hit = bool(cgroup and cgroup.has_pids and cgroup.pids_limited())
    mem_cgroup = bool(cgroup and cgroup.has_memory)
    out_mb = f"{lim.max_output_mb} MiB"
    if killed_for == "wall_time_s":
        also = f"; it also hit its process limit of {lim.max_processes}" if pids_hit else ""
        reason = f"ran past its {lim.wall_time_s:g} s wall-time limit, killed{also}"
        return _limit(killed_for, reason, ExecStatus.TIMEOUT)
    if killed_for == "max_output_mb":
        return _limit(killed_for, f"wrote more than its output limit of {out_mb}, killed")
    if mem_cgroup and cgroup.oom_killed():  # type: ignore[union-attr]
        return _limit("memory_mb", f"used more than its {lim.memory_mb} MiB memory limit, killed")
    if rc != 0:
        # RLIMIT_FSIZE: SIGXFSZ, or EFBIG where the signal is ignored (as Python does).
        full = output_size(output_dir) >= lim.max_output_mb * MIB
        if sig == signal.SIGXFSZ or full or "File too large" in stderr:
            return _limit("max_output_mb", f"wrote a file past its output limit of {out_mb}")
        if "MemoryError" in stderr and not mem_cgroup:
            return _limit("memory_mb", f"ran out of its {lim.memory_mb} MiB address space")
        if pids_hit:
            return _limit("max_processes", f"hit its process limit of {lim.max_processes}")
        if sig:
            try:
                name = signal.Signals(sig).name
            except ValueError:  # a real-time signal has no name
                name = str(sig)
            return Verdict(ExecStatus.FAILED, rc, None, f"killed by signal {name}")
        return Verdict(ExecStatus.FAILED, rc, None, f"exited with code {rc}")
    total = output_size(output_dir)
    if total > lim.max_output_mb * MIB:
        return _limit(
            "max_output_mb", f"wrote {total / MIB:.1f} MiB, over its {out_mb} output limit"
        )
    return Verdict(ExecStatus.OK, 0, None, "")


def seal(spec: ExecSpec, verdict: Verdict, output_dir: Path) -> tuple[Verdict, bytes]:
    """The final verdict and the result hash. A job that did not succeed keeps only a status
    record as output (the rest moves to `<output_dir>.partial`, for the operator), so replicas
    that saw the same failure commit the same hash."""
    if verdict.status is ExecStatus.OK:
        try:
            return verdict, result_hash(output_dir)
        except ResultError as err:
            verdict = Verdict(ExecStatus.FAILED, 0, None, f"invalid output: {err}")
    partial = output_dir.with_name(output_dir.name + ".partial")
    remove_tree(partial)
    output_dir.rename(partial)
    output_dir.mkdir()
    record = {"status": str(verdict.status), "exit_code": verdict.exit_code, "limit": verdict.limit}
    if verdict.limit:
        record["limit_value"] = getattr(spec.limits, verdict.limit)
    (output_dir / STATUS_FILE).write_text(
        json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    )
    return verdict, result_hash(output_dir)
