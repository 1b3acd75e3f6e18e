"""`make demo`: a whole TES network on this machine, running real paid jobs end to end.

anvil → deploy and wire the contracts → three owners buy licences and set up their nodes →
three `tes-node` processes (sandboxed workers) → a client packages one job of each kind, publishes
it from its own HTTP server and submits it with a permit (one k = 3 job, the rest k = 1) → live
progress: the k = 3 job is "seating" while the contract draws its three nodes and they accept,
the k = 1 jobs are created assigned to a node that quoted them (or, unquoted, claimed first
come) → the dispute window passes and the nodes finalize → the
client fetches every result and verifies it (k = 1: against the salted commitment, with the salt
the node sends; k = 3: against the agreed hash) → the nodes' fees go to Rewards as work, an epoch
ends, owners claim rewards and withdraw their nodes' earnings → a summary, exit status 0 only if every job was paid exactly once and every result
verified → everything stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from eth_account import Account
from rich.console import Console
from rich.live import Live
from rich.table import Table

from oracle.core.protocol import JobStatus, job_hex
from oracle.localnet.network import Anvil, NodeProcess, make_keystore

E18 = 10**18
KINDS = [  # (kind, replicas, example config)
    ("train", 1, "examples/train/config.json"),
    ("tune", 1, "examples/tune/config.json"),
    ("simulate", 3, "examples/simulate/config.json"),
    ("map", 1, "examples/map/config.json"),
    ("command", 1, None),
]
DISPUTE_WINDOW = 600
PAYMENT = 50 * E18

console = Console()


def _short(addr: str) -> str:
    return f"{addr[:6]}…{addr[-4:]}"


def _tes(wei: int) -> str:
    return f"{wei / E18:,.4f}"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="tes-demo-"))
    anvil = Anvil(log=work / "anvil.log")
    nodes: list[NodeProcess] = []
    code = 1  # until _run returns: an exception or Ctrl-C keeps the logs it may point to
    try:
        console.rule("[bold]TES demo")
        anvil.start()
        console.print(f"anvil listening at {anvil.url} (log: {work / 'anvil.log'})")
        from ape import networks
        from ape.logging import logger

        logger.set_level("WARNING")  # the summary reports gas; per-transaction lines are noise here
        with networks.parse_network_choice(anvil.url):
            code = _run(work, anvil, nodes)
        return code
    finally:
        for n in nodes:
            n.stop()
        anvil.stop()
        # The logs the messages above point to stay. After a demo that succeeded the rest of the
        # work directory (bundles, results, node databases, keys) goes, unless TES_DEMO_KEEP=1;
        # after a failure all of it stays.
        if code == 0 and os.environ.get("TES_DEMO_KEEP") != "1":
            _keep_only_logs(work)
            console.print(f"logs kept in {work} (anvil.log, nodes/<name>/node.log)")
        else:
            console.print(f"kept {work} (logs: anvil.log, nodes/<name>/node.log)")


def _keep_only_logs(work: Path) -> None:
    """Deletes everything under `work` but *.log files (and the directories holding them)."""
    for path in sorted(work.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_symlink() or path.is_file():
            if path.suffix != ".log":
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
        elif path.is_dir():
            if not any(path.rglob("*.log")):
                shutil.rmtree(path, ignore_errors=True)


def _run(work: Path, anvil: Anvil, nodes: list[NodeProcess]) -> int:
    from ape import accounts, chain, project

    from oracle.client.package import package
    from oracle.client.publish import BundleServer
    from oracle.client.sdk import Client
    from oracle.localnet.deployment import deploy_all, save_record

    ta = accounts.test_accounts
    deployer, treasury, client_acct = ta[0], ta[1], ta[2]
    owners, operators = [ta[3], ta[4], ta[5]], [ta[6], ta[7], ta[8]]

    # ------------------------------------------------------------ deploy
    with console.status("deploying and wiring the contracts"):
        d = deploy_all(project, deployer, treasury)
        record = save_record("local", d, work / "deployment.json", abis=True)
    table = Table("contract", "address", title="deployed (wiring checked)")
    for name, addr in d.addresses().items():
        table.add_row(name, addr)
    console.print(table)

    # ------------------------------------------------------------ owners buy and set up nodes
    price = d.licence.tier(0).price
    caps = (max(os.cpu_count() or 1, 1), 2048, 0, 0, 0)
    node_ids = []
    with console.status("three owners buy licences and set up their nodes"):
        for owner, op in zip(owners, operators, strict=True):
            tx = d.licence.buy(0, 1, value=price, sender=owner)
            node_id = tx.decode_logs(d.licence.LicencesPurchased)[0].firstTokenId
            stake = 2 * d.registry.minStake()
            d.token.transfer(owner, stake, sender=treasury)
            d.registry.bindOperator(node_id, op, sender=owner)
            d.registry.acceptOperator(node_id, sender=op)  # two-step binding: the key consents
            d.registry.declareCapabilities(node_id, caps, sender=owner)
            d.token.approve(d.registry, stake, sender=owner)
            d.registry.stake(node_id, stake, sender=owner)
            d.registry.activate(node_id, sender=owner)
            node_ids.append(node_id)
        d.token.transfer(client_acct, 1_000 * E18, sender=treasury)
    console.print(
        f"nodes {node_ids} active: each bought for {price / E18:g} ETH, staked "
        f"{_tes(2 * d.registry.minStake())} TES, capabilities {caps}"
    )

    # ------------------------------------------------------------ start the node software
    ape_data = work / "ape-data"
    for i, op in enumerate(operators):
        make_keystore(ape_data, f"op{i}", op.private_key)
    for i in range(3):
        n = NodeProcess(f"op{i}", work / "nodes", anvil.url, record, ape_data, "--workers", "2")
        n.env["TES_POLL_INTERVAL_S"] = "0.5"
        nodes.append(n.start())
    console.print(f"3 tes-node processes started (logs under {work / 'nodes'})")

    # ------------------------------------------------------------ the client packages and submits
    client = Client.connect(anvil.url, record, key=Account.from_key(client_acct.private_key))
    jobs: dict[int, dict] = {}
    bundles_dir = work / "bundles"
    bundles_dir.mkdir()
    with console.status("packaging one job of each kind"):
        packaged = []
        for kind, k, config in KINDS:
            if kind == "command":
                p = package(
                    "command",
                    bundles_dir / "command.tar.gz",
                    source_dir=Path("examples/command"),
                    entrypoint=["python3", "main.py"],
                    workdir=bundles_dir / "command-src",
                )
            else:
                assert config is not None, f"the demo's {kind} job names its config"
                p = package(
                    kind,
                    bundles_dir / f"{kind}.tar.gz",
                    config=Path(config),
                    workdir=bundles_dir / f"{kind}-src",
                )
            packaged.append((kind, k, p))
    server = BundleServer([p.path for _, _, p in packaged]).start()
    try:
        for kind, k, p in packaged:
            job_id = client.submit(
                p.path,
                server.uri(p.path),
                PAYMENT,
                replicas=k,
                windows={"disputeWindow": DISPUTE_WINDOW},
            )
            jobs[job_id] = {"kind": kind, "k": k, "bundle": p.hash_hex}
        console.print(
            f"submitted jobs {', '.join(map(_job_short, jobs))} ({_tes(PAYMENT)} TES each, bundles served at {server.uri(packaged[0][2].path).rsplit('/', 1)[0]})"
        )

        # ------------------------------------------------------------ live progress
        start = time.monotonic()
        warped = False
        with Live(_progress(client, jobs, start), console=console, refresh_per_second=2) as live:
            while True:
                views = {j: client.job(j) for j in jobs}
                live.update(_progress(client, jobs, start, views))
                if all(v.status == JobStatus.PAID for v in views.values()):
                    break
                bad = [
                    j for j, v in views.items() if v.status.terminal and v.status != JobStatus.PAID
                ]
                if bad:
                    raise RuntimeError(
                        f"jobs {bad} ended {[views[j].status.label for j in bad]}; see node logs in {work}"
                    )
                for n in nodes:
                    if not n.alive():
                        raise RuntimeError(f"node {n.name} died:\n{n.log()[-3000:]}")
                _mine_past_draw_blocks(chain, views.values())
                if not warped and all(
                    v.status in (JobStatus.ACCEPTED, JobStatus.PAID) for v in views.values()
                ):
                    # Nobody disputes: let the k = 1 dispute windows pass (on a real chain, wait).
                    chain.provider.make_request("evm_increaseTime", [DISPUTE_WINDOW + 1])
                    chain.provider.make_request("evm_mine", [])
                    warped = True
                if time.monotonic() - start > 900:
                    raise TimeoutError("jobs not settled after 15 minutes")
                time.sleep(1)
        elapsed = time.monotonic() - start
    finally:
        server.stop()
    console.print(f"all {len(jobs)} jobs settled in {elapsed:.1f}s")

    # ------------------------------------------------------------ fetch and verify
    for job_id, info in jobs.items():
        dest = work / "results" / str(job_id)
        digest = client.fetch(job_id, dest)  # refuses files that do not match the chain
        info["verified"] = (
            client.verify(job_id, dest) == digest
        )  # again, offline, with the kept salt
        info["result"] = "0x" + bytes(digest).hex()
        info["files"] = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())[:4]
    console.print(
        "client fetched every result from the nodes and verified it against the chain"
        " (k = 1: the salted commitment, with the node's salt; k = 3: the agreed hash)"
    )

    # ------------------------------------------------------------ rewards
    # The nodes' job fees wait in their market ledgers as work until a later epoch's settlement;
    # push them now (anyone may) so that they count in this epoch, then close it.
    d.market.pushWork(node_ids, sender=client_acct)
    if d.market.pendingFees():
        d.market.flushFees(sender=client_acct)
    epoch_length = d.rewards.epochLength()
    chain.provider.make_request("evm_increaseTime", [epoch_length + 1])
    chain.provider.make_request("evm_mine", [])
    rewards, withdrawn = {}, {}
    earned = d.market.EarningsCredited.query("*", start_block=0)
    for owner, node_id in zip(owners, node_ids, strict=True):
        claimable = d.rewards.claimable(node_id)
        if claimable:
            d.rewards.claim([node_id], sender=owner)
        rewards[node_id] = claimable
        # What the market paid the node: its k = 1 jobs settled by its own settleAndWithdraw were
        # sent to the owner at once; k = 3 shares wait in the node's ledger until withdrawn here.
        if d.market.ledger(node_id).earned:
            d.market.withdrawEarnings([node_id], sender=owner)
        withdrawn[node_id] = sum(
            int(r["event_arguments"]["amount"])
            for _, r in earned.iterrows()
            if int(r["event_arguments"]["nodeId"]) == node_id
        )

    # ------------------------------------------------------------ summary
    _summary(client, d, jobs, nodes, node_ids, owners, rewards, withdrawn)
    return _verdict(d, jobs)


def _mine_past_draw_blocks(chain, views) -> None:
    """A k = 3 job is drawn from the hash of the block after it was created; anvil mines only on
    a transaction, so if nothing else is sent, mine that block (a real chain just moves on)."""
    head = chain.blocks.head.number
    if any(v.status == JobStatus.SEATING and v.job.drawBlock >= head for v in views):
        chain.provider.make_request("evm_mine", [])


def _verdict(d, jobs: dict) -> int:
    """0 only if every job was paid exactly once (one JobPaid event) and every result verified."""
    paid: dict[int, int] = {}
    for _, row in d.market.JobPaid.query("*", start_block=0).iterrows():
        job_id = int(row["event_arguments"]["jobId"])
        paid[job_id] = paid.get(job_id, 0) + 1
    wrong = [f"job {j}: paid {paid.get(j, 0)}x" for j in jobs if paid.get(j, 0) != 1]
    wrong += [
        f"job {j}: result not verified" for j, info in jobs.items() if not info.get("verified")
    ]
    if wrong:
        console.rule("[bold red]demo failed: " + "; ".join(wrong))
        return 1
    console.rule("[bold green]demo finished: every job paid once, every result verified")
    return 0


def _job_short(job_id: int) -> str:
    """A job id for a table: its first hex digits (`tes-client` takes and prints the whole)."""
    return job_hex(job_id)[:10] + "…"


def _progress(client, jobs: dict, start: float, views: dict | None = None) -> Table:
    t = Table(
        "job", "kind", "k", "status", "seats", title=f"jobs ({time.monotonic() - start:.0f}s)"
    )
    for job_id, info in jobs.items():  # in the order submitted (ids are hashes)
        v = views.get(job_id) if views else None
        seats = ", ".join(
            f"node {seat.nodeId}:{seat.state.name.lower()}" for seat in (v.seats if v else ())
        )
        status = v.status.label if v else ("open" if info["k"] == 1 else "seating")
        t.add_row(_job_short(job_id), info["kind"], str(info["k"]), status, seats)
    return t


def _summary(client, d, jobs, nodes, node_ids, owners, rewards, withdrawn) -> None:
    from ape import chain

    gas_by_job: dict[int, int] = {}
    for n in nodes:
        for job_id, gas in n.db(
            "SELECT job_id, COALESCE(SUM(gas_used), 0) FROM intents WHERE job_id IS NOT NULL GROUP BY job_id"
        ):
            gas_by_job[job_id] = gas_by_job.get(job_id, 0) + gas
    created = d.market.JobCreated.query("*", start_block=0)
    for _, row in created.iterrows():
        receipt = chain.provider.get_receipt(row["transaction_hash"])
        gas_by_job[int(row["event_arguments"]["jobId"])] = (
            gas_by_job.get(int(row["event_arguments"]["jobId"]), 0) + receipt.gas_used
        )

    owner_of = {nid: str(o) for nid, o in zip(node_ids, owners, strict=True)}
    t = Table("job", "kind", "k", "result hash", "paid to", "gas (all txs)", title="jobs")
    earned = d.market.EarningsCredited.query("*", start_block=0)
    for job_id, info in jobs.items():
        paid = [
            f"node {int(r['event_arguments']['nodeId'])} {_tes(int(r['event_arguments']['amount']))}"
            for _, r in earned.iterrows()
            if int(r["event_arguments"]["jobId"]) == job_id
        ]
        t.add_row(
            _job_short(job_id),
            info["kind"],
            str(info["k"]),
            info["result"][:18] + "…",
            ", ".join(paid),
            f"{gas_by_job.get(job_id, 0):,}",
        )
    console.print(t)
    t = Table(
        "node",
        "owner",
        "jobs completed",
        "earned from jobs (TES)",
        "rewards claimed (TES)",
        "node gas",
        title="nodes",
    )
    for i, nid in enumerate(node_ids):
        n = d.registry.node(nid)
        gas = sum(g for (g,) in nodes[i].db("SELECT COALESCE(SUM(gas_used), 0) FROM intents"))
        t.add_row(
            str(nid),
            _short(owner_of[nid]),
            str(n.completed),
            _tes(withdrawn[nid]),
            _tes(rewards[nid]),
            f"{gas:,}",
        )
    console.print(t)
    console.print(
        f"protocol fees to rewards: {_tes(d.rewards.totalFunded() - d.rewards.totalMinted())} TES; "
        f"emission minted: {_tes(d.rewards.totalMinted())} TES; claimed: {_tes(d.rewards.totalClaimed())} TES"
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
