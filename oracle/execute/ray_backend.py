"""Jobs as Ray tasks, for a node that outgrows one machine.

Each job is one task that reserves the job's `cpus`, `gpus` and `memory` in Ray's scheduler and,
on whichever worker node Ray picks, runs the same sandbox as the local backend (so results hash
the same). The bundle travels through Ray's object store as a result-style archive (the worker
nodes need no shared filesystem, only this package, bubblewrap and the same Python packages);
the output comes back the same way and is checked against the hash the worker computed.

Before a job is submitted, the live nodes' resources are checked: a job that no node can ever
fit is refused with a reason, because Ray would otherwise keep it pending forever. (With an
autoscaler the cluster could grow; this backend only trusts nodes that exist.)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from oracle.core.errors import ExecutionError, OracleError, ResultError
from oracle.core.results import pack_result, unpack_result
from oracle.core.tree import remove_tree
from oracle.execute.base import (
    Backend,
    Capacity,
    ExecResult,
    ExecSpec,
    done_future,
    refused,
    unfit_reason,
)
from oracle.execute.local import fresh_output_dir
from oracle.execute.sandbox import MIB, SandboxConfig, ensure_sandbox, run_sandboxed

log = logging.getLogger("oracle.execute")


def _run_on_worker(
    spec: ExecSpec,
    bundle_archive: bytes | None,
    config: SandboxConfig | None,
    allow_unsafe: bool,
    shards_archive: bytes | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Ray task: unpack the bundle, run the sandbox, send back the result and its archive.
    Without a `config` the worker detects its own (its paths may differ from the node's), with
    the node's `options` (rlimits_only, cgroup_parent)."""
    import ray

    config = ensure_sandbox(
        config or SandboxConfig.detect(allow_unsafe=allow_unsafe, **(options or {}))
    )
    scratch = Path(tempfile.mkdtemp(prefix="tes-ray-job-"))
    try:
        bundle_dir = Path(spec.bundle_dir)
        if bundle_archive is not None:
            bundle_dir = scratch / "bundle"
            unpack_result(bundle_archive, bundle_dir, max_bytes=len(bundle_archive) * 1024 + MIB)
        shards_dir = spec.shards_dir
        if shards_archive is not None:  # a fan-out reduce step: the shard outputs travel too
            shards_dir = scratch / "shards"
            unpack_result(shards_archive, shards_dir, max_bytes=len(shards_archive) * 1024 + MIB)
        gpu_ids = [str(g) for g in ray.get_gpu_ids()]
        node = ray.get_runtime_context().get_node_id()[:12]
        spec = dataclasses.replace(
            spec, bundle_dir=bundle_dir, shards_dir=shards_dir, output_dir=None
        )
        result = run_sandboxed(
            spec, scratch / "out", config, gpu_ids=gpu_ids, backend=f"ray:{node}"
        )
        archive = None
        if result.result_hash is not None:
            archive, digest = pack_result(scratch / "out")
            if digest != result.result_hash:
                raise ResultError("output changed between hashing and packing")
        return {"result": result.to_dict(), "archive": archive}
    finally:
        remove_tree(scratch)


class RayBackend(Backend):
    """Runs jobs on a Ray cluster: the one at `address`, or a fresh local one when None.

    A local cluster is started with `address="local"` (never silently joining another one),
    no dashboard, usage stats off and a short temp dir (Ray's socket paths must stay short),
    and shut down by `close()`."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        work_dir: str | os.PathLike[str],
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        object_store_memory: int | None = None,
        temp_dir: str | None = None,
        allow_unsafe: bool = False,
        config: SandboxConfig | None = None,
        sandbox_options: dict[str, Any] | None = None,
    ):
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # We set CUDA_VISIBLE_DEVICES for every job ourselves, from ray.get_gpu_ids().
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
        import ray

        self._ray = ray
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._owns_cluster = False
        if not ray.is_initialized():
            if address is None:
                self._temp_dir = temp_dir or f"/tmp/tes-ray-{os.getpid()}"
                ray.init(
                    address="local", include_dashboard=False, num_cpus=num_cpus, num_gpus=num_gpus,
                    object_store_memory=object_store_memory, _temp_dir=self._temp_dir, log_to_driver=False,
                )  # fmt: skip
                self._owns_cluster = True
            else:
                ray.init(address=address, log_to_driver=False)
        self._allow_unsafe = allow_unsafe
        self._config = config
        self._options = sandbox_options
        self._task = ray.remote(_run_on_worker)
        self._post = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tes-ray-collect")
        self._pending: set[Future[ExecResult]] = set()
        self._lock = threading.Lock()

    def capacities(self) -> list[Capacity]:
        caps = []
        for node in self._ray.nodes():
            if not node.get("Alive"):
                continue
            res = node.get("Resources", {})
            caps.append(
                Capacity(
                    node.get("NodeManagerAddress", node.get("NodeID", "?")),
                    float(res.get("CPU", 0)),
                    int(res.get("memory", 0)) >> 20,
                    int(res.get("GPU", 0)),
                )
            )
        return caps

    def submit(self, spec: ExecSpec) -> Future[ExecResult]:
        spec = dataclasses.replace(spec, env=dict(spec.env))
        problem = spec.problem() or unfit_reason(spec.limits, self.capacities(), "the Ray cluster")
        if problem:
            return done_future(refused(spec, problem, self.name))
        try:
            bundle, _ = pack_result(spec.bundle_dir)
            shards = pack_result(spec.shards_dir)[0] if spec.shards_dir is not None else None
        except ResultError as err:
            return done_future(
                refused(spec, f"bundle cannot be shipped to a worker: {err}", self.name)
            )
        lim = spec.limits
        ref = self._task.options(
            num_cpus=lim.cpus, num_gpus=lim.gpus, memory=lim.memory_mb * MIB, max_retries=0,
            name=f"tes-job-{spec.job_id}",
        ).remote(spec, bundle, self._config, self._allow_unsafe, shards, self._options)  # fmt: skip
        fut: Future[ExecResult] = Future()
        fut.set_running_or_notify_cancel()  # a Ray task cannot be taken back through this future
        with self._lock:
            self._pending.add(fut)
        ref.future().add_done_callback(lambda rf: self._post.submit(self._collect, spec, rf, fut))
        return fut

    def _collect(self, spec: ExecSpec, ray_future: Future, fut: Future[ExecResult]) -> None:
        with self._lock:
            if fut not in self._pending:
                return  # closed meanwhile
            self._pending.discard(fut)
        try:
            fut.set_result(self._finish(spec, ray_future))
        except Exception as err:  # noqa: BLE001 (handed to whoever waits on the job)
            fut.set_exception(err)

    def _finish(self, spec: ExecSpec, ray_future: Future) -> ExecResult:
        try:
            payload = ray_future.result()
        except OracleError:
            raise
        except Exception as err:  # RayTaskError wrapping a worker-side error, worker or node died
            raise ExecutionError(f"job {spec.job_id}: Ray task failed: {err}") from err
        result = ExecResult.from_dict(payload["result"])
        if result.result_hash is None:
            return result
        out = spec.output_dir or fresh_output_dir(self.work_dir, spec.job_id)
        try:
            digest = unpack_result(
                payload["archive"], out, max(spec.limits.max_output_mb, 1) * MIB + MIB
            )
        except ResultError as err:
            raise ExecutionError(
                f"job {spec.job_id}: output from the worker is unusable: {err}"
            ) from err
        if digest != result.result_hash:
            raise ExecutionError(
                f"job {spec.job_id}: output hashes to 0x{digest.hex()} here, the worker said 0x{result.result_hash.hex()}"
            )
        return dataclasses.replace(result, output_dir=out)

    def close(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, set()
        for fut in pending:
            fut.set_exception(ExecutionError("the Ray backend was closed before the job finished"))
        self._post.shutdown(wait=True)
        if self._owns_cluster:
            self._ray.shutdown()
            remove_tree(self._temp_dir)
            self._owns_cluster = False
