"""Every job kind end to end through the `tes-client` CLI, against three real `tes-node`
processes on anvil: package, publish, submit (permit), watch until paid, fetch from the node
that announced its URL on chain, verify against the chain. k = 3 jobs are drawn (seating), the
three nodes accept, commit and reveal, and the result is the agreed hash; a k = 1 result is
checked against its salted commitment with the salt the node sends (kept next to the result for
`verify`); tampered files are refused with nothing written; a k = 1 job is disputed in its
window by the client (its own node's operator may not); a GPU job finds no eligible node; and
every kind of bad input is refused with a clear message before any gas is spent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from oracle.client.sdk import Client, SaltRecord, salt_path
from oracle.core.protocol import job_hex, parse_job_id
from oracle.core.results import pack_result, result_hash
from tests.utils.constants import E18, WINDOWS
from tests.utils.market import ReplicaState, Status, stored_commitment
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
    tmp_path, chain, market, token, registry, setup_node, node_owners, operators, client, stranger, fund,
    ape_data, record, rpc_url, spawn,
):  # fmt: skip
    started = time.monotonic()

    def lap(what: str) -> None:
        print(f"[client e2e] {time.monotonic() - started:6.1f}s {what}", file=sys.stderr)

    make_keystore(ape_data, "client", client.private_key)
    make_keystore(ape_data, "broke", stranger.private_key)
    fund(client, 1_000 * E18)
    node_ids = [setup_node(node_owners[i], operators[i]) for i in range(3)]
    nodes = [spawn(i) for i in range(3)]
    node_of = dict(zip(node_ids, nodes, strict=True))
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
        jobs = {kind: parse_job_id(cli("submit", f"{kind}.tar.gz", "--uri", uris[kind], "--payment", "10", "-k", "3")
                          .stdout.split()[0]) for kind in OUTPUTS}  # fmt: skip
        drawn = (
            Status.SEATING,
            Status.RUNNING,
            Status.REVEALING,
            Status.PAID,
        )  # never Open: seats are drawn
        assert all(market.job(j).status in drawn for j in jobs.values())
        k1 = parse_job_id(cli("submit", "command.tar.gz", "--uri", uris["command"], "--payment", "5", "--mode", "optimistic")
                 .stdout.split()[0])  # fmt: skip
        k1_disputed = parse_job_id(
            cli(
                "submit", "simulate.tar.gz", "--uri", uris["simulate"], "--payment", "5"
            ).stdout.split()[0]
        )
        gpu_job = parse_job_id(
            cli(
                "submit", "gpu.tar.gz", "--uri", uris["gpu"], "--payment", "5", "-k", "3"
            ).stdout.split()[0]
        )
        assert market.job(gpu_job).requirements.gpuCount == 1
        chain.mine()  # the last job's draw block (anvil mines only on a transaction)
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
        for even in ("2", "4"):
            cli.fails("submit", "command.tar.gz", "--uri", uris["command"], "--payment", "10", "-k", even,
                      says=f"--replicas {even} is not allowed: k must be 1 (one node, disputable) or odd")  # fmt: skip
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
        seats = [market.replica(job_id, i) for i in range(job.replicaCount)]
        revealed = [seat for seat in seats if seat.state == ReplicaState.REVEALED]
        assert len(revealed) == 3 and len({seat.nodeId for seat in revealed}) == 3, kind
        assert {seat.commitment for seat in revealed} == {job.commitment}, (
            f"{kind}: replicas disagree"
        )

        # ---- fetch from a node (URL from EndpointAnnounced), checked against the agreed hash
        out = cli("fetch", str(job_id), "--out", f"result-{kind}").stdout
        assert "matches the chain" in out
        assert files_of(tmp_path / f"result-{kind}") == OUTPUTS[kind]
        assert result_hash(tmp_path / f"result-{kind}") == job.commitment
        cli("verify", str(job_id), f"result-{kind}", "--bundle", f"{kind}.tar.gz")
    assert (tmp_path / "result-command" / "answer.txt").read_text() == "42"
    assert json.loads((tmp_path / "result-tune" / "best.json").read_text())["trials"] == 16

    # ---- a tampered copy fails `verify`; nodes serving tampered files are refused by `fetch`
    (tmp_path / "result-map" / "aggregated.csv").write_text("region,count\nnowhere,1\n")
    cli.fails("verify", str(jobs["map"]), "result-map", says="MISMATCH")
    archive, _ = pack_result(tmp_path / "result-map")  # the tampered copy, as a node would serve it
    for n in nodes:
        digest = n.db("SELECT result_hash FROM jobs WHERE job_id = ?", job_hex(jobs["map"]))[0][0]
        (n.data_dir / "results" / f"{digest}.tar.gz").write_bytes(archive)
    err = cli.fails(
        "fetch", str(jobs["map"]), "--out", "tampered", says="no node served a result matching"
    )
    assert err.count("refused") == 3 and not (tmp_path / "tampered").exists()
    assert not salt_path(tmp_path / "tampered").exists()
    lap("fetched and verified")

    # ---- k = 1: accepted with a salted commitment; the result hash is not on chain
    wait_for(lambda: market.job(k1).status == Status.ACCEPTED and market.job(k1_disputed).status == Status.ACCEPTED,
             120, what="k=1 jobs accepted", nodes=nodes)  # fmt: skip
    seat = market.replica(k1, 0)
    out = cli("fetch", str(k1), "--out", "result-k1").stdout
    assert "matches the chain" in out and "result-k1.tes-salt" in out
    assert (tmp_path / "result-k1" / "answer.txt").read_text() == "42"
    kept = SaltRecord.read(tmp_path / "result-k1")
    assert (kept.job_id, kept.node_id) == (k1, seat.nodeId)
    digest = result_hash(tmp_path / "result-k1")
    assert (
        stored_commitment(k1, seat.nodeId, digest, kept.salt) == market.job(k1).commitment != digest
    )
    assert (
        files_of(tmp_path / "result-k1") == OUTPUTS["command"]
    )  # the salt lives next to it, not in it

    # verify: offline with the kept salt, with --salt, and refusing a wrong salt or a missing one
    cli("verify", str(k1), "result-k1", "--bundle", "command.tar.gz")
    salt_path(tmp_path / "result-k1").rename(tmp_path / "k1.salt")
    cli.fails("verify", str(k1), "result-k1", says="checking files needs the node's salt")
    cli("verify", str(k1), "result-k1", "--salt", "0x" + kept.salt.hex())
    cli.fails("verify", str(k1), "result-k1", "--salt", "0x" + "00" * 32, says="MISMATCH")
    cli.fails("verify", str(k1), "result-k1", "--salt", "0x1234", says="a salt is 32 bytes")

    # the SDK says the same; a tampered k = 1 archive on the node is refused, nothing written
    sdk = Client.connect(rpc_url, record, Account.from_key(client.private_key))
    assert sdk.fetch(k1, tmp_path / "result-k1-sdk") == digest
    (tmp_path / "result-k1" / "answer.txt").write_text("41")
    forged, _ = pack_result(tmp_path / "result-k1")
    n = node_of[seat.nodeId]
    stored = n.db("SELECT result_hash FROM jobs WHERE job_id = ?", job_hex(k1))[0][0]
    (n.data_dir / "results" / f"{stored}.tar.gz").write_bytes(forged)
    err = cli.fails(
        "fetch", str(k1), "--out", "tampered-k1", says="no node served a result matching"
    )
    assert "commits to" in err and "refused" in err
    assert (
        not (tmp_path / "tampered-k1").exists() and not salt_path(tmp_path / "tampered-k1").exists()
    )
    lap("k=1 fetched and verified with its salt")

    # ---- disputes: a k = 3 job cannot be; the node's own operator may not; the client may
    cli.fails("dispute", str(jobs["simulate"]), says="cannot be disputed")
    original = market.replica(k1_disputed, 0).nodeId
    cli.fails("dispute", str(k1_disputed), "--account", f"op{node_ids.index(original)}",
              says="a job's own node cannot dispute it")  # fmt: skip
    cli("dispute", str(k1_disputed))
    disputed = market.job(k1_disputed)
    assert (
        disputed.round == 1
        and disputed.disputer == client.address
        and disputed.status == Status.SEATING
    )
    lap("k=1 disputed")

    # ---- the GPU job: no node meets its requirements (no GPU here), so no seat is ever taken;
    # the client cancels it
    gpu = market.job(gpu_job)
    assert gpu.status == Status.SEATING and gpu.claims == 0
    assert all(
        market.replica(gpu_job, i).state != ReplicaState.CLAIMED for i in range(gpu.replicaCount)
    )
    cli("cancel", str(gpu_job))
    assert market.job(gpu_job).status == Status.CANCELLED

    # ---- after the dispute window the k = 1 job is finalized by its node and paid
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    cli("watch", str(k1), "--json", "--timeout", "60", "--interval", "0.5", timeout=90)
    assert market.job(k1).status == Status.PAID
    lap("k=1 job paid")
