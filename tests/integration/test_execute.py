"""The execute stage against real sandboxes: bubblewrap on this machine, and a local Ray cluster.

Hostile jobs (network, fork bomb, memory hog, writes outside /out, huge output, sleeper) must
end with a clear status and reason while the backend keeps serving; a job that no worker can
ever fit is refused at once, never left pending.
"""

import errno
import json
import os
import shutil
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from oracle.core.errors import JobRefusedError, SandboxUnavailableError
from oracle.core.results import result_hash
from oracle.execute import (
    STATUS_FILE,
    ExecSpec,
    ExecStatus,
    Limits,
    LocalSandboxBackend,
    SandboxConfig,
    detect_gpus,
    make_backend,
)
from oracle.execute.seccomp import CLONE_NEWNS, CLONE_NEWUSER

NORMAL = """
import json, os, random
import numpy as np
seed = int(os.environ["SEED"])
rng = np.random.default_rng(seed)
x = rng.normal(size=(300, 40))
w = np.linalg.lstsq(x, x @ np.linspace(-1, 1, 40) + rng.normal(size=300), rcond=None)[0]
out = os.environ["TES_OUTPUT_DIR"]
os.makedirs(os.path.join(out, "model"), exist_ok=True)
np.save(os.path.join(out, "model", "w.npy"), w)
random.seed(seed)
with open(os.path.join(out, "metrics.json"), "w") as f:
    json.dump({"seed": seed, "hash_of_str": hash("tes"), "draw": random.random(),
               "threads": os.environ["OMP_NUM_THREADS"]}, f, sort_keys=True)
print("trained")
"""


def bundle(tmp_path: Path, code: str, name: str = "bundle") -> Path:
    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "main.py").write_text(textwrap.dedent(code))
    return d


def spec(bundle_dir: Path, job_id="t", seed=7, **limits) -> ExecSpec:
    base = {"wall_time_s": 20.0, "memory_mb": 512, "max_processes": 32, "max_output_mb": 8}
    return ExecSpec(
        job_id=job_id, bundle_dir=bundle_dir, entrypoint=("python3", "main.py"), seed=seed,
        limits=Limits(**{**base, **limits}),
    )  # fmt: skip


def require_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail(
            "bubblewrap (bwrap) is not installed: run `make setup` (apt-get install -y bubblewrap)"
        )


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    require_bwrap()
    backend = LocalSandboxBackend(tmp_path_factory.mktemp("local-work"), max_workers=2)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def normal_bundle(tmp_path_factory):
    return bundle(tmp_path_factory.mktemp("normal"), NORMAL)


@pytest.fixture(scope="module")
def reference(local, normal_bundle):
    """The normal job's result on the local sandbox, the yardstick for every other run."""
    result = local.run(spec(normal_bundle))
    assert result.status == ExecStatus.OK, result
    return result


def nobody_processes() -> int:
    n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        n += uid_line.split()[1] == "65534"
    return n


# ------------------------------------------------------------------------ normal jobs
def test_normal_job__run_twice__same_hash(local, normal_bundle, reference):
    again = local.run(spec(normal_bundle, job_id="t2"))
    assert again.status == ExecStatus.OK and again.exit_code == 0 and again.reason == ""
    assert again.result_hash == reference.result_hash == result_hash(again.output_dir)
    assert again.output_dir != reference.output_dir
    assert again.stdout_tail == "trained\n"
    metrics = json.loads((again.output_dir / "metrics.json").read_text())
    assert metrics["threads"] == "1" and metrics["seed"] == 7
    assert sorted(p.name for p in again.output_dir.rglob("*")) == ["metrics.json", "model", "w.npy"]


def test_normal_job__other_seed__other_hash(local, normal_bundle, reference):
    other = local.run(spec(normal_bundle, seed=8))
    assert other.status == ExecStatus.OK
    assert other.result_hash != reference.result_hash


def test_job__runs_unprivileged_with_only_the_pinned_env(local, tmp_path):
    code = """
    import json, os
    with open("/out/seen.json", "w") as f:
        json.dump({"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(), "env": dict(os.environ),
                   "host": os.uname().nodename}, f)
    """
    result = local.run(spec(bundle(tmp_path, code), job_id=42, seed=5))
    assert result.status == ExecStatus.OK, result
    seen = json.loads((result.output_dir / "seen.json").read_text())
    assert (seen["uid"], seen["gid"], seen["cwd"], seen["host"]) == (
        65534,
        65534,
        "/job",
        "tes-job",
    )
    env = seen["env"]
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        assert env[name] == "1"
    assert (env["PYTHONHASHSEED"], env["SEED"], env["TES_JOB_ID"]) == ("0", "5", "42")
    assert env["TES_OUTPUT_DIR"] == "/out" and env["TES_INPUT_DIR"] == "/job"
    assert (
        not {"HOSTNAME", "SSH_AUTH_SOCK", "RAY_USAGE_STATS_ENABLED", "PYTEST_CURRENT_TEST"}
        & env.keys()
    )


def test_job_env__cannot_override_pinned_threads(local, normal_bundle):
    s = ExecSpec(
        job_id="x",
        bundle_dir=normal_bundle,
        entrypoint=("python3", "main.py"),
        env={"OMP_NUM_THREADS": "8"},
    )
    result = local.run(s)
    assert result.status == ExecStatus.REFUSED and "pinned" in result.reason


def test_failed_job__hash_covers_only_a_status_record(local, tmp_path):
    code = """
    open("/out/partial.txt", "w").write("half")
    raise SystemExit(3)
    """
    b = bundle(tmp_path, code)
    first, second = local.run(spec(b)), local.run(spec(b))
    assert first.status == ExecStatus.FAILED and first.exit_code == 3 and "code 3" in first.reason
    assert [p.name for p in first.output_dir.iterdir()] == [STATUS_FILE]
    assert json.loads((first.output_dir / STATUS_FILE).read_text()) == {
        "status": "failed",
        "exit_code": 3,
        "limit": None,
    }
    assert first.result_hash == second.result_hash
    assert (first.output_dir.parent / "out.partial" / "partial.txt").read_text() == "half"


def test_job_printing_bwraps_error_text__is_its_own_failure_not_a_sandbox_fault(local, tmp_path):
    """Only bwrap's status channel says whether the sandbox started: a job that imitates bwrap's
    error message gets a committed failure result, not a node fault that leaves it unproven (and
    its collateral to be seized at expiry)."""
    code = """
    import sys
    sys.stderr.write("bwrap: Can't mount proc on /newroot/proc: Operation not permitted\\n")
    raise SystemExit(1)
    """
    result = local.run(spec(bundle(tmp_path, code)))
    assert (result.status, result.exit_code) == (ExecStatus.FAILED, 1)
    assert result.result_hash is not None


def test_output_a_thousand_directories_deep__a_failure_result_not_a_node_crash(local, tmp_path):
    code = """
    import os
    os.chdir("/out")
    for _ in range(1000):
        os.mkdir("a")
        os.chdir("a")
    open("f.txt", "w").write("deep")
    """
    first, second = (
        local.run(spec(bundle(tmp_path, code))),
        local.run(spec(bundle(tmp_path, code, "again"))),
    )
    assert first.status == ExecStatus.FAILED and "nested more than" in first.reason
    assert first.result_hash == second.result_hash  # replicas agree on the failure


def test_sandbox_that_cannot_start__is_a_node_fault_not_a_job_result(tmp_path):
    require_bwrap()
    from oracle.execute.sandbox import run_sandboxed

    config = SandboxConfig.detect(extra_ro_binds=(str(tmp_path / "missing"),))
    with pytest.raises(SandboxUnavailableError, match="sandbox failed to start"):
        run_sandboxed(spec(bundle(tmp_path, "print('never runs')")), tmp_path / "out", config)


# ------------------------------------------------------------------------ hostile jobs
def test_network__is_unreachable_from_the_job(local, tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    server.settimeout(5)
    threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True).start()
    code = f"""
    import socket
    for addr in [("127.0.0.1", {port}), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
        try:
            socket.create_connection(addr, timeout=2).sendall(b"leak")
            print("CONNECTED", addr)
        except OSError as err:
            print("blocked", addr, type(err).__name__)
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    """
    result = local.run(spec(bundle(tmp_path, code)))
    server.close()
    assert result.status == ExecStatus.FAILED and result.exit_code == 1, result
    assert "CONNECTED" not in result.stdout_tail and result.stdout_tail.count("blocked") == 3
    assert "Network is unreachable" in result.stderr_tail
    assert accepted in ([], [None])


def _accept(server):
    try:
        return server.accept()
    except OSError:
        return None


def test_fork_bomb__is_bounded_by_the_process_limit_and_killed(local, tmp_path):
    before = nobody_processes()
    code = """
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
    """
    started = time.monotonic()
    result = local.run(spec(bundle(tmp_path, code), wall_time_s=2, max_processes=16))
    assert result.status in (ExecStatus.TIMEOUT, ExecStatus.LIMIT), result
    assert time.monotonic() - started < 8
    assert json.loads((result.output_dir / STATUS_FILE).read_text())["status"] == result.status
    time.sleep(0.2)
    assert nobody_processes() <= before, "processes of the fork bomb survived"


FORK_COUNTER = """
import os, time
n = 0
try:
    while n < 1000:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError:
    pass
open("/out/forks.txt", "w").write(str(n))
"""


def test_fork_counter__cannot_pass_max_processes(local, tmp_path):
    result = local.run(spec(bundle(tmp_path, FORK_COUNTER), max_processes=16))
    assert result.status == ExecStatus.OK, (
        result
    )  # the job itself gave up; its children died with it
    assert int((result.output_dir / "forks.txt").read_text()) < 16


def test_memory_hog__is_stopped_at_the_memory_limit(local, tmp_path):
    code = """
    chunks = []
    for _ in range(40):
        chunks.append(b"x" * (32 << 20))  # touched pages, 1.25 GiB in all
    print("SURVIVED")
    """
    result = local.run(spec(bundle(tmp_path, code), memory_mb=256))
    assert result.status == ExecStatus.LIMIT, result
    assert "memory" in result.reason and "256 MiB" in result.reason
    assert "SURVIVED" not in result.stdout_tail


def test_rlimits_only__memory_and_processes_still_bounded(tmp_path):
    """Where cgroups cannot be created, RLIMIT_AS and RLIMIT_NPROC hold the line."""
    require_bwrap()
    config = SandboxConfig.detect(use_cgroups=False)
    hog = bundle(tmp_path, "x = [b'x' * (32 << 20) for _ in range(40)]", "hog")
    forks = bundle(tmp_path, FORK_COUNTER, "forks")
    with LocalSandboxBackend(tmp_path / "work", config=config) as backend:
        hogged, forked = backend.wait(
            [
                backend.submit(spec(hog, memory_mb=256)),
                backend.submit(spec(forks, max_processes=16)),
            ]
        )
    assert hogged.status == ExecStatus.LIMIT and "256 MiB" in hogged.reason, hogged
    assert (
        forked.status == ExecStatus.OK and int((forked.output_dir / "forks.txt").read_text()) < 16
    )


def test_no_cgroups__refuses_untrusted_jobs_instead_of_falling_back_to_rlimits(
    tmp_path, monkeypatch
):
    """A machine where this process may create no cgroup (here: an empty cgroup filesystem)."""
    require_bwrap()
    from oracle.execute import cgroup

    monkeypatch.setattr(cgroup, "ROOT", tmp_path / "no-cgroupfs")
    with pytest.raises(SandboxUnavailableError, match="rlimits_only"):
        LocalSandboxBackend(tmp_path / "work", config=SandboxConfig.detect())


CPU_BURNER = """
import multiprocessing as mp, os, time
def burn():
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        pass
if __name__ == "__main__":
    procs = [mp.get_context("fork").Process(target=burn) for _ in range(2)]
    for p in procs: p.start()
    for p in procs: p.join()
    t = os.times()
    with open("/out/cpu.txt", "w") as f:
        f.write(str(t.children_user + t.children_system))
"""


def test_cpu_quota__two_busy_processes_get_half_a_cpu_between_them(local, tmp_path):
    """cpus = 0.5 is a CFS quota on the job's cgroup: 2 s of wall time buys about 1 CPU-second
    whatever the job forks (unbounded, two busy processes take up to 4 on two cores)."""
    result = local.run(spec(bundle(tmp_path, CPU_BURNER), cpus=0.5))
    assert result.status == ExecStatus.OK, result
    used = float((result.output_dir / "cpu.txt").read_text())
    assert used < 1.5, f"{used:.2f} CPU-seconds in 2 s of wall time at cpus = 0.5"


def test_writes_outside_out__are_refused(local, tmp_path):
    host_marker = tmp_path / "host-marker"
    code = f"""
    import json, os
    report = {{}}
    for path in ["/job/evil", "/evil", "/usr/evil", "/etc/evil", "/proc/evil", "{host_marker}",
                 os.path.join(os.environ["PATH"].split(":")[0], "evil"), "/tmp/scratch"]:
        try:
            with open(path, "w") as f:
                f.write("x")
            report[path] = "WROTE"
        except OSError as err:
            report[path] = type(err).__name__
    with open("/out/report.json", "w") as f:
        json.dump(report, f)
    """
    b = bundle(tmp_path, code)
    result = local.run(spec(b))
    assert result.status == ExecStatus.OK, result
    report = json.loads((result.output_dir / "report.json").read_text())
    assert report.pop("/tmp/scratch") == "WROTE"  # private tmpfs, gone with the sandbox
    assert all(v != "WROTE" for v in report.values()), report
    assert not host_marker.exists() and not (b / "evil").exists() and not Path("/evil").exists()
    assert not Path("/tmp/scratch").exists()


# The escapes a careful reviewer tries first: each call with harmless arguments, so that only the
# filter (not a bad pointer) decides the answer. Without the filter, unshare(CLONE_NEWUSER), keyctl
# and ptrace(TRACEME) succeed for uid 65534 and bpf/io_uring/perf answer EFAULT or EINVAL.
ESCAPES = {
    "unshare": (CLONE_NEWUSER,),
    "unshare_mount": (CLONE_NEWNS,),
    "setns": (0, 0),
    "mount": (0, 0, 0, 0, 0),
    "bpf": (5, 0, 0),  # BPF_PROG_LOAD
    "userfaultfd": (0,),
    "io_uring_setup": (1, 0),
    "perf_event_open": (0, 0, -1, -1, 0),
    "keyctl": (0, -3, 0),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "add_key": (0, 0, 0, 0, 0),
    "ptrace": (0, 0, 0, 0),  # PTRACE_TRACEME
    "process_vm_readv": (1, 0, 0, 0, 0, 0),
    "init_module": (0, 0, 0),
    "clone3": (0, 0),
}


def test_sandbox_escapes__are_refused_by_the_seccomp_filter(local, tmp_path):
    import pyseccomp

    numbers = {
        name: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name.removesuffix("_mount"))
        for name in ESCAPES
    }
    code = f"""
    import ctypes, json, os, subprocess, threading
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    report = {{}}
    for name, (nr, args) in {json.dumps({n: (numbers[n], a) for n, a in ESCAPES.items()})}.items():
        rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
        report[name] = "ok" if rc >= 0 else os.strerror(ctypes.get_errno())
    # What a job does need still works: threads, and processes (glibc tries clone3 first, then
    # falls back to clone when the filter answers ENOSYS).
    t = threading.Thread(target=lambda: report.update(thread="ok")); t.start(); t.join()
    report["subprocess"] = subprocess.run(["python3", "-c", "print(7)"], capture_output=True,
                                          text=True).stdout.strip()
    with open("/out/report.json", "w") as f:
        json.dump(report, f)
    """
    result = local.run(spec(bundle(tmp_path, code)))
    assert result.status == ExecStatus.OK, result
    report = json.loads((result.output_dir / "report.json").read_text())
    assert report.pop("thread") == "ok" and report.pop("subprocess") == "7", report
    assert report.pop("clone3") == os.strerror(errno.ENOSYS), report
    assert report == {name: os.strerror(errno.EPERM) for name in report}, report
    assert set(report) == set(ESCAPES) - {"clone3"}


def test_symlink_in_output__fails_cleanly(local, tmp_path):
    code = """
    import os
    os.symlink("/etc/shadow", "/out/secret")
    """
    result = local.run(spec(bundle(tmp_path, code)))
    assert result.status == ExecStatus.FAILED and "symbolic link" in result.reason
    assert [p.name for p in result.output_dir.iterdir()] == [STATUS_FILE]


def test_huge_file__hits_the_output_limit(local, tmp_path):
    code = """
    with open("/out/huge.bin", "wb") as f:
        for _ in range(64):
            f.write(b"\\0" * (1 << 20))
    """
    result = local.run(spec(bundle(tmp_path, code), max_output_mb=4))
    assert result.status == ExecStatus.LIMIT and "output limit of 4 MiB" in result.reason, result
    assert [p.name for p in result.output_dir.iterdir()] == [STATUS_FILE]
    assert (result.output_dir.parent / "out.partial" / "huge.bin").stat().st_size <= 4 << 20


def test_many_files__hit_the_total_output_limit(local, tmp_path):
    code = """
    for i in range(12):
        with open(f"/out/part{i}.bin", "wb") as f:
            f.write(b"\\1" * (1 << 20))
    """
    result = local.run(spec(bundle(tmp_path, code), max_output_mb=4))
    assert result.status == ExecStatus.LIMIT and "output" in result.reason, result


def test_sleeper__is_killed_at_its_wall_time(local, tmp_path):
    code = """
    import time
    print("sleeping", flush=True)
    time.sleep(60)
    """
    started = time.monotonic()
    result = local.run(spec(bundle(tmp_path, code), wall_time_s=1))
    assert result.status == ExecStatus.TIMEOUT and "1 s wall-time limit" in result.reason
    assert time.monotonic() - started < 4
    assert result.stdout_tail == "sleeping\n"


def test_hostile_and_normal_jobs_in_parallel__normal_results_unchanged(
    local, normal_bundle, reference, tmp_path
):
    sleeper = bundle(tmp_path, "import time; time.sleep(60)", "sleeper")
    hog = bundle(tmp_path, "x = [b'x' * (64 << 20) for _ in range(20)]", "hog")
    futures = [
        local.submit(spec(sleeper, wall_time_s=1.5)),
        local.submit(spec(normal_bundle, job_id="p1")),
        local.submit(spec(hog, memory_mb=200)),
        local.submit(spec(normal_bundle, job_id="p2")),
    ]
    results = local.wait(futures, timeout=60)
    assert [r.status for r in results] == [
        ExecStatus.TIMEOUT,
        ExecStatus.OK,
        ExecStatus.LIMIT,
        ExecStatus.OK,
    ]
    assert results[1].result_hash == results[3].result_hash == reference.result_hash


# ------------------------------------------------------------------------ refusals
def test_gpu_job__without_enough_gpus__is_refused(local, normal_bundle):
    want = detect_gpus() + 1
    started = time.monotonic()
    result = local.run(spec(normal_bundle, gpus=want))
    assert result.status == ExecStatus.REFUSED and f"gpus={want}" in result.reason
    assert result.result_hash is None and time.monotonic() - started < 1
    with pytest.raises(JobRefusedError, match="can ever fit"):
        local.check(Limits(gpus=want))


def test_job__more_cpus_or_memory_than_the_machine__is_refused(local, normal_bundle):
    assert local.run(spec(normal_bundle, cpus=10_000)).status == ExecStatus.REFUSED
    assert local.run(spec(normal_bundle, memory_mb=1 << 30)).status == ExecStatus.REFUSED


def test_run_bundle__runs_a_manifest_like_the_node_does(local, tmp_path):
    from oracle.core.bundle import Manifest

    b = bundle(tmp_path, NORMAL)
    manifest = Manifest(entrypoint=["python3", "main.py"], seed=7, time_limit_s=20, max_output_mb=8)
    result = local.run_bundle(9, b, manifest, tmp_path / "work" / "out")
    assert result.status == "ok" and result.output_dir == tmp_path / "work" / "out"
    assert result.stdout_tail == "trained\n"
    manifest.resources.gpus = detect_gpus() + 1
    with pytest.raises(JobRefusedError, match="gpus="):
        local.run_bundle(10, b, manifest, tmp_path / "work2" / "out")


def test_make_backend__local_settings__gives_the_sandbox_pool(tmp_path):
    require_bwrap()
    from oracle.node.settings import Settings

    backend = make_backend(Settings(data_dir=tmp_path, workers=1))
    try:
        assert isinstance(backend, LocalSandboxBackend)
    finally:
        backend.close()


def test_no_bwrap__refuses_untrusted_jobs(tmp_path):
    with pytest.raises(SandboxUnavailableError, match="make setup"):
        LocalSandboxBackend(tmp_path, config=SandboxConfig.detect(bwrap=None))


def test_no_bwrap_with_allow_unsafe__warns_and_runs_with_rlimits(
    tmp_path, normal_bundle, reference, caplog
):
    config = SandboxConfig.detect(bwrap=None, allow_unsafe=True)
    with LocalSandboxBackend(tmp_path, config=config) as backend:
        assert "UNSAFE EXECUTION" in caplog.text
        result = backend.run(spec(normal_bundle))
        slow = backend.run(spec(bundle(tmp_path, "import time; time.sleep(30)"), wall_time_s=1))
    assert result.status == ExecStatus.OK and result.result_hash == reference.result_hash
    assert slow.status == ExecStatus.TIMEOUT


# ------------------------------------------------------------------------ Ray
@pytest.fixture(scope="session")
def ray_backend(tmp_path_factory):
    require_bwrap()
    from oracle.execute import RayBackend

    backend = RayBackend(
        work_dir=tmp_path_factory.mktemp("ray-work"),
        num_cpus=2,
        num_gpus=0,
        object_store_memory=100 << 20,
    )
    yield backend
    backend.close()


def test_ray__normal_jobs__same_hash_as_local(ray_backend, normal_bundle, reference, local):
    futures = [
        ray_backend.submit(spec(normal_bundle, job_id=f"r{seed}", seed=seed)) for seed in (7, 8, 7)
    ]
    results = ray_backend.wait(futures, timeout=60)
    assert [r.status for r in results] == [ExecStatus.OK] * 3, results
    assert results[0].result_hash == results[2].result_hash == reference.result_hash
    assert results[1].result_hash == local.run(spec(normal_bundle, seed=8)).result_hash
    assert result_hash(results[0].output_dir) == reference.result_hash
    assert results[0].backend.startswith("ray:") and results[0].stdout_tail == "trained\n"


def test_ray__gpu_job_without_gpu_nodes__is_refused_not_pending(ray_backend, normal_bundle):
    started = time.monotonic()
    result = ray_backend.submit(spec(normal_bundle, gpus=1)).result(timeout=5)
    assert result.status == ExecStatus.REFUSED
    assert "no worker in the Ray cluster" in result.reason and "gpus=1" in result.reason
    assert time.monotonic() - started < 5
    with pytest.raises(JobRefusedError):
        ray_backend.check(Limits(cpus=64))


def test_ray__hostile_jobs__contained_like_local(ray_backend, local, tmp_path):
    sleeper = bundle(tmp_path, "import time; time.sleep(60)", "sleeper")
    bomb = bundle(
        tmp_path, "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n", "bomb"
    )
    on_ray = ray_backend.wait(
        [
            ray_backend.submit(spec(sleeper, wall_time_s=1)),
            ray_backend.submit(spec(bomb, wall_time_s=1.5)),
        ],
        timeout=60,
    )
    assert on_ray[0].status == ExecStatus.TIMEOUT
    assert on_ray[1].status in (ExecStatus.TIMEOUT, ExecStatus.LIMIT)
    # The failure record is deterministic: same hash as the same failure on the local pool.
    assert on_ray[0].result_hash == local.run(spec(sleeper, wall_time_s=1)).result_hash
