"""oracle/client/sdk.py: what a fetched or kept result is checked against, per protocol v2.

No chain here: the job and its seats are built as `market.job` / `market.replica` return them,
and a small HTTP server plays the node (archive + X-TES-Salt / X-TES-Node headers)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import astuple, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector

from oracle.client.errors import ClientError, ResultMismatch
from oracle.client.sdk import (
    E18,
    PEEK_BYTES,
    Client,
    JobOutcome,
    JobView,
    SaltRecord,
    check_replicas,
    error_table,
    explain_revert,
    fmt_tes,
    outcome_of,
    salt_path,
)
from oracle.core.protocol import Capabilities, Job, JobStatus, JobTerms, Seat, SeatState, job_hex
from oracle.core.prove import commitment_of
from oracle.core.results import pack_result, result_hash
from oracle.execute.base import (
    STATUS_FILE,
    STDERR_TAIL_BYTES,
    ExecResult,
    ExecStatus,
    stderr_tail_of,
)

JOB_ID, NODE, OTHER = 7, 3, 4
SALT = bytes(range(32))
ZERO = b"\x00" * 32
CLIENT_KEY = Account.create()


def _job(
    status: JobStatus,
    *,
    k: int = 1,
    round_: int = 0,
    commitment: bytes = ZERO,
    count: int = 1,
    disputer: str = "0x" + "00" * 20,
) -> Job:
    return Job(
        payment=10, collateral=1, deadline=0, status=status, k=k, round=round_, client=CLIENT_KEY.address,
        requirements=Capabilities(1, 1, 0, 0, 0), claims=k, commits=k, reveals=0,
        replicaCount=count, seated=k, redraws=0, protocolFeeBps=0, keeperBountyBps=0, claimWindow=1,
        executionWindow=1, revealWindow=1, disputeWindow=1, drawBlock=0, commitment=commitment,
        disputer=disputer,
    )  # fmt: skip


STRANGER = "0x" + "33" * 20


def _seat(node: int, state: SeatState, commitment: bytes = ZERO, round_: int = 0) -> Seat:
    return Seat(node, state, round_, 0, "0x" + "22" * 20, commitment)


@pytest.fixture
def result(tmp_path) -> tuple[Path, bytes]:
    out = tmp_path / "made"
    out.mkdir()
    (out / "answer.txt").write_text("42")
    return out, result_hash(out)


def k1_accepted(digest: bytes) -> JobView:
    c = commitment_of(JOB_ID, NODE, digest, SALT)
    return JobView(
        JOB_ID, _job(JobStatus.ACCEPTED, commitment=c), (_seat(NODE, SeatState.COMMITTED, c),)
    )


def k3_paid(digest: bytes, dissent: bytes) -> JobView:
    seats = (
        _seat(NODE, SeatState.REVEALED, digest), _seat(OTHER, SeatState.REVEALED, dissent),
        _seat(5, SeatState.DROPPED), _seat(6, SeatState.REVEALED, digest), _seat(8, SeatState.REVEALED, digest),
    )  # fmt: skip
    return JobView(JOB_ID, _job(JobStatus.PAID, k=3, commitment=digest, count=5), seats)


# ------------------------------------------------------------------ check_result
def test_k1__files_and_salt_must_recompute_the_onchain_commitment(result):
    _, digest = result
    view = k1_accepted(digest)
    assert view.single and view.result_hash is None  # the hash itself is not on chain
    Client.check_result(view, digest, SaltRecord(JOB_ID, NODE, SALT))
    with pytest.raises(ResultMismatch, match="with node 3's salt that commits to 0x"):
        Client.check_result(view, b"\x01" * 32, SaltRecord(JOB_ID, NODE, SALT))
    with pytest.raises(ResultMismatch, match="commits to"):
        Client.check_result(view, digest, SaltRecord(JOB_ID, NODE, b"\x02" * 32))
    with pytest.raises(ResultMismatch, match="the salt came from node 4, but job 7 ran on node 3"):
        Client.check_result(view, digest, SaltRecord(JOB_ID, OTHER, SALT))
    with pytest.raises(ClientError, match="checking files needs the node's salt") as info:
        Client.check_result(view, digest, None)
    assert not isinstance(info.value, ResultMismatch)


def test_k1_upheld_dispute__seat_0_revealed_the_hash_and_that_is_the_reference(result):
    _, digest = result
    c = commitment_of(JOB_ID, NODE, digest, SALT)
    seats = (_seat(NODE, SeatState.REVEALED, digest),) + tuple(
        _seat(n, SeatState.REVEALED, digest, round_=1) for n in (4, 5, 6)
    )
    view = JobView(
        JOB_ID, _job(JobStatus.PAID, k=3, round_=1, commitment=c, count=4, disputer=STRANGER), seats
    )
    assert view.single and view.result_hash == digest
    Client.check_result(view, digest, None)  # no salt needed any more
    with pytest.raises(ResultMismatch, match="the chain's result is 0x"):
        Client.check_result(view, b"\x01" * 32, SaltRecord(JOB_ID, NODE, SALT))


def test_k3__the_agreed_hash_and_only_seats_that_revealed_it_are_sources(result):
    _, digest = result
    view = k3_paid(digest, b"\x09" * 32)
    assert not view.single and view.result_hash == digest
    assert Client.sources(view) == [NODE, 6, 8]  # not the dissenter, not the dropped seat
    Client.check_result(view, digest, None)
    with pytest.raises(ResultMismatch):
        Client.check_result(view, b"\x09" * 32, None)


@pytest.mark.parametrize(
    "view, says",
    [
        (
            JobView(JOB_ID, _job(JobStatus.RUNNING), (_seat(NODE, SeatState.CLAIMED),)),
            "once it is proven",
        ),
        (
            JobView(JOB_ID, _job(JobStatus.REVEALING, k=3), ()),
            "once the replicas agreed and it is paid",
        ),
        (
            JobView(JOB_ID, _job(JobStatus.SEATING, k=3, round_=1, disputer=STRANGER), ()),
            "is disputed (seating)",
        ),
        (
            JobView(JOB_ID, _job(JobStatus.SEATING, k=7, round_=1), ()),
            "re-run by a larger drawn round",
        ),
        (
            JobView(JOB_ID, _job(JobStatus.OVERTURNED, k=3, round_=1, disputer=STRANGER), ()),
            "overturned by a jury",
        ),
        (JobView(JOB_ID, _job(JobStatus.OVERTURNED, k=7, round_=1), ()), "overturned by a jury"),
    ],
)
def test_fetchable__only_once_copying_can_no_longer_pay(view, says):
    with pytest.raises(ClientError, match=says.replace("(", r"\(").replace(")", r"\)")):
        Client._fetchable(view)


@pytest.mark.parametrize("k", [0, 2, 4, 14, 16])
def test_check_replicas__k_is_1_or_odd(k):
    with pytest.raises(ClientError, match=f"--replicas {k} is not allowed: k must be 1"):
        check_replicas(k)
    for ok in (1, 3, 5, 15):
        check_replicas(ok)


# ------------------------------------------------------------------ fetch against a fake node
class FakeNode:
    """Serves one archive with the headers a v2 node sends."""

    def __init__(self, archive: bytes, headers: dict[str, str], busy: int = 0):
        self.archive, self.headers = archive, headers
        self.busy, self.requests = busy, []  # answer 429 to the first `busy` requests
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                node.requests.append(self.headers.get("X-TES-Nonce"))
                if len(node.requests) <= node.busy:
                    self.send_response(429)
                    self.send_header("Retry-After", "0.2")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                for k, v in node.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(node.archive)))
                self.end_headers()
                self.wfile.write(node.archive)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


class OfflineClient(Client):
    def __init__(self, view: JobView, urls: dict[int, str]):
        chain = SimpleNamespace(
            w3=None, chain_id=31337, market=SimpleNamespace(address="0x" + "33" * 20)
        )
        super().__init__(chain, CLIENT_KEY)  # type: ignore[arg-type]
        self.view, self.urls = view, urls

    def job(self, job_id):
        return self.view

    def endpoints(self, node_ids):
        return {n: self.urls[n] for n in node_ids if n in self.urls}


def test_fetch_k1__keeps_the_salt_next_to_the_result_and_verify_rereads_it(tmp_path, result):
    made, digest = result
    archive, _ = pack_result(made)
    node = FakeNode(archive, {"X-TES-Salt": "0x" + SALT.hex(), "X-TES-Node": str(NODE)})
    client = OfflineClient(k1_accepted(digest), {NODE: node.url})
    dest = tmp_path / "result"

    assert client.fetch(JOB_ID, dest) == digest

    assert (dest / "answer.txt").read_text() == "42" and sorted(p.name for p in dest.iterdir()) == [
        "answer.txt"
    ]
    assert (
        SaltRecord.read(dest) == SaltRecord(JOB_ID, NODE, SALT)
        and salt_path(dest).name == "result.tes-salt"
    )
    assert client.verify(JOB_ID, dest) == digest
    (dest / "answer.txt").write_text("41")
    with pytest.raises(ResultMismatch, match="^MISMATCH: .*commits to"):
        client.verify(JOB_ID, dest)


def test_fetch__a_rate_limited_node_is_waited_out__each_try_freshly_signed(tmp_path, result):
    made, digest = result
    archive, _ = pack_result(made)
    node = FakeNode(archive, {"X-TES-Salt": "0x" + SALT.hex(), "X-TES-Node": str(NODE)}, busy=2)
    client = OfflineClient(k1_accepted(digest), {NODE: node.url})

    assert client.fetch(JOB_ID, tmp_path / "result") == digest

    assert len(node.requests) == 3 and len(set(node.requests)) == 3  # nonces are single-use


@pytest.mark.parametrize(
    "headers, says",
    [
        ({}, "sent no X-TES-Salt/X-TES-Node header"),
        (
            {"X-TES-Salt": "0x" + SALT.hex(), "X-TES-Node": str(OTHER)},
            "it answered as node 4, not node 3",
        ),
        ({"X-TES-Salt": "0x" + "00" * 32, "X-TES-Node": str(NODE)}, "commits to"),
        ({"X-TES-Salt": "0xzz", "X-TES-Node": str(NODE)}, "a salt is 32 bytes"),
    ],
)
def test_fetch_k1__wrong_or_missing_salt__refused_and_nothing_written(
    tmp_path, result, headers, says
):
    made, digest = result
    archive, _ = pack_result(made)
    node = FakeNode(archive, headers)
    client = OfflineClient(k1_accepted(digest), {NODE: node.url})
    dest = tmp_path / "result"

    with pytest.raises(ClientError, match="no node served a result matching") as info:
        client.fetch(JOB_ID, dest)

    assert says in str(info.value) and "refused" in str(info.value)
    assert not dest.exists() and not salt_path(dest).exists()


def test_fetch_k3__tampered_node_refused_the_next_honest_one_used(tmp_path, result):
    made, digest = result
    honest, _ = pack_result(made)
    (made / "answer.txt").write_text("41")
    forged, _ = pack_result(made)
    bad, good = FakeNode(forged, {}), FakeNode(honest, {})
    client = OfflineClient(k3_paid(digest, b"\x09" * 32), {NODE: bad.url, 6: good.url})

    assert client.fetch(JOB_ID, tmp_path / "result") == digest
    assert (tmp_path / "result" / "answer.txt").read_text() == "42"
    assert not salt_path(tmp_path / "result").exists()  # nothing to keep: the hash is on chain


# ------------------------------------------------------------------ what happened to the run
def _failure_dir(tmp_path: Path, **record) -> Path:
    out = tmp_path / "failed"
    out.mkdir()
    (out / STATUS_FILE).write_text(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
    return out


def test_outcome_of__a_lone_status_record_is_a_failed_run_anything_else_succeeded(tmp_path, result):
    made, _ = result
    assert outcome_of(made) == JobOutcome(failed=False, status="ok")
    failed = outcome_of(_failure_dir(tmp_path, status="failed", exit_code=1, limit=None,
                                     stderr_tail="Traceback...\nKeyError: 'x'"))  # fmt: skip
    assert failed.failed and failed.exit_code == 1 and failed.label == "job failed: exit 1"
    assert failed.stderr_tail.endswith("KeyError: 'x'")
    (tmp_path / "t").mkdir()
    timeout = outcome_of(_failure_dir(tmp_path / "t", status="timeout", exit_code=None,
                                      limit="wall_time_s", limit_value=2.0))  # fmt: skip
    assert timeout.label == "job failed: timeout, over its wall_time_s limit"
    (tmp_path / "s").mkdir()
    shard = outcome_of(
        _failure_dir(tmp_path / "s", status="failed", exit_code=3, limit=None, shard=2)
    )
    assert shard.label == "job failed: exit 3 in shard 2"


def test_outcome__read_once_from_the_node_checked_against_the_chain(tmp_path):
    out = _failure_dir(tmp_path, status="failed", exit_code=1, limit=None, stderr_tail="boom")
    digest = result_hash(out)
    archive, _ = pack_result(out)
    node = FakeNode(archive, {"X-TES-Salt": "0x" + SALT.hex(), "X-TES-Node": str(NODE)})
    client = OfflineClient(k1_accepted(digest), {NODE: node.url})

    got = client.outcome(client.view)
    assert got is not None and got.label == "job failed: exit 1" and got.stderr_tail == "boom"
    assert client.outcome(client.view) == got and len(node.requests) == 1  # asked once

    # a node serving a record that does not match the chain is not believed
    liar = FakeNode(archive, {"X-TES-Salt": "0x" + "00" * 32, "X-TES-Node": str(NODE)})
    assert OfflineClient(k1_accepted(digest), {NODE: liar.url}).outcome(client.view) is None
    # a result larger than any failure record is a success without downloading all of it
    big = tmp_path / "big"
    big.mkdir()
    (big / "weights.bin").write_bytes(os.urandom(PEEK_BYTES * 2))
    archive, big_digest = pack_result(big)
    node = FakeNode(archive, {"X-TES-Salt": "0x" + SALT.hex(), "X-TES-Node": str(NODE)})
    client = OfflineClient(k1_accepted(big_digest), {NODE: node.url})
    assert client.outcome(client.view) == JobOutcome(failed=False, status="ok")
    # not served yet (running): unknown
    running = JobView(JOB_ID, _job(JobStatus.RUNNING), (_seat(NODE, SeatState.CLAIMED),))
    assert OfflineClient(running, {NODE: node.url}).outcome(running) is None


# ------------------------------------------------------------------ amounts and reverts
@pytest.mark.parametrize(
    "wei, shown",
    [
        (0, "0 TES"), (10 * E18, "10 TES"), (25 * E18 // 2, "12.5 TES"), (E18 // 3, "0.3333 TES"),
        (2 * E18 // 3, "0.6667 TES"), (123, "0.000000000000000123 TES"), (1_234_567 * 10**9, "0.0012 TES"),
        (10**24 + 1, "1000000 TES"),
    ],
)  # fmt: skip
def test_fmt_tes__at_most_four_decimals_small_amounts_keep_three_digits(wei, shown):
    assert fmt_tes(wei) == shown


ERRORS = [
    {"type": "error", "name": "JobMarketWrongStatus", "inputs": [
        {"name": "jobId", "type": "uint256", "internalType": "uint256"},
        {"name": "status", "type": "uint8", "internalType": "enum IJobMarket.JobStatus"}]},
    {"type": "error", "name": "ERC20InsufficientBalance", "inputs": [
        {"name": "sender", "type": "address", "internalType": "address"},
        {"name": "balance", "type": "uint256", "internalType": "uint256"},
        {"name": "needed", "type": "uint256", "internalType": "uint256"}]},
    {"type": "error", "name": "NodeRegistryNotActive", "inputs": [
        {"name": "nodeId", "type": "uint256", "internalType": "uint256"},
        {"name": "status", "type": "uint8", "internalType": "enum INodeRegistry.NodeStatus"}]},
]  # fmt: skip


def _revert(name: str, types: list[str], values: list) -> Exception:
    selector = function_signature_to_4byte_selector(f"{name}({','.join(types)})")
    err = Exception("execution reverted")
    err.data = "0x" + (selector + abi_encode(types, values)).hex()  # type: ignore[attr-defined]
    return err


def test_explain_revert__enums_by_name_amounts_in_tes():
    table = error_table([ERRORS])
    err = _revert("JobMarketWrongStatus", ["uint256", "uint8"], [3, int(JobStatus.PAID)])
    assert explain_revert(err, table) == "JobMarketWrongStatus(jobId=3, status=Paid)"
    err = _revert("NodeRegistryNotActive", ["uint256", "uint8"], [2, 2])
    assert explain_revert(err, table) == "NodeRegistryNotActive(nodeId=2, status=Jailed)"
    err = _revert("ERC20InsufficientBalance", ["address", "uint256", "uint256"],
                  ["0x" + "11" * 20, 5 * E18 // 2, 10 * E18])  # fmt: skip
    assert explain_revert(err, table) == (
        f"ERC20InsufficientBalance(sender=0x{'11' * 20}, balance=2.5 TES, needed=10 TES)"
    )
    assert explain_revert(Exception("nonce too low\nmore"), table) == "nonce too low"


# ------------------------------------------------------------------ terms passed back to the market
TERMS = JobTerms(
    client=CLIENT_KEY.address, bundleHash=b"\x11" * 32, payment=10, collateral=1, replicas=1,
    claimDeadline=100, protocolFeeBps=0, keeperBountyBps=0, requirements=Capabilities(1, 1, 0, 0, 0),
    claimWindow=1, executionWindow=1, revealWindow=1, disputeWindow=1, nonce=1,
)  # fmt: skip


def _created(terms: JobTerms, job_id: int | None = None) -> dict:
    """A decoded JobCreated log of `terms` (as web3 hands it); `job_id` to forge another id."""
    args = {f.name: getattr(terms, f.name) for f in fields(terms)}
    args["requirements"] = terms.requirements.as_tuple()
    jid = terms.job_id if job_id is None else job_id
    return {"args": {**args, "jobId": jid, "bundleUri": "file:///b.tar"}}


def _call(value):
    return SimpleNamespace(call=lambda: value)


class LoggedClient(Client):
    """A client on a chain that holds one job (`job`, its seats, and `logs` as its JobCreated
    events): what it would send is kept in `sent`, not signed."""

    def __init__(self, logs: list[dict], job: Job, seats: tuple[Seat, ...] = ()):
        def get_logs(from_block, argument_filters):
            return [e for e in logs if e["args"]["jobId"] == argument_filters["jobId"]]

        def job_of(job_id):
            return _call(astuple(job) if job_id == TERMS.job_id else astuple(_job(JobStatus.NONE)))

        market = SimpleNamespace(
            address="0x" + "33" * 20,
            events=SimpleNamespace(JobCreated=SimpleNamespace(get_logs=get_logs)),
            functions=SimpleNamespace(
                job=job_of, replica=lambda job_id, i: _call(astuple(seats[i])),
                cancel=lambda terms: ("cancel", terms), dispute=lambda terms: ("dispute", terms),
            ),
        )  # fmt: skip
        registry = SimpleNamespace(functions=SimpleNamespace(
            operatorOf=lambda n: _call("0x" + "22" * 20), ownerOfNode=lambda n: _call(STRANGER),
        ))  # fmt: skip
        token = SimpleNamespace(functions=SimpleNamespace(
            allowance=lambda owner, spender: _call(10**30), balanceOf=lambda a: _call(10**30),
        ))  # fmt: skip
        chain = SimpleNamespace(w3=None, chain_id=31337, market=market, registry=registry,
                                token=token, deployment_block=5)  # fmt: skip
        super().__init__(chain, CLIENT_KEY)  # type: ignore[arg-type]
        self.sent: list = []

    def chain_time(self) -> int:
        return 0

    def _send(self, fn, head=None):
        self.sent.append(fn)


def test_cancel_and_dispute__pass_the_terms_of_the_jobs_jobcreated_back():
    open_job = LoggedClient([_created(TERMS)], _job(JobStatus.OPEN, count=0))
    assert open_job.terms(TERMS.job_id) == TERMS
    open_job.cancel(TERMS.job_id)
    assert open_job.sent == [("cancel", TERMS.as_tuple())]
    accepted = _job(JobStatus.ACCEPTED, commitment=b"\x05" * 32)
    proven = LoggedClient([_created(TERMS)], accepted, (_seat(NODE, SeatState.COMMITTED),))
    view = proven.job(TERMS.job_id)
    assert view.terms == TERMS and view.bundle_hash == TERMS.bundleHash
    assert proven.dispute(TERMS.job_id) == accepted.collateral
    assert proven.sent == [("dispute", TERMS.as_tuple())]


def test_cancel_and_dispute__an_id_without_its_checked_jobcreated__a_clear_error_nothing_sent():
    forged = replace(TERMS, payment=TERMS.payment + 1)  # hashes to another id than it claims
    accepted = _job(JobStatus.ACCEPTED)
    for logs in ([], [_created(forged, job_id=TERMS.job_id)]):
        client = LoggedClient(logs, accepted, (_seat(NODE, SeatState.COMMITTED),))
        says = f"job {job_hex(TERMS.job_id)}: no JobCreated event whose terms hash to its id"
        with pytest.raises(ClientError, match=says):
            client.cancel(TERMS.job_id)
        with pytest.raises(ClientError, match=says):
            client.dispute(TERMS.job_id)
        assert client.sent == []
    # an id nobody created: the market's own record says so first
    with pytest.raises(ClientError, match=f"no job {job_hex(8)} on this market"):
        LoggedClient([], accepted).dispute(8)


# ------------------------------------------------------------------ the stderr tail in the record
def _exec(status, code, stderr):
    return ExecResult("j", status, code, "", None, b"", 0.0, stderr_tail=stderr)


def test_stderr_tail__only_for_a_program_that_exited_on_its_own__bounded_from_a_whole_line():
    assert stderr_tail_of(_exec(ExecStatus.FAILED, 1, "Traceback\nValueError: x\n")) == (
        "Traceback\nValueError: x"
    )
    long = "".join(f"line {i}\n" for i in range(1000))
    tail = stderr_tail_of(_exec(ExecStatus.FAILED, 2, long))
    assert tail is not None and len(tail.encode()) <= STDERR_TAIL_BYTES
    assert tail.startswith("line ") and tail.endswith("line 999")  # cut at a line start
    assert stderr_tail_of(_exec(ExecStatus.FAILED, 1, "")) is None
    assert stderr_tail_of(_exec(ExecStatus.FAILED, 137, "Killed")) is None  # a signal
    assert stderr_tail_of(_exec(ExecStatus.TIMEOUT, None, "50%")) is None
    assert stderr_tail_of(_exec(ExecStatus.LIMIT, 1, "MemoryError")) is None
    assert stderr_tail_of(_exec(ExecStatus.OK, 0, "warning")) is None
