"""Helpers shared by the built-in kinds' runners; copied into every built-in bundle next to
`runner.py`, so it is part of the bundle hash like the runner itself.

This file runs inside the sandbox with only the standard library and the node's packages: it
must not import `oracle`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

EXIT_ENVIRONMENT = 3  # the node's environment does not match what the job pinned


def job_dir() -> Path:
    return Path(os.environ.get("TES_INPUT_DIR", "."))


def out_dir() -> Path:
    path = Path(os.environ.get("TES_OUTPUT_DIR", "out"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed() -> int:
    return int(os.environ.get("TES_SEED", os.environ.get("SEED", "0")))


def manifest() -> dict:
    return json.loads((job_dir() / "manifest.json").read_text())


def config() -> dict:
    path = job_dir() / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def shard() -> tuple[int, int] | None:
    """(index, count) when this run is one shard of a fan-out job, else None."""
    if "TES_SHARD" not in os.environ:
        return None
    return int(os.environ["TES_SHARD"]), int(os.environ["TES_SHARDS"])


def shards_dir() -> Path | None:
    """For a fan-out job's reduce step: the directory holding shard outputs 0..n-1."""
    value = os.environ.get("TES_SHARDS_DIR")
    return Path(value) if value else None


def fail(message: str, code: int = 1) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def check_packages() -> None:
    """Refuses to run with other package versions than the client pinned: another numpy or
    torch can change the numbers, and a replica should fail loudly rather than disagree."""
    pinned = manifest().get("packages", {})
    wrong = []
    for name, want in sorted(pinned.items()):
        if name == "python":
            have = ".".join(platform.python_version_tuple()[:2])
        else:
            try:
                have = metadata.version(name)
            except metadata.PackageNotFoundError:
                have = "missing"
        if have != want:
            wrong.append(f"{name} {have} (job pinned {want})")
    if wrong:
        fail(
            "this node's environment differs from the job's pins: " + ", ".join(wrong),
            EXIT_ENVIRONMENT,
        )


def write_json(path: Path, obj) -> None:
    """Canonical JSON: sorted keys, fixed separators, no NaN, trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, sort_keys=True, indent=2, allow_nan=False) + "\n")
