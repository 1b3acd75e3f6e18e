"""The `ape run` scripts against a real chain node, the way a user runs them.

`deploy` runs once as a real `ape run deploy` subprocess; the other scripts' click commands run
in-process (click's CliRunner) and connect to the same anvil over its URL
(`--network http://127.0.0.1:PORT`), exactly as `ape run <script>` would. The test itself reads
and moves the chain through the contracts of the record the deploy script wrote.
"""

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from oracle.ape_helpers import ScriptError, format_tes
from oracle.core import bundle as bundles
from oracle.localnet.deployment import CONTRACT_NAMES, attach, check_wiring, load_record
from tests.utils.constants import (
    E18,
    GENESIS_SUPPLY,
    JOB_COLLATERAL,
    JOB_PAYMENT,
    MIN_STAKE,
    NO_REQUIREMENTS,
    TIER_PRICE,
    UNBONDING_DELAY,
    WINDOWS,
)
from tests.utils.market import NodeStatus, Status, terms_of
from tests.utils.nodes import PASSPHRASE, TES_NODE, make_bundle, make_keystore, no_gpu_path

pytestmark = pytest.mark.anvil

REPO = Path(__file__).resolve().parents[2]
APE = Path(sys.executable).parent / "ape"
EPOCH = 3_600
CAPS = (4, 8_192, 0, 0, 0)
DEPLOYER, TREASURY, CLIENT, OWNER, OPERATOR, STRANGER = (f"TEST::{i}" for i in (0, 1, 2, 3, 4, 6))


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def deploy_run(tmp_path_factory, rpc_url):
    """(record path, stdout) of a real `ape run deploy` against the session's anvil."""
    path = tmp_path_factory.mktemp("deployments") / "local.json"
    cmd = [
        str(APE), "run", "deploy", "--network", rpc_url, "--account", DEPLOYER,
        "--treasury", TREASURY, "--deployment", str(path), "--epoch-length", f"{EPOCH}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return path, proc.stdout


@pytest.fixture(scope="module")
def tes(project, deploy_run):
    return attach(project, load_record("local", deploy_run[0]))


@pytest.fixture(scope="module")
def script(rpc_url, deploy_run):
    """script(name, *args, account=...) -> click Result of `ape run <name> ...`."""

    def _run(name, *args, account):
        cli = importlib.import_module(f"scripts.{name}").cli
        argv = ["--network", rpc_url, "--deployment", str(deploy_run[0]), "--account", account]
        return invoke(cli, [*argv, *map(str, args)], rpc_url)

    return _run


def invoke(cli, argv, rpc_url):
    try:
        result = CliRunner().invoke(cli, argv)
    finally:
        # Each `ape run` is a fresh process with a fresh connection. In one process ape keeps the
        # first connection to a URL and hands a later command a second, disconnected instance as
        # its `provider` argument (ape 0.8.51): forget the connection, as a new process would.
        from ape.api.networks import ProviderContextManager

        cache = ProviderContextManager.connected_providers
        for key in [k for k in cache if k.startswith(rpc_url)]:
            cache.pop(key).disconnect()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def failed(result):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def give_tes(tes, accounts):
    def _fund(account, amount):
        tes.token.transfer(account, amount, sender=accounts[1])

    return _fund


@pytest.fixture
def ready_node(tes, accounts, give_tes):
    """An active node of OWNER run by OPERATOR with MIN_STAKE, set up through the contracts."""
    owner, operator = accounts[3], accounts[4]
    tx = tes.licence.buy(0, 1, value=TIER_PRICE, sender=owner)
    node_id = tx.decode_logs(tes.licence.LicencesPurchased)[0].firstTokenId
    tes.registry.bindOperator(node_id, operator, sender=owner)
    tes.registry.acceptOperator(node_id, sender=operator)
    tes.registry.declareCapabilities(node_id, CAPS, sender=owner)
    give_tes(owner, MIN_STAKE)
    tes.token.approve(tes.registry, MIN_STAKE, sender=owner)
    tes.registry.stake(node_id, MIN_STAKE, sender=owner)
    tes.registry.activate(node_id, sender=owner)
    return node_id


def advance(chain, seconds):
    chain.pending_timestamp += seconds
    chain.mine()


# ---------------------------------------------------------------------- deploy
def test_deploy__writes_the_record_with_abis_and_the_wiring_checks(
    deploy_run, tes, chain, accounts
):
    path, out = deploy_run
    raw = json.loads(path.read_text())

    assert raw["network"] == "local" and raw["chainId"] == chain.chain_id
    assert set(raw["abis"]) == set(CONTRACT_NAMES)
    assert "Wiring checked" in out and f"Record: {path}" in out
    for name, address in raw["contracts"].items():
        assert re.search(rf"{name}\s+{address}", out)
    check_wiring(tes)
    assert tes.token.balanceOf(accounts[1]) == GENESIS_SUPPLY  # --treasury TEST::1
    assert tes.rewards.epochLength() == EPOCH and raw["params"]["epoch_length"] == EPOCH


def test_deploy__on_a_live_network__keeps_an_existing_record_and_wants_a_treasury(
    script, deploy_run, monkeypatch, tmp_path
):
    monkeypatch.setattr(
        importlib.import_module("scripts.deploy"), "is_dev_network", lambda _: False
    )
    before = deploy_run[0].read_text()

    out = failed(script("deploy", account=DEPLOYER))
    assert "already records a deployment" in out and "--force" in out
    assert deploy_run[0].read_text() == before

    out = failed(script("deploy", "--deployment", tmp_path / "new.json", account=DEPLOYER))
    assert "--treasury is required on a live network" in out
    assert not (tmp_path / "new.json").exists()


# ---------------------------------------------------------------------- buy-node
def test_buy_node__pays_price_times_quantity_and_prints_the_node_ids(script, tes, accounts):
    first = tes.licence.totalMinted() + 1
    proceeds = tes.licence.proceeds()

    out = ok(script("buy-node", "--quantity", 2, account=OWNER))

    assert f"Node ids: {first}, {first + 1}" in out
    assert tes.licence.proceeds() - proceeds == 2 * TIER_PRICE  # exactly, nothing refunded
    assert tes.licence.ownerOf(first) == tes.licence.ownerOf(first + 1) == accounts[3]


@pytest.fixture
def tiers(tes, chain, accounts):
    """Tier ids: not open yet, closed, one licence left, one per wallet."""
    t, deployer = chain.pending_timestamp, accounts[0]
    tes.licence.addTier(TIER_PRICE, 10, 0, t + 86_400, 0, sender=deployer)
    tes.licence.addTier(TIER_PRICE, 10, 0, 1, t - 60, sender=deployer)
    tes.licence.addTier(TIER_PRICE, 1, 0, 0, 0, sender=deployer)
    tes.licence.addTier(TIER_PRICE, 10, 1, 0, 0, sender=deployer)
    return dict(future=1, closed=2, last_one=3, capped=4)


@pytest.mark.parametrize(
    "tier, quantity, message",
    [
        ("future", 1, r"the sale of tier 1 has not opened yet: it opens at .* \(in (23h 5\dm|1d)"),
        ("closed", 1, r"the sale of tier 2 is over: it closed at "),
        ("last_one", 2, r"tier 3 has only 1 licence\(s\) left; you asked for 2"),
        ("capped", 2, r"wallet cap reached: tier 4 sells at most 1 licence\(s\) per wallet"),
        (7, 1, r"tier 7 does not exist \(tiers 0 to 4\)"),
    ],
)
def test_buy_node__says_why_a_purchase_cannot_work(script, tes, tiers, tier, quantity, message):
    tier_id = tiers.get(tier, tier)
    minted = tes.licence.totalMinted()

    out = failed(script("buy-node", "--tier", tier_id, "--quantity", quantity, account=OWNER))

    assert re.search(message, out), out
    assert tes.licence.totalMinted() == minted


def test_buy_node__sold_out_and_wallet_cap_after_earlier_purchases(script, tes, tiers, accounts):
    ok(script("buy-node", "--tier", tiers["last_one"], account=STRANGER))
    ok(script("buy-node", "--tier", tiers["capped"], account=OWNER))

    assert "tier 3 is sold out" in failed(script("buy-node", "--tier", 3, account=OWNER))
    out = failed(script("buy-node", "--tier", 4, account=OWNER))
    assert f"{accounts[3].address} already bought 1; you can buy 0 more" in out


def test_buy_node__a_revert_the_checks_missed_is_decoded(script, tes, tiers, monkeypatch):
    # Someone bought the last licence between the check and the transaction.
    module = importlib.import_module("scripts.buy-node")
    monkeypatch.setattr(module, "check_purchase", lambda *a: TIER_PRICE * 2)

    out = failed(script("buy-node", "--tier", tiers["last_one"], "--quantity", 2, account=OWNER))

    assert (
        "buying 2 licence(s) of tier 3 failed: tier 3 has only 1 licence(s) left; you asked for 2"
        " [NodeLicense.NodeLicenseSoldOut(tierId=3, requested=2, remaining=1)]" in out
    )


# ---------------------------------------------------------------------- setup-node
def _buy(tes, owner):
    tx = tes.licence.buy(0, 1, value=TIER_PRICE, sender=owner)
    return tx.decode_logs(tes.licence.LicencesPurchased)[0].firstTokenId


def test_setup_node__proposes_declares_stakes_waits_for_the_operator_then_activates(
    script, tes, accounts, give_tes
):
    owner = accounts[3]
    node_id = int(re.search(r"Node ids: (\d+)", ok(script("buy-node", account=OWNER))).group(1))
    give_tes(owner, 5 * MIN_STAKE)
    args = ["--node-id", node_id, "--operator", OPERATOR, "--stake", "5000"]

    out = ok(script("setup-node", *args, account=OWNER))

    proposed = ("propose operator", "declare capabilities", "approve 5,000 TES", "stake 5,000 TES")
    for step in proposed:
        assert f"  {step}: tx 0x" in out
    assert "[wait] activate" in out and "activate: tx" not in out
    assert f"the operator key {accounts[4].address} must accept" in out
    accept = shlex.split(re.search(r"must accept.*\n\s+(ape run accept-operator.*)", out).group(1))
    assert accept[accept.index("--node-id") + 1] == str(node_id)
    node = tes.registry.node(node_id)
    assert node.status == NodeStatus.INACTIVE and int(node.operator, 16) == 0
    assert tes.registry.pendingOperatorOf(node_id) == accounts[4]

    out = ok(script("accept-operator", "--node-id", node_id, account=OPERATOR))
    assert "  accept operator: tx 0x" in out
    assert tes.registry.operatorOf(node_id) == accounts[4]
    out = ok(script("accept-operator", "--node-id", node_id, account=OPERATOR))  # idempotent
    assert "already the operator" in out and "tx 0x" not in out

    out = ok(script("setup-node", *args, account=OWNER))
    assert "  activate: tx 0x" in out and out.count("[done]") == 3
    node = tes.registry.node(node_id)
    assert node.status == NodeStatus.ACTIVE and node.operator == accounts[4]
    assert node.stake == 5 * MIN_STAKE and tes.token.balanceOf(owner) == 0
    detect = importlib.import_module("scripts.setup-node").detect_capabilities
    assert tuple(node.capabilities) == detect()  # by default, this machine's

    out = ok(script("setup-node", *args, account=OWNER))

    assert out.count("[done]") == 4 and "tx 0x" not in out
    assert tes.registry.node(node_id).stake == 5 * MIN_STAKE


def test_setup_node__not_the_licence_owner_changes_nothing(script, tes, accounts, give_tes):
    node_id = _buy(tes, accounts[3])
    give_tes(accounts[6], 5 * MIN_STAKE)

    out = failed(
        script("setup-node", "--node-id", node_id, "--operator", OPERATOR, account=STRANGER)
    )

    assert f"{accounts[6].address} is not the licence owner of node {node_id}" in out
    assert f"the owner is {accounts[3].address}" in out
    node = tes.registry.node(node_id)
    assert node.status == NodeStatus.INACTIVE and node.stake == 0
    assert int(node.operator, 16) == 0


def test_setup_node__a_failure_half_way_says_what_is_done_and_how_to_finish(
    script, tes, accounts, give_tes, monkeypatch, rpc_url
):
    owner = accounts[3]
    node_id = _buy(tes, owner)
    give_tes(owner, 2 * MIN_STAKE)
    module = importlib.import_module("scripts.setup-node")
    real = module.transact

    def flaky(what, *args, **kwargs):
        if what == "stake":
            raise ScriptError("stake failed: connection reset")
        return real(what, *args, **kwargs)

    monkeypatch.setattr(module, "transact", flaky)
    args = ["--node-id", node_id, "--operator", OPERATOR, "--stake", "2000 TES", *_caps_args(CAPS)]
    out = failed(script("setup-node", *args, account=OWNER))

    assert "stake failed: connection reset" in out
    assert "done: propose operator, declare capabilities; not done: stake, activate" in out
    finish = shlex.split(re.search(r"to finish, fix the cause and run:\n\s+(.*)", out).group(1))
    assert finish[:3] == ["ape", "run", "setup-node"]
    node = tes.registry.node(node_id)
    assert tes.registry.pendingOperatorOf(node_id) == accounts[4]
    assert tuple(node.capabilities) == CAPS and node.stake == 0
    ok(script("accept-operator", "--node-id", node_id, account=OPERATOR))

    monkeypatch.setattr(module, "transact", real)
    # The printed command, as is (its --network, --deployment and --account are this test's).
    out = ok(invoke(module.cli, finish[3:], rpc_url))

    assert "[done] propose operator: already" in out
    assert "[done] declare capabilities: already" in out
    node = tes.registry.node(node_id)
    assert node.status == NodeStatus.ACTIVE and node.stake == 2 * MIN_STAKE


def test_accept_operator__without_a_proposal_for_the_key__refuses(script, tes, accounts):
    node_id = _buy(tes, accounts[3])
    out = failed(script("accept-operator", "--node-id", node_id, account=STRANGER))
    assert f"node {node_id} has no proposal for {accounts[6].address} (no key is proposed)" in out
    tes.registry.bindOperator(node_id, accounts[4], sender=accounts[3])
    out = failed(script("accept-operator", "--node-id", node_id, account=STRANGER))
    assert f"the proposed key is {accounts[4].address}" in out
    assert int(tes.registry.operatorOf(node_id), 16) == 0


def _caps_args(caps):
    names = ("--cpu-cores", "--memory-mb", "--gpus", "--gpu-memory-mb", "--gpu-class")
    return [x for name, value in zip(names, caps, strict=True) for x in (name, value)]


# ---------------------------------------------------------------------- claim-rewards
def test_claim_rewards__nothing_to_claim_then_an_epochs_reward(
    script, tes, accounts, chain, ready_node
):
    owner, operator = accounts[3], accounts[4]

    out = failed(script("claim-rewards", account=OWNER))
    assert f"node {ready_node}: 0 TES" in out
    assert f"nothing to claim for node(s) {ready_node}" in out and "ends at" in out

    tes.rewards.heartbeat([ready_node], sender=operator)
    advance(chain, EPOCH)
    claimable = tes.rewards.claimable(ready_node)
    assert claimable > 0
    before = tes.token.balanceOf(owner)

    out = ok(script("claim-rewards", account=OWNER))  # every licence the owner holds

    assert f"node {ready_node}: {format_tes(claimable)}" in out
    assert f"Claimed {format_tes(claimable)}" in out
    assert tes.token.balanceOf(owner) - before == claimable
    assert tes.rewards.claimable(ready_node) == 0


def test_claim_rewards__for_a_node_of_someone_else__refuses(script, ready_node, accounts):
    out = failed(script("claim-rewards", "--node-id", ready_node, account=STRANGER))
    assert f"is not the licence owner of node {ready_node}" in out


def _keeper_settled_job(tes, accounts, chain, give_tes, node_id) -> int:
    """A k = 1 job the node claims and proves, settled by a keeper's finalize: the net payment
    waits in the node's ledger for its owner, the fee as the node's work for Rewards."""
    client, operator, keeper = accounts[2], accounts[4], accounts[5]
    give_tes(client, JOB_PAYMENT)
    tes.token.approve(tes.market, JOB_PAYMENT, sender=client)
    request = (b"\x42" * 32, "file:///job.tar", NO_REQUIREMENTS, JOB_PAYMENT, JOB_COLLATERAL, 1,
               *WINDOWS.values())  # fmt: skip
    tx = tes.market.createJob(request, sender=client)
    job_id = tx.decode_logs(tes.market.JobCreated)[0].jobId
    tes.market.claim(terms_of(tes.market, job_id), node_id, sender=operator)
    tes.market.submitProofs([([(job_id, node_id, b"\x24" * 32)], b"")], sender=operator)
    advance(chain, WINDOWS["disputeWindow"] + 1)
    tes.market.finalize(terms_of(tes.market, job_id), sender=keeper)
    return job_id


def test_node_earnings__status_shows_them__withdraw_collects__claim_rewards_pushes_the_work(
    script, tes, accounts, chain, ready_node, give_tes, deploy_run, rpc_url, tmp_path
):
    owner = accounts[3]
    _keeper_settled_job(tes, accounts, chain, give_tes, ready_node)
    ledger = tes.market.ledger(ready_node)
    assert ledger.earned > 0 and ledger.work > 0

    # tes-node status: what the licence earned, what is still in its ledger, its pending work
    common = ["--rpc-url", rpc_url, "--deployment", deploy_run[0], "--node-id", ready_node,
              "--data-dir", tmp_path / "node"]  # fmt: skip
    proc = _tes_node("status", "--json", *common, ape_data=tmp_path / "ape", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (lic,) = json.loads(proc.stdout)["licences"]
    assert (lic["earned_jobs"], lic["unwithdrawn_earnings"]) == (ledger.earned, ledger.earned)
    assert (lic["pending_work"], lic["pending_work_epoch"]) == (ledger.work, ledger.workEpoch)
    proc = _tes_node("status", *common, ape_data=tmp_path / "ape", tmp_path=tmp_path)
    text = " ".join(proc.stdout.split())
    earned = format_tes(ledger.earned)
    assert f"earned from jobs {earned}, of which {earned} not withdrawn yet" in text
    assert f"work (fees) not yet pushed to Rewards {format_tes(ledger.work)}" in text

    # withdraw: the owner collects its nodes' earnings (withdrawEarnings), then has nothing left
    before = tes.token.balanceOf(owner)
    out = ok(script("withdraw", account=OWNER))
    assert f"Node {ready_node} job earnings: {format_tes(ledger.earned)}" in out
    assert "JobMarket.withdrawEarnings([" in out and f"Withdrew {format_tes(ledger.earned)}" in out
    assert tes.token.balanceOf(owner) - before == ledger.earned
    assert tes.market.ledger(ready_node).earned == 0
    out = failed(script("withdraw", account=OWNER))
    assert "nothing to withdraw: " in out and "no job earnings to withdraw on node(s)" in out

    # claim-rewards: the node's fees go to Rewards first; claimable once the epoch is over
    out = failed(script("claim-rewards", "--node-id", ready_node, account=OWNER))
    assert f"JobMarket.pushWork([{ready_node}])" in out
    assert f"node {ready_node}: {format_tes(ledger.work)} of job fees as work" in out
    assert "becomes claimable once that epoch ends" in out and "nothing to claim" in out
    assert tes.market.ledger(ready_node).work == 0

    advance(chain, EPOCH)
    claimable = tes.rewards.claimable(ready_node)
    assert claimable >= ledger.work  # the work share: the fees back, at a work rate of 1
    out = ok(script("claim-rewards", "--node-id", ready_node, account=OWNER))
    assert "pushWork" not in out and f"Claimed {format_tes(claimable)}" in out


# ---------------------------------------------------------------------- submit-job, withdraw
def test_withdraw__nothing_then_the_refund_of_a_cancelled_job(
    script, tes, accounts, give_tes, tmp_path
):
    client = accounts[2]
    out = failed(script("withdraw", account=CLIENT))
    assert f"nothing to withdraw: no JobMarket balance for {client.address}" in out

    give_tes(client, 100 * E18)
    _, bundle_hash, _ = make_bundle(tmp_path, "print('hi')\n")
    out = ok(
        script("submit-job", "--bundle", tmp_path / "src", "--payment", "100 TES", account=CLIENT)
    )
    job_id = int(re.search(r"Job (0x[0-9a-f]{64}) is open", out).group(1), 16)
    job = tes.market.jobOf(terms_of(tes.market, job_id))  # a k = 1 job's record is its state only
    assert job.status == Status.OPEN and job.client == client and job.payment == 100 * E18
    # packed from the directory, deterministically; the market emits the hash, never stores it
    assert _created(tes, job_id).bundleHash == bundle_hash
    assert (
        tes.token.balanceOf(client) == 0 and tes.token.allowance(client, tes.market) == 0
    )  # permit

    tes.market.cancel(terms_of(tes.market, job_id), sender=client)
    out = ok(script("withdraw", account=CLIENT))

    assert "Withdrew 100 TES" in out
    assert tes.token.balanceOf(client) == 100 * E18 and tes.market.credited(client) == 0


def test_submit_job__paid_from_the_market_balance_when_it_covers_the_payment(
    script, tes, accounts, give_tes, tmp_path
):
    client = accounts[2]
    give_tes(client, 30 * E18)
    tes.token.approve(tes.market, 30 * E18, sender=client)
    tes.market.deposit(30 * E18, sender=client)
    credit, permits = tes.market.credited(client), tes.token.nonces(client)
    _, _, path = make_bundle(tmp_path, "print('hi')\n")

    out = ok(script("submit-job", "--bundle", path, "--payment", "20 TES", account=CLIENT))

    assert "Paid from the JobMarket balance" in out and "JobMarket.createJob:" in out
    job_id = int(re.search(r"Job (0x[0-9a-f]{64}) is open", out).group(1), 16)
    assert tes.market.jobOf(terms_of(tes.market, job_id)).payment == 20 * E18
    assert tes.market.credited(client) == credit - 20 * E18
    assert tes.token.nonces(client) == permits  # no permit signed
    tes.market.cancel(terms_of(tes.market, job_id), sender=client)
    tes.market.withdraw(sender=client)  # leave no balance to the other tests


def _created(tes, job_id):
    """The job's JobCreated event (it carries the terms the market does not store)."""
    head = tes.market.chain_manager.blocks.head.number
    (event,) = tes.market.JobCreated.range(0, head + 1, search_topics={"jobId": job_id})
    return event


def test_submit_job__k3_windows_and_requirements_from_a_packed_file(
    script, tes, accounts, give_tes, tmp_path
):
    manifest = {"resources": {"cpus": 2, "memory_mb": 1024}}
    uri, bundle_hash, path = make_bundle(tmp_path, "print('hi')\n", **manifest)
    give_tes(accounts[2], 50 * E18)
    args = ["--bundle", path, "--payment", "5e19 wei", "--replicas", 3, "--claim-window", "2h"]

    out = ok(script("submit-job", *args, "--gpu-class", 0, account=CLIENT))

    job_id = int(
        re.search(
            r"Job (0x[0-9a-f]{64}) is seating: 3 nodes will be drawn from the hash of block (\d+)",
            out,
        ).group(1),
        16,
    )
    job = tes.market.job(job_id)
    assert job.status == Status.SEATING and f"block {job.drawBlock} " in out
    assert job.k == 3 and job.claimWindow == 7_200 and job.payment == 50 * E18
    assert job.collateral == 5 * E18  # the market's minimum (10 %) by default, as tes-client
    assert (
        tuple(job.requirements)[:2] == (2, 1024) and _created(tes, job_id).bundleHash == bundle_hash
    )
    assert bundles.bundle_hash(Path(path).read_bytes()) == bundle_hash and uri.startswith("file://")


@pytest.mark.parametrize("replicas", [2, 4, 16])
def test_submit_job__k_not_1_or_odd__refused_before_signing(
    script, tes, accounts, give_tes, tmp_path, replicas
):
    _, _, path = make_bundle(tmp_path, "print('hi')\n")
    give_tes(accounts[2], 50 * E18)
    jobs = tes.market.jobNonce(accounts[2])

    out = failed(script("submit-job", "--bundle", path, "--payment", "50 TES", "--replicas", replicas,
                        account=CLIENT))  # fmt: skip

    assert (
        f"--replicas {replicas} is not allowed: k must be 1 (one node, disputable) or odd from 3 to 15"
        in out
    )
    assert tes.market.jobNonce(accounts[2]) == jobs


def test_withdraw__unbonded_stake_only_after_the_delay(script, tes, accounts, chain, ready_node):
    owner = accounts[3]
    tes.registry.requestUnbond(ready_node, MIN_STAKE, sender=owner)

    out = failed(script("withdraw", "--unbonded", ready_node, account=OWNER))
    assert f"node {ready_node}: 1,000 TES unbonding, released at" in out

    advance(chain, UNBONDING_DELAY)
    before = tes.token.balanceOf(owner)
    out = ok(script("withdraw", "--unbonded", ready_node, account=OWNER))

    assert "Withdrew 1,000 TES" in out
    assert tes.token.balanceOf(owner) - before == MIN_STAKE


# ---------------------------------------------------------------------- unbond, exit, rejoin
def test_exit_rejoin_unbond__a_node_leaves_comes_back_and_retires(
    script, tes, accounts, give_tes, ready_node
):
    node_id, owner = ready_node, accounts[3]
    status = lambda: tes.registry.node(node_id).status  # noqa: E731

    out = ok(script("exit", "--node-id", node_id, account=OWNER))
    assert f"NodeRegistry.deactivate({node_id}): tx 0x" in out
    assert f"To serve again: `ape run rejoin --node-id {node_id}`" in out
    assert status() == NodeStatus.INACTIVE
    out = ok(script("exit", "--node-id", node_id, account=OWNER))  # again: nothing to send
    assert f"[done] node {node_id} is inactive" in out and "tx 0x" not in out

    out = ok(script("rejoin", "--node-id", node_id, account=OWNER))
    assert f"NodeRegistry.activate({node_id}): tx 0x" in out and status() == NodeStatus.ACTIVE

    out = ok(script("unbond", "--node-id", node_id, "--amount", "400", account=OWNER))
    assert "keeps 600 TES, below the minimum stake 1,000 TES: the registry deactivates it" in out
    assert f"--unbonded {node_id}" in out and "(in 7d)" in out
    n = tes.registry.node(node_id)
    assert n.stake == MIN_STAKE - 400 * E18 and n.unbonding == 400 * E18
    assert n.status == NodeStatus.INACTIVE

    out = failed(script("rejoin", "--node-id", node_id, account=OWNER))
    assert "has 600 TES staked; activation needs 1,000 TES: pass --stake 1000 TES" in out
    give_tes(owner, 400 * E18)
    out = ok(script("rejoin", "--node-id", node_id, "--stake", "1000", account=OWNER))
    assert "  stake 400 TES: tx 0x" in out and status() == NodeStatus.ACTIVE

    out = failed(script("unbond", "--node-id", node_id, "--amount", "2000", account=OWNER))
    assert "has 1,000 TES of free stake" in out
    out = failed(script("exit", "--node-id", node_id, account=STRANGER))
    assert f"is not the licence owner of node {node_id}" in out and status() == NodeStatus.ACTIVE

    out = ok(script("exit", "--node-id", node_id, "--retire", "--unbond", account=OWNER))
    assert f"NodeRegistry.retire({node_id}): tx 0x" in out
    n = tes.registry.node(node_id)
    assert n.status == NodeStatus.RETIRED and n.stake == 0 and n.unbonding == 1_400 * E18
    out = failed(script("rejoin", "--node-id", node_id, account=OWNER))
    assert f"node {node_id} is retired: it can never serve again" in out


@pytest.mark.parametrize(
    "name, args, expected",
    [
        ("unbond", ["--node-id", 1, "--amount", "lots"], "not an amount: 'lots'"),
        ("rejoin", ["--node-id", 0], "0 is not in the range x>=1"),
        ("exit", ["--node-id", 1, "--deployment", "/nonexistent.json"], "/nonexistent.json"),
        ("unbond", ["--node-id", 10**6], "licence #1000000 does not exist"),
    ],
)
def test_node_scripts__bad_input__one_message_no_traceback(script, name, args, expected):
    result = script(name, *args, account=OWNER)
    assert result.exit_code in (1, 2), result.output
    assert expected in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------- no prompts: --yes
@pytest.fixture
def keystore(tmp_path, accounts):
    """(ape data folder, alias, address) of a fresh funded keystore account, encrypted with
    PASSPHRASE: a real `ape accounts import`ed key, which asks `Sign: [y/N]` unless --yes."""
    from eth_account import Account

    key = Account.create()
    folder = tmp_path / "ape-data"
    make_keystore(folder, "buyer", key.key)
    accounts[0].transfer(key.address, 10**18)
    return folder, "buyer", key.address


def _ape_run(name, *args, rpc_url, record, ape_data, env=()):
    """A real `ape run <name>` subprocess with no terminal: a prompt would fail it."""
    full_env = {k: v for k, v in os.environ.items() if k != "TES_PASSPHRASE"}
    full_env.update(APE_DATA_FOLDER=str(ape_data), **dict(env))
    cmd = [
        str(APE),
        "run",
        name,
        "--network",
        rpc_url,
        "--deployment",
        str(record),
        *map(str, args),
    ]
    return subprocess.run(cmd, cwd=REPO, env=full_env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_yes__a_keystore_account_signs_from_the_passphrase_without_prompts(
    deploy_run, rpc_url, tes, keystore, tmp_path
):
    ape_data, alias, address = keystore
    run = lambda *a, **kw: _ape_run(  # noqa: E731
        "buy-node", "--account", alias, *a, rpc_url=rpc_url, record=deploy_run[0],
        ape_data=ape_data, **kw,
    )  # fmt: skip

    proc = run("--yes", env={"TES_PASSPHRASE": PASSPHRASE})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Node ids: " in proc.stdout and "Sign:" not in proc.stdout + proc.stderr
    assert "Using cached key" not in proc.stdout + proc.stderr
    assert tes.licence.balanceOf(address) == 1

    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    proc = run("--yes", "--passphrase-file", secret)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert tes.licence.balanceOf(address) == 2

    proc = run("--yes")  # no passphrase anywhere: refused before anything is sent
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert f"there is no passphrase for account {alias!r}: set TES_PASSPHRASE" in proc.stderr
    proc = run("--yes", env={"TES_PASSPHRASE": "wrong"})
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert f"cannot unlock account {alias!r} with TES_PASSPHRASE: wrong passphrase?" in proc.stderr
    assert tes.licence.balanceOf(address) == 2


# ---------------------------------------------------------------------- tes-node on this chain
def _tes_node(*args, ape_data, tmp_path, env=()):
    full_env = {**os.environ, "APE_DATA_FOLDER": str(ape_data), "TES_PASSPHRASE": PASSPHRASE,
                "PATH": no_gpu_path(tmp_path / "bin"), "TES_POLL_INTERVAL_S": "0.2", **dict(env)}  # fmt: skip
    return subprocess.run([str(TES_NODE), *map(str, args)], cwd=REPO, env=full_env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_tes_node_run__a_key_that_serves_no_licence__exits_naming_the_key(
    deploy_run, rpc_url, keystore, tmp_path
):
    ape_data, alias, address = keystore
    common = ["--rpc-url", rpc_url, "--deployment", deploy_run[0], "--account", alias]
    proc = _tes_node("run", *common, "--data-dir", tmp_path / "node", "--max-seconds", 5,
                     "--metrics-port", 0, ape_data=ape_data, tmp_path=tmp_path)  # fmt: skip

    assert proc.returncode == 1, proc.stderr
    assert f"Error: the operator key {address} serves no licence" in proc.stderr
    assert f"--operator {address}" in proc.stderr and "Traceback" not in proc.stderr

    proc = _tes_node("run", *common, "--rpc-url", "http://127.0.0.1:9", "--metrics-port", 0,
                     ape_data=ape_data, tmp_path=tmp_path)  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot reach the chain at http://127.0.0.1:9" in proc.stderr


def test_tes_node_status__each_licence_from_the_chain(
    deploy_run, rpc_url, tes, accounts, chain, ready_node, tmp_path
):
    node_id, owner = ready_node, accounts[3]
    ape_data = tmp_path / "ape-data"
    make_keystore(ape_data, "operator", accounts[4].private_key)
    tes.registry.deactivate(node_id, sender=owner)  # served, but given no job while it runs
    common = ["--rpc-url", rpc_url, "--deployment", deploy_run[0], "--node-id", node_id,
              "--data-dir", tmp_path / "node"]  # fmt: skip

    proc = _tes_node("run", *common, "--max-seconds", 4, "--metrics-port", 0,
                     ape_data=ape_data, tmp_path=tmp_path)  # fmt: skip

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"warning: licence {node_id} is inactive" in proc.stderr
    started = json.loads(next(x for x in proc.stderr.splitlines() if x.startswith('{"operator"')))
    assert started["licences"] == [node_id] and started["operator"] == accounts[4].address

    proc = _tes_node("status", "--json", *common, ape_data=ape_data, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    (lic,) = status["licences"]
    n = tes.registry.node(node_id)
    assert lic["node_id"] == node_id and lic["owner"] == owner.address
    assert lic["status"] == "inactive" and lic["stake"] == n.stake == MIN_STAKE
    assert lic["locked"] == n.locked and lic["unbonding"] == n.unbonding
    assert lic["claimable_rewards"] == tes.rewards.claimable(node_id)
    assert lic["endpoint"] == started["http"]  # announced on chain by the run above
    assert status["market"]["minJobFee"] == tes.market.parameters().minJobFee
    assert status["pricing"]["compute_price_per_cpu_s"] == 0

    proc = _tes_node("status", *common, ape_data=ape_data, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert f"licence {node_id}: inactive (owner {owner.address})" in text
    assert "stake 1,000 TES: 0 TES locked as collateral, 1,000 TES free" in text
    assert f"endpoint {started['http']}" in text and "pricing in force: min_margin 0" in text
