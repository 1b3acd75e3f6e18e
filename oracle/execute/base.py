"""What every execution backend takes and gives: `ExecSpec` in, `ExecResult` out.

A backend runs jobs; it never decides whether a job is worth running (schedule) or what its
result means on chain (prove). Its promises:

* the job sees its bundle read-only at `/job`, writes its result to `/out`, and has no network;
* the environment is pinned (`pinned_env`): one thread per BLAS/OpenMP pool, a fixed hash seed
  and the job's seed, so replicas on other nodes compute bit-identical results;
* wall time, memory, processes and output size are bounded, and a job breaking a bound ends as
  `timeout` or `limit` with a reason, never as a hung or crashed node;
* a job that can never fit this backend is refused up front (`check`, or status `refused`),
  never left pending.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from oracle.core.errors import JobRefusedError
from oracle.core.tree import remove_tree

SANDBOX_JOB_DIR = "/job"
SANDBOX_OUT_DIR = "/out"
SANDBOX_SHARDS_DIR = "/shards"  # a fan-out job's reduce step sees the shard outputs here

# A failed, timed out or over-limit job still gets a result hash that replicas can agree on:
# its output is this one file (see ExecResult).
STATUS_FILE = "TES_STATUS.json"

PINNED_ENV: dict[str, str] = {
    # One thread everywhere: thread counts change floating-point reduction order.
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
    # Deterministic cuBLAS (torch.use_deterministic_algorithms needs it on GPUs).
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "USER": "nobody",
    "LOGNAME": "nobody",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
_SET_BY_BACKEND = frozenset({"PATH", "SEED", "CUDA_VISIBLE_DEVICES"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExecStatus(StrEnum):
    OK = "ok"  # exited 0 with a valid output directory
    FAILED = "failed"  # exited non-zero, was killed by a signal, or left invalid output
    TIMEOUT = "timeout"  # ran past wall_time_s and was killed
    LIMIT = "limit"  # broke the memory, process or output-size limit
    REFUSED = "refused"  # never started: the backend can never fit it, or the spec is invalid


@dataclass(frozen=True)
class Limits:
    """Bounds of one job. `cpus`/`gpus`/`memory_mb` are also what a scheduler reserves."""

    wall_time_s: float = 60.0
    memory_mb: int = 512
    max_processes: int = 64
    max_output_mb: int = 64
    cpus: float = 1.0
    gpus: int = 0


@dataclass(frozen=True)
class ExecSpec:
    """One job to run.

    `entrypoint` is an argv run with `/job` as working directory; `python3` on the PATH is the
    node's Python with its packages. `env` adds job variables (names must not collide with
    the pinned ones unless equal). `output_dir` is where the output lands on this machine;
    None lets the backend pick a fresh directory under its work dir."""

    job_id: int | str
    bundle_dir: Path
    entrypoint: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    output_dir: Path | None = None
    # Fan-out (see `Backend.run_bundle`): (index, count) of a shard run, and for the reduce
    # run the directory holding the shard outputs 0..count-1, bound read-only at /shards.
    shard: tuple[int, int] | None = None
    shards_dir: Path | None = None

    def problem(self) -> str | None:
        """Why this spec cannot run anywhere, or None."""
        if not self.entrypoint or not all(isinstance(a, str) and a for a in self.entrypoint):
            return "entrypoint must be a non-empty list of non-empty strings"
        if not Path(self.bundle_dir).is_dir():
            return f"bundle directory {self.bundle_dir} does not exist"
        lim = self.limits
        if (
            lim.wall_time_s <= 0
            or lim.memory_mb < 16
            or lim.max_processes < 1
            or lim.max_output_mb < 0
        ):
            return f"invalid limits {lim}"
        if lim.cpus <= 0 or lim.gpus < 0:
            return f"invalid resources cpus={lim.cpus} gpus={lim.gpus}"
        if self.shard is not None and not 0 <= self.shard[0] < self.shard[1]:
            return f"invalid shard {self.shard}"
        if self.shards_dir is not None and not Path(self.shards_dir).is_dir():
            return f"shards directory {self.shards_dir} does not exist"
        for name, value in self.env.items():
            if not _ENV_NAME.match(name) or "\0" in value:
                return f"invalid environment variable {name!r}"
            if name in PINNED_ENV and PINNED_ENV[name] != value:
                return f"{name} is pinned to {PINNED_ENV[name]!r} for reproducibility, job asked {value!r}"
            if name in _SET_BY_BACKEND or name.startswith("TES_"):
                return f"{name} is set by the backend, a job cannot set it"
        return None


def pinned_env(spec: ExecSpec, *, path: str, gpu_ids: Iterable[str] = ()) -> dict[str, str]:
    """The complete environment of a job: its own variables, then the pinned ones on top."""
    env = dict(spec.env)
    env.update(PINNED_ENV)
    env.update(
        PATH=path,
        SEED=str(spec.seed),
        TES_SEED=str(spec.seed),
        TES_JOB_ID=str(spec.job_id),
        TES_INPUT_DIR=SANDBOX_JOB_DIR,
        TES_OUTPUT_DIR=SANDBOX_OUT_DIR,
        CUDA_VISIBLE_DEVICES=",".join(gpu_ids),
    )
    if spec.shard is not None:
        env.update(TES_SHARD=str(spec.shard[0]), TES_SHARDS=str(spec.shard[1]))
    if spec.shards_dir is not None:
        env.update(TES_SHARDS_DIR=SANDBOX_SHARDS_DIR)
    return env


@dataclass(frozen=True)
class ExecResult:
    """How a job ended.

    `result_hash` (bytes32, see `oracle.core.results`) is set for every job that ran. For `ok` it
    covers the job's output files. Otherwise the output directory holds only `TES_STATUS.json`
    (status, exit code and the limit broken, no timings), so replicas that saw the same
    failure commit the same hash; partial outputs are moved to `<output_dir>.partial` for the
    operator. `reason`, timings and the stdout/stderr tails are for people, never hashed."""

    job_id: int | str
    status: ExecStatus
    exit_code: int | None
    reason: str
    output_dir: Path | None
    result_hash: bytes | None
    elapsed_s: float
    stdout_tail: str = ""
    stderr_tail: str = ""
    backend: str = ""

    @property
    def ok(self) -> bool:
        return self.status is ExecStatus.OK

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["status"] = str(self.status)
        d["output_dir"] = str(self.output_dir) if self.output_dir else None
        d["result_hash"] = self.result_hash.hex() if self.result_hash else None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExecResult:
        d = dict(d)
        d["status"] = ExecStatus(d["status"])
        d["output_dir"] = Path(d["output_dir"]) if d.get("output_dir") else None
        d["result_hash"] = bytes.fromhex(d["result_hash"]) if d.get("result_hash") else None
        return cls(**d)


# The last bytes of a failed job's stderr that go into its status record, for the client.
STDERR_TAIL_BYTES = 2048


def stderr_tail_of(result: ExecResult) -> str | None:
    """The stderr tail to record for a job that exited non-zero on its own (`exit 1`, an
    uncaught exception), or None. It is part of the result (and so of the hash): replicas that
    ran the same failing program printed the same text. Jobs stopped from outside (timeouts,
    limits, signals) record none: what they printed before the kill depends on timing. The cut
    starts at a line: the last STDERR_TAIL_BYTES bytes, from the first whole line."""
    code = result.exit_code
    if result.status is not ExecStatus.FAILED or code is None or not 0 < code < 128:
        return None
    text = result.stderr_tail.replace("\r\n", "\n")
    raw = text.encode("utf-8", "replace")
    if len(raw) > STDERR_TAIL_BYTES:
        raw = raw[-STDERR_TAIL_BYTES:]
        cut = raw.find(b"\n")
        raw = raw[cut + 1 :] if 0 <= cut < len(raw) - 1 else raw
        text = raw.decode("utf-8", "replace")
    text = text.strip("\n")
    return text or None


def record_stderr(result: ExecResult) -> ExecResult:
    """Adds the job's stderr tail (`stderr_tail_of`) to the status record of a failed result
    and re-hashes it; any other result is returned as it is."""
    tail = stderr_tail_of(result)
    out = result.output_dir
    if tail is None or out is None or not (out / STATUS_FILE).is_file():
        return result
    import json

    from oracle.core.results import result_hash

    record = json.loads((out / STATUS_FILE).read_text())
    record["stderr_tail"] = tail
    (out / STATUS_FILE).write_text(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
    return dataclasses.replace(result, result_hash=result_hash(out))


def refused(spec: ExecSpec, reason: str, backend: str) -> ExecResult:
    return ExecResult(
        spec.job_id, ExecStatus.REFUSED, None, reason, None, None, 0.0, backend=backend
    )


def done_future(result: ExecResult) -> Future[ExecResult]:
    fut: Future[ExecResult] = Future()
    fut.set_result(result)
    return fut


# ------------------------------------------------------------------------ capacity checks
@dataclass(frozen=True)
class Capacity:
    """What one worker machine (a node of the pool or of the Ray cluster) can ever offer."""

    name: str
    cpus: float
    memory_mb: int
    gpus: int = 0
    gpu_memory_mb: int = 0  # per GPU; 0 = unknown


class ResourceRequest(Protocol):
    """`Limits` or a bundle manifest's `Resources`: anything with these attributes (read-only:
    `Limits` is frozen)."""

    @property
    def cpus(self) -> float: ...
    @property
    def memory_mb(self) -> int: ...
    @property
    def gpus(self) -> int: ...


def unfit_reason(req: ResourceRequest, workers: Iterable[Capacity], where: str) -> str | None:
    """None if some worker can run `req`, else a reason naming the closest misses."""
    workers = list(workers)
    gpu_mem = getattr(req, "gpu_memory_mb", 0) or 0
    for w in workers:
        if (
            w.cpus >= req.cpus
            and w.memory_mb >= req.memory_mb
            and w.gpus >= req.gpus
            and (req.gpus == 0 or not gpu_mem or not w.gpu_memory_mb or w.gpu_memory_mb >= gpu_mem)
        ):
            return None
    want = f"cpus={req.cpus:g}, memory={req.memory_mb} MiB, gpus={req.gpus}"
    if req.gpus and gpu_mem:
        want += f" with {gpu_mem} MiB each"
    have = "; ".join(
        f"{w.name}: cpus={w.cpus:g}, memory={w.memory_mb} MiB, gpus={w.gpus}" for w in workers[:4]
    )
    return f"no worker in {where} can ever fit {want} (have {have or 'no live workers'})"


# ------------------------------------------------------------------------ the interface
class Backend(ABC):
    """Runs jobs. `submit` returns at once; `run` and `wait` block. Jobs a backend can never fit
    come back as `refused` results immediately (and `check` raises for them)."""

    name = "backend"

    @abstractmethod
    def capacities(self) -> list[Capacity]:
        """The worker machines this backend can place a job on, as they are now."""

    @abstractmethod
    def submit(self, spec: ExecSpec) -> Future[ExecResult]:
        """Starts (or queues) a job; the future never raises for a job's own failure."""

    def check(self, req: ResourceRequest) -> None:
        """Raises JobRefusedError if no worker can ever fit `req` (a `Limits` or `Resources`)."""
        if reason := unfit_reason(req, self.capacities(), self.name):
            raise JobRefusedError(reason)

    def run(self, spec: ExecSpec) -> ExecResult:
        return self.submit(spec).result()

    @staticmethod
    def wait(
        futures: Iterable[Future[ExecResult]], timeout: float | None = None
    ) -> list[ExecResult]:
        """Results of `futures` in their order (TimeoutError if not all are done in time)."""
        import concurrent.futures as cf

        futures = list(futures)
        done, pending = cf.wait(futures, timeout=timeout)
        if pending:
            raise TimeoutError(
                f"{len(pending)} of {len(futures)} jobs still running after {timeout}s"
            )
        return [f.result() for f in futures]

    def run_bundle(
        self, job_id: int, bundle_dir: Path, manifest: Any, output_dir: Path
    ) -> ExecResult:
        """Runs an unpacked bundle (`oracle.core.bundle.Manifest`) into `output_dir`, blocking.

        A manifest with `fanout` runs as `shards` sandboxed runs of the entrypoint (env
        TES_SHARD/TES_SHARDS), submitted together so they spread over this backend's workers
        (Ray tasks on the Ray backend), each into its own directory next to `output_dir`; then
        a sandboxed `reduce` run sees them read-only at /shards/<i> and writes `output_dir`. Only
        that final output is the result. If a shard fails, the reduce does not run and the
        result is the lowest failing shard's status record plus its index, so replicas that
        saw the same failure agree.

        For the node: a refused job raises JobRefusedError instead of returning a result
        without a hash."""
        base = self.spec_of(job_id, Path(bundle_dir), manifest)
        fanout = getattr(manifest, "fanout", None)
        if fanout is None:
            result = self._checked(self.run(dataclasses.replace(base, output_dir=Path(output_dir))))
            return record_stderr(result)
        return self._run_fanout(base, fanout, Path(output_dir))

    @staticmethod
    def spec_of(job_id: int, bundle_dir: Path, manifest: Any) -> ExecSpec:
        res = manifest.resources
        return ExecSpec(
            job_id=job_id,
            bundle_dir=bundle_dir,
            entrypoint=tuple(manifest.entrypoint),
            env=dict(manifest.env),
            seed=manifest.seed,
            limits=Limits(
                wall_time_s=float(manifest.time_limit_s),
                memory_mb=res.memory_mb,
                max_processes=manifest.max_processes,
                max_output_mb=manifest.max_output_mb,
                cpus=float(res.cpus),
                gpus=res.gpus,
            ),
        )

    @staticmethod
    def _checked(result: ExecResult) -> ExecResult:
        if result.status is ExecStatus.REFUSED:
            raise JobRefusedError(f"job {result.job_id}: {result.reason}")
        return result

    def _run_fanout(self, base: ExecSpec, fanout: Any, output_dir: Path) -> ExecResult:
        import json
        import time

        from oracle.core.results import result_hash

        started = time.monotonic()
        n = int(fanout.shards)
        shards_dir = output_dir.with_name(output_dir.name + ".shards")
        remove_tree(shards_dir)
        shards_dir.mkdir(parents=True)
        futures = [
            self.submit(dataclasses.replace(base, shard=(i, n), output_dir=shards_dir / str(i)))
            for i in range(n)
        ]
        shard_results = [self._checked(f.result()) for f in futures]
        failed = [(i, r) for i, r in enumerate(shard_results) if not r.ok]
        if failed:
            i, bad = failed[0]
            output_dir.mkdir(parents=True, exist_ok=True)
            record = json.loads((shards_dir / str(i) / STATUS_FILE).read_text())
            record["shard"] = i
            if (tail := stderr_tail_of(bad)) is not None:
                record["stderr_tail"] = tail
            (output_dir / STATUS_FILE).write_text(
                json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
            )
            return dataclasses.replace(
                bad,
                reason=f"shard {i} of {n}: {bad.reason}",
                output_dir=output_dir,
                result_hash=result_hash(output_dir),
                elapsed_s=time.monotonic() - started,
            )
        for i in range(n):  # failure leftovers only exist for failed shards; keep /shards exact
            remove_tree(shards_dir / f"{i}.partial")
        reduce = dataclasses.replace(
            base,
            entrypoint=tuple(fanout.reduce),
            shard=None,
            shards_dir=shards_dir,
            output_dir=output_dir,
        )
        result = record_stderr(self._checked(self.run(reduce)))
        return dataclasses.replace(result, elapsed_s=time.monotonic() - started)

    @abstractmethod
    def close(self) -> None:
        """Stops accepting jobs and releases the workers."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
