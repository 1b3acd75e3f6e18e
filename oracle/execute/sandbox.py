"""One job in a bubblewrap sandbox: the command line, the limits, the watchdog and the verdict.

Both backends call `run_sandboxed` (the Ray backend on the worker node), so a job behaves, and
hashes, the same wherever it runs.

The sandbox itself, its bubblewrap command line and `prlimit` rlimits: bwrap.py. Whether this
machine can sandbox at all: readiness.py (`ensure_sandbox`). The settings: sandbox_config.py
(`SandboxConfig`). The verdict and the result hash: verdict.py.

Limits: `prlimit` sets RLIMIT_FSIZE (no single file past max_output_mb: SIGXFSZ), RLIMIT_NPROC
(max_processes), RLIMIT_CORE=0 and RLIMIT_NOFILE. When this process may create cgroups (v2, or
v1 `memory` and `pids`), each job gets its own with `memory` = memory_mb (the OOM killer ends a
job over it) and `pids.max` = max_processes, both exact per job; without a memory cgroup,
RLIMIT_AS = memory_mb bounds address space instead (stricter than RSS: large frameworks need
>= 2 GiB). A watchdog kills the whole sandbox at wall_time_s and as soon as the files under
/out pass max_output_mb; the total is checked again at the end.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from oracle.core.errors import SandboxUnavailableError
from oracle.core.results import output_size
from oracle.core.tree import remove_tree
from oracle.execute.base import ExecResult, ExecSpec, pinned_env, refused
from oracle.execute.bwrap import HOST_ENV, bwrap_command, prlimit_args
from oracle.execute.cgroup import JobCgroup
from oracle.execute.readiness import ensure_sandbox
from oracle.execute.sandbox_config import MIB, SandboxConfig, cgroup_parent_dir
from oracle.execute.seccomp import filter_fd
from oracle.execute.verdict import judge, seal

__all__ = ["MIB", "SandboxConfig", "ensure_sandbox", "run_sandboxed"]

log = logging.getLogger("oracle.execute")


class _Tail:
    """Drains a pipe, keeping only its last `size` bytes."""

    def __init__(self, stream, size: int):
        self._stream = stream
        self._size = size
        self._buf = bytearray()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        for chunk in iter(lambda: self._stream.read1(65536), b""):
            self._buf += chunk
            if len(self._buf) > 2 * self._size:
                del self._buf[: -self._size]
        self._stream.close()

    def text(self) -> str:
        self.thread.join(timeout=2)
        return bytes(self._buf[-self._size :]).decode("utf-8", "replace")


def run_sandboxed(
    spec: ExecSpec,
    output_dir: Path,
    config: SandboxConfig,
    *,
    gpu_ids: Iterable[str] = (),
    backend: str = "local",
) -> ExecResult:
    """Runs one job to the end and judges it; blocks for about wall_time_s at most.

    Returns a `refused` result for an invalid spec or a non-empty output directory. Raises
    SandboxUnavailableError when the sandbox itself failed to start: a fault of this node, not
    of the job, so nothing must be committed for it."""
    started = time.monotonic()
    if problem := spec.problem():
        return refused(spec, problem, backend)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if any(output_dir.iterdir()):
        return refused(spec, f"output directory {output_dir} is not empty", backend)
    if config.bwrap is None and not config.allow_unsafe:
        raise SandboxUnavailableError("no sandbox configured and allow_unsafe is off")
    lim = spec.limits
    scratch = output_dir.parent / f".{output_dir.name}.{uuid.uuid4().hex[:8]}"
    scratch.mkdir(mode=0o755)
    cgroup = None
    status_r, status_w = os.pipe() if config.bwrap else (None, None)
    seccomp_fd = None
    try:
        if config.bwrap:
            seccomp_fd = filter_fd()
        if config.use_cgroups:
            name = f"tes-{os.getpid()}-{uuid.uuid4().hex[:12]}"
            cgroup = JobCgroup.create(
                name, lim.memory_mb * MIB, lim.max_processes, lim.cpus, cgroup_parent_dir(config)
            )
        cmd, env, cwd = _command(
            spec, output_dir, scratch, config, tuple(gpu_ids), cgroup, status_w, seccomp_fd
        )
        log.info(
            "job %s: execute started (%s%s)",
            spec.job_id,
            backend,
            "" if config.bwrap else ", UNSAFE",
        )
        log.debug("job %s: %s", spec.job_id, shlex.join(cmd))
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
            cwd=cwd,
            pass_fds=tuple(fd for fd in (status_w, seccomp_fd) if fd is not None),
        )
        if status_w is not None:
            os.close(status_w)  # bwrap holds the write end now: EOF once it exits
            status_w = None
        if seccomp_fd is not None:
            os.close(seccomp_fd)  # bwrap has its own copy
            seccomp_fd = None
        stdout, stderr = (
            _Tail(proc.stdout, config.tail_bytes),
            _Tail(proc.stderr, config.tail_bytes),
        )
        killed_for = _watch(proc, cgroup, output_dir, spec, config, started)
        if cgroup:
            cgroup.kill()  # what an unsafe job left behind (bwrap's PID namespace leaves nothing)
        rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        out, err = stdout.text(), stderr.text()
        # Whatever the job printed, only bwrap's own status says whether the job ran: it reports the
        # job's exit code, and nothing when the sandbox failed to set up. A bwrap that the job's
        # own limits killed with it (memory, processes, our timeout) reports nothing either.
        limited = cgroup is not None and (cgroup.oom_killed() or cgroup.pids_limited())
        if status_r is not None and not killed_for and not limited and not _job_exited(status_r):
            raise SandboxUnavailableError(
                f"sandbox failed to start for job {spec.job_id}: {err.strip()[:500] or f'exit code {rc}'}"
            )
        verdict, digest = seal(
            spec, judge(spec, rc, killed_for, cgroup, err, output_dir), output_dir
        )
        elapsed = time.monotonic() - started
        log.info(
            "job %s: execute ended %s in %.2fs %s",
            spec.job_id,
            verdict.status,
            elapsed,
            verdict.reason,
        )
        return ExecResult(
            job_id=spec.job_id,
            status=verdict.status,
            exit_code=rc,
            reason=verdict.reason,
            output_dir=output_dir,
            result_hash=digest,
            elapsed_s=elapsed,
            stdout_tail=out,
            stderr_tail=err,
            backend=backend,
        )
    finally:
        for fd in (status_r, status_w, seccomp_fd):
            if fd is not None:
                os.close(fd)
        if cgroup:
            cgroup.kill()
            cgroup.remove()
        remove_tree(scratch)


def _job_exited(status_fd: int) -> bool:
    """Whether bwrap reported the job's exit ({"exit-code": N}) on its status fd; it reports its
    "child-pid" before the mounts, so only the exit proves the job ran. Read after bwrap exited,
    without blocking."""
    os.set_blocking(status_fd, False)
    data = b""
    try:
        while chunk := os.read(status_fd, 65536):
            data += chunk
    except BlockingIOError:
        pass
    return b'"exit-code"' in data


def _command(
    spec: ExecSpec,
    output_dir: Path,
    scratch: Path,
    config: SandboxConfig,
    gpu_ids: tuple[str, ...],
    cgroup: JobCgroup | None,
    status_fd: int | None = None,
    seccomp_fd: int | None = None,
) -> tuple[list[str], dict[str, str], Path | None]:
    """(argv, environment, working directory) that start the job."""
    lim = spec.limits
    root = os.geteuid() == 0
    memory_rlimit = not (cgroup and cgroup.has_memory)
    nproc = lim.max_processes
    if root and cgroup and cgroup.has_pids:
        # As root RLIMIT_NPROC counts every uid-65534 process on the machine, concurrent jobs
        # included; with an exact per-job pids cgroup it is only a generous backstop.
        nproc = lim.max_processes * max(4, 2 * (os.cpu_count() or 1))
    if config.bwrap:
        bundle_dir = Path(spec.bundle_dir)
        shards_dir = Path(spec.shards_dir) if spec.shards_dir is not None else None
        if root:
            bundle_dir = _stage_bundle(bundle_dir, scratch) or bundle_dir
            if shards_dir is not None:
                shards_dir = _stage_bundle(shards_dir, scratch, "shards") or shards_dir
            os.chown(output_dir, config.uid, config.gid)
        cmd = bwrap_command(
            config, spec, bundle_dir, output_dir, gpu_ids, memory_rlimit=memory_rlimit,
            nproc=nproc, shards_dir=shards_dir, status_fd=status_fd, seccomp_fd=seccomp_fd,
        )  # fmt: skip
        env, cwd = dict(HOST_ENV), None
    else:  # unsafe: the job sees real paths instead of /job and /out
        cmd = prlimit_args(spec, memory_rlimit=memory_rlimit, nproc=nproc) + list(spec.entrypoint)
        tmp = scratch / "tmp"
        tmp.mkdir()
        env = pinned_env(spec, path=config.path, gpu_ids=gpu_ids)
        env.update(TES_INPUT_DIR=str(spec.bundle_dir), TES_OUTPUT_DIR=str(output_dir))
        if spec.shards_dir is not None:
            env.update(TES_SHARDS_DIR=str(spec.shards_dir))
        env.update(HOME=str(tmp), TMPDIR=str(tmp))
        cwd = Path(spec.bundle_dir)
    if cgroup:  # join the cgroup before anything of the job starts
        join = " && ".join(f"echo $$ > {shlex.quote(f)}" for f in cgroup.procs_files())
        cmd = ["/bin/sh", "-c", f'{join} && exec "$@"', "sh", *cmd]
    return cmd, env, cwd


def _stage_bundle(bundle_dir: Path, scratch: Path, name: str = "bundle") -> Path | None:
    """As root, uid 65534 must be able to read the bundle: returns a world-readable copy under
    `scratch` if some entry is not, else None (the bundle is bound as it is)."""

    def readable(path: str) -> bool:
        mode = os.lstat(path).st_mode
        need = 0o005 if stat.S_ISDIR(mode) else 0o004
        return stat.S_ISLNK(mode) or mode & need == need

    if readable(str(bundle_dir)) and all(
        readable(os.path.join(top, n))
        for top, dirs, files in os.walk(bundle_dir)
        for n in dirs + files
    ):
        return None
    copy = scratch / name
    shutil.copytree(bundle_dir, copy, symlinks=True)
    for top, _, files in os.walk(copy):
        os.chmod(top, 0o755)
        for n in files:
            p = os.path.join(top, n)
            if not os.path.islink(p):
                os.chmod(p, 0o755 if os.stat(p).st_mode & 0o100 else 0o644)
    return copy


def _watch(
    proc: subprocess.Popen,
    cgroup: JobCgroup | None,
    output_dir: Path,
    spec: ExecSpec,
    config: SandboxConfig,
    started: float,
) -> str | None:
    """Waits for the job, killing it at its wall time or output limit; returns the limit broken."""
    deadline = started + spec.limits.wall_time_s
    next_output_check = time.monotonic() + config.output_poll_s
    killed_for = None
    while True:
        try:
            proc.wait(timeout=config.poll_s)
            return killed_for
        except subprocess.TimeoutExpired:
            if killed_for:
                continue
        now = time.monotonic()
        if now >= deadline:
            killed_for = "wall_time_s"
        elif now >= next_output_check:
            next_output_check = now + config.output_poll_s
            if output_size(output_dir) > spec.limits.max_output_mb * MIB:
                killed_for = "max_output_mb"
        if killed_for:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # bwrap: its PID namespace dies with it
            except ProcessLookupError:
                pass
            if cgroup:
                cgroup.kill()
