"""What GPUs this machine has, for the capabilities a node declares and for placing jobs."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import subprocess
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
