"""Run real `tes-node` processes against a real chain node, the way an operator does.

Keys are encrypted keystores in a private ape data folder (the format `ape accounts import`
writes); the passphrase reaches the node through TES_PASSPHRASE, never its command line.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from eth_account import Account

from oracle import bundle as bundles

PASSPHRASE = "correct horse battery staple"
REPO = Path(__file__).resolve().parents[2]
TES_NODE = Path(sys.executable).parent / "tes-node"


def make_keystore(data_folder: Path, alias: str, private_key) -> None:
    accounts = data_folder / "accounts"
    accounts.mkdir(parents=True, exist_ok=True)
    keyfile = Account.encrypt(private_key, PASSPHRASE, iterations=2)  # fast KDF: test keys only
    (accounts / f"{alias}.json").write_text(json.dumps(keyfile))


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


class NodeProcess:
    def __init__(
        self, name: str, workdir: Path, rpc_url: str, deployment: Path, ape_data: Path, *extra: str
    ):
        self.name, self.workdir = name, workdir
        self.data_dir = workdir / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "node.log"
        self.args = [
            str(TES_NODE),
            "run",
            "--rpc-url",
            rpc_url,
            "--deployment",
            str(deployment),
            "--account",
            name,
            "--data-dir",
            str(self.data_dir),
            "--http-port",
            "0",
            *extra,
        ]
        self.env = {
            **os.environ,
            "TES_PASSPHRASE": PASSPHRASE,
            "APE_DATA_FOLDER": str(ape_data),
            "TES_POLL_INTERVAL_S": "0.2",
            "TES_TX_TIMEOUT_S": "5",
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> NodeProcess:
        log = open(self.log_path, "a")  # noqa: SIM115 (owned by the child)
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        return self

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self.proc:
            # leave nothing behind: sandboxed children live in the node's session
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def db(self, sql: str, *args) -> list[tuple]:
        path = self.data_dir / "node.sqlite"
        if not path.exists():
            return []
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            con.close()

    def stage(self, job_id: int) -> str | None:
        rows = self.db("SELECT stage FROM jobs WHERE job_id = ?", job_id)
        return rows[0][0] if rows else None

    def intents(self, job_id: int | None = None, kind: str | None = None) -> list[dict]:
        """The node's transaction intents (kind, job_id, node_id, status, tx_hash, attempts), oldest first."""
        rows = self.db(
            "SELECT kind, job_id, node_id, status, tx_hash, attempts FROM intents ORDER BY id"
        )
        keys = ("kind", "job_id", "node_id", "status", "tx_hash", "attempts")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        return [
            i
            for i in out
            if (job_id is None or i["job_id"] == job_id) and (kind is None or i["kind"] == kind)
        ]

    def reason(self, job_id: int) -> str | None:
        rows = self.db("SELECT reason FROM jobs WHERE job_id = ?", job_id)
        return rows[0][0] if rows else None

    def cursor(self) -> int | None:
        rows = self.db("SELECT block FROM cursor WHERE id = 1")
        return rows[0][0] if rows else None

    def quiet(self) -> bool:
        """True once the node has no transaction waiting to be sent or mined."""
        return bool(self.intents()) and not any(
            i["status"] in ("pending", "sent") for i in self.intents()
        )

    def http_url(self) -> str | None:
        p = self.data_dir / "http.url"
        return p.read_text() if p.exists() else None


def wait_for(
    predicate, timeout: float = 60.0, interval: float = 0.25, what: str = "condition", nodes=()
):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        for n in nodes:
            if n.proc is not None and not n.alive():
                raise AssertionError(
                    f"node {n.name} died while waiting for {what}:\n{n.log()[-4000:]}"
                )
        time.sleep(interval)
    logs = "\n".join(f"--- {n.name}\n{n.log()[-3000:]}" for n in nodes)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")
