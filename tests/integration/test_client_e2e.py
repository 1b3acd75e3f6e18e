"""Every job kind end to end through the `tes-client` CLI, against three real `tes-node`
processes on anvil: package, publish, submit (permit), watch until paid, fetch from the node
that announced its URL on chain, verify against the on-chain result hash; k = 3 jobs reach
consensus, a k = 1 job is disputed in its window, a GPU job is refused by nodes without GPUs,
and every kind of bad input is refused with a clear message before any gas is spent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oracle.results import pack_result, result_hash
from tests.utils.constants import E18, WINDOWS
from tests.utils.market import Status
from tests.utils.nodes import PASSPHRASE, make_keystore, wait_for

pytestmark = pytest.mark.anvil

TES_CLIENT = Path(sys.executable).parent / "tes-client"
CONFIGS = {
    "train": {"epochs": 2, "subset": 400, "hidden": [32]},
    "tune": {
        "subset": 300,
        "trials": 16,
        "search_space": {"C": {"log_uniform": [0.001, 10.0]}, "max_iter": [20, 40]},
    },
    "simulate": {"episodes": 20, "max_steps": 200, "search": {"iterations": 4, "episodes": 2}},
    "map": {"generate": {"files": 4, "rows_per_file": 300, "seed": 9}},
}
OUTPUTS = {
    "train": {"metrics.json", "model.json", "weights/0.weight.npy", "weights/0.bias.npy", "weights/2.weight.npy",
              "weights/2.bias.npy"},
    "tune": {"trials.csv", "best.json"},
    "simulate": {"returns.json", "returns.csv"},
    "map": {"aggregated.csv", "summary.json"},
    "command": {"answer.txt"},
}  # fmt: skip


class Cli:
    """Runs `tes-client` as a user would, with the key in an ape keystore."""

    def __init__(self, cwd: Path, rpc_url: str, record: Path, ape_data: Path):
        self.cwd = cwd
        self.env = {**os.environ, "TES_RPC_URL": rpc_url, "TES_DEPLOYMENT": str(record),
                    "APE_DATA_FOLDER": str(ape_data), "TES_PASSPHRASE": PASSPHRASE,
                    "TES_CLIENT_ACCOUNT": "client"}  # fmt: skip

    def __call__(
        self, *args: str, ok: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        t = time.monotonic()
        proc = subprocess.run([str(TES_CLIENT), *args], cwd=self.cwd, env=self.env, capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip
        print(f"[cli] {time.monotonic() - t:5.1f}s {' '.join(args)[:80]}", file=sys.stderr)
        if ok:
            assert proc.returncode == 0, (
                f"tes-client {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def fails(self, *args: str, says: str) -> str:
        proc = self(*args, ok=False)
        assert proc.returncode != 0, (
            f"tes-client {' '.join(args)} should have failed:\n{proc.stdout}"
        )
        assert says in proc.stderr, f"expected {says!r} in:\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        return proc.stderr

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(TES_CLIENT), *args], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip


def files_of(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def test_client_cli__every_kind_paid_fetched_and_verified(
    tmp_path, chain, market, token, setup_node, node_owners, operators, client, stranger, fund, ape_data,
    record, rpc_url, spawn,
):  # fmt: skip
    started = time.monotonic()

    def lap(what: str) -> None:
        print(f"[client e2e] {time.monotonic() - started:6.1f}s {what}", file=sys.stderr)

    make_keystore(ape_data, "client", client.private_key)
    make_keystore(ape_data, "broke", stranger.private_key)
    fund(client, 1_000 * E18)
    for i in range(3):
        setup_node(node_owners[i], operators[i])
    nodes = [spawn(i) for i in range(3)]
    cli = Cli(tmp_path, rpc_url, record, ape_data)

    # ---- package every kind (the runner and config go into the bundle; data ships with it)
    bundles = {}
    for kind, cfg in CONFIGS.items():
        (tmp_path / f"{kind}.json").write_text(json.dumps(cfg))
        shards = ["--shards", "2"] if kind in ("tune", "map") else []
        out = json.loads(cli("package", "--kind", kind, "--config", f"{kind}.json", *shards, "--out",
                             f"{kind}.tar.gz", "--json").stdout)  # fmt: skip
        assert out["kind"] == kind and out["bundle_hash"].startswith("0x")
        bundles[kind] = tmp_path / f"{kind}.tar.gz"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "main.py").write_text(
        "import os\nopen(os.path.join(os.environ['TES_OUTPUT_DIR'], 'answer.txt'), 'w').write(str(6 * 7))\n"
    )
    cli(
        "package",
        "--kind",
        "command",
        "--dir",
        "mine",
        "--entrypoint",
        "python3 main.py",
        "--out",
        "command.tar.gz",
    )
    bundles["command"] = tmp_path / "command.tar.gz"
    cli(
        "package", "--kind", "train", "--config", "train.json", "--gpus", "1", "--out", "gpu.tar.gz"
    )
    lap("packaged")

    # ---- publish: train and tune from the client's own HTTP server, the rest as file:// URIs
    server = cli.popen("publish", "train.tar.gz", "tune.tar.gz")
    try:
        uris = {"train": server.stdout.readline().strip(), "tune": server.stdout.readline().strip()}
        assert uris["train"].startswith("http://127.0.0.1:") and "/bundles/0x" in uris["train"]
        for kind in ("simulate", "map", "command"):
            uris[kind] = cli("publish", "--file", f"{kind}.tar.gz").stdout.strip()
        uris["gpu"] = cli("publish", "--file", "gpu.tar.gz").stdout.strip()

        # ---- submit: k = 3 of every kind, k = 1 twice (one to be paid, one to be disputed)
        jobs = {kind: int(cli("submit", f"{kind}.tar.gz", "--uri", uris[kind], "--payment", "10", "-k", "3")
                          .stdout.split()[0]) for kind in OUTPUTS}  # fmt: skip
        k1 = int(cli("submit", "command.tar.gz", "--uri", uris["command"], "--payment", "5", "--mode", "optimistic")
                 .stdout.split()[0])  # fmt: skip
        k1_disputed = int(
            cli(
                "submit", "simulate.tar.gz", "--uri", uris["simulate"], "--payment", "5"
            ).stdout.split()[0]
        )
        gpu_job = int(
            cli(
                "submit", "gpu.tar.gz", "--uri", uris["gpu"], "--payment", "5", "-k", "3"
            ).stdout.split()[0]
        )
        assert market.job(gpu_job).requirements.gpuCount == 1
        lap("submitted")

        # ---- bad inputs, while the nodes work: each refused before any transaction
        balance = token.balanceOf(client)
        cli.fails("package", "--kind", "render", "--out", "x.tar.gz", says="unknown kind 'render'")
        cli.fails("package", "--kind", "train", "--config", "missing.json", "--out", "x.tar.gz",
                  says="'missing.json' does not exist")  # fmt: skip
        cli.fails(
            "submit",
            "missing.tar.gz",
            "--uri",
            uris["command"],
            "--payment",
            "10",
            says="does not exist",
        )
        cli.fails("submit", "command.tar.gz", "--uri", uris["command"], "--payment", "0.5",
                  says="below the market's minimum job fee of 1 TES")  # fmt: skip
        cli.fails("submit", "command.tar.gz", "--uri", uris["command"], "--payment", "10", "--permit-deadline",
                  str(chain.pending_timestamp - 600), says="is in the past")  # fmt: skip
        cli.fails("submit", "command.tar.gz", "--uri", uris["command"], "--payment", "10", "--claim-window", "0",
                  says="claimWindow must be between 1 s and")  # fmt: skip
        cli.fails("submit", "command.tar.gz", "--uri", uris["command"], "--payment", "10", "--account", "broke",
                  says="insufficient TES balance")  # fmt: skip
        cli.fails("submit", "command.tar.gz", "--uri", uris["simulate"], "--payment", "10",
                  says="could not get this bundle")  # fmt: skip
        assert token.balanceOf(client) == balance
        lap("bad inputs refused")

        # ---- watch until every k = 3 job is paid (consensus of three node processes)
        watch = cli(
            "watch",
            *map(str, jobs.values()),
            "--json",
            "--timeout",
            "240",
            "--interval",
            "0.5",
            timeout=300,
        )
        assert '"status": "paid"' in watch.stdout
        lap("k=3 jobs paid")
    finally:
        server.terminate()
        server.wait(10)
    for kind, job_id in jobs.items():
        job = market.job(job_id)
        assert job.status == Status.PAID, kind
        reveals = {market.replica(job_id, i).commitment for i in range(3)}
        assert reveals == {job.resultHash}, f"{kind}: replicas disagree"

        # ---- fetch from a node (URL from EndpointAnnounced), checked against the chain
        out = cli("fetch", str(job_id), "--out", f"result-{kind}").stdout
        assert "matches the chain" in out
        assert files_of(tmp_path / f"result-{kind}") == OUTPUTS[kind]
        assert result_hash(tmp_path / f"result-{kind}") == job.resultHash
        cli("verify", str(job_id), f"result-{kind}", "--bundle", f"{kind}.tar.gz")
    assert (tmp_path / "result-command" / "answer.txt").read_text() == "42"
    assert json.loads((tmp_path / "result-tune" / "best.json").read_text())["trials"] == 16

    # ---- a tampered copy fails `verify`; nodes serving tampered files are refused by `fetch`
    (tmp_path / "result-map" / "aggregated.csv").write_text("region,count\nnowhere,1\n")
    cli.fails("verify", str(jobs["map"]), "result-map", says="MISMATCH")
    archive, _ = pack_result(tmp_path / "result-map")  # the tampered copy, as a node would serve it
    for n in nodes:
        digest = n.db("SELECT result_hash FROM jobs WHERE job_id = ?", jobs["map"])[0][0]
        (n.data_dir / "results" / f"{digest}.tar.gz").write_bytes(archive)
    err = cli.fails(
        "fetch", str(jobs["map"]), "--out", "tampered", says="no node served a result matching"
    )
    assert err.count("refused") == 3 and not (tmp_path / "tampered").exists()
    lap("fetched and verified")

    # ---- k = 1: accepted, disputed inside its window by the client (approve + dispute)
    wait_for(lambda: market.job(k1).status == Status.ACCEPTED and market.job(k1_disputed).status == Status.ACCEPTED,
             120, what="k=1 jobs accepted", nodes=nodes)  # fmt: skip
    cli.fails("dispute", str(jobs["simulate"]), says="cannot be disputed")
    cli("dispute", str(k1_disputed))
    assert market.job(k1_disputed).round == 1 and market.job(k1_disputed).disputer == client.address
    cli("fetch", str(k1), "--out", "result-k1")
    assert (tmp_path / "result-k1" / "answer.txt").read_text() == "42"
    lap("k=1 disputed and fetched")

    # ---- the GPU job: every node refused it (no GPU here), so it is still open; the client cancels
    for n in nodes:
        wait_for(lambda n=n: (n.db("SELECT stage, reason FROM jobs WHERE job_id = ?", gpu_job) or [("", "")])[0][0]
                 == "skipped", 30, what="GPU job refused", nodes=nodes)  # fmt: skip
        assert "gpus=1" in n.db("SELECT reason FROM jobs WHERE job_id = ?", gpu_job)[0][0]
    assert market.job(gpu_job).status == Status.OPEN
    cli("cancel", str(gpu_job))
    assert market.job(gpu_job).status == Status.CANCELLED

    # ---- after the dispute window the k = 1 job is finalized by its node and paid
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    cli("watch", str(k1), "--json", "--timeout", "60", "--interval", "0.5", timeout=90)
    assert market.job(k1).status == Status.PAID
    lap("k=1 job paid")
