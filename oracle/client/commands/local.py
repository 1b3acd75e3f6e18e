"""The commands that need no chain: list the kinds, package a bundle, run it here in the
node's sandbox, publish bundles for nodes to fetch."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from oracle.client.commands.common import fail_clearly, parse_duration
from oracle.execute.registry import BACKENDS, BackendOptions
from oracle.execute.registry import make as make_backend

if TYPE_CHECKING:
    from oracle.execute.base import Backend


@click.command()
def kinds() -> None:
    """List the built-in job kinds."""
    from oracle.kinds import KINDS

    for k in KINDS.values():
        click.echo(f"{k.name:9} {k.summary}")


@click.command()
@click.option(
    "--kind", required=True, help="train, tune, simulate, map or command (`tes-client kinds`)."
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object merged over the kind's default config (see examples/<kind>/).",
)
@click.option(
    "--dir",
    "source_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Your own files to include (required for --kind command; a manifest.json there gives defaults).",
)
@click.option(
    "--data",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Data file or directory copied under data/ (repeatable).",
)
@click.option(
    "--entrypoint", help="Command of a `command` job, run in /job, e.g. 'python3 main.py'."
)
@click.option(
    "--shards", type=click.IntRange(1, 256), help="Fan out into N shard runs plus a reduce step."
)
@click.option("--reduce", "reduce_cmd", help="Reduce command of a fanned-out `command` job.")
@click.option("--cpus", type=click.IntRange(1, 256), help="CPU cores the job needs.")
@click.option("--memory-mb", type=click.IntRange(16), help="Memory limit in MiB.")
@click.option(
    "--gpus", type=click.IntRange(0, 16), help="GPUs the job needs (train uses CUDA when >= 1)."
)
@click.option("--gpu-memory-mb", type=click.IntRange(0), help="Memory per GPU the job needs, MiB.")
@click.option("--time-limit", help="Wall-time limit per run (e.g. 300, 10m).")
@click.option("--seed", type=int, help="Seed given to the job (env SEED / TES_SEED).")
@click.option(
    "--env", "env_pairs", multiple=True, help="NAME=VALUE for the job's environment (repeatable)."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bundle file to write.",
)
@click.option(
    "--keep-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Materialize the bundle here (must be empty).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@fail_clearly
def package(
    kind,
    config,
    source_dir,
    data,
    entrypoint,
    shards,
    reduce_cmd,
    cpus,
    memory_mb,
    gpus,
    gpu_memory_mb,
    time_limit,
    seed,
    env_pairs,
    out,
    keep_dir,
    as_json,
) -> None:
    """Make a bundle: the kind's runner (or your files), config, data and a manifest that pins
    resources, time limit, seed and package versions; packed deterministically. Its sha256 is
    the bundle hash that goes on chain."""
    from oracle.client.package import package as make

    env = {}
    for pair in env_pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"--env wants NAME=VALUE, got {pair!r}")
        env[name] = value
    p = make(
        kind, out, config=config, source_dir=source_dir, data=data,
        entrypoint=shlex.split(entrypoint) if entrypoint else None,
        reduce=shlex.split(reduce_cmd) if reduce_cmd else None, shards=shards, cpus=cpus, memory_mb=memory_mb,
        gpus=gpus, gpu_memory_mb=gpu_memory_mb,
        time_limit_s=parse_duration(time_limit, "--time-limit") if time_limit else None,
        seed=seed, env=env, workdir=keep_dir,
    )  # fmt: skip
    m = p.manifest
    info = {"bundle": str(p.path), "bundle_hash": p.hash_hex, "size": p.path.stat().st_size, "kind": m.kind,
            "files": len(m.inputs), "resources": m.resources.model_dump(), "time_limit_s": m.time_limit_s,
            "fanout": m.fanout.model_dump() if m.fanout else None, "packages": m.packages}  # fmt: skip
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"bundle  {p.path} ({info['size']} bytes, {len(m.inputs)} files)")
    click.echo(f"hash    {p.hash_hex}")
    r = m.resources
    click.echo(
        f"kind    {m.kind}: {shlex.join(m.entrypoint)}; cpus={r.cpus} memory={r.memory_mb} MiB gpus={r.gpus}"
        f"; time limit {m.time_limit_s} s"
        + (f"; {m.fanout.shards} shards + reduce" if m.fanout else "")
    )
    if m.packages:
        click.echo("pins    " + ", ".join(f"{k}=={v}" for k, v in sorted(m.packages.items())))


@click.command("run-local")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to put the output (default: a temp dir).",
)
@click.option("--backend", type=click.Choice(list(BACKENDS)), default="local", show_default=True)
@click.option(
    "--allow-unsafe",
    is_flag=True,
    help="Run without bubblewrap if it is missing (your own code only).",
)
@fail_clearly
def run_local(bundle, out, backend, allow_unsafe) -> None:
    """Run a bundle on this machine in the same sandbox a node uses, and print its result hash:
    the hash replicas will commit if the nodes run the same pinned environment."""
    import logging
    import tempfile

    from oracle.client.errors import ClientError
    from oracle.core import bundle as bundles

    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="tes-run-"))
    manifest = bundles.unpack(Path(bundle).read_bytes(), work / "bundle", 1 << 32)
    out = out or work / "out"
    if out.exists() and any(out.iterdir()):
        raise ClientError(f"{out} is not empty")
    be: Backend = make_backend(backend, BackendOptions(work_dir=work, allow_unsafe=allow_unsafe))
    with be:
        result = be.run_bundle(0, work / "bundle", manifest, out)
    click.echo(result.stdout_tail.rstrip()[-2000:], err=True)
    if not result.ok:
        click.echo(result.stderr_tail.rstrip()[-4000:], err=True)
    click.echo(f"status  {result.status} {result.reason} ({result.elapsed_s:.1f} s)")
    click.echo(f"output  {result.output_dir}")
    click.echo(f"result  0x{(result.result_hash or b'').hex()}")
    if not result.ok:
        sys.exit(1)


@click.command()
@click.argument(
    "bundles", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve on (nodes must reach it).",
)
@click.option("--port", type=int, default=0, show_default=True, help="Port (0: any free port).")
@click.option("--public-host", help="Host name nodes use to reach this machine, if not --host.")
@click.option(
    "--file",
    "as_file",
    is_flag=True,
    help="Print file:// URIs instead of serving (nodes on this machine only).",
)
@fail_clearly
def publish(bundles, host, port, public_host, as_file) -> None:
    """Make bundles fetchable by nodes: serve them over HTTP until interrupted (one URI per line
    on stdout, then it keeps serving), or print file:// URIs with --file."""
    if as_file:
        for b in bundles:
            click.echo(b.resolve().as_uri())
        return
    from oracle.client.publish import BundleServer

    server = BundleServer(list(bundles), host, port).start()
    for b in bundles:
        uri = server.uri(b)
        if public_host:
            uri = uri.replace(f"//{host}:", f"//{public_host}:", 1)
        click.echo(uri)
    sys.stdout.flush()
    click.echo("serving; Ctrl-C to stop", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
