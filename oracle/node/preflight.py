"""Preflight stage: everything about a job the node checks on the fetched, unpacked bundle before
it claims or accepts a seat.

A seat locks collateral. A job the node would refuse only when it starts running (an overridden
pinned variable, a name the backend sets, a reduce step that is not a command, limits past what
this node allows, a worst case that cannot finish inside the execution window) would never be
proven, and expiry would seize that collateral: a client could take it with a well-formed bundle.
So the run spec the backend will build, the fan-out's reduce step included, is validated here
with the backend's own rules (`ExecSpec.problem`), and the job is priced from its manifest.
"""

from __future__ import annotations

import dataclasses
import math
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from oracle.core.bundle import Manifest
from oracle.core.errors import JobRefusedError
from oracle.execute.base import Backend


@dataclass(frozen=True)
class Caps:
    """What this node agrees to run, whatever a client asks for."""

    max_time_limit_s: int
    max_output_mb: int
    max_processes: int
    proof_margin_s: int  # left after the worst case for the proof to be mined


@dataclass(frozen=True)
class Plan:
    """The numbers a decision is made on."""

    worst_case_s: int  # sequential steps x time limit, plus the proof margin
    cpu_seconds: float  # what the job can use at most: its price
    runs: int  # sandboxed runs: 1, or shards + reduce


def plan(manifest: Manifest, parallel: int, caps: Caps) -> Plan:
    """Worst case: every run uses its whole time limit; shards run `parallel` at a time."""
    limit = manifest.time_limit_s
    if manifest.fanout is None:
        steps, runs = 1, 1
    else:
        shards = manifest.fanout.shards
        steps, runs = math.ceil(shards / max(parallel, 1)) + 1, shards + 1
    cpu = float(limit * manifest.resources.cpus * runs)
    return Plan(worst_case_s=steps * limit + caps.proof_margin_s, cpu_seconds=cpu, runs=runs)


def installed(name: str) -> str | None:
    """The version of `name` the node's sandbox runs with (the node's own Python and packages);
    "python" is the interpreter's major.minor, as the client pins it."""
    if name == "python":
        return ".".join(platform.python_version_tuple()[:2])
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pins_differ(pins: dict[str, str]) -> str | None:
    """Why this node cannot honour the manifest's package pins (None if it can). Another numpy or
    scikit-learn can compute a different answer: the node that took such a job would commit a
    result its replicas disagree with and lose its collateral, so it refuses before claiming."""
    wrong = []
    for name, want in sorted(pins.items()):
        have = installed(name)
        if have != want:
            wrong.append(f"{name}=={want} (this node has {have or 'none'})")
    return f"pinned packages differ: {', '.join(wrong)}" if wrong else None


def check(job_id: int, bundle_dir: Path, manifest: Manifest, *, execution_window_s: int, parallel: int,
          caps: Caps) -> Plan:  # fmt: skip
    """The job's plan, or JobRefusedError saying why this node must not take it."""
    base = Backend.spec_of(job_id, Path(bundle_dir), manifest)
    specs = [base]
    if manifest.fanout is not None:
        specs.append(
            dataclasses.replace(base, entrypoint=tuple(manifest.fanout.reduce), shard=None)
        )
    for spec in specs:
        if (why := spec.problem()) is not None:
            raise JobRefusedError(f"run spec refused: {why}")
    for name, asked, cap in (
        ("time_limit_s", manifest.time_limit_s, caps.max_time_limit_s),
        ("max_output_mb", manifest.max_output_mb, caps.max_output_mb),
        ("max_processes", manifest.max_processes, caps.max_processes),
    ):
        if asked > cap:
            raise JobRefusedError(f"{name} {asked} is above this node's cap of {cap}")
    if (why := pins_differ(manifest.packages)) is not None:
        raise JobRefusedError(why)
    p = plan(manifest, parallel, caps)
    if p.worst_case_s > execution_window_s:
        raise JobRefusedError(
            f"worst case {p.worst_case_s}s ({p.runs} run(s) of up to {manifest.time_limit_s}s, {parallel} at a"
            f" time, plus {caps.proof_margin_s}s to prove) does not fit the {execution_window_s}s execution window"
        )
    return p
