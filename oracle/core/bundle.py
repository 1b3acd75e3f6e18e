"""Job bundles: a manifest plus files, packed as a deterministic tar.gz whose sha256 is the
bundle hash on chain.

Deterministic packing (sorted names, zeroed times and owners, fixed gzip header) means the same
directory always gives the same hash, so a client can rebuild and check what it submitted.
Unpacking refuses anything that could escape the destination: absolute paths, `..`, links and
device files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oracle.core.archive import safe_extract
from oracle.core.errors import BundleError
from oracle.core.strict import explain

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20
MAX_MANIFEST_DEPTH = 32  # a manifest is a few levels deep; kinds' configs a few more
# One default wall-time limit for every job: a manifest that leaves `time_limit_s` out and
# `tes-client package` without --time-limit (docs/bundle.md, docs/jobs.md).
DEFAULT_TIME_LIMIT_S = 300


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cpus: int = Field(1, ge=1, le=256)
    memory_mb: int = Field(512, ge=16)
    gpus: int = Field(0, ge=0, le=16)
    gpu_memory_mb: int = Field(0, ge=0)
    gpu_class: int = Field(0, ge=0, le=255)


class Fanout(BaseModel):
    """Split a job into `shards` sandboxed runs of the entrypoint (env TES_SHARD = 0..shards-1,
    TES_SHARDS = shards, each writing its own output), then one sandboxed `reduce` run that sees
    the shard outputs read-only at /shards/<i> (env TES_SHARDS_DIR) and writes the job's /out.
    Only the reduce step's output is the job's result. `time_limit_s` bounds each step."""

    model_config = ConfigDict(extra="forbid")
    shards: int = Field(ge=1, le=256)
    reduce: list[str] = Field(min_length=1)


class Manifest(BaseModel):
    """What to run. `inputs` maps file names in the bundle to their sha256, checked on unpack."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    kind: Literal["command", "train", "tune", "simulate", "map"] = "command"
    entrypoint: list[str] = Field(min_length=1)
    inputs: dict[str, str] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    time_limit_s: int = Field(DEFAULT_TIME_LIMIT_S, ge=1, le=7 * 86_400)
    max_output_mb: int = Field(64, ge=1)
    max_processes: int = Field(64, ge=1)
    env: dict[str, str] = Field(default_factory=dict)
    seed: int = 0
    packages: dict[str, str] = Field(
        default_factory=dict,
        description="pinned environment: nodes with other versions refuse the job (preflight)",
    )
    fanout: Fanout | None = None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_hash(data: bytes) -> bytes:
    """The bytes32 that goes on chain."""
    return hashlib.sha256(data).digest()


def pack(directory: Path) -> bytes:
    """Packs `directory` (which must hold a valid manifest.json) deterministically."""
    directory = Path(directory)
    manifest = load_manifest(directory)
    for name, digest in manifest.inputs.items():
        f = directory / name
        if not f.is_file():
            raise BundleError(f"input {name!r} named in the manifest is missing")
        if sha256_hex(f.read_bytes()) != digest:
            raise BundleError(f"input {name!r} does not match its sha256 in the manifest")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            rel = path.relative_to(directory).as_posix()
            if any(part.startswith(".") for part in PurePosixPath(rel).parts) and rel != MANIFEST:
                continue  # editor and VCS droppings are not part of a job
            info = tarfile.TarInfo(rel)
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def unpack(data: bytes, dest: Path, max_bytes: int) -> Manifest:
    """Unpacks a bundle into `dest` after checking every member; returns its manifest."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    safe_extract(io.BytesIO(data), dest, max_bytes, error=BundleError, what="bundle")
    manifest = load_manifest(dest)
    for name, digest in manifest.inputs.items():
        f = dest / name
        if not f.is_file() or sha256_hex(f.read_bytes()) != digest:
            raise BundleError(f"input {name!r} is missing or does not match its hash")
    return manifest


def load_manifest(directory: Path) -> Manifest:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise BundleError(f"no {MANIFEST} in the bundle")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"invalid manifest: larger than {MAX_MANIFEST_BYTES} bytes")
    text = path.read_text(errors="replace")
    # Checked before parsing: a deep enough nesting overflows the C stack of the json decoder
    # under a raised recursion limit (a crash, not an error) on every step that looks at the job.
    if (depth := _nesting(text)) > MAX_MANIFEST_DEPTH:
        raise BundleError(f"invalid manifest: nested {depth} deep (at most {MAX_MANIFEST_DEPTH})")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise BundleError(f"invalid manifest: {MANIFEST} is not valid JSON: {err}") from err
    return parse_manifest(raw)


def parse_manifest(raw: object, what: str = "the manifest") -> Manifest:
    """Validates a manifest's fields: an unknown key (`entrypont`, `resources.cpu`) is refused
    with its likely spelling, never dropped."""
    if not isinstance(raw, dict):
        raise BundleError(f"invalid manifest: {what} must be a JSON object")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as err:
        raise BundleError(f"invalid manifest: {explain(err, Manifest, what)}") from err
    except (ValueError, TypeError, RecursionError) as err:
        raise BundleError(f"invalid manifest: {err}") from err


def _nesting(text: str) -> int:
    """The deepest [ / { nesting of a JSON text, strings skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest
