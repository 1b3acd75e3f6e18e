"""The seccomp filter every sandboxed job runs under (bwrap `--seccomp FD`).

The job already runs as uid 65534 with no capabilities, so most of what is denied here would fail
anyway. The filter is about the kernel's attack surface, not permissions: user namespaces (which
hand an unprivileged process a full capability set inside them), bpf, userfaultfd, io_uring,
perf_event_open and keyctl are where most local privilege escalations of recent years started,
and no job kind needs them. Denied calls fail with EPERM, as an unprivileged call would, so a
library that probes for a feature (io_uring, say) falls back instead of crashing; `clone3` fails
with ENOSYS, because its flags sit in a struct seccomp cannot read: libc then falls back to
`clone`, whose namespace flags are checked. A syscall of a foreign ABI (32-bit `int 0x80` on
x86_64) kills the process: libseccomp's default for an architecture the filter does not cover.

The filter is compiled once per process with libseccomp (Debian's libseccomp2, through the
`pyseccomp` ctypes binding) and handed to each bwrap on a pipe.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

from oracle.core.errors import SandboxUnavailableError

# Namespace flags of clone(2)/unshare(2). CLONE_NEWTIME (0x80) only for unshare: in clone's first
# argument those bits are the exit signal.
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
NAMESPACE_FLAGS = (
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
    CLONE_NEWNET,
)  # fmt: skip
TIOCSTI, TIOCLINUX = 0x5412, 0x541C  # push input into a terminal: the classic sandbox escape

DENIED: dict[str, tuple[str, ...]] = {
    "namespaces and mounts (the sandbox's own walls)": (
        "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount",
        "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    ),
    "kernel attack surface no job needs": (
        "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
        "io_uring_register", "keyctl", "add_key", "request_key", "fanotify_init",
        "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "uselib", "nfsservctl",
    ),
    "other processes' memory": (
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    ),
    "the machine itself": (
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
        "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm",
        "sethostname", "setdomainname", "vhangup",
    ),
}  # fmt: skip


@functools.lru_cache(maxsize=1)
def compiled_filter() -> bytes:
    """The BPF program (raw `struct sock_filter` array) bwrap loads. Raises
    SandboxUnavailableError when libseccomp is missing: a node must not run jobs without it."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as err:  # OSError: the binding found no libseccomp.so.2
        raise SandboxUnavailableError(
            f"seccomp is unavailable ({err}): install Debian's libseccomp2 and the pyseccomp "
            "package (`make setup`)"
        ) from err
    filt = sc.SyscallFilter(defaction=sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)

    def deny(action: int, name: str, *args: object) -> None:
        if sc.resolve_syscall(sc.Arch.NATIVE, name) < 0:
            return  # not a syscall on this architecture (ioperm on arm64, say)
        filt.add_rule(action, name, *args)

    for names in DENIED.values():
        for name in names:
            deny(eperm, name)
    for flag in NAMESPACE_FLAGS:
        deny(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for flag in (*NAMESPACE_FLAGS, CLONE_NEWTIME):
        deny(eperm, "unshare", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    deny(sc.ERRNO(errno.ENOSYS), "clone3")
    for request in (TIOCSTI, TIOCLINUX):
        deny(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    with tempfile.TemporaryFile() as out:
        filt.export_bpf(out)
        out.seek(0)
        return out.read()


def filter_fd() -> int:
    """A pipe's read end holding the compiled filter, for one bwrap to read (it reads to EOF).
    The caller passes it to bwrap and closes it after the start."""
    program = compiled_filter()
    read_end, write_end = os.pipe()
    try:
        # A filter is a few KiB, far below a pipe's buffer: the write never blocks.
        os.write(write_end, program)
    finally:
        os.close(write_end)
    return read_end
