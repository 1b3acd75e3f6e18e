"""What GPUs this machine has, for the capabilities a node declares and for placing jobs."""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_mb: int


def describe_gpus(timeout_s: float = 10.0) -> list[GpuInfo]:
    """GPUs by `nvidia-smi` if it is installed, else `torch.cuda` if torch is importable, else
    none. Never raises: a broken driver reads as no GPU (and is logged)."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=True,
            ).stdout
            gpus = []
            for line in out.strip().splitlines():
                index, name, mem = (part.strip() for part in line.split(","))
                gpus.append(GpuInfo(int(index), name, int(float(mem))))
            return gpus
        except (OSError, subprocess.SubprocessError, ValueError) as err:
            log.warning("nvidia-smi is installed but failed (%s); trying torch", err)
    # Without an NVIDIA device node there is nothing for CUDA to find: skip importing torch,
    # which costs seconds on every node start.
    if not any(Path("/dev").glob("nvidia[0-9]*")):
        return []
    if importlib.util.find_spec("torch") is not None:
        try:
            import torch

            if torch.cuda.is_available():
                return [
                    GpuInfo(
                        i,
                        torch.cuda.get_device_name(i),
                        torch.cuda.get_device_properties(i).total_memory >> 20,
                    )
                    for i in range(torch.cuda.device_count())
                ]
        except Exception as err:  # noqa: BLE001 (any CUDA init failure means no usable GPU)
            log.warning("torch.cuda failed (%s); assuming no GPU", err)
    return []


def detect_gpus() -> int:
    """How many GPUs this machine has (0 when unsure)."""
    return len(describe_gpus())


# ------------------------------------------------------------------------ a job's view of its GPUs
DEV = Path("/dev")
SYS = Path("/sys")
DRIVER_GPUS = Path("/proc/driver/nvidia/gpus")  # one directory per GPU, named by PCI bus id
# Shared by every GPU: the driver's control node, unified memory and the display-mode node.
CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


@dataclass(frozen=True)
class GpuDevice:
    index: int  # as nvidia-smi and the scheduler number it
    minor: int  # N of /dev/nvidiaN
    bus_id: str  # PCI address as sysfs names it ("0000:17:00.0")


@functools.lru_cache(maxsize=1)
def gpu_devices() -> dict[int, GpuDevice]:
    """The driver's own record of each GPU (/proc/driver/nvidia/gpus/*/information), by index.
    nvidia-smi numbers GPUs by PCI bus order, the same order as these directories' names; the
    device minor (which /dev/nvidiaN) is read, not assumed to equal the index."""
    devices = {}
    for index, entry in enumerate(sorted(DRIVER_GPUS.glob("*"))):
        info = entry / "information"
        minor = re.search(r"^Device Minor:\s*(\d+)", _read(info), re.M)
        if minor:
            devices[index] = GpuDevice(index, int(minor.group(1)), entry.name.lower())
    return devices


def job_gpu_binds(indices: Sequence[str]) -> list[tuple[str, str, str]]:
    """(bwrap flag, source, destination) that show a job exactly its GPUs: the control nodes,
    its own /dev/nvidiaN, and of /sys only those GPUs' PCI device directories, the driver
    module and the CPU/NUMA topology (what NVML and the CUDA runtime read). Inside, CUDA
    numbers the visible GPUs from 0. Raises ValueError for an index the driver does not list."""
    devices = gpu_devices()
    binds: list[tuple[str, str, str]] = []
    nodes = [DEV / name for name in CONTROL_NODES] + sorted((DEV / "nvidia-caps").glob("*"))
    sys_paths = [SYS / "module" / "nvidia", SYS / "devices" / "system" / "cpu",
                 SYS / "devices" / "system" / "node"]  # fmt: skip
    links = []
    for text in indices:
        device = devices.get(int(text))
        if device is None:
            raise ValueError(f"GPU {text} is not listed by the NVIDIA driver ({DRIVER_GPUS})")
        nodes.append(DEV / f"nvidia{device.minor}")
        link = SYS / "bus" / "pci" / "devices" / device.bus_id
        if link.exists():
            sys_paths.append(Path(os.path.realpath(link)))
            links.append(("--symlink", os.path.realpath(link), str(link)))
    binds += [("--dev-bind", str(n), str(n)) for n in nodes if n.exists()]
    binds += [("--ro-bind", str(p), str(p)) for p in sys_paths if p.exists()]
    return binds + links


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
