"""A TES network on this machine: an anvil chain, deployed contracts, and real `tes-node`
processes. Used by `make demo`, `make bench` and the integration tests.

Node keys are encrypted keystores in a private ape data folder (the format `ape accounts import`
writes); the passphrase reaches each node through TES_PASSPHRASE, never its command line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from eth_account import Account

from oracle.core.protocol import job_hex

PASSPHRASE = "correct horse battery staple"
REPO = Path(__file__).resolve().parents[2]
TES_NODE = Path(sys.executable).parent / "tes-node"
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
# anvil's (and ape's test accounts') well-known development mnemonic: public keys, local chains only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
# Chain ids that only ever exist on a developer's machine (anvil / hardhat, ganache / geth --dev).
DEV_CHAIN_IDS = (31337, 1337)


def dev_key(index: int) -> str:
    """The private key (0x hex) of anvil's development account `index` (the ones it funds)."""
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(acct.key).hex()


def make_keystore(data_folder: Path, alias: str, private_key, *, fast_kdf: bool = True) -> None:
    """Writes an ape account keystore. `fast_kdf` uses 2 KDF iterations: local test keys only."""
    accounts = data_folder / "accounts"
    accounts.mkdir(parents=True, exist_ok=True)
    keyfile = Account.encrypt(private_key, PASSPHRASE, iterations=2 if fast_kdf else None)
    (accounts / f"{alias}.json").write_text(json.dumps(keyfile))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the process that started it dies, even by SIGKILL
    (its own session keeps it out of the terminal's Ctrl-C, which the parent handles)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Anvil:
    """A local anvil chain on a free loopback port; stopped (with its process group) on `stop`."""

    def __init__(
        self,
        port: int | None = None,
        log: Path | None = None,
        block_time: float | None = None,
        *,
        state: Path | None = None,
        state_interval: int | None = None,
        accounts: int | None = None,
        chain_id: int = 31337,
        mixed_mining: bool = False,
        die_with_parent: bool = False,
    ):
        """`block_time`: a block every so many seconds even with no transaction (the chain's clock
        moves); `mixed_mining`: a transaction is still mined at once. `state`: anvil's --state file
        (loaded at start if it exists, written on a clean stop and every `state_interval`
        seconds). `die_with_parent`: stopped (SIGTERM) if the process that started it dies."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.block_time = block_time
        self.state, self.state_interval = state, state_interval
        self.accounts, self.chain_id = accounts, chain_id
        self.mixed_mining = mixed_mining
        self.die_with_parent = die_with_parent
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> Anvil:
        if not ANVIL.exists():
            raise RuntimeError(f"{ANVIL} is missing: run `make setup`")
        args = [
            str(ANVIL),
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
            "--chain-id",
            str(self.chain_id),
            "--base-fee",
            "0",
            "--gas-price",
            "0",
        ]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
            if self.mixed_mining:
                args.append("--mixed-mining")
        if self.state is not None:
            args += ["--state", str(self.state)]
            if self.state_interval:
                args += ["--state-interval", str(self.state_interval)]
        if self.accounts:
            args += ["--accounts", str(self.accounts)]
        # anvil runs in its own session (so stop() can kill its whole group): make a SIGTERM to us
        # (`timeout`, CI, a supervisor) unwind through `finally` blocks that stop it, instead of
        # leaving an orphaned chain behind.
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        ):
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        out = open(self.log, "a") if self.log else subprocess.DEVNULL  # noqa: SIM115 (owned by the child)
        self.proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"anvil exited with {self.proc.returncode}") from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"anvil did not listen on port {self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil writes its --state file then), SIGKILL after `timeout` seconds."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class NodeProcess:
    """A `tes-node run` process for the ape account `name`, its data in workdir/name. Its results
    endpoint listens on `http_port` and its /metrics on `metrics_port` (0: any free port, so
    nodes started side by side never share one)."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        rpc_url: str,
        deployment: Path,
        ape_data: Path,
        *extra: str,
        http_port: int = 0,
        metrics_port: int = 0,
        die_with_parent: bool = False,
    ):
        self.name, self.workdir = name, workdir
        self.die_with_parent = die_with_parent
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
            str(http_port),
            "--metrics-port",
            str(metrics_port),
            *extra,
        ]
        self.env = {
            **os.environ,
            "TES_PASSPHRASE": PASSPHRASE,
            "APE_DATA_FOLDER": str(ape_data),
            # A local network's bundles live on this machine (file://, 127.0.0.1).
            "TES_ALLOW_LOCAL_BUNDLES": "1",
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
            preexec_fn=_die_with_parent if self.die_with_parent else None,
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
        con = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, timeout=5, detect_types=sqlite3.PARSE_DECLTYPES
        )
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            con.close()

    def stage(self, job_id: int) -> str | None:
        rows = self.db("SELECT stage FROM jobs WHERE job_id = ?", job_hex(job_id))
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
        rows = self.db("SELECT reason FROM jobs WHERE job_id = ?", job_hex(job_id))
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
