"""Real `tes-node` processes on anvil survive crashes, RPC outages, reorgs and hostile jobs.

Every test ends the way a node owner cares about: the job is paid exactly once (one JobPaid
event, the owner paid what the contract's rule says, one completed job in the registry), or
it is refused with a reason and never claimed, and the node goes on serving good jobs.
"""

import json
import time
from pathlib import Path

import pytest

from oracle.core.protocol import job_hex
from oracle.core.results import result_hash
from oracle.execute import STATUS_FILE
from oracle.localnet.bench.rpcproxy import RpcProxy
from oracle.node.store import IntentKind, IntentStatus, Stage
from tests.utils.constants import DEFAULT_CAPS, EPOCH_LENGTH, WINDOWS
from tests.utils.http import QuietHandler, serving
from tests.utils.market import NET, ReplicaState, Status, earned, stored_commitment
from tests.utils.nodes import make_bundle, no_gpu_path, wait_for
from tests.utils.proxy import TcpProxy

pytestmark = pytest.mark.anvil

NO_GPU_CAPS = DEFAULT_CAPS[:2] + (0, 0, 0)


# ---------------------------------------------------------------------- jobs and their results
def job_script(tag: str, sleep: float = 0.0) -> str:
    """A job that sleeps, then writes one JSON file whose content depends only on `tag`."""
    return f"""
import json, os, time
time.sleep({sleep})
with open(os.path.join(os.environ["TES_OUTPUT_DIR"], "result.json"), "w") as f:
    json.dump({{"tag": {tag!r}, "sum": sum(range(1000))}}, f)
"""


def expected_hash(tmp_path: Path, files: dict[str, str]) -> bytes:
    """The result hash of an output directory holding exactly `files` (name -> text)."""
    out = tmp_path / f"expected-{len(list(tmp_path.glob('expected-*')))}"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    return result_hash(out)


def ok_hash(tmp_path: Path, tag: str) -> bytes:
    return expected_hash(
        tmp_path, {"result.json": json.dumps({"tag": tag, "sum": sum(range(1000))})}
    )


def status_hash(tmp_path: Path, **record) -> bytes:
    """The result hash of a job that did not succeed: only its status record (see execute.sandbox)."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    return expected_hash(tmp_path, {STATUS_FILE: text})


def bundle(tmp_path: Path, name: str, script: str, **manifest) -> tuple[str, bytes]:
    uri, h, _ = make_bundle(tmp_path / name, script, **manifest)
    return uri, h


# ---------------------------------------------------------------------- chain helpers
def status(market, job_id: int) -> Status:
    return Status(market.job(job_id).status)


def wait_status(market, job_id: int, want: Status, nodes, timeout: float = 60.0) -> None:
    wait_for(
        lambda: status(market, job_id) == want,
        timeout,
        what=f"job {job_id} {want.name}",
        nodes=nodes,
    )


def settle_k1(chain, market, job_ids, nodes) -> None:
    """Lets the dispute windows of Accepted k = 1 jobs pass; the node finalizes them itself."""
    for j in job_ids:
        wait_status(market, j, Status.ACCEPTED, nodes)
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    for j in job_ids:
        wait_status(market, j, Status.PAID, nodes)


def paid_events(chain, market, job_id: int, start: int) -> list:
    stop = chain.blocks.head.number + 1
    return [e for e in market.JobPaid.range(start, stop, search_topics={"jobId": job_id})]


def claimed_events(chain, market, job_id: int, start: int) -> list:
    stop = chain.blocks.head.number + 1
    return [e for e in market.JobClaimed.range(start, stop, search_topics={"jobId": job_id})]


def assert_paid_once(
    chain, market, registry, job_id, start, owners, node_ids, credited_before, each
):
    """One JobPaid for the job, each owner paid `each` (sent, or in its node's ledger), each
    node's completed counter at 1."""
    assert len(paid_events(chain, market, job_id, start)) == 1
    for owner, node_id, before in zip(owners, node_ids, credited_before, strict=True):
        assert earned(market, owner) - before == each
        assert registry.node(node_id).completed == 1


def replica_state(market, job_id: int, node_id: int) -> ReplicaState:
    """The node's replica state in the job (NONE before it claims)."""
    for i in range(market.job(job_id).replicaCount):
        rep = market.replica(job_id, i)
        if rep.nodeId == node_id:
            return ReplicaState(rep.state)
    return ReplicaState.NONE


def committed_result(market, node, job_id: int) -> bytes:
    """The result hash a k = 1 job's commitment opens to, with the salt `node` stored (the chain
    keeps only the fingerprint of commitment_of(jobId, nodeId, result, salt)); fails if they do not match."""
    ((node_id, result, salt),) = node.db(
        "SELECT node_id, result_hash, salt FROM jobs WHERE job_id = ?", job_hex(job_id)
    )
    result = bytes.fromhex(result)
    assert market.job(job_id).commitment == stored_commitment(
        job_id, node_id, result, bytes.fromhex(salt)
    )
    return result


def mine_past_anchor(chain, market, job_id: int) -> None:
    """A drawn job's seats are drawn from a block after its anchor: mine it (anvil only mines a
    block per transaction)."""
    anchor = market.job(job_id).drawBlock
    if anchor:
        chain.mine(max(1, anchor + 1 - chain.blocks.head.number))


def rpc(chain, method: str, *params):
    return chain.provider.make_request(method, list(params))


@pytest.fixture
def start(spawn, tmp_path):
    """spawn() on a machine without a GPU (see no_gpu_path): a node starts seconds sooner."""
    path = no_gpu_path(tmp_path / "bin")

    def _start(i, *extra, **kw):
        return spawn(i, *extra, env={"PATH": path}, **kw)

    return _start


@pytest.fixture
def one_node(setup_node, node_owners, operators):
    """(node id, owner) of a single active node run by operator 0."""
    return setup_node(node_owners[0], operators[0]), node_owners[0]


# ---------------------------------------------------------------------- 1. kill -9
def test_kill9_right_after_claim__restarted_node_runs_job_and_is_paid_once(
    tmp_path, chain, market, registry, one_node, create_job, start
):
    node_id, owner = one_node
    node = start(0)
    uri, h = bundle(tmp_path, "job", job_script("claimed", sleep=2))
    block0, before = chain.blocks.head.number, earned(market, owner)
    job_id = create_job(bundle_hash=h, uri=uri)

    wait_for(lambda: market.job(job_id).replicaCount == 1, 60, what="claim on chain", nodes=[node])
    node.kill9()
    assert replica_state(market, job_id, node_id) == ReplicaState.CLAIMED

    node.start()
    settle_k1(chain, market, [job_id], [node])
    assert committed_result(market, node, job_id) == ok_hash(tmp_path, "claimed")
    assert_paid_once(chain, market, registry, job_id, block0, [owner], [node_id], [before], NET)
    assert len(node.intents(job_id, IntentKind.CLAIM)) == 1
    assert len(claimed_events(chain, market, job_id, block0)) == 1


def test_kill9_during_execution__job_is_run_again_and_paid_once(
    tmp_path, chain, market, registry, one_node, create_job, start
):
    node_id, owner = one_node
    node = start(0)
    uri, h = bundle(tmp_path, "job", job_script("executed", sleep=3))
    block0, before = chain.blocks.head.number, earned(market, owner)
    job_id = create_job(bundle_hash=h, uri=uri)

    wait_for(
        lambda: node.stage(job_id) == Stage.RUNNING, 60, what="execution started", nodes=[node]
    )
    wait_for(
        lambda: f"job {job_hex(job_id)}: execute started" in node.log(),
        10,
        what="sandbox started",
        nodes=[node],
    )
    node.kill9()  # the whole process group: the sandboxed job dies with the node
    assert replica_state(market, job_id, node_id) == ReplicaState.CLAIMED

    node.start()
    settle_k1(chain, market, [job_id], [node])
    assert node.log().count(f"job {job_hex(job_id)}: execute started") == 2
    assert committed_result(market, node, job_id) == ok_hash(tmp_path, "executed")
    assert_paid_once(chain, market, registry, job_id, block0, [owner], [node_id], [before], NET)
    # The chain says paid as soon as the settlement is mined; the node records its own receipts
    # a moment later.
    wait_for(lambda: [i["status"] for i in node.intents(job_id, IntentKind.PROOF)] == [IntentStatus.DONE], 30,
             what="proof intent done", nodes=[node])  # fmt: skip


def test_kill9_after_commit_before_reveal__restarted_node_reveals_its_stored_salt(
    tmp_path, chain, market, registry, setup_node, node_owners, operators, create_job, start
):
    """k = 3, seats drawn. Nodes 1 and 2 draw the seats, accept theirs and are killed while the
    job is still Seating (so they cannot have committed); node 0 accepts its drawn seat last,
    commits, and is killed while the others are down, so its reveal cannot have happened. Nodes 1
    and 2 come back, commit and reveal; node 0 comes back to a Revealing job and reveals with the
    salt it stored before committing."""
    ids = [setup_node(node_owners[i], operators[i]) for i in range(3)]
    uri, h = bundle(tmp_path, "job", job_script("replicated"))
    block0 = chain.blocks.head.number
    before = [earned(market, o) for o in node_owners[:3]]
    others = [start(1), start(2)]
    job_id = create_job(bundle_hash=h, uri=uri, replicas=3)
    mine_past_anchor(chain, market, job_id)

    def seated():
        # A draw can leave node 0's seat empty (each of its attempts lands on a node already
        # seated); the running nodes draw it again from the next anchor, which only a new block
        # can bring: mine it while waiting.
        mine_past_anchor(chain, market, job_id)
        return (
            market.job(job_id).claims == 2
            and replica_state(market, job_id, ids[0]) == ReplicaState.DRAWN
        )

    wait_for(seated, 60, what="two seats accepted, node 0 drawn", nodes=others)
    for n in others:
        n.kill9()
    assert status(market, job_id) == Status.SEATING

    node0 = start(0)
    wait_for(
        lambda: replica_state(market, job_id, ids[0]) == ReplicaState.COMMITTED,
        60,
        what="node 0 committed",
        nodes=[node0],
    )
    node0.kill9()
    assert status(market, job_id) == Status.RUNNING  # the others have not committed: no reveal yet
    assert node0.intents(job_id, IntentKind.REVEAL) == []

    for n in others:
        n.start()
    wait_for(
        lambda: market.job(job_id).reveals == 2, 90, what="nodes 1 and 2 revealed", nodes=others
    )
    assert status(market, job_id) == Status.REVEALING
    assert replica_state(market, job_id, ids[0]) == ReplicaState.COMMITTED

    node0.start()
    wait_status(market, job_id, Status.PAID, [node0, *others])
    assert market.job(job_id).commitment == ok_hash(tmp_path, "replicated")
    each = NET // 3
    assert_paid_once(chain, market, registry, job_id, block0, node_owners[:3], ids, before, each)
    # The node marks an intent done once its receipt is confirmed: a step after the chain moved.
    wait_for(lambda: [i["status"] for i in node0.intents(job_id, IntentKind.REVEAL)] == [IntentStatus.DONE], 30,
             what="node 0's reveal confirmed", nodes=[node0])  # fmt: skip


def test_kill9_between_send_and_receipt__recovered_from_the_mined_transaction(
    tmp_path, chain, market, registry, one_node, create_job, start
):
    """With automine off, the node's proof sits in anvil's mempool when the node dies. After
    mining, the restarted node finds the receipt of the transaction it recorded and never sends
    a second proof."""
    node_id, owner = one_node
    node = start(0)
    uri, h = bundle(tmp_path, "job", job_script("in-flight", sleep=3))
    block0, before = chain.blocks.head.number, earned(market, owner)
    job_id = create_job(bundle_hash=h, uri=uri)
    wait_for(
        lambda: node.stage(job_id) == Stage.RUNNING and node.quiet(),
        60,
        what="job running",
        nodes=[node],
    )

    rpc(chain, "evm_setAutomine", False)
    try:
        sent = wait_for(
            lambda: [
                i
                for i in node.intents(job_id, IntentKind.PROOF)
                if i["status"] == IntentStatus.SENT
            ],
            30,
            what="proof sent",
            nodes=[node],
        )
        node.kill9()
        tx_hash = sent[0]["tx_hash"]
        assert rpc(chain, "eth_getTransactionReceipt", tx_hash) is None  # not mined yet
    finally:
        rpc(chain, "evm_setAutomine", True)
    chain.mine()
    assert replica_state(market, job_id, node_id) == ReplicaState.COMMITTED

    node.start()
    settle_k1(chain, market, [job_id], [node])
    proofs = node.intents(job_id, IntentKind.PROOF)
    assert [(i["status"], i["tx_hash"]) for i in proofs] == [("done", tx_hash)]
    assert committed_result(market, node, job_id) == ok_hash(tmp_path, "in-flight")
    assert_paid_once(chain, market, registry, job_id, block0, [owner], [node_id], [before], NET)


# ---------------------------------------------------------------------- 2. RPC outage
@pytest.fixture
def rpc_proxy(rpc_url):
    host, port = rpc_url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    proxy = TcpProxy(host, int(port)).start()
    yield proxy
    proxy.stop()


def test_rpc_endpoint_away_while_proof_in_flight__node_recovers_alone_and_is_paid(
    tmp_path, chain, market, registry, one_node, create_job, start, rpc_proxy
):
    """The node's endpoint dies while the node waits for its proof's receipt (automine off holds
    the proof in the mempool), and comes back 5 s later. The node gets through the outage on its
    own, finds the receipt of the transaction it sent, and never sends a second proof."""
    node_id, owner = one_node
    node = start(0, rpc_url=rpc_proxy.url)
    uri, h = bundle(tmp_path, "job", job_script("outage", sleep=2))
    block0, before = chain.blocks.head.number, earned(market, owner)
    job_id = create_job(bundle_hash=h, uri=uri)
    wait_for(
        lambda: node.stage(job_id) == Stage.RUNNING and node.quiet(),
        60,
        what="job running",
        nodes=[node],
    )

    rpc(chain, "evm_setAutomine", False)
    try:
        sent = wait_for(
            lambda: [
                i
                for i in node.intents(job_id, IntentKind.PROOF)
                if i["status"] == IntentStatus.SENT
            ],
            30,
            what="proof sent",
            nodes=[node],
        )
        rpc_proxy.stop()
    finally:
        rpc(chain, "evm_setAutomine", True)
    chain.mine()  # the proof is mined while the node cannot see it
    assert replica_state(market, job_id, node_id) == ReplicaState.COMMITTED
    time.sleep(5)
    assert node.alive()
    rpc_proxy.start()

    settle_k1(chain, market, [job_id], [node])
    assert "RPC unreachable" in node.log()  # the outage was felt, and survived
    wait_for(
        lambda: node.intents(job_id, IntentKind.PROOF)[0]["status"] == IntentStatus.DONE,
        10,
        what="proof done",
    )
    proofs = node.intents(job_id, IntentKind.PROOF)
    assert [(i["status"], i["tx_hash"]) for i in proofs] == [("done", sent[0]["tx_hash"])]
    assert committed_result(market, node, job_id) == ok_hash(tmp_path, "outage")
    assert_paid_once(chain, market, registry, job_id, block0, [owner], [node_id], [before], NET)


class LyingRpc(RpcProxy):
    """An RPC endpoint that rewrites the payment in every `JobCreated` log of one bundle, as a
    compromised or malicious provider could, to lure nodes into work the escrow does not pay."""

    def __init__(self, upstream: str, bundle_hash: bytes):
        super().__init__(upstream, name="lying-rpc")
        self.bundle_topic = "0x" + bundle_hash.hex()
        self.rewritten = 0

    def forward(self, path, body, content_type):
        status, data = super().forward(path, body, content_type)
        if b"eth_getLogs" not in body:
            return status, data
        msg = json.loads(data)
        for reply in msg if isinstance(msg, list) else [msg]:
            for log in reply.get("result") or []:
                if isinstance(log, dict) and log["topics"][3:4] == [self.bundle_topic]:
                    words = log["data"][2:]  # word 1 of the data is the payment
                    log["data"] = "0x" + words[:64] + f"{10**24:064x}" + words[128:]
                    self.rewritten += 1
        return status, json.dumps(msg).encode()


def test_lying_rpc_rewrites_a_jobs_payment__node_never_acts_on_it__serves_the_next_job(
    tmp_path, chain, market, one_node, create_job, start, rpc_url
):
    """Job ids are hashes of their terms: a JobCreated whose terms were changed on the way no
    longer hashes to its id, so the node drops it (and says so) instead of claiming a job on terms
    the chain does not hold. The same endpoint's honest answers keep the node working."""
    node_id, _ = one_node
    lure_uri, lure_h = bundle(tmp_path, "lure", job_script("lure"))
    proxy = LyingRpc(rpc_url, lure_h).start()
    try:
        node = start(0, rpc_url=proxy.url)
        lure = create_job(bundle_hash=lure_h, uri=lure_uri)
        uri, h = bundle(tmp_path, "honest", job_script("honest"))
        job_id = create_job(bundle_hash=h, uri=uri)
        wait_status(market, job_id, Status.ACCEPTED, [node])
        assert proxy.rewritten >= 1  # the node did read the forged log
        assert "ignored a JobCreated log" in node.log() and "not the market's event" in node.log()
        assert node.stage(lure) is None and node.intents(lure) == []
        assert (
            status(market, lure) == Status.OPEN
            and replica_state(market, lure, node_id) == ReplicaState.NONE
        )
    finally:
        proxy.stop()


# ---------------------------------------------------------------------- 3. reorg
def test_job_reorged_out_within_confirmation_depth__never_claimed_and_id_reuse_is_served(
    tmp_path, chain, market, client, one_node, create_job, start
):
    """A job lives one block short of the node's 3 confirmations, then a reorg replaces its blocks
    (taking the node's own heartbeat transaction with it). The node never acts on the job; the
    id is reused by another job with another bundle, which the node runs, with no nonce gap."""
    node_id, _ = one_node
    node = start(0, "--confirmations", "3")
    wait_for(node.quiet, 60, what="node started and idle", nodes=[node])
    ghost_uri, ghost_h = bundle(tmp_path, "ghost", job_script("ghost"))
    real_uri, real_h = bundle(tmp_path, "real", job_script("canonical"))
    block0 = chain.blocks.head.number

    snapshot, count = chain.snapshot(), market.jobNonce(client)
    ghost = create_job(bundle_hash=ghost_h, uri=ghost_uri)
    created_at = chain.blocks.head.number
    # A new rewards epoch: the node sends a heartbeat, which the reorg will drop with the job.
    chain.pending_timestamp += EPOCH_LENGTH
    chain.mine()
    # Mined, not yet done: with 3 confirmations an intent is done only 3 blocks deep.
    wait_for(
        lambda: (
            [i["status"] in ("mined", "done") for i in node.intents(kind="heartbeat")]
            == [True, True]
        ),
        30,
        what="heartbeat in the new epoch",
        nodes=[node],
    )
    assert chain.blocks.head.number < created_at + 3  # the job is not yet 3 blocks deep
    chain.restore(snapshot)  # the blocks holding the job are replaced: it never happened
    chain.mine(created_at + 3 - chain.blocks.head.number)  # its height is now 3 blocks deep
    # the node has now looked at the (new) block where the job was: nothing there
    wait_for(
        lambda: (node.cursor() or 0) >= created_at, 30, what="ingest past the fork", nodes=[node]
    )
    time.sleep(1)
    assert market.jobNonce(client) == count
    assert node.stage(ghost) is None and node.intents(ghost) == []
    assert claimed_events(chain, market, ghost, block0) == []

    # the node's next transaction takes the nonce its dropped heartbeat had (no gap)
    job_id = create_job(bundle_hash=real_h, uri=real_uri)
    # The same nonce, other terms: another id (ids are hashes of the terms), and the ghost's id
    # stays unknown to the node.
    assert job_id != ghost and market.jobNonce(client) == count + 1
    chain.mine(3)
    wait_status(market, job_id, Status.ACCEPTED, [node])
    assert committed_result(market, node, job_id) == ok_hash(tmp_path, "canonical")
    assert node.db("SELECT bundle_hash FROM jobs WHERE job_id = ?", job_hex(job_id)) == [
        (real_h.hex(),)
    ]
    assert replica_state(market, job_id, node_id) == ReplicaState.COMMITTED
    assert len(node.intents(job_id, IntentKind.CLAIM)) == 1
    assert node.stage(ghost) is None and node.intents(ghost) == []


# ---------------------------------------------------------------------- 4. bundle hash mismatch
def test_bundle_not_matching_chain_hash__refused_with_reason_never_claimed_node_serves_next(
    tmp_path, chain, market, one_node, create_job, start
):
    node = start(0)
    good_uri, good_h = bundle(tmp_path, "good", job_script("good"))
    evil_uri, _ = bundle(tmp_path, "evil", job_script("evil"))
    bad = create_job(bundle_hash=good_h, uri=evil_uri)  # the URI serves other bytes

    wait_for(
        lambda: node.stage(bad) == Stage.SKIPPED,
        60,
        what="mismatching bundle refused",
        nodes=[node],
    )
    assert "mismatch" in node.reason(bad)
    assert node.intents(bad, IntentKind.CLAIM) == []
    job = market.job(bad)
    assert (Status(job.status), job.replicaCount) == (Status.OPEN, 0)

    good = create_job(bundle_hash=good_h, uri=good_uri)
    wait_status(market, good, Status.ACCEPTED, [node])
    assert committed_result(market, node, good) == ok_hash(tmp_path, "good")
    assert market.job(bad).replicaCount == 0 and node.intents(bad, IntentKind.CLAIM) == []


@pytest.fixture
def trickle_server():
    """An HTTP bundle server that sends one byte every half second: a hostile or dying host."""

    class Trickle(QuietHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(240):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass  # the node gave up: its fetch deadline

    with serving(Trickle) as url:
        yield url("/bundle.tar.gz")


def test_bundle_host_trickling__holds_up_its_own_job_only__the_node_runs_and_proves_the_next(
    tmp_path, market, one_node, create_job, start, trickle_server
):
    """The fetch runs off the node's loop: while one job's bundle crawls in (up to the 60 s fetch
    deadline), the node claims, runs and proves another job."""
    node = start(0)
    slow = create_job(bundle_hash=b"\x22" * 32, uri=trickle_server)
    wait_for(lambda: node.stage(slow) == Stage.SEEN, 30, what="slow job seen", nodes=[node])
    good_uri, good_h = bundle(tmp_path, "good", job_script("good"))
    started = time.monotonic()
    good = create_job(bundle_hash=good_h, uri=good_uri)

    wait_status(market, good, Status.ACCEPTED, [node], timeout=40)

    assert time.monotonic() - started < 40
    assert (
        node.stage(slow) == Stage.SEEN and node.intents(slow, IntentKind.CLAIM) == []
    )  # still crawling in
    assert committed_result(market, node, good) == ok_hash(tmp_path, "good")


# ---------------------------------------------------------------------- 4b. hostile run specs
@pytest.mark.parametrize(
    "manifest, says",
    [
        (dict(env={"PYTHONHASHSEED": "1"}), "PYTHONHASHSEED is pinned"),
        (dict(env={"TES_OUTPUT_DIR": "/tmp"}), "set by the backend"),
        (dict(fanout={"shards": 2, "reduce": [""]}), "entrypoint must be a non-empty list"),
        (dict(time_limit_s=7 * 86_400), "above this node's cap"),
    ],
    ids=["pinned-variable", "backend-variable", "empty-reduce", "time-limit-past-cap"],
)
def test_hostile_run_spec__refused_before_the_claim__no_collateral_locked__node_serves_next(
    tmp_path, chain, market, registry, one_node, create_job, start, manifest, says
):
    """A well-formed bundle whose run spec the backend would refuse only when it starts: claimed,
    it could never be proven and expiry would seize the node's collateral. Preflight refuses it
    before the claim (docs/oracle.md, "Preflight")."""
    node = start(0)
    uri, h = bundle(tmp_path, "hostile", job_script("hostile"), **manifest)
    bad = create_job(bundle_hash=h, uri=uri)

    wait_for(
        lambda: node.stage(bad) == Stage.SKIPPED, 60, what="hostile run spec refused", nodes=[node]
    )
    assert says in node.reason(bad)
    assert node.intents(bad, IntentKind.CLAIM) == []
    assert registry.node(one_node[0]).locked == 0
    good_uri, good_h = bundle(tmp_path, "good", job_script("good"))
    good = create_job(bundle_hash=good_h, uri=good_uri)
    wait_status(market, good, Status.ACCEPTED, [node])
    assert market.job(bad).replicaCount == 0


def test_job_whose_worst_case_cannot_fit_the_execution_window__never_claimed(
    tmp_path, market, one_node, create_job, start
):
    node = start(0)
    uri, h = bundle(tmp_path, "long", job_script("long"), time_limit_s=600)
    job_id = create_job(bundle_hash=h, uri=uri, executionWindow=300)

    wait_for(lambda: node.stage(job_id) == Stage.SKIPPED, 60, what="job refused", nodes=[node])
    assert "does not fit the 300s execution window" in node.reason(job_id)
    assert node.intents(job_id, IntentKind.CLAIM) == []


# ---------------------------------------------------------------------- 5. hostile jobs
NETWORK_JOB = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
except OSError:
    sys.exit(3)  # no network: the sandbox's loopback is its own
open("/out/reached", "w").write("the chain's RPC port")
"""

ESCAPE_JOB = """
import json
tried = {{}}
for path in {paths!r}:
    try:
        with open(path, "w") as f:
            f.write("pwned")
        tried[path] = "written"
    except OSError:
        tried[path] = "denied"
with open("/out/result.json", "w") as f:
    json.dump(tried, f, sort_keys=True)
"""

SLEEPER_JOB = """
import time
time.sleep(60)
open("/out/late", "w").write("never")
"""


def test_hostile_jobs__fail_inside_sandbox_are_proven_and_paid_and_node_serves_next(
    tmp_path, chain, market, registry, one_node, create_job, start, rpc_url
):
    node_id, owner = one_node
    node = start(0)
    port = int(rpc_url.rsplit(":", 1)[1].split("/")[0])
    outside = [str(tmp_path / "pwned"), str(node.data_dir / "pwned"), "/job/pwned", "/etc/pwned"]
    jobs = {
        "network": bundle(tmp_path, "network", NETWORK_JOB.format(port=port)),
        "escape": bundle(tmp_path, "escape", ESCAPE_JOB.format(paths=outside)),
        "sleeper": bundle(tmp_path, "sleeper", SLEEPER_JOB, time_limit_s=2),
    }
    expected = {
        "network": status_hash(tmp_path, status="failed", exit_code=3, limit=None),
        "escape": expected_hash(
            tmp_path, {"result.json": json.dumps(dict.fromkeys(outside, "denied"), sort_keys=True)}
        ),
        "sleeper": status_hash(
            tmp_path, status="timeout", exit_code=None, limit="wall_time_s", limit_value=2.0
        ),
    }
    block0, before = chain.blocks.head.number, earned(market, owner)
    ids = {name: create_job(bundle_hash=h, uri=uri) for name, (uri, h) in jobs.items()}

    settle_k1(chain, market, list(ids.values()), [node])
    for name, job_id in ids.items():
        assert committed_result(market, node, job_id) == expected[name], name
        assert len(paid_events(chain, market, job_id, block0)) == 1, name
    assert earned(market, owner) - before == 3 * NET
    assert registry.node(node_id).completed == 3
    assert not any(Path(p).exists() for p in outside[:2])  # nothing landed on the host
    log = node.log()  # the store's reason now says "paid"; the log keeps why the job failed
    assert f"job {job_hex(ids['network'])} finished failed: exited with code 3" in log
    assert (
        f"job {job_hex(ids['sleeper'])} finished timeout: ran past its 2 s wall-time limit" in log
    )
    stored = node.data_dir / "results" / expected["sleeper"].hex() / STATUS_FILE
    assert json.loads(stored.read_text())["status"] == "timeout"

    good_uri, good_h = bundle(tmp_path, "good", job_script("after-hostile"))
    good = create_job(bundle_hash=good_h, uri=good_uri)
    wait_status(market, good, Status.ACCEPTED, [node])
    assert committed_result(market, node, good) == ok_hash(tmp_path, "after-hostile")


# ---------------------------------------------------------------------- 6. GPUs nobody has
def test_gpu_job_without_gpu__refused_by_capability_and_by_backend_never_claimed(
    tmp_path, chain, market, setup_node, node_owners, operators, create_job, start
):
    """Node 0 declares no GPU: it refuses by its capabilities, without fetching. Node 1 declares a
    GPU but its sandbox backend has none (no_gpu_path): it fetches, reads `resources.gpus = 1` in the manifest,
    and refuses with the backend's reason. Nobody claims; both then serve a CPU job."""
    ids = [
        setup_node(node_owners[0], operators[0], caps=NO_GPU_CAPS),
        setup_node(node_owners[1], operators[1], caps=DEFAULT_CAPS),
    ]
    nodes = [start(0), start(1)]
    gpu_uri, gpu_h = bundle(tmp_path, "gpu", job_script("gpu"), resources={"gpus": 1})
    gpu_job = create_job(bundle_hash=gpu_h, uri=gpu_uri, requirements=(1, 512, 1, 0, 0))

    for n in nodes:
        wait_for(
            lambda n=n: n.stage(gpu_job) == Stage.SKIPPED, 60, what=f"{n.name} refuses", nodes=nodes
        )
    assert "lacks capabilities" in nodes[0].reason(gpu_job)
    reason = nodes[1].reason(gpu_job)
    assert reason.startswith("refused:") and "gpus=1" in reason
    assert all(n.intents(gpu_job, IntentKind.CLAIM) == [] for n in nodes)
    assert market.job(gpu_job).replicaCount == 0

    cpu_uri, cpu_h = bundle(tmp_path, "cpu", job_script("cpu"))
    cpu_job = create_job(bundle_hash=cpu_h, uri=cpu_uri)
    wait_status(market, cpu_job, Status.ACCEPTED, nodes)
    winner = nodes[ids.index(market.replica(cpu_job, 0).nodeId)]
    assert committed_result(market, winner, cpu_job) == ok_hash(tmp_path, "cpu")
    assert market.job(gpu_job).replicaCount == 0


# ---------------------------------------------------------------------- 7. a chain with block time
@pytest.fixture
def block_time(chain):
    """block_time(seconds): from now on a block every `seconds` instead of one per transaction,
    as on a real chain; back to automine at teardown."""

    def _set(seconds: int) -> None:
        rpc(chain, "evm_setAutomine", False)
        rpc(chain, "evm_setIntervalMining", seconds)

    yield _set
    rpc(chain, "evm_setIntervalMining", 0)
    rpc(chain, "evm_setAutomine", True)


def test_k3_replicas_in_the_same_blocks__last_reveal_settles_and_all_are_paid(
    tmp_path,
    chain,
    market,
    registry,
    setup_node,
    node_owners,
    operators,
    create_job,
    start,
    block_time,
):
    """With block time, the three reveals land in one block; two of them were estimated before
    any other was mined, and whichever lands last also settles and pays the job, which costs far
    more gas than its estimate. The node must retry a transaction that ran out of gas."""
    ids = [setup_node(node_owners[i], operators[i]) for i in range(3)]
    uri, h = bundle(tmp_path, "job", job_script("same-block"))
    block0 = chain.blocks.head.number
    before = [earned(market, o) for o in node_owners[:3]]
    nodes = [start(i) for i in range(3)]
    wait_for(lambda: all(n.quiet() for n in nodes), 60, what="nodes started", nodes=nodes)
    job_id = create_job(bundle_hash=h, uri=uri, replicas=3)
    block_time(2)

    wait_status(market, job_id, Status.PAID, nodes, timeout=90)
    assert market.job(job_id).commitment == ok_hash(tmp_path, "same-block")
    assert_paid_once(
        chain, market, registry, job_id, block0, node_owners[:3], ids, before, NET // 3
    )
    for n in nodes:  # each node records its last receipt a moment after the chain says paid
        wait_for(lambda n=n: [i["status"] for i in n.intents(job_id, IntentKind.REVEAL)] == [IntentStatus.DONE], 30,
                 what="reveal intent done", nodes=nodes)  # fmt: skip


@pytest.fixture
def node_in_process(tmp_path, rpc_url, record):
    """node_in_process(operator) -> a Node object in this process (not a `tes-node` process), for
    what a test must count or break; closed (its data-directory and key locks released) after."""
    from eth_account import Account

    from oracle.node.loop import Node
    from oracle.node.settings import Settings

    made = []

    def _make(operator):
        settings = Settings(
            rpc_url=rpc_url, deployment=record, data_dir=tmp_path / "node", allow_unsafe=True
        )
        made.append(Node(settings, key=Account.from_key(operator.private_key)))
        return made[-1]

    yield _make
    for node in made:
        node.close()


def test_intake_that_keeps_failing__the_job_is_dropped_after_five_steps_with_the_reason(
    node_in_process, setup_node, node_owners, operators, create_job, monkeypatch
):
    from oracle.node import store as st
    from oracle.node.intake import MAX_INTAKE_ERRORS

    setup_node(node_owners[0], operators[0])
    node = node_in_process(operators[0])
    job_id = create_job()
    node.store.upsert_job(
        job_id, stage=st.SEEN, bundle_uri="file:///nowhere", bundle_hash="11" * 32
    )

    def broken(*args, **kwargs):  # a bug or a hostile job that trips one (not a refusal)
        raise ValueError("unexpected byte 0xff")

    monkeypatch.setattr(node.intake, "consider", broken)
    for step in range(1, MAX_INTAKE_ERRORS + 1):
        node.view.reset()
        node._drive_all([node.store.job(job_id)])
        assert (node.store.job(job_id)["stage"] == st.SKIPPED) == (step == MAX_INTAKE_ERRORS), step

    reason = node.store.job(job_id)["reason"]
    assert reason == f"intake failed {MAX_INTAKE_ERRORS} times: ValueError: unexpected byte 0xff"


# ---------------------------------------------------------------------- scale
def test_node_without_node_ids__a_step_makes_no_call_per_licence_minted(
    node_in_process, licence, setup_node, node_owners, operators, stranger
):
    """A node that serves every licence bound to its key finds them from OperatorBound events,
    scanned incrementally: minting more licences (to anyone) adds no RPC call to its step."""
    from oracle.localnet.bench.network import count_requests
    from tests.utils.constants import TIER_PRICE

    node_id = setup_node(node_owners[0], operators[0])
    node = node_in_process(operators[0])
    calls = count_requests(node.chain.w3)

    def refresh() -> int:
        calls.clear()
        node.view.reset()
        node.licences.refresh()
        return sum(calls.values())

    first = refresh()
    assert node_id in node.licences and calls["eth_getLogs"] == 1
    quiet = refresh()
    licence.buy(0, 30, value=30 * TIER_PRICE, sender=stranger)  # licences this key will never run

    after = refresh()

    assert node_id in node.licences
    assert after == quiet <= first, (first, quiet, after, dict(calls))
    assert calls["eth_getLogs"] == 1 and calls["eth_call"] <= 2 * len(node.licences.records)


# ---------------------------------------------------------------------- copying
def test_copy_attempt__a_lazy_seat_and_the_client_ask_committed_nodes_for_the_result__refused(
    tmp_path, chain, market, registry, setup_node, node_owners, operators, client, create_job, start
):
    """A k = 3 job: two real nodes run it and commit; the third seat's operator accepted its seat
    but runs nothing, and asks the committed nodes for their result (with a validly signed
    request of its own) to commit the same hash. Neither it nor the job's own client (who could
    pass the files on) gets a byte before the job is paid: no hash, no files, no salt."""
    import urllib.error
    import urllib.request

    from oracle.core.result_request import sign_result_request

    ids = [setup_node(node_owners[i], operators[i]) for i in range(3)]
    uri, h = bundle(tmp_path, "job", job_script("copy-me"))
    nodes = [start(i) for i in range(2)]
    wait_for(lambda: all(n.quiet() for n in nodes), 60, what="nodes started", nodes=nodes)
    job_id = create_job(bundle_hash=h, uri=uri, replicas=3)
    mine_past_anchor(chain, market, job_id)
    wait_for(lambda: replica_state(market, job_id, ids[2]) == ReplicaState.DRAWN, 60,
             what="the lazy seat drawn", nodes=nodes)  # fmt: skip
    market.acceptSeat(job_id, ids[2], sender=operators[2])
    for node_id in ids[:2]:
        wait_for(lambda n=node_id: replica_state(market, job_id, n) == ReplicaState.COMMITTED, 90,
                 what=f"node {node_id} committed", nodes=nodes)  # fmt: skip
    assert status(market, job_id) == Status.RUNNING  # the lazy seat has not committed

    logs = registry.EndpointAnnounced.range(0, chain.blocks.head.number + 1)
    urls = {e.nodeId: e.url for e in logs}
    secret = ok_hash(tmp_path, "copy-me").hex()
    for node_id in ids[:2]:
        # The stranger is refused as one (403); the client is known but the result is not released
        # before the job is paid (404, saying so).
        for who, code in ((operators[2], 403), (client, 404)):
            headers = sign_result_request(
                who.private_key, job_id, node_id, chain.chain_id, market.address
            )
            req = urllib.request.Request(f"{urls[node_id]}/results/{job_id}", headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(req, timeout=10)  # noqa: S310 (loopback test node)
            body = refused.value.read().decode()
            assert refused.value.code == code, (who, body)
            assert code == 403 or "not released while the job is running" in body
            assert secret not in body
            assert not any("salt" in k.lower() for k in refused.value.headers)
    assert replica_state(market, job_id, ids[2]) == ReplicaState.CLAIMED  # it got nothing to commit


def test_a_step_for_a_finished_run_reads_nothing_new_from_the_chain(
    node_in_process, setup_node, node_owners, operators
):
    """A run that ends before the next poll wakes a step that collects it without polling
    (`Node.run`): no head block, no eth_getLogs, no licence read, nothing sent."""
    from oracle.localnet.bench.network import count_requests

    setup_node(node_owners[0], operators[0])
    node = node_in_process(operators[0])
    calls = count_requests(node.chain.w3)
    node.step()  # the first poll: head, events, licences, the epoch's heartbeat
    node.step()
    assert calls["eth_getBlockByNumber"] >= 2 and calls["eth_getLogs"] >= 1, dict(calls)
    calls.clear()
    node.step(poll=False)
    assert sum(calls.values()) == 0, dict(calls)
