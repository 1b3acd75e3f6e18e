"""One job in a bubblewrap sandbox: the command line, the limits, the watchdog and the verdict.

Both backends call `run_sandboxed` (the Ray backend on the worker node), so a job behaves, and
hashes, the same wherever it runs.

The sandbox (`bwrap`): new PID, network, IPC and UTS namespaces (no network but a private
loopback), killed with the node (`--die-with-parent`), an empty environment plus the pinned
one, a read-only root holding only /usr (and its /bin, /lib links), a few /etc files and the
node's Python (venv and base install, read-only at their own paths), the bundle read-only at
/job, a fresh writable /out, a private /tmp of at most `memory_mb`, and a fresh /proc and /dev.
The job runs as uid/gid 65534 with no capabilities and `no_new_privs`, under a seccomp filter
(seccomp.py: no user namespaces, mounts, bpf, io_uring, userfaultfd, perf_event_open, keyctl...).

As root, bwrap is started without a user namespace and `setpriv` drops to 65534 inside it: a
user namespace would map 65534 back to root outside, where the kernel does not enforce
RLIMIT_NPROC. As another user, bwrap maps the caller to 65534 in a user namespace and
`--disable-userns` stops the job from nesting one.

Limits: `prlimit` sets RLIMIT_FSIZE (no single file past max_output_mb: SIGXFSZ), RLIMIT_NPROC
(max_processes), RLIMIT_CORE=0 and RLIMIT_NOFILE. When this process may create cgroups (v2, or
v1 `memory` and `pids`), each job gets its own with `memory` = memory_mb (the OOM killer ends a
job over it) and `pids.max` = max_processes, both exact per job; without a memory cgroup,
RLIMIT_AS = memory_mb bounds address space instead (stricter than RSS: large frameworks need
>= 2 GiB). A watchdog kills the whole sandbox at wall_time_s and as soon as the files under
/out pass max_output_mb; the total is checked again at the end.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from oracle.core.errors import ResultError, SandboxUnavailableError
from oracle.core.results import output_size, result_hash
from oracle.core.tree import remove_tree
from oracle.execute.base import (
    SANDBOX_JOB_DIR,
    SANDBOX_OUT_DIR,
    SANDBOX_SHARDS_DIR,
    STATUS_FILE,
    ExecResult,
    ExecSpec,
    ExecStatus,
    pinned_env,
    refused,
)
from oracle.execute.cgroup import JobCgroup
from oracle.execute.gpu import job_gpu_binds
from oracle.execute.seccomp import filter_fd

log = logging.getLogger("oracle.execute")

MIB = 1 << 20
NOBODY = 65534
_ETC_FILES = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
)
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True)
class SandboxConfig:
    """How jobs are sandboxed on this machine. `SandboxConfig.detect()` fills it in."""

    bwrap: str | None
    python_dirs: tuple[str, ...]  # bound read-only at the same path (venv + base install)
    path: str  # PATH inside the sandbox: the node's venv first
    extra_ro_binds: tuple[str, ...] = ()
    uid: int = NOBODY
    gid: int = NOBODY
    use_cgroups: bool = True  # False: per-process rlimits only, by the operator's explicit choice
    cgroup_parent: str | None = None  # a delegated cgroup v2 directory (cgroup.py)
    allow_unsafe: bool = False
    tail_bytes: int = 8192
    poll_s: float = 0.1
    output_poll_s: float = 0.5
    unsafe_reasons: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def detect(cls, *, allow_unsafe: bool = False, **overrides: object) -> SandboxConfig:
        prefixes = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
        dirs = sorted(p for p in prefixes if not _under(p, "/usr"))
        # Drop a prefix that lies inside another one (already bound).
        dirs = [d for d in dirs if not any(d != o and _under(d, o) for o in dirs)]
        venv_bin = os.path.join(os.path.realpath(sys.prefix), "bin")
        values: dict[str, object] = dict(
            bwrap=shutil.which("bwrap"),
            python_dirs=tuple(dirs),
            path=f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            allow_unsafe=allow_unsafe,
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


# ------------------------------------------------------------------------ readiness
@functools.lru_cache(maxsize=8)
def _probe(config: SandboxConfig) -> str | None:
    """Starts one trivial sandbox; returns why it failed, or None."""
    for tool in ("prlimit",) + (("setpriv",) if os.geteuid() == 0 else ()):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed"
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"tes-probe-{uuid.uuid4().hex[:12]}"
    (scratch / "job").mkdir(parents=True)
    (scratch / "out").mkdir()
    try:
        os.chmod(scratch / "job", 0o755)
        if os.geteuid() == 0:
            os.chown(scratch / "out", config.uid, config.gid)
        spec = ExecSpec(job_id="probe", bundle_dir=scratch / "job", entrypoint=("true",))
        try:
            seccomp_fd = filter_fd()
        except SandboxUnavailableError as err:
            return str(err)
        cmd = _bwrap_command(
            config, spec, scratch / "job", scratch / "out", (), memory_rlimit=False, nproc=64,
            seccomp_fd=seccomp_fd,
        )  # fmt: skip
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=30, env=_HOST_ENV,
                pass_fds=() if seccomp_fd is None else (seccomp_fd,),
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bwrap did not start: {err}"
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        if proc.returncode != 0:
            return (proc.stderr or proc.stdout).strip()[-500:] or f"exit code {proc.returncode}"
        return None
    finally:
        remove_tree(scratch)


def _cgroup_probe(config: SandboxConfig) -> str | None:
    """Creates one job cgroup; returns why memory and pids cannot be bounded per job, or None.
    Not cached: a few file writes, and a delegation the operator fixes is seen at once."""
    cg = JobCgroup.create(
        f"tes-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}", 64 * MIB, 16, 1.0, _cgroup_parent(config)
    )
    if cg is None or not (cg.has_memory and cg.has_pids):
        missing = "memory and pids" if cg is None else "memory" if not cg.has_memory else "pids"
        if cg:
            cg.remove()
        return (
            f"per-job cgroup limits ({missing}) cannot be applied here: run the node as root on "
            "cgroup v1, or on v2 in a cgroup delegated to it (systemd `Delegate=yes`, then "
            "`cgroup_parent`); `rlimits_only = true` accepts per-process rlimits instead"
        )
    if not cg.has_cpu:
        log.warning("no cpu cgroup controller: a job's CPU use is bounded by its processes only")
    cg.remove()
    return None


def _cgroup_parent(config: SandboxConfig) -> Path | None:
    return Path(config.cgroup_parent) if config.cgroup_parent else None


def ensure_sandbox(config: SandboxConfig) -> SandboxConfig:
    """Returns a config jobs can run with, or raises SandboxUnavailableError.

    Without a working bwrap (with its seccomp filter), or without per-job cgroup limits while
    `use_cgroups` is on, this refuses, unless `allow_unsafe`: then it warns loudly and returns a
    config that runs jobs with rlimits only (no isolation at all)."""
    why: str | None
    if config.bwrap is None:
        why = "bubblewrap (bwrap) is not installed: run `make setup` (Debian package bubblewrap)"
    else:
        why = _probe(config)
        if why is None:
            why = _cgroup_probe(config) if config.use_cgroups else None
            if why is None:
                if not config.use_cgroups:
                    log.warning(
                        "rlimits_only: jobs are bounded by per-process rlimits, not cgroups"
                    )
                return config
        else:
            why = f"bubblewrap cannot start a sandbox on this machine: {why}"
    if not config.allow_unsafe:
        raise SandboxUnavailableError(
            f"{why}; refusing to run untrusted jobs (allow_unsafe runs them bare)"
        )
    log.warning("!" * 78)
    log.warning("UNSAFE EXECUTION: %s.", why)
    log.warning("Jobs run WITHOUT a sandbox, as this user, with network and the whole filesystem,")
    log.warning("bounded only by rlimits and a timeout. Run only jobs you trust.")
    log.warning("!" * 78)
    return dataclasses.replace(config, bwrap=None, unsafe_reasons=(why,))


# ------------------------------------------------------------------------ command line
_HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def _bwrap_command(
    config: SandboxConfig,
    spec: ExecSpec,
    bundle_dir: Path,
    output_dir: Path,
    gpu_ids: Sequence[str],
    *,
    memory_rlimit: bool,
    nproc: int,
    shards_dir: Path | None = None,
    status_fd: int | None = None,
    seccomp_fd: int | None = None,
) -> list[str]:
    assert config.bwrap is not None
    root = os.geteuid() == 0
    lim = spec.limits
    cmd = [config.bwrap]
    if status_fd is not None:
        # bwrap reports the job's {"exit-code": N} on this fd, and nothing if the sandbox failed to
        # set up: the one trustworthy sign that a failure is the job's and not the sandbox's.
        cmd += ["--json-status-fd", str(status_fd)]
    if seccomp_fd is not None:  # loaded by bwrap right before it starts the job (seccomp.py)
        cmd += ["--seccomp", str(seccomp_fd)]
    if root:  # all namespaces but the user one (see the module docstring)
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        cmd += ["--unshare-cgroup-try"]
    else:
        cmd += ["--unshare-all", "--unshare-user", "--disable-userns"]
        cmd += ["--uid", str(config.uid), "--gid", str(config.gid)]
    cmd += ["--die-with-parent", "--new-session", "--hostname", "tes-job", "--clearenv"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for link in _ROOT_LINKS:
        if os.path.islink(link):
            cmd += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            cmd += ["--ro-bind", link, link]
    # The private /tmp comes before the binds: a later tmpfs would hide a venv or project that
    # itself lives under /tmp (a CI checkout, say), and the job would lose its packages.
    cmd += ["--size", str(lim.memory_mb * MIB), "--perms", "1777", "--tmpfs", "/tmp"]
    made: set[str] = {"/", "/usr", "/tmp", *_ROOT_LINKS}

    def bind(flag: str, src: str, dest: str) -> None:
        # bwrap creates missing parents 0700 (as root): make them 0755 so uid 65534 can walk.
        parents = []
        parent = os.path.dirname(dest)
        while parent not in made:
            parents.append(parent)
            made.add(parent)
            parent = os.path.dirname(parent)
        for p in reversed(parents):
            cmd.extend(["--perms", "0755", "--dir", p])
        cmd.extend([flag, src, dest])
        made.add(dest)

    for path in _ETC_FILES:
        if os.path.exists(path):
            bind("--ro-bind", path, path)
    for path in (*config.python_dirs, *config.extra_ro_binds):
        bind("--ro-bind", path, path)
    bind("--ro-bind", str(bundle_dir), SANDBOX_JOB_DIR)
    bind("--bind", str(output_dir), SANDBOX_OUT_DIR)
    if shards_dir is not None:
        bind("--ro-bind", str(shards_dir), SANDBOX_SHARDS_DIR)
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    made.update(("/proc", "/dev"))
    try:
        gpu_binds = job_gpu_binds(gpu_ids) if gpu_ids else []
    except ValueError as err:  # this machine's fault (a GPU gone from the driver), not the job's
        raise SandboxUnavailableError(str(err)) from err
    for flag, src, dest in gpu_binds:
        bind(flag, src, dest)  # only its own GPUs' device nodes and /sys entries (gpu.py)
    cmd += ["--chdir", SANDBOX_JOB_DIR]
    # The job sees only its GPUs, which CUDA numbers from 0 (the same inside every replica).
    visible = [str(i) for i in range(len(gpu_ids))]
    for name, value in sorted(pinned_env(spec, path=config.path, gpu_ids=visible).items()):
        cmd += ["--setenv", name, value]
    cmd += ["--remount-ro", "/", "--"]
    if root:
        cmd += [
            "setpriv", f"--reuid={config.uid}", f"--regid={config.gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        ]  # fmt: skip
    cmd += _prlimit(spec, memory_rlimit=memory_rlimit, nproc=nproc)
    return cmd + list(spec.entrypoint)


def _prlimit(spec: ExecSpec, *, memory_rlimit: bool, nproc: int) -> list[str]:
    lim = spec.limits
    fsize = max(lim.max_output_mb, 1) * MIB
    cmd = ["prlimit", f"--nproc={nproc}", f"--fsize={fsize}", "--core=0", "--nofile=4096"]
    if memory_rlimit:
        cmd.append(f"--as={lim.memory_mb * MIB}")
    return [*cmd, "--"]


# ------------------------------------------------------------------------ running a job
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


class _Verdict(NamedTuple):
    status: ExecStatus
    exit_code: int | None  # as written to the status record (None when we killed the job)
    limit: str | None  # the `Limits` field the job broke
    reason: str


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
                name, lim.memory_mb * MIB, lim.max_processes, lim.cpus, _cgroup_parent(config)
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
        verdict, digest = _seal(
            spec, _judge(spec, rc, killed_for, cgroup, err, output_dir), output_dir
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
        cmd = _bwrap_command(
            config, spec, bundle_dir, output_dir, gpu_ids, memory_rlimit=memory_rlimit,
            nproc=nproc, shards_dir=shards_dir, status_fd=status_fd, seccomp_fd=seccomp_fd,
        )  # fmt: skip
        env, cwd = dict(_HOST_ENV), None
    else:  # unsafe: the job sees real paths instead of /job and /out
        cmd = _prlimit(spec, memory_rlimit=memory_rlimit, nproc=nproc) + list(spec.entrypoint)
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


def _limit(limit: str, reason: str, status: ExecStatus = ExecStatus.LIMIT) -> _Verdict:
    return _Verdict(status, None, limit, reason)


def _judge(
    spec: ExecSpec,
    rc: int,
    killed_for: str | None,
    cgroup: JobCgroup | None,
    stderr: str,
    output_dir: Path,
) -> _Verdict:
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
            return _Verdict(ExecStatus.FAILED, rc, None, f"killed by signal {name}")
        return _Verdict(ExecStatus.FAILED, rc, None, f"exited with code {rc}")
    total = output_size(output_dir)
    if total > lim.max_output_mb * MIB:
        return _limit(
            "max_output_mb", f"wrote {total / MIB:.1f} MiB, over its {out_mb} output limit"
        )
    return _Verdict(ExecStatus.OK, 0, None, "")


def _seal(spec: ExecSpec, verdict: _Verdict, output_dir: Path) -> tuple[_Verdict, bytes]:
    """The final verdict and the result hash. A job that did not succeed keeps only a status
    record as output (the rest moves to `<output_dir>.partial`, for the operator), so replicas
    that saw the same failure commit the same hash."""
    if verdict.status is ExecStatus.OK:
        try:
            return verdict, result_hash(output_dir)
        except ResultError as err:
            verdict = _Verdict(ExecStatus.FAILED, 0, None, f"invalid output: {err}")
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
