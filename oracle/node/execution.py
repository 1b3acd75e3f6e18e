"""The execute stage: a job's bundle fetched and checked (intake, before any collateral is locked),
then run on the backend off the loop, one job per worker (issue [4/7] 5: one module per stage).

Nothing here touches the chain or the store: the loop decides when, and records what came of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from oracle.core import bundle as bundles
from oracle.core.fetch import fetch_bundle
from oracle.core.protocol import job_hex
from oracle.core.tree import remove_tree
from oracle.execute.base import Backend, ExecResult
from oracle.node import preflight
from oracle.node.settings import Settings


class Executions:
    def __init__(self, settings: Settings, backend: Backend):
        self.s, self.backend = settings, backend
        self.pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="job")
        self.running: dict[int, Future] = {}
        # Called on the worker's thread when a run ends: the node's loop wakes to prove it now
        # instead of at its next poll (a short job's seat is otherwise held a poll interval longer).
        self.on_done: Callable[[], None] | None = None

    def work_dir(self, job_id: int) -> Path:
        return self.s.work_dir / job_hex(job_id)

    def fetch_into(self, job: dict[str, Any], work: Path) -> bundles.Manifest:
        """Fetches the job's bundle (checked against its hash) and unpacks it at `work`/bundle."""
        data = fetch_bundle(
            job["bundle_uri"],
            bytes.fromhex(job["bundle_hash"]),
            self.s.max_bundle_mb * 2**20,
            allow_local=self.s.allow_local_bundles,
            deadline_s=self.s.fetch_deadline_s,
        )
        remove_tree(work)
        return bundles.unpack(data, work / "bundle", self.s.max_bundle_mb * 2**20 * 4)

    def quoted_bundle(self, bundle_hash: str) -> Path:
        """Where a bundle fetched for a quote is kept (oracle/node/quoting.py), by its hash: the job
        the quote becomes runs it from there, never fetching again from a URI its client may have
        taken down since (as a claimed job runs the bundle intake fetched)."""
        return self.s.work_dir / "quotes" / bundle_hash.lower().removeprefix("0x")

    def prepare(self, job_id: int, job: dict[str, Any], execution_window_s: int,
                work: Path | None = None, fetch: bool = True) -> preflight.Plan:  # fmt: skip
        """Fetch, unpack, the backend's check and preflight (on the intake pool: no chain, no
        store, so a slow or hostile bundle server holds up only this job). `work`: where, for a
        job that has no id yet (a quote); `fetch` False: the bundle is already unpacked there."""
        work = work or self.work_dir(job_id)
        if fetch:
            manifest = self.fetch_into(job, work)
        else:
            manifest = bundles.load_manifest(work / "bundle")
        self.backend.check(manifest.resources)
        caps = preflight.Caps(
            self.s.max_time_limit_s,
            self.s.max_output_mb,
            self.s.max_processes,
            self.s.proof_margin_s,
        )
        return preflight.check(
            job_id,
            work / "bundle",
            manifest,
            execution_window_s=execution_window_s,
            parallel=max(1, len(self.backend.capacities())),
            caps=caps,
        )

    def start(self, job: dict[str, Any]) -> None:
        """Runs the job on a worker (fetching its bundle again after a restart)."""
        job_id = job["job_id"]
        if job_id in self.running:
            return
        work = self.work_dir(job_id)
        quoted = self.quoted_bundle(job["bundle_hash"]) / "bundle"
        if not (work / "bundle" / bundles.MANIFEST).exists():
            if (quoted / bundles.MANIFEST).exists():
                remove_tree(work / "bundle")
                shutil.copytree(quoted, work / "bundle", symlinks=True)
            else:
                self.fetch_into(job, work)
        manifest = bundles.load_manifest(work / "bundle")
        out = work / "out"
        remove_tree(out)
        fut = self.pool.submit(self.backend.run_bundle, job_id, work / "bundle", manifest, out)
        self.running[job_id] = fut
        if self.on_done is not None:
            on_done = self.on_done
            fut.add_done_callback(lambda _: on_done())

    def is_running(self, job_id: int) -> bool:
        return job_id in self.running

    def collect(self, job_id: int) -> ExecResult | None:
        """The job's result once its run finished (None while it runs)."""
        fut = self.running[job_id]
        if not fut.done():
            return None
        del self.running[job_id]
        return fut.result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
