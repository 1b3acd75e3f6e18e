"""docs/first-job.md, step by step, on a `make localnet` network (block time 1 s, 2 nodes).

Every command the walkthrough shows runs here as a user runs it: in bash, after
`source .localnet/env`, through the installed `tes-localnet`, `tes-client`, `tes-node` and
`ape run` commands; each command line is checked to be in the walkthrough word for word, so the
two cannot drift apart. The network is stopped with Ctrl-C (SIGINT to make's process group, as a
terminal sends it), must leave no process behind, and must come back with the paid job and the
balances it had. The faucet and the clock warp must refuse a chain that is not a local
development chain (a real anvil under Sepolia's chain id).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from oracle.localnet.network import ANVIL, REPO, Anvil, free_port

pytestmark = pytest.mark.anvil

DOC = (REPO / "docs" / "first-job.md").read_text()
BIN = Path(sys.executable).parent
TES_LOCALNET = BIN / "tes-localnet"


def in_doc(command: str) -> None:
    assert command in DOC, f"docs/first-job.md does not show this command any more: {command}"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without TES/ape/make settings of its own (a user's shell)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TES_", "APE_ACCOUNTS_", "MAKE"))
        and k not in ("MFLAGS", "APE_DATA_FOLDER")
    }
    env["PATH"] = f"{BIN}:{REPO / 'node_modules' / '.bin'}:{env.get('PATH', '')}"
    return {**env, **extra}


class Localnet:
    """`make localnet` in the background, as in the walkthrough's first shell."""

    def __init__(self, cwd: Path, args: str):
        self.cwd, self.args = cwd, args
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> str:
        self.lines = []
        env = clean_env(TES_LOCALNET_DIR=str(self.cwd / ".localnet"))
        self.proc = subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(REPO), "localnet", f"LOCALNET_ARGS={self.args}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if "ready\n" in self.lines:
                return self.output
            if self.proc.poll() is not None:
                time.sleep(0.5)
                break
            time.sleep(0.2)
        raise AssertionError(f"make localnet did not get ready:\n{self.output[-6000:]}")

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def ctrl_c(self, timeout: float = 120) -> str:
        """SIGINT to the foreground process group (make and tes-localnet), as a terminal does."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError(
                f"Ctrl-C did not stop make localnet:\n{self.output[-4000:]}"
            ) from None
        time.sleep(0.5)  # the reader thread takes the last lines
        return self.output

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def processes_using(path: Path) -> list[str]:
    """Command lines of live processes that name `path` (the network's anvil and nodes)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(
                (
                    ln
                    for ln in (proc / "status").read_text().splitlines()
                    if ln.startswith("State:")
                ),
                "",
            )
        except OSError:
            continue
        if str(path) in cmd and "zombie" not in state:
            found.append(f"{proc.name}: {cmd[:200]}")
    return found


def test_first_job_walkthrough__on_make_localnet_step_by_step(tmp_path):
    work = tmp_path
    (work / "examples").symlink_to(REPO / "examples")
    data = work / ".localnet"
    port = free_port()
    started = time.monotonic()
    timings: list[str] = []

    def lap(what: str) -> None:
        timings.append(f"{time.monotonic() - started:6.1f}s {what}")
        print(f"[first-job] {timings[-1]}", file=sys.stderr)

    def sh(
        command: str,
        *,
        then: str = "",
        ok: bool = True,
        cwd: Path = work,
        stdin: str | None = None,
        timeout: float = 240,
        **variables: str,
    ) -> subprocess.CompletedProcess:
        """A walkthrough command in the second shell: `source .localnet/env` and the venv on PATH
        (`then`: the test's own shell lines after it, e.g. to print a variable it set)."""
        in_doc(command)
        script = f'set -e\nsource "{data / "env"}"\n{command}\n{then}\n'
        t = time.monotonic()
        proc = subprocess.run(["bash", "-c", script], cwd=cwd, env=clean_env(**variables), input=stdin,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip
        lap(f"{time.monotonic() - t:5.1f}s  {command[:70]}")
        if ok:
            assert proc.returncode == 0, f"{command} failed:\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        return proc

    # ---- 1. start the network (make localnet = tes-localnet up); the test's own options
    in_doc("make localnet")
    net = Localnet(work, f"--port {port} --block-time 1 --nodes 2")
    try:
        out = net.start()
        lap("make localnet: ready")
        env_file = (data / "env").read_text()
        for name in ("TES_RPC_URL", "TES_DEPLOYMENT", "APE_DATA_FOLDER", "TES_PASSPHRASE",
                     "TES_CLIENT_ACCOUNT", "APE_ACCOUNTS_owner_PASSPHRASE"):  # fmt: skip
            assert (
                f"export {name}=" in out
                and f"export {name}=" in env_file
                and f"export {name}=" in DOC
            )
        assert f"export TES_RPC_URL=http://127.0.0.1:{port}" in out
        assert out.count("tes-node `op") == 2 and "(a new network)" in out
        http_ports = re.findall(
            r"results http://127\.0\.0\.1:(\d+), metrics http://127\.0\.0\.1:(\d+)", out
        )
        assert len({p for pair in http_ports for p in pair}) == 4, (
            f"nodes share a port: {http_ports}"
        )

        # ---- 2. TES from the faucet
        before = sh("tes-client balance").stdout
        assert re.search(r"wallet\s+10,?000 TES", before), before
        sh("tes-localnet fund client 500")
        after = sh("tes-client balance").stdout
        assert re.search(r"wallet\s+10,?500 TES", after), after

        # ---- 3. write and package a job; try it in the sandbox
        sh("cp -r examples/command myjob")
        sh('tes-client package --kind command --dir myjob --entrypoint "python3 main.py" --seed 7 \\\n'
           "    --out myjob.tar.gz")  # fmt: skip
        local = sh("tes-client run-local myjob.tar.gz").stdout
        local_hash = re.search(r"result\s+(0x[0-9a-f]{64})", local).group(1)

        # ---- 4. publish and submit
        uri = sh("URI=$(tes-client publish --file myjob.tar.gz)", then="echo $URI").stdout.strip()
        assert uri == (work / "myjob.tar.gz").as_uri()
        job = sh('JOB=$(tes-client submit myjob.tar.gz --uri "$URI" --payment 10 --dispute-window 30s)',
                 then="echo $JOB", URI=uri).stdout.strip()  # fmt: skip
        assert re.fullmatch(r"0x[0-9a-f]{64}", job), job  # the hash of the job's terms
        submitted = time.monotonic()

        # ---- 5. watch until paid (the dispute window ends on the moving clock), fetch, verify
        watched = sh("tes-client watch $JOB", JOB=job).stdout
        waited = time.monotonic() - submitted
        assert "accepted" in watched and f"job {job}: paid" in watched, watched
        assert waited >= 30, f"paid {waited:.0f} s after submit, inside its 30 s dispute window"
        fetched = sh("tes-client fetch $JOB --out result", JOB=job).stdout
        assert f"{local_hash} matches the chain" in fetched, (fetched, local_hash)
        sh("tes-client verify $JOB result --bundle myjob.tar.gz", JOB=job)
        shown = json.loads(sh("cat result/result.json").stdout)
        rng = random.Random(7)  # what examples/command/main.py computes with --seed 7
        assert shown["sample"] == sorted(
            rng.sample((REPO / "examples/command/words.txt").read_text().split(), 5)
        )
        status = sh("tes-node status --data-dir .localnet/nodes/op0 --account op0").stdout
        assert "licence 1: active" in status and "stake 2,000 TES" in status, status

        # ---- 6. the owner's rewards, after skipping to the end of the epoch
        sh("tes-localnet warp 1h")
        claimed = sh(
            "ape run claim-rewards --network $TES_RPC_URL --account owner --yes", cwd=REPO
        ).stdout
        assert re.search(r"Claimed [1-9][0-9,.]* TES", claimed), claimed
        balance_paid = sh("tes-client balance").stdout

        # ---- 7. Ctrl-C stops everything; the same network comes back
        out = net.ctrl_c()
        lap("Ctrl-C: stopped")
        # make passes the interrupt on (it dies of SIGINT itself); tes-localnet exits 0 after
        # stopping the nodes and the chain, so make reports no error of its recipe
        assert net.proc is not None and net.proc.returncode in (0, -signal.SIGINT), out[-3000:]
        tail = out.split("stopping...")[-1]
        assert "stopping..." in out and "stopped. The network is kept in" in tail, out[-3000:]
        assert "Error" not in tail and "Traceback" not in out, out[-3000:]
        assert processes_using(data) == [], processes_using(data)
        assert (data / "state.json").stat().st_size > 0

        out = net.start()
        lap("make localnet again: resumed")
        assert "resumed the network" in out and "(a new network)" not in out
        status = json.loads(sh("tes-client status $JOB", JOB=job).stdout)
        assert status["status"] == "paid", status
        assert sh("tes-client balance").stdout == balance_paid
        out = net.ctrl_c()
        assert "Error" not in out.split("stopping...")[-1], out[-3000:]
        assert processes_using(data) == [], processes_using(data)
        lap("stopped again")
    finally:
        net.kill()
        print("\n".join(timings), file=sys.stderr)


def test_faucet_and_warp__refuse_a_chain_that_is_not_local():
    """A real chain node under Sepolia's chain id: nothing is sent, the clock does not move."""
    assert ANVIL.exists(), "anvil is missing: make setup"
    target = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    with Anvil(chain_id=11155111) as public:
        for args, what in (
            (["fund", target, "100"], "refusing to fund an account"),
            (["warp", "1d"], "refusing to move the clock"),
        ):
            proc = subprocess.run([str(TES_LOCALNET), *args, "--rpc-url", public.url], env=clean_env(),
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert proc.returncode == 1, proc.stdout + proc.stderr
            assert what in proc.stderr and "chain 11155111 (Sepolia)" in proc.stderr, proc.stderr
            assert "31337 or 1337" in proc.stderr and "Traceback" not in proc.stderr
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(public.url))
        assert w3.eth.block_number == 0  # no warp block, no transfer
        assert w3.eth.get_balance(target) == 10_000 * 10**18  # anvil's own, untouched
    down = subprocess.run([str(TES_LOCALNET), "fund", target, "1", "--rpc-url", f"http://127.0.0.1:{free_port()}"],
                          env=clean_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert (
        down.returncode == 1
        and "no chain answers at" in down.stderr
        and "Traceback" not in down.stderr
    )
