"""The bubblewrap command line of one job, and the `prlimit` rlimits it runs under.

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

`prlimit` sets RLIMIT_FSIZE (no single file past max_output_mb: SIGXFSZ), RLIMIT_NPROC
(max_processes), RLIMIT_CORE=0 and RLIMIT_NOFILE, and RLIMIT_AS = memory_mb where no memory
cgroup bounds the job.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from oracle.core.errors import SandboxUnavailableError
from oracle.execute.base import (
    SANDBOX_JOB_DIR,
    SANDBOX_OUT_DIR,
    SANDBOX_SHARDS_DIR,
    ExecSpec,
    pinned_env,
)
from oracle.execute.gpu import job_gpu_binds
from oracle.execute.sandbox_config import MIB, SandboxConfig

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

HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def bwrap_command(
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
    cmd += prlimit_args(spec, memory_rlimit=memory_rlimit, nproc=nproc)
    return cmd + list(spec.entrypoint)


def prlimit_args(spec: ExecSpec, *, memory_rlimit: bool, nproc: int) -> list[str]:
    lim = spec.limits
    fsize = max(lim.max_output_mb, 1) * MIB
    cmd = ["prlimit", f"--nproc={nproc}", f"--fsize={fsize}", "--core=0", "--nofile=4096"]
    if memory_rlimit:
        cmd.append(f"--as={lim.memory_mb * MIB}")
    return [*cmd, "--"]
