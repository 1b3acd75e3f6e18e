"""`tes-client` against bad input, as a user meets it: every subcommand, run as a process, given
each class of mistake (bad JSON, a misspelled key, the chain down, no deployment record, a job
that does not exist or a call the contract reverts) exits non-zero with a short message that
says what to do, never a traceback. On anvil with one real `tes-node`: a job whose program
fails is shown as `(job failed: exit 1)` by status and watch, and `fetch` prints the end of its
stderr; `submit` warns when no active node can take a job, or fewer than k."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from oracle.client.inputs import fmt_tes
from oracle.core.chain import CONTRACTS
from oracle.core.protocol import job_hex, parse_job_id
from oracle.localnet.network import PASSPHRASE, make_keystore
from tests.utils.constants import E18, WINDOWS
from tests.utils.market import Status
from tests.utils.nodes import no_gpu_path, wait_for

TES_CLIENT = Path(sys.executable).parent / "tes-client"
CLIENT_KEY = "0x" + "5a" * 32  # a throwaway key for the keystore (offline checks only)

# Every subcommand that talks to the chain, with arguments that are fine in themselves.
CHAIN_COMMANDS = {
    "submit": ["job.tar.gz", "--uri", "file:///nowhere/job.tar.gz", "--payment", "1"],
    "watch": ["1", "--timeout", "5"],
    "status": ["1"],
    "fetch": ["1", "--out", "result"],
    "verify": ["1", "made"],
    "dispute": ["1"],
    "cancel": ["1"],
    "deposit": ["5"],
    "withdraw": [],
    "balance": [],
}


def run(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run([str(TES_CLIENT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def refused(proc: subprocess.CompletedProcess, says: str, what: str) -> None:
    """Exit status != 0, the message on one or two lines, no traceback."""
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"{what}: should have failed:\n{text}"
    assert "Traceback" not in text, f"{what}: traceback:\n{text}"
    assert says in proc.stderr, f"{what}: expected {says!r} in:\n{proc.stderr}"
    assert len(proc.stderr.strip().splitlines()) <= 2, f"{what}: not one line:\n{proc.stderr}"


@pytest.fixture
def workdir(tmp_path) -> tuple[Path, dict[str, str]]:
    """A directory with a good bundle, a result directory, records good and bad, and a key."""
    ape = tmp_path / "ape"
    make_keystore(ape, "client", CLIENT_KEY)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print(1)\n")
    (tmp_path / "made").mkdir()
    (tmp_path / "made" / "x.txt").write_text("x")
    env = {**os.environ, "APE_DATA_FOLDER": str(ape), "TES_PASSPHRASE": PASSPHRASE,
           "TES_CLIENT_ACCOUNT": "client", "TES_RPC_URL": "http://127.0.0.1:9"}  # fmt: skip
    env.pop("TES_DEPLOYMENT", None)
    proc = run(tmp_path, env, "package", "--kind", "command", "--dir", "src", "--entrypoint",
               "python3 main.py", "--out", "job.tar.gz")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "bad.json").write_text('{"contracts": {"JobMarket": ')
    (tmp_path / "empty.json").write_text('{"contracts": {}}')
    addresses = {name: "0x" + f"{i + 1:040x}" for i, name in enumerate(CONTRACTS)}
    (tmp_path / "record.json").write_text(json.dumps({"contracts": addresses, "abis": {}}))
    return tmp_path, env


def test_every_chain_command__no_record_bad_record_chain_down__one_line_no_traceback(workdir):
    cwd, env = workdir
    cases = []
    for name, args in CHAIN_COMMANDS.items():
        cases += [
            (name, [*args, "--deployment", "nowhere.json"], "no deployment record at nowhere.json"),
            (name, [*args, "--deployment", "bad.json"], "deployment record bad.json is not valid JSON"),
            (name, [*args, "--deployment", "record.json"],
             "cannot reach the chain at http://127.0.0.1:9 (Connection refused): start it"),
        ]  # fmt: skip
    cases += [(name, [*CHAIN_COMMANDS[name], "--deployment", "empty.json"], "lacks the address of TESToken")
              for name in ("submit", "status")]  # fmt: skip
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda c: run(cwd, env, c[0], *c[1]), cases))
    for (name, args, says), proc in zip(cases, procs, strict=True):
        refused(proc, says, f"tes-client {name} {' '.join(args)}")


def test_offline_commands__bad_json_typos_and_missing_files__one_line_no_traceback(workdir):
    cwd, env = workdir
    (cwd / "broken.json").write_text("{epochs: 3}")
    (cwd / "typo.json").write_text('{"epohcs": 3}')
    (cwd / "nested.json").write_text('{"search": {"iteratons": 2}}')
    (cwd / "garbage.tar.gz").write_text("not a bundle")
    (cwd / "own").mkdir()
    (cwd / "own" / "main.py").write_text("print(1)\n")
    (cwd / "own" / "manifest.json").write_text(
        '{"entrypont": ["python3", "main.py"], "time_limt_s": 9}'
    )
    (cwd / "badjson").mkdir()
    (cwd / "badjson" / "main.py").write_text("print(1)\n")
    (cwd / "badjson" / "manifest.json").write_text("{")
    cases = [
        (["package", "--kind", "train", "--config", "broken.json", "--out", "x.tar.gz"],
         "config file broken.json is not valid JSON"),
        (["package", "--kind", "train", "--config", "typo.json", "--out", "x.tar.gz"],
         "unknown key 'epohcs' in config file typo.json of kind 'train' (did you mean 'epochs'?)"),
        (["package", "--kind", "simulate", "--config", "nested.json", "--out", "x.tar.gz"],
         "search (did you mean 'iterations'?)"),
        (["package", "--kind", "command", "--dir", "own", "--out", "x.tar.gz"],
         "unknown key 'entrypont' in own/manifest.json (did you mean 'entrypoint'?)"),
        (["package", "--kind", "command", "--dir", "badjson", "--entrypoint", "python3 main.py", "--out", "x.tar.gz"],
         "manifest badjson/manifest.json is not valid JSON"),
        (["package", "--kind", "command", "--dir", "src", "--entrypoint", "python3 mian.py", "--out", "x.tar.gz"],
         "runs 'mian.py', which is not in the bundle (did you mean 'main.py'?)"),
        (["package", "--kind", "command", "--dir", "src", "--entrypoint", "python3 main.py", "--time-limit", "soon",
          "--out", "x.tar.gz"], "is not a duration"),
        (["package", "--kind", "render", "--out", "x.tar.gz"], "unknown kind 'render'"),
        (["run-local", "garbage.tar.gz"], "not a valid bundle archive"),
        (["run-local", "missing.tar.gz"], "does not exist"),
        (["publish", "missing.tar.gz"], "does not exist"),
        (["submit", "missing.tar.gz", "--uri", "file:///x", "--payment", "1"], "does not exist"),
        (["submit", "job.tar.gz", "--uri", "file:///x", "--payment", "1", "-k", "2"], "--replicas 2 is not allowed"),
        (["submit", "job.tar.gz", "--uri", "file:///x", "--payment", "lots"], "not an amount of TES"),
        (["deposit", "lots"], "not an amount of TES"),
        (["verify", "1", "missing-dir"], "does not exist"),
        (["nonsense"], "No such command 'nonsense'"),
    ]  # fmt: skip
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda c: run(cwd, env, *c[0]), cases))
    for (args, says), proc in zip(cases, procs, strict=True):
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "Traceback" not in text, f"{args}:\n{text}"
        assert says in proc.stderr, f"{args}: expected {says!r} in:\n{proc.stderr}"


# ------------------------------------------------------------------ on a chain, with a node
FAILING = """
import sys
print("loading the data", flush=True)
print("step 1 of 3 done", file=sys.stderr)
raise KeyError("column 'price' is missing")
"""


@pytest.mark.anvil
def test_on_chain__reverts_named_failed_run_seen_and_capacity_warned(
    tmp_path, chain, market, token, setup_node, node_owners, operators, client, fund, ape_data, record,
    rpc_url, spawn,
):  # fmt: skip
    make_keystore(ape_data, "client", client.private_key)
    fund(client, 100 * E18)
    env = {**os.environ, "TES_RPC_URL": rpc_url, "TES_DEPLOYMENT": str(record), "APE_DATA_FOLDER": str(ape_data),
           "TES_PASSPHRASE": PASSPHRASE, "TES_CLIENT_ACCOUNT": "client"}  # fmt: skip

    def cli(*args: str, ok: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = run(tmp_path, env, *args, timeout=timeout)
        if ok:
            assert proc.returncode == 0, (
                f"tes-client {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
            )
            assert "Traceback" not in proc.stderr
        return proc

    (tmp_path / "fail").mkdir()
    (tmp_path / "fail" / "main.py").write_text(FAILING)
    cli("package", "--kind", "command", "--dir", "fail", "--entrypoint", "python3 main.py", "--time-limit", "30",
        "--out", "fail.tar.gz")  # fmt: skip
    cli("package", "--kind", "command", "--dir", "fail", "--entrypoint", "python3 main.py", "--memory-mb",
        "999999", "--out", "huge.tar.gz")  # fmt: skip
    uri = {b: cli("publish", "--file", f"{b}.tar.gz").stdout.strip() for b in ("fail", "huge")}

    # ---- no node yet: submit warns (and still opens the job); a revert names the status
    sub = cli("submit", "fail.tar.gz", "--uri", uri["fail"], "--payment", "2")
    assert "warning: no node is active on this network" in sub.stderr
    lonely = parse_job_id(sub.stdout.split()[0])  # printed as 0x and 64 hex digits
    cli("cancel", str(lonely))
    refused(cli("cancel", str(lonely), ok=False),
            f"the transaction would revert: JobMarketWrongStatus(jobId={int(lonely)}, status=Cancelled)", "cancel twice")  # fmt: skip
    ghost = f"no job {job_hex(999)} on this market"  # an id nobody created (ids are hashes)
    refused(cli("status", "999", ok=False), ghost, "status of a wrong id")
    refused(cli("fetch", hex(999), "--out", "r", ok=False), ghost, "fetch of a wrong id")
    refused(cli("dispute", str(lonely), ok=False), "cannot be disputed: it is cancelled", "dispute")
    shown = cli("balance").stdout
    assert "balance   2 TES (refunds, deposits)" in shown  # the refund, at a sensible precision
    assert f"wallet    {fmt_tes(token.balanceOf(client))}" in shown
    assert cli("withdraw").stdout.strip() == "withdrew 2 TES"
    refused(cli("withdraw", ok=False), "nothing to withdraw", "withdraw twice")

    # ---- a deposit pays the next jobs: no permit and no token transfer per job
    held = token.balanceOf(client)
    refused(cli("deposit", str(held // E18 + 1), ok=False), "insufficient TES balance",
            "deposit more than held")  # fmt: skip
    refused(cli("deposit", "0", ok=False), "nothing to deposit", "deposit nothing")
    assert cli("deposit", "6").stdout.strip() == "deposited 6 TES; market balance 6 TES"
    assert "balance   6 TES (refunds, deposits)" in cli("balance").stdout
    wallet, permits = token.balanceOf(client), token.nonces(client)
    assert wallet == held - 6 * E18 and market.credited(client) == 6 * E18

    # ---- one node: a job too big for it, and k = 3 with one node, are warned about
    setup_node(node_owners[0], operators[0])
    node = spawn(0, env={"PATH": no_gpu_path(tmp_path / "bin")})
    sub = cli("submit", "huge.tar.gz", "--uri", uri["huge"], "--payment", "2")
    assert (
        "warning: no active node meets the job's requirements (cpus=1, memory=999999 MiB"
        in sub.stderr
    )
    assert "node 1: memory " in sub.stderr and " MiB < 999999 MiB" in sub.stderr
    assert market.credited(client) == 4 * E18  # paid from the deposit
    cli("cancel", sub.stdout.split()[0])
    sub = cli("submit", "fail.tar.gz", "--uri", uri["fail"], "--payment", "2", "-k", "3")
    assert "warning: only 1 of 1 active nodes meet the job's requirements" in sub.stderr
    assert "fewer than k = 3" in sub.stderr
    cli("cancel", sub.stdout.split()[0])
    assert market.credited(client) == 6 * E18  # both refunds back in the balance

    # ---- a k = 1 job whose program fails: proven, then paid; the client sees why
    sub = cli("submit", "fail.tar.gz", "--uri", uri["fail"], "--payment", "2")
    assert "warning" not in sub.stderr
    job = parse_job_id(sub.stdout.split()[0])
    # three jobs paid from the balance: the wallet untouched, no permit signed
    assert market.credited(client) == 4 * E18
    assert (token.balanceOf(client), token.nonces(client)) == (wallet, permits)
    wait_for(
        lambda: market.job(job).status == Status.ACCEPTED,
        120,
        what="failing job accepted",
        nodes=[node],
    )
    status = json.loads(cli("status", str(job)).stdout)
    assert status["status"] == "accepted" and status["summary"] == "accepted (job failed: exit 1)"
    assert status["outcome"]["exit_code"] == 1 and status["payment_tes"] == "2 TES"
    assert "KeyError: \"column 'price' is missing\"" in status["outcome"]["stderr_tail"]
    out = cli("fetch", str(job), "--out", "result").stdout
    assert "matches the chain" in out and "job failed: exit 1" in out
    assert "  | step 1 of 3 done" in out and "KeyError" in out
    assert json.loads((tmp_path / "result" / "TES_STATUS.json").read_text())["exit_code"] == 1

    # watch follows it from accepted to paid (the node finalizes it once the window passed)
    watch = subprocess.Popen([str(TES_CLIENT), "watch", str(job), "--timeout", "90", "--interval", "0.5"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert watch.stdout is not None
    first = watch.stdout.readline()
    assert first.startswith(f"job {job}: accepted (job failed: exit 1) - 1/1 seated, 1/1 proven"), (
        first
    )
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    rest, err = watch.communicate(timeout=120)
    assert watch.returncode == 0 and "Traceback" not in err, rest + err
    assert f"job {job}: paid (job failed: exit 1) - " in rest and "[accepted took " in rest
    assert f"job {job}: paid (job failed: exit 1) after " in rest and "(accepted " in rest
    lines = [
        json.loads(x)
        for x in cli("watch", str(job), "--json", "--timeout", "5").stdout.splitlines()
    ]
    assert lines[-1]["status"] == "paid" and lines[-1]["outcome"]["failed"] is True
