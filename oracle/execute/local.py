"""A pool of sandboxed processes on this machine."""

from __future__ import annotations

import os
import re
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from oracle.execute.base import (
    Backend,
    Capacity,
    ExecResult,
    ExecSpec,
    done_future,
    refused,
    unfit_reason,
)
from oracle.execute.gpu import describe_gpus
from oracle.execute.sandbox import SandboxConfig, ensure_sandbox, run_sandboxed


def total_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20


def fresh_output_dir(work_dir: Path, job_id: int | str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(job_id))[:64]
    return work_dir / f"job-{safe}-{uuid.uuid4().hex[:8]}" / "out"


class LocalSandboxBackend(Backend):
    """Runs each job in bubblewrap on this machine, as many at a time as CPUs, GPUs and memory
    allow: a job waits until `cpus`, `gpus` (whole devices, given to it alone through
    CUDA_VISIBLE_DEVICES) and `memory_mb` are free, and is refused at once if it asks for more
    than the machine has.

    Without bubblewrap it raises SandboxUnavailableError, unless `allow_unsafe=True` (then it
    logs a loud warning and runs jobs bare, bounded by rlimits only)."""

    name = "local"

    def __init__(
        self,
        work_dir: str | os.PathLike[str],
        *,
        max_workers: int | None = None,
        cpus: float | None = None,
        gpus: int | None = None,
        memory_mb: int | None = None,
        allow_unsafe: bool = False,
        config: SandboxConfig | None = None,
    ):
        self.config = ensure_sandbox(config or SandboxConfig.detect(allow_unsafe=allow_unsafe))
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        infos = describe_gpus() if gpus is None else []
        n_gpus = len(infos) if gpus is None else gpus
        gpu_mem = min((g.memory_mb for g in infos), default=0)
        self._capacity = Capacity(
            "this machine",
            float(cpus or os.cpu_count() or 1),
            memory_mb or total_memory_mb(),
            n_gpus,
            gpu_mem,
        )
        self._free_cpus = self._capacity.cpus
        self._free_memory = self._capacity.memory_mb
        self._free_gpus = [str(i) for i in range(n_gpus)]
        self._cond = threading.Condition()
        workers = max_workers or max(1, int(self._capacity.cpus))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tes-sandbox")

    def capacities(self) -> list[Capacity]:
        return [self._capacity]

    def submit(self, spec: ExecSpec) -> Future[ExecResult]:
        problem = spec.problem() or unfit_reason(spec.limits, [self._capacity], "the local pool")
        if problem:
            return done_future(refused(spec, problem, self.name))
        return self._pool.submit(self._run, spec)

    def _run(self, spec: ExecSpec) -> ExecResult:
        lim = spec.limits
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self._free_cpus >= lim.cpus
                    and self._free_memory >= lim.memory_mb
                    and len(self._free_gpus) >= lim.gpus
                )
            )
            self._free_cpus -= lim.cpus
            self._free_memory -= lim.memory_mb
            gpu_ids = [self._free_gpus.pop(0) for _ in range(lim.gpus)]
        try:
            out = spec.output_dir or fresh_output_dir(self.work_dir, spec.job_id)
            return run_sandboxed(spec, out, self.config, gpu_ids=gpu_ids, backend=self.name)
        finally:
            with self._cond:
                self._free_cpus += lim.cpus
                self._free_memory += lim.memory_mb
                self._free_gpus.extend(gpu_ids)
                self._free_gpus.sort(key=int)
                self._cond.notify_all()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
