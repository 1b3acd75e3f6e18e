"""Test helpers around real `tes-node` processes; the process management itself lives in
`oracle.localnet.network`, shared with `make demo` and `make bench`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from oracle.core import bundle as bundles
from oracle.localnet.network import PASSPHRASE, REPO, TES_NODE, NodeProcess, make_keystore, wait_for

__all__ = [
    "PASSPHRASE",
    "REPO",
    "TES_NODE",
    "NodeProcess",
    "make_bundle",
    "make_keystore",
    "no_gpu_path",
    "wait_for",
]


def make_bundle(directory: Path, script: str, **manifest) -> tuple[str, bytes, Path]:
    """Writes a `command` bundle running `script` with python3; returns (file URI, hash, path)."""
    src = directory / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "main.py").write_text(script)
    m = {"kind": "command", "entrypoint": ["python3", "main.py"], "time_limit_s": 30, **manifest}
    (src / bundles.MANIFEST).write_text(json.dumps(m))
    data = bundles.pack(src)
    path = directory / "bundle.tar.gz"
    path.write_bytes(data)
    return path.as_uri(), bundles.bundle_hash(data), path


def no_gpu_path(directory: Path) -> str:
    """A PATH whose `nvidia-smi` lists no GPU. A node started with it sees a machine without GPUs
    (also on a GPU host) and skips probing CUDA through torch, which costs seconds per start."""
    directory.mkdir(parents=True, exist_ok=True)
    smi = directory / "nvidia-smi"
    smi.write_text("#!/bin/sh\nexit 0\n")
    smi.chmod(0o755)
    return f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"
