"""Turn a kind template (or a directory of your own) into a bundle: files, config, data and a
manifest that pins what the job needs, packed deterministically (`oracle.core.bundle.pack`)."""

from __future__ import annotations

import json
import platform
import random
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from oracle.client.errors import ClientError
from oracle.core import bundle as bundles
from oracle.core.errors import BundleError
from oracle.core.strict import unknown_key
from oracle.kinds import KINDS, KIT, Kind, builtin_dataset

REDUCE_ARGV = ["python3", "runner.py", "reduce"]


@dataclass(frozen=True)
class Packaged:
    path: Path  # the .tar.gz
    bundle_hash: bytes  # sha256 of its bytes: what goes on chain
    manifest: bundles.Manifest
    directory: Path  # the materialized bundle directory

    @property
    def hash_hex(self) -> str:
        return "0x" + self.bundle_hash.hex()


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in PurePosixPath(rel).parts)


def _copy_tree(src: Path, dest: Path) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src).as_posix()
        if _hidden(rel) or path.is_symlink() or not path.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _load_config(kind: Kind, config: Path | Mapping[str, Any] | None) -> dict[str, Any]:
    """The kind's default config with the user's keys merged over it; a key the kind does not
    know (a typo) is refused with its likely spelling instead of being merged and ignored."""
    merged: dict[str, Any] = kind.defaults()
    if config is None:
        return merged
    if isinstance(config, Mapping):
        user, source = dict(config), "the config"
    else:
        path = Path(config)
        source = f"config file {path}"
        user = _read_json_object(path, "config file")
    kind.check_config(user, source)
    merged.update(user)
    return merged


def _read_json_object(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise ClientError(f"{what} {path} does not exist")
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ClientError(f"{what} {path} is not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise ClientError(f"{what} {path} must hold a JSON object")
    return value


# Programs whose first argument that is not an option is the script they run: `python3 main.py`.
INTERPRETERS = ("python", "python3", "bash", "sh", "node", "Rscript", "perl", "ruby", "julia")


def _check_entrypoint(argv: Sequence[str], directory: Path, what: str) -> None:
    """Refuses an entrypoint whose script is not in the bundle: `python3 mian.py` would only
    fail on every node, after the client paid. `python3 -c CODE`, `python3 -m module` and
    commands on the sandbox's PATH (`echo`) are not checked."""
    program = argv[0]
    script = None
    if "/" in program and not program.startswith("/"):
        script = program  # ./run.sh, bin/tool
    elif PurePosixPath(program).name.rstrip("0123456789.") in INTERPRETERS:
        rest = list(argv[1:])
        while rest and rest[0].startswith("-"):
            if rest[0] in ("-c", "-m", "-e"):
                return
            rest.pop(0)
        script = rest[0] if rest else None
    if script is None or script.startswith("/"):
        return
    if not (directory / script).is_file():
        have = sorted(
            p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()
        )
        from oracle.core.strict import suggest

        raise ClientError(
            f"{what} runs {script!r}, which is not in the bundle{suggest(script, have)}:"
            " put it in the --dir directory (paths are relative to it)"
        )


def versions(names: Sequence[str]) -> dict[str, str]:
    """The installed versions of `names` plus python (major.minor), for the manifest's pins."""
    pins = {"python": ".".join(platform.python_version_tuple()[:2])}
    for name in names:
        try:
            pins[name] = metadata.version(name)
        except metadata.PackageNotFoundError as err:
            raise ClientError(
                f"{name} is not installed here, so its version cannot be pinned"
            ) from err
    return pins


def generate_sales(directory: Path, files: int, rows_per_file: int, seed: int) -> list[Path]:
    """Deterministic synthetic sales records (the same on every Python >= 3.2) as CSV shards."""
    regions = ["north", "south", "east", "west"]
    products = ["widget", "gadget", "gizmo", "sprocket", "flange"]
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for f in range(files):
        rng = random.Random(f"tes-sales/{seed}/{f}")
        path = directory / f"part-{f:04d}.csv"
        lines = ["day,region,product,units,price_cents,revenue_cents"]
        for _ in range(rows_per_file):
            day = date(2024, 1, 1) + timedelta(days=rng.randrange(366))
            units, price = rng.randint(0, 20), rng.randint(199, 9999)
            lines.append(
                f"{day.isoformat()},{rng.choice(regions)},{rng.choice(products)},{units},{price},{units * price}"
            )
        path.write_text("\n".join(lines) + "\n")
        out.append(path)
    return out


def package(
    kind: str,
    out: Path,
    *,
    config: Path | Mapping[str, Any] | None = None,
    source_dir: Path | None = None,
    data: Sequence[Path] = (),
    entrypoint: Sequence[str] | None = None,
    reduce: Sequence[str] | None = None,
    shards: int | None = None,
    cpus: int | None = None,
    memory_mb: int | None = None,
    gpus: int | None = None,
    gpu_memory_mb: int | None = None,
    time_limit_s: int | None = None,
    max_output_mb: int | None = None,
    seed: int | None = None,
    env: Mapping[str, str] | None = None,
    workdir: Path | None = None,
) -> Packaged:
    """Materializes a bundle directory for `kind` and packs it to `out`."""
    if kind not in KINDS:
        raise ClientError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    tmpl = KINDS[kind]
    if source_dir is not None and not Path(source_dir).is_dir():
        raise ClientError(f"directory {source_dir} does not exist")
    for d in data:
        if not Path(d).exists():
            raise ClientError(f"data file {d} does not exist")
    directory = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"tes-{kind}-"))
    if directory.exists() and any(directory.iterdir()):
        raise ClientError(f"work directory {directory} is not empty")
    directory.mkdir(parents=True, exist_ok=True)

    base: dict[str, Any] = {}
    if source_dir is not None:
        _copy_tree(Path(source_dir), directory)
        own = directory / bundles.MANIFEST
        if own.exists():  # a manifest of the user's own: its fields are defaults
            base = _read_json_object(Path(source_dir) / bundles.MANIFEST, "manifest")
            own.unlink()
            fields = bundles.Manifest.model_fields
            where = str(Path(source_dir) / bundles.MANIFEST)
            for key in base:
                if key not in fields:
                    raise ClientError(unknown_key(key, fields, where))
            for part, model in (("resources", bundles.Resources), ("fanout", bundles.Fanout)):
                section = base.get(part)
                if section is not None and not isinstance(section, dict):
                    raise ClientError(f"{part} in {where} must be a JSON object")
                for key in section or {}:
                    if key not in model.model_fields:
                        raise ClientError(
                            unknown_key(key, model.model_fields, f"{part} of {where}")
                        )
    if tmpl.runner is not None:
        shutil.copyfile(tmpl.runner, directory / "runner.py")
        shutil.copyfile(KIT, directory / "tes_kit.py")
        argv = ["python3", "runner.py"]
    else:
        argv = list(entrypoint or base.get("entrypoint") or [])
        if not argv:
            raise ClientError("a command job needs an entrypoint: --entrypoint 'python3 main.py'")
        if not (source_dir or data):
            raise ClientError("a command job needs its files: --dir DIRECTORY (and/or --data)")
    if entrypoint and tmpl.runner is not None:
        raise ClientError(
            f"kind {kind!r} runs its built-in runner; use --kind command for your own entrypoint"
        )

    for d in map(Path, data):
        if d.is_dir():
            _copy_tree(d, directory / "data")
        else:
            (directory / "data").mkdir(exist_ok=True)
            shutil.copyfile(d, directory / "data" / d.name)

    cfg = _load_config(tmpl, config) if tmpl.runner or config is not None else None
    if cfg is not None:
        dataset = cfg.get("dataset")
        if dataset and not (directory / dataset).exists():
            name = tmpl.builtin_data.get(dataset)
            if name is None:
                raise ClientError(
                    f"config names dataset {dataset!r}, which is not in the bundle (add it with --data)"
                )
            target = directory / dataset
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(builtin_dataset(name), target)
        if kind == "map" and not sorted(directory.glob(cfg.get("files", "data/*.csv"))):
            gen = cfg.get("generate")
            if not gen:
                raise ClientError(
                    "a map job needs CSV shards: --data FILES, or a 'generate' section in its config"
                )
            generate_sales(
                directory / "data",
                int(gen["files"]),
                int(gen["rows_per_file"]),
                int(gen.get("seed", 0)),
            )
        (directory / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")

    res = dict(base.get("resources", {}))
    for name, value, default in (
        ("cpus", cpus, 1), ("memory_mb", memory_mb, tmpl.memory_mb), ("gpus", gpus, 0),
        ("gpu_memory_mb", gpu_memory_mb, 0),
    ):  # fmt: skip
        if value is not None:
            res[name] = value
        else:
            res.setdefault(name, default)
    n_shards = (
        shards if shards is not None else (base.get("fanout") or {}).get("shards", tmpl.shards)
    )
    fanout = None
    if n_shards and n_shards > 1:
        red = list(
            reduce
            or (base.get("fanout") or {}).get("reduce")
            or (REDUCE_ARGV if tmpl.runner else [])
        )
        if not red:
            raise ClientError(
                "a fanned-out command job needs --reduce 'COMMAND' to merge its shards"
            )
        fanout = {"shards": n_shards, "reduce": red}
    elif reduce:
        raise ClientError("--reduce needs --shards N with N >= 2")
    job_env = {**tmpl.env, **base.get("env", {}), **(env or {})}
    inputs = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if not _hidden(rel):
            inputs[rel] = bundles.sha256_hex(path.read_bytes())
    raw = {
        **{k: v for k, v in base.items() if k in ("max_processes",)},
        "kind": kind,
        "entrypoint": argv,
        "inputs": inputs,
        "resources": res,
        "time_limit_s": time_limit_s or base.get("time_limit_s") or tmpl.time_limit_s,
        "max_output_mb": max_output_mb or base.get("max_output_mb") or 64,
        "env": job_env,
        "seed": seed if seed is not None else base.get("seed", 0),
        "packages": versions(tmpl.packages) if tmpl.runner else dict(base.get("packages", {})),
    }
    if fanout:
        raw["fanout"] = fanout
    if tmpl.runner is None:
        _check_entrypoint(argv, directory, "the entrypoint")
        if fanout:
            _check_entrypoint(red, directory, "the reduce command")
    try:
        manifest = bundles.parse_manifest(raw, "the job's settings")
    except BundleError as err:
        raise ClientError(
            str(err).replace("invalid manifest: ", "invalid job settings: ", 1)
        ) from err
    (directory / bundles.MANIFEST).write_text(
        json.dumps(manifest.model_dump(mode="json", exclude_none=True), indent=2, sort_keys=True)
        + "\n"
    )
    data_bytes = bundles.pack(directory)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data_bytes)
    return Packaged(out, bundles.bundle_hash(data_bytes), manifest, directory)
