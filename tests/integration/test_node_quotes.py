"""Quotes end to end on anvil: a real `tes-node` process serves POST /quote at the URL it announced
on chain, the client SDK asks it and creates the job already assigned (createAndAssign: one
transaction, no claim), the node adopts the job from the chain, runs it, proves it and is paid.
Attackers at the endpoint (malformed, k = 3, underpriced, more collateral than the stake) are
refused; a client who takes its bundle down after the quote cannot make the node miss the job;
a client whose quote cannot be used (the node went away, or a hostile node forges one) gets its
job posted open, paid once; and
`tes-client jobs` rebuilds the client's jobs from the chain alone."""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from eth_account import Account

from oracle.client.sdk import Client
from oracle.core.quote import NO_PERMIT, QuoteAsk, QuoteOffer, sign_quote
from oracle.node.store import IntentKind
from tests.utils.constants import E18, WINDOWS
from tests.utils.market import Status
from tests.utils.nodes import PASSPHRASE, make_bundle, make_keystore, wait_for

pytestmark = pytest.mark.anvil
TES_CLIENT = Path(sys.executable).parent / "tes-client"

SCRIPT = """
import os
open(os.path.join(os.environ["TES_OUTPUT_DIR"], "answer.txt"), "w").write(str(6 * 7))
"""


def _announced(sdk: Client, node_id: int) -> str | None:
    return sdk.endpoints([node_id]).get(node_id)


def test_k1_job_by_quote__assigned_at_creation_run_and_paid__hostile_asks_refused__open_fallback(
    tmp_path, chain, market, registry, token, client, setup_node, node_owners, operators, fund, spawn, record,
    rpc_url, ape_data,
):  # fmt: skip
    node_id = setup_node(node_owners[0], operators[0])
    node = spawn(0)
    fund(client, 100 * E18)
    sdk = Client.connect(rpc_url, record, Account.from_key(client.private_key))
    wait_for(
        lambda: _announced(sdk, node_id) is not None, 60, what="endpoint announced", nodes=[node]
    )
    url = _announced(sdk, node_id)
    uri, bundle_hash, bundle = make_bundle(tmp_path, SCRIPT)
    nonce = market.quoteNonce(client)

    # ---- hostile or unquotable asks at the node's endpoint: refused with the reason
    base = QuoteAsk.of(
        (bundle_hash, uri, (1, 256, 0, 0, 0), 5 * E18, E18, 1, 600, 600, 600, 3_600),
        client.address, nonce,
    ).model_dump()  # fmt: skip
    cases = [
        ({**base, "replicas": 3}, 422, "only k = 1"),
        ({**base, "payment": 1}, 409, "below margin"),
        ({**base, "collateral": 10**9 * E18}, 409, "too little free stake"),
        (
            {**base, "requirements": {**base["requirements"], "gpuCount": 4}},
            409,
            "lacks capabilities",
        ),
        ({**base, "bundleHash": "0x" + "22" * 32}, 409, "refused"),  # the URI serves another bundle
        ({"bundleHash": "0x11"}, 400, "malformed"),
    ]
    for ask, code, says in cases:
        got = requests.post(f"{url}/quote", json=ask, timeout=30)
        assert (got.status_code, says in got.text) == (code, True), (ask, got.status_code, got.text)

    # ---- the SDK asks, the node quotes, createAndAssign creates the job with its seat
    block0 = chain.blocks.head.number
    job_id = sdk.submit(bundle, uri, 5 * E18, windows=WINDOWS)
    assert sdk.assigned == {job_id: node_id}
    assert market.quoteNonce(client) == nonce + 1
    assert Status(market.job(job_id).status) == Status.RUNNING
    (created,) = market.JobCreated.range(
        block0, chain.blocks.head.number + 1, search_topics={"jobId": job_id}
    )
    (claimed,) = market.JobClaimed.range(
        block0, chain.blocks.head.number + 1, search_topics={"jobId": job_id}
    )
    assert created.transaction_hash == claimed.transaction_hash and claimed.nodeId == node_id

    wait_for(lambda: Status(market.job(job_id).status) == Status.ACCEPTED, 90, what="quoted job proven",
             nodes=[node])  # fmt: skip
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    wait_for(lambda: Status(market.job(job_id).status) == Status.PAID, 60, what="quoted job paid",
             nodes=[node])  # fmt: skip
    # the node never sent a claim: the seat came with the client's transaction
    kinds = {i["kind"] for i in node.intents(job_id)}
    assert IntentKind.CLAIM.value not in kinds and IntentKind.PROOF.value in kinds, kinds
    assert sdk.fetch(job_id, tmp_path / "result") is not None
    assert (tmp_path / "result" / "answer.txt").read_text() == "42"

    # ---- a client takes its bundle down right after the quote: the node runs the copy it fetched
    # for the quote (a job it cannot fetch would cost it its collateral)
    gone_uri, gone_hash, gone_file = make_bundle(
        tmp_path / "gone", SCRIPT.replace("6 * 7", "6 * 9")
    )
    request = (gone_hash, gone_uri, (1, 256, 0, 0, 0), 5 * E18, E18, 1, WINDOWS["claimWindow"],
               WINDOWS["executionWindow"], WINDOWS["revealWindow"], WINDOWS["disputeWindow"])  # fmt: skip
    got = requests.post(f"{url}/quote", json=QuoteAsk.of(request, client.address, nonce + 1).model_dump(),
                        timeout=30)  # fmt: skip
    assert got.status_code == 200, got.text
    quote = QuoteOffer.model_validate(got.json()).quote(client.address, nonce + 1)
    gone_file.unlink()
    token.approve(market, 5 * E18, sender=client)
    tx = market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)
    taken = tx.decode_logs(market.JobCreated)[0].jobId
    wait_for(lambda: Status(market.job(taken).status) == Status.ACCEPTED, 90,
             what="job of a taken-down bundle proven", nodes=[node])  # fmt: skip
    # the key sent transactions outside the SDK: a new client reads its nonces again
    sdk = Client.connect(rpc_url, record, Account.from_key(client.private_key))

    # ---- `--open`: posted open, claimed by the node as before
    open_job = sdk.submit(bundle, uri, 5 * E18, windows=WINDOWS, quote=False)
    assert open_job not in sdk.assigned
    wait_for(lambda: market.job(open_job).claims == 1, 60, what="open job claimed", nodes=[node])
    assert IntentKind.CLAIM.value in {i["kind"] for i in node.intents(open_job)}

    # ---- the node went away: no quote, the job is posted open and nothing is lost
    node.stop()
    warnings: list[str] = []
    started = time.monotonic()
    fallback = sdk.submit(bundle, uri, 5 * E18, windows=WINDOWS, warn=warnings.append)
    assert time.monotonic() - started < 30
    assert fallback not in sdk.assigned
    assert Status(market.job(fallback).status) == Status.OPEN
    assert market.quoteNonce(client) == nonce + 2  # no quote was used
    assert any("no answer to /quote from" in w for w in warnings), warnings

    # ---- a hostile node answers every ask with a well-formed quote for exactly the request, signed
    # by a key that operates nothing: the market refuses it at the estimate, the job is posted open,
    # one payment is escrowed and no quote nonce is used
    forger = Account.create()

    class Forged(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            ask = QuoteAsk.model_validate_json(self.rfile.read(int(self.headers["Content-Length"])))
            quote = sign_quote(forger.key, chain.chain_id, market.address, ask.request(), ask.client,
                               ask.nonce, node_id, chain.pending_timestamp + 600)  # fmt: skip
            body = QuoteOffer.of(quote, ask.request()).model_dump_json().encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    hostile = ThreadingHTTPServer(("127.0.0.1", 0), Forged)
    threading.Thread(target=hostile.serve_forever, daemon=True).start()
    try:
        registry.announceEndpoint(
            node_id, f"http://127.0.0.1:{hostile.server_address[1]}", sender=operators[0]
        )
        sdk = Client.connect(rpc_url, record, Account.from_key(client.private_key))
        paid = token.balanceOf(client)
        warnings.clear()
        forged = sdk.submit(bundle, uri, 5 * E18, windows=WINDOWS, warn=warnings.append)
    finally:
        hostile.shutdown()
    assert any("quote could not be used" in w for w in warnings), warnings
    assert forged not in sdk.assigned and Status(market.job(forged).status) == Status.OPEN
    assert paid - token.balanceOf(client) == 5 * E18
    assert market.quoteNonce(client) == nonce + 2

    # ---- `tes-client jobs`: the client's jobs rebuilt from the chain alone (a fresh machine: no
    # SDK state, no local file), terms as created, quoted ones marked
    make_keystore(ape_data, "client", client.private_key)
    env = {**os.environ, "TES_RPC_URL": rpc_url, "TES_DEPLOYMENT": str(record), "APE_DATA_FOLDER": str(ape_data),
           "TES_PASSPHRASE": PASSPHRASE, "TES_CLIENT_ACCOUNT": "client"}  # fmt: skip
    out = subprocess.run([str(TES_CLIENT), "jobs", "--json"], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout  # fmt: skip
    rows = {int(r["job_id"], 16): r for r in map(json.loads, out.splitlines())}
    assert set(rows) == {job_id, taken, open_job, fallback, forged}
    assert (rows[job_id]["status"], rows[job_id]["nodes"], rows[job_id]["assigned"]) == (
        "paid",
        [node_id],
        True,
    )
    assert rows[taken]["assigned"] and rows[taken]["bundle_hash"] == "0x" + gone_hash.hex()
    assert (rows[open_job]["nodes"], rows[open_job]["assigned"]) == ([node_id], False)
    assert (rows[fallback]["status"], rows[fallback]["nodes"]) == ("open", [])
    assert (rows[forged]["status"], rows[forged]["assigned"]) == ("open", False)
    assert {r["payment"] for r in rows.values()} == {str(5 * E18)} and rows[fallback][
        "bundle_uri"
    ] == uri
    active = subprocess.run([str(TES_CLIENT), "jobs", "--json", "--active"], env=env, capture_output=True,
                            text=True, timeout=60, check=True).stdout  # fmt: skip
    assert job_id not in {int(json.loads(line)["job_id"], 16) for line in active.splitlines()}
