"""A burst of jobs (`Client.submit_many`) on anvil against a real `tes-node`: the node quotes the
burst in one POST /quotes, the client sends one transaction per job back to back (consecutive
quote and permit nonces, estimated against the pending state) and every job is created once,
assigned, run and paid once. Wrong inputs or missing funds stop the burst before anything is
sent; a hostile node's forged quotes cost nothing: the jobs are posted open, each escrowed once."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from oracle.client.errors import ClientError
from oracle.client.sdk import Client, JobSpec
from oracle.core.quote import BatchItem, QuoteBatchAnswer, QuoteBatchAsk, QuoteOffer, sign_quote
from oracle.node.store import IntentKind
from tests.utils.constants import E18, WINDOWS
from tests.utils.http import QuietHandler, serving
from tests.utils.market import Status
from tests.utils.nodes import PASSPHRASE, make_bundle, make_keystore, wait_for

pytestmark = pytest.mark.anvil

SCRIPT = """
import os
open(os.path.join(os.environ["TES_OUTPUT_DIR"], "answer.txt"), "w").write("%d")
"""
N = 5
TES_CLIENT = Path(sys.executable).parent / "tes-client"


@pytest.fixture
def quoting(tmp_path, client, setup_node, node_owners, operators, fund, spawn, record, rpc_url):
    """A node of ours running and announced, a funded client's SDK and n bundles of the script:
    (sdk, node id, node process, files, specs paying 5 TES each)."""

    def make(n: int):
        node_id = setup_node(node_owners[0], operators[0])
        node = spawn(0)
        fund(client, 100 * E18)
        sdk = Client.connect(rpc_url, record, Account.from_key(client.private_key))
        wait_for(lambda: sdk.endpoints([node_id]).get(node_id) is not None, 60,
                 what="endpoint announced", nodes=[node])  # fmt: skip
        files = [make_bundle(tmp_path / str(i), SCRIPT % i) for i in range(n)]
        specs = [JobSpec(path, uri, 5 * E18, windows=WINDOWS) for uri, _, path in files]
        return sdk, node_id, node, files, specs

    return make


def test_a_burst_is_quoted_at_once__sent_back_to_back__each_job_created_run_and_paid_once(
    tmp_path, chain, market, registry, token, client, operators, record, rpc_url, ape_data, quoting
):  # fmt: skip
    sdk, node_id, node, files, specs = quoting(N)
    nonce, sent0 = market.quoteNonce(client), client.nonce
    wallet = token.balanceOf(client)

    # ---- wrong inputs or too little money: refused before any transaction
    cheap = JobSpec(files[0][2], files[0][0], 1, windows=WINDOWS)
    with pytest.raises(ClientError, match="minimum job fee"):
        sdk.submit_many([*specs[:2], cheap])
    rich = [JobSpec(path, uri, 60 * E18, windows=WINDOWS) for uri, _, path in files[:2]]
    with pytest.raises(ClientError, match="insufficient TES balance"):
        sdk.submit_many(rich)
    assert client.nonce == sent0

    # ---- the burst: one transaction per job (a permit each, no approve), all on quotes, checked
    # by one simulation of the chunk in order instead of an estimate each (anvil answers
    # eth_simulateV1), and sent together in one JSON-RPC batch: two round trips for the chunk
    block0 = chain.blocks.head.number
    calls: list[str] = []
    batched: list[list[str]] = []
    provider, eth = sdk.w3.provider, sdk.w3.eth
    seen = {"make_request": provider, "estimate_gas": eth, "send_raw_transaction": eth}
    for name, owner in seen.items():
        real = getattr(owner, name)
        setattr(owner, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    real_batch = provider.make_batch_request
    provider.make_batch_request = lambda reqs: (
        batched.append([m for m, _ in reqs]) or real_batch(reqs)
    )
    done = sdk.submit_many(specs)
    for name, owner in seen.items():
        delattr(owner, name)
    del provider.make_batch_request
    assert calls.count("estimate_gas") == 0 and calls.count("send_raw_transaction") == 0, calls
    assert calls.count("make_request") == 1  # the one eth_simulateV1 of the chunk
    assert batched == [["eth_sendRawTransaction"] * N]  # and the one batch of its N jobs
    assert [d.error for d in done] == [None] * N
    ids = [d.job_id for d in done]
    assert len(set(ids)) == N and all(d.node_id == node_id for d in done)
    assert client.nonce == sent0 + N
    assert market.quoteNonce(client) == nonce + N
    assert wallet - token.balanceOf(client) == N * 5 * E18
    created = market.JobCreated.range(block0, chain.blocks.head.number + 1)
    assert sorted((e.jobId, bytes(e.bundleHash)) for e in created) == sorted(
        (job_id, h) for job_id, (_, h, _) in zip(ids, files, strict=True)
    )
    for job_id in ids:
        assert Status(market.job(job_id).status) in (Status.RUNNING, Status.ACCEPTED)
    wait_for(lambda: all(Status(market.job(j).status) == Status.ACCEPTED for j in ids), 120,
             what="the burst proven", nodes=[node])  # fmt: skip
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    wait_for(lambda: all(Status(market.job(j).status) == Status.PAID for j in ids), 60,
             what="the burst paid", nodes=[node])  # fmt: skip
    paid = market.JobPaid.range(block0, chain.blocks.head.number + 1)
    assert sorted(e.jobId for e in paid) == sorted(ids)
    for job_id in ids:  # the node never claimed: each seat came with the client's transaction
        assert IntentKind.CLAIM.value not in {i["kind"] for i in node.intents(job_id)}
    for d, i in zip(done, range(N), strict=True):
        assert d.job_id is not None and sdk.fetch(d.job_id, tmp_path / f"out{i}") is not None
        assert (tmp_path / f"out{i}" / "answer.txt").read_text() == str(i)

    # ---- the same from the command line: several bundles, one --uri each, one line per job
    make_keystore(ape_data, "client", client.private_key)
    env = {**os.environ, "TES_RPC_URL": rpc_url, "TES_DEPLOYMENT": str(record), "APE_DATA_FOLDER": str(ape_data),
           "TES_PASSPHRASE": PASSPHRASE, "TES_CLIENT_ACCOUNT": "client"}  # fmt: skip
    args = [str(TES_CLIENT), "submit", str(files[0][2]), str(files[1][2]), "--uri", files[0][0]]
    short = subprocess.run(
        [*args, "--payment", "5"], env=env, capture_output=True, text=True, timeout=60
    )
    assert short.returncode != 0 and "2 bundle(s) but 1 --uri" in short.stderr, short.stderr
    out = subprocess.run([*args, "--uri", files[1][0], "--payment", "5", "--json"], env=env,
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["bundle"] for r in rows] == [str(files[0][2]), str(files[1][2])]
    assert all(r["error"] is None and r["node_id"] == node_id for r in rows), rows
    for r, (_, h, _) in zip(rows, files, strict=False):
        (ev,) = market.JobCreated.range(
            block0, chain.blocks.head.number + 1, search_topics={"jobId": int(r["job_id"], 16)}
        )
        assert bytes(ev.bundleHash) == h
    assert "2 of 2 job(s) created, 10 TES escrowed" in out.stderr
    assert market.quoteNonce(client) == nonce + N + 2

    # ---- a hostile node answers the burst with well-formed, well-numbered quotes signed by a key
    # that operates nothing: the simulation refuses the first, so does its estimate (which says
    # why), no later one is tried, every job is posted open and escrowed once, and no quote nonce
    # is used
    node.stop()
    forger = Account.create()

    class Forged(QuietHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            ask = QuoteBatchAsk.model_validate_json(
                self.rfile.read(int(self.headers["Content-Length"]))
            )
            items = []
            for k, wire in enumerate(ask.requests):
                q = sign_quote(forger.key, chain.chain_id, market.address, wire.request(), ask.client,
                               ask.nonce + k, node_id, chain.pending_timestamp + 600)  # fmt: skip
                items.append(BatchItem(offer=QuoteOffer.of(q, wire.request()), nonce=ask.nonce + k))
            body = QuoteBatchAnswer(items=items).model_dump_json().encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Forged) as url:
        registry.announceEndpoint(node_id, url(""), sender=operators[0])
        sdk = Client.connect(rpc_url, record, Account.from_key(client.private_key))
        wallet, sent0 = token.balanceOf(client), client.nonce
        warnings: list[str] = []
        forged = sdk.submit_many(specs[:3], warn=warnings.append)
    assert [d.error for d in forged] == [None] * 3 and all(d.node_id is None for d in forged)
    assert sum("quote could not be used" in w for w in warnings) == 1, warnings
    assert all(Status(market.job(d.job_id).status) == Status.OPEN for d in forged)
    assert wallet - token.balanceOf(client) == 3 * 5 * E18
    assert client.nonce == sent0 + 3  # no reverted transaction: the estimate refused the forgery
    assert market.quoteNonce(client) == nonce + N + 2


def test_an_endpoint_refuses_one_transaction_of_a_burst_batch__no_later_one_is_stranded(
    market, token, client, quoting, monkeypatch
):
    """The endpoint takes the chunk's batch but refuses its second transaction (a hosted RPC's
    rate limit, say): that nonce stays empty, which would keep the later ones out of every block
    (and the burst waiting on their receipts). The client fills the hole with an empty transfer to
    itself: the first job is created and paid for, the refused one says so, and the later ones,
    signed past quote and permit nonces that went unused, revert on chain without moving money."""
    import oracle.client.sdk as sdk_module
    from oracle.core.chain import RawTxRefused, send_raw_batch

    sdk, node_id, _, _, specs = quoting(4)
    wallet, sent0 = token.balanceOf(client), client.nonce

    def refuses_the_second(w3, raws):
        answers = send_raw_batch(w3, raws[:1] + raws[2:])
        assert answers is not None
        return [answers[0], RawTxRefused({"code": -32005, "message": "rate limited"}), *answers[1:]]

    with monkeypatch.context() as m:
        m.setattr(sdk_module, "send_raw_batch", refuses_the_second)
        done = sdk.submit_many(specs)
    assert done[0].error is None and done[0].node_id == node_id
    assert done[1].error is not None and "rate limited" in done[1].error
    assert all(d.job_id is None and "reverted" in (d.error or "") for d in done[2:]), done
    assert client.nonce == sent0 + 4  # every nonce mined: job 0, the filler, jobs 2 and 3
    assert wallet - token.balanceOf(client) == 5 * E18  # only the created job paid
    assert Status(market.job(done[0].job_id).status) in (Status.RUNNING, Status.ACCEPTED)
    # the client reads its counters again: the next burst is quoted and created as usual
    again = sdk.submit_many(specs[1:2])
    assert again[0].error is None and again[0].node_id == node_id


def test_an_endpoint_without_batches__the_burst_sends_one_transaction_at_a_time(
    quoting, monkeypatch
):
    import oracle.client.sdk as sdk_module

    sdk, node_id, _, _, specs = quoting(3)
    sends: list[bytes] = []
    real_send = sdk.w3.eth.send_raw_transaction
    with monkeypatch.context() as m:
        m.setattr(
            sdk.w3.eth, "send_raw_transaction", lambda raw: sends.append(raw) or real_send(raw)
        )
        m.setattr(sdk_module, "send_raw_batch", lambda w3, raws: None)
        done = sdk.submit_many(specs)
    assert len(sends) == 3 and [d.error for d in done] == [None] * 3
    assert all(d.node_id == node_id for d in done) and len({d.job_id for d in done}) == 3
