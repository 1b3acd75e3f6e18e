"""A GPU job's sandbox command line shows it only its own GPUs.

No GPU is needed: the driver's /proc records, /dev nodes and /sys entries are laid out in a
temporary directory the way the NVIDIA driver lays them out, and the bwrap arguments are read.
(A run on real GPUs is a device check, docs/oracle.md.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle.core.errors import SandboxUnavailableError
from oracle.execute import gpu
from oracle.execute.base import ExecSpec, Limits
from oracle.execute.bwrap import bwrap_command
from oracle.execute.sandbox_config import SandboxConfig

# Two GPUs whose device minors are the other way round from their indices (bus order).
GPUS = {"0000:17:00.0": 1, "0000:65:00.0": 0}


@pytest.fixture
def machine(tmp_path, monkeypatch):
    dev, sys, proc = tmp_path / "dev", tmp_path / "sys", tmp_path / "proc"
    dev.mkdir()
    for name in ("nvidiactl", "nvidia-uvm", "nvidia0", "nvidia1", "sda"):
        (dev / name).touch()
    for bus, minor in GPUS.items():
        (proc / bus).mkdir(parents=True)
        (proc / bus / "information").write_text(
            f"Model: H200\nDevice Minor:\t {minor}\nBus Location: {bus}\n"
        )
        real = sys / "devices" / "pci0000:00" / bus
        real.mkdir(parents=True)
        (sys / "bus" / "pci" / "devices").mkdir(parents=True, exist_ok=True)
        (sys / "bus" / "pci" / "devices" / bus).symlink_to(real)
    (sys / "module" / "nvidia").mkdir(parents=True)
    (sys / "kernel").mkdir()
    monkeypatch.setattr(gpu, "DEV", dev)
    monkeypatch.setattr(gpu, "SYS", sys)
    monkeypatch.setattr(gpu, "DRIVER_GPUS", proc)
    gpu.gpu_devices.cache_clear()
    yield tmp_path
    gpu.gpu_devices.cache_clear()


def command(tmp_path: Path, gpu_ids: tuple[str, ...]) -> list[str]:
    config = SandboxConfig(bwrap="/usr/bin/bwrap", python_dirs=(), path="/usr/bin")
    spec = ExecSpec(
        job_id=1, bundle_dir=tmp_path, entrypoint=("true",), limits=Limits(gpus=len(gpu_ids))
    )
    return bwrap_command(config, spec, tmp_path, tmp_path, gpu_ids, memory_rlimit=False, nproc=8)


def sources(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd) if arg == flag]


def test_gpu_job__sees_only_its_own_device_node_and_sys_entries(machine):
    cmd = command(machine, ("0",))  # index 0 = bus 0000:17:00.0 = /dev/nvidia1
    assert sorted(Path(p).name for p in sources(cmd, "--dev-bind")) == [
        "nvidia-uvm",
        "nvidia1",
        "nvidiactl",
    ]
    binds = sources(cmd, "--ro-bind")
    assert str(machine / "sys" / "devices" / "pci0000:00" / "0000:17:00.0") in binds
    assert not any("0000:65:00.0" in p for p in binds + sources(cmd, "--symlink"))
    assert str(machine / "sys") not in binds and str(machine / "sys" / "kernel") not in binds
    assert "/sys" not in binds
    env = dict(
        zip(cmd[cmd.index("--setenv") + 1 :: 3], cmd[cmd.index("--setenv") + 2 :: 3], strict=False)
    )
    assert env["CUDA_VISIBLE_DEVICES"] == "0"  # numbered from 0 inside, like every replica


def test_two_gpus__both_nodes_renumbered_from_zero(machine):
    cmd = command(machine, ("1", "0"))
    assert {Path(p).name for p in sources(cmd, "--dev-bind")} >= {"nvidia0", "nvidia1"}
    i = cmd.index("CUDA_VISIBLE_DEVICES")
    assert cmd[i + 1] == "0,1"


def test_cpu_job__gets_no_gpu_node_and_no_sys(machine):
    cmd = command(machine, ())
    assert sources(cmd, "--dev-bind") == [] and not any(
        "sys" in p for p in sources(cmd, "--ro-bind")
    )


def test_gpu_the_driver_does_not_list__is_a_node_fault_not_every_device(machine):
    with pytest.raises(SandboxUnavailableError, match="not listed"):
        command(machine, ("7",))
