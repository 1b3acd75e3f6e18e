"""One measurement run: deploy a fresh network, set up the nodes, run every scenario in order
(inside one Rewards epoch) and assemble the report (docs/gas.json)."""

import time
from collections.abc import Callable
from typing import Any

from oracle.ape_helpers.gas.bench import Bench, Roles
from oracle.ape_helpers.gas.keys import (
    DEFAULT_BATCH,
    DEFAULT_REPEATS,
    DEFAULT_SETTLE_GROUP,
    MAX_UINT,
    OPERATION_LABELS,
    SCENARIOS,
    TARGETS,
    batch_key,
)
from oracle.ape_helpers.gas.tracer import GasTracer
from oracle.localnet.deployment import (
    DEFAULTS,
    E18,
    JOB_COLLATERAL,
    JOB_PAYMENT,
    WINDOWS,
    deploy_all,
)


def default_roles(accounts: Any) -> tuple[Roles, list[Any], list[Any]]:
    """Roles from the test accounts (as tests/conftest.py assigns them), plus the owners and
    operator keys of the five core nodes (distinct owners and operators)."""
    test = accounts.test_accounts if hasattr(accounts, "test_accounts") else accounts
    roles = Roles(deployer=test[0], treasury=test[1], client=test[2], keeper=test[5],
                  disputer=test[6])  # fmt: skip
    owners = [test[3], test[7], test[8], test[9], test.generate_test_account()]
    operators = [test[4], *(test.generate_test_account() for _ in range(4))]
    return roles, owners, operators


def _scenario_totals(b: Bench) -> dict[str, dict[str, Any]]:
    out = {}
    for name, s in b.scenarios.items():
        jobs = s["jobs"]
        steps = [{**e, "per_job": round(e["gas"] / jobs)} for e in s["steps"]]
        title = SCENARIOS[name][1] if name in SCENARIOS else name
        total = round(sum(e["gas"] for e in s["steps"]) / jobs)
        out[name] = {"title": title, "jobs": jobs, "txs": sum(e["txs"] for e in steps),
                     "steps": steps, "total": total}  # fmt: skip
    return out


def measure(
    project: Any,
    accounts: Any,
    chain: Any,
    *,
    batch: int = DEFAULT_BATCH,
    settle_group: int = DEFAULT_SETTLE_GROUP,
    repeats: int = DEFAULT_REPEATS,
    steady_funding: str = "deposit",
    network: str = "",
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Deploys a fresh network, runs every scenario and returns the report (docs/gas.json).
    `steady_funding`: how the steady state's client pays, "standing" (one unlimited approve,
    a token transfer per job) or "deposit" (one deposit of every payment, none per job)."""
    if steady_funding not in ("standing", "deposit"):
        raise ValueError(f"steady_funding must be 'standing' or 'deposit', not {steady_funding!r}")
    started = time.monotonic()
    r, owners, operators = default_roles(accounts)
    for account in [r.keeper, r.disputer, r.client, *owners]:
        if account.balance < 10**18:
            r.deployer.transfer(account, 10**19)
    log("deploying")
    d = deploy_all(project, r.deployer, r.treasury)
    names = {address: name for name, address in d.addresses().items()}
    b = Bench(d=d, chain=chain, r=r, tracer=GasTracer(chain.provider, names),
              new_account=lambda: _new_account(accounts))  # fmt: skip
    m, token, rewards = d.market, d.token, d.rewards

    log("setting up 5 nodes (two-step operator binding)")
    token.approve(d.registry, MAX_UINT, sender=r.treasury)  # the treasury stakes for the nodes
    stake = 5 * DEFAULTS.min_stake + JOB_COLLATERAL * (batch + 20)
    for i, (owner, operator) in enumerate(zip(owners, operators, strict=True)):
        b.setup_node(owner, operator, stake, measure=i == 1)  # node 2's setup is measured
    a, n_b, n_c, n_d, n_e = b.nodes
    b.fund(r.client, JOB_PAYMENT * (4 * batch + 40) + E18)  # three steady states, distinct batch
    b.fund(r.disputer, 10 * JOB_COLLATERAL)
    for owner in owners:
        b.fund(owner, E18)  # payouts land on a non-empty balance (steady state)
    b.fund(r.keeper, E18)

    # Everything below up to the epoch advance happens inside one Rewards epoch (checked), so
    # that only finalize_epoch_first pays for opening one.
    length = rewards.epochLength()
    b.advance(max(1, rewards.genesisTime() + (rewards.currentEpoch() + 1) * length
                  - chain.pending_timestamp + 1))  # fmt: skip
    epoch = rewards.currentEpoch()

    log("k = 1 (quote path): first job ever, warm single jobs, a new client; open path")
    b.k1_single("k1_first_job_ever", a)
    b.k1_single("k1_single", a, trace=True)
    b.k1_single("k1_single_keeper", a, keeper=True)
    b.k1_single("k1_single_permit", a, funding="permit")
    new_client = _new_account(accounts)
    r.deployer.transfer(new_client, 10**19)
    b.fund(new_client, JOB_PAYMENT)
    b.k1_single("k1_new_client", a, client=new_client)
    b.k1_single("k1_single_open", a, trace=True, quote=False)
    # A node's first claim; this job is finalized as the first settlement of the next epoch.
    scratch = b.begin("_scratch")  # jobs that only serve single operations
    epoch_job = b.create(scratch, 1)
    b.op("claim_node_first", m.claim, b.terms[epoch_job], n_e.id, sender=n_e.operator)
    m.submitProofs([b.signed_proof(epoch_job, n_e, b"\x55" * 32, b"\x05" * 32)], sender=r.keeper)
    relay_job = b.create(scratch, 1)
    b.op("claim_warm", m.claim, b.terms[relay_job], a.id, sender=a.operator)
    b.op("proof_signed_relay", m.submitProofs,
         [b.signed_proof(relay_job, a, b"\x56" * 32, b"\x06" * 32)], sender=r.keeper)  # fmt: skip

    # Every core node settles once in this epoch, so that which nodes a draw picks (the seed
    # differs from chain to chain) does not decide whether a settlement opens the epoch's work
    # in a node's ledger: k = 3 and dispute totals then compare across chains.
    warm = [(b.create(scratch, 1), n) for n in b.nodes]
    for job, n in warm:
        m.claim(b.terms[job], n.id, sender=n.operator)
        m.submitProofs([b.signed_proof(job, n, b"\x57" * 32, b"\x07" * 32)], sender=r.keeper)
    b.advance(WINDOWS["disputeWindow"] + 1)
    for job, _ in warm:
        m.finalize(b.terms[job], sender=r.keeper)
    for n in b.nodes:
        m.withdrawEarnings([n.id], sender=n.owner)
    m.withdraw(sender=r.keeper)

    log(
        f"k = 1 steady state, quote and open path: {batch} jobs each ({steady_funding}), proofs"
        f" {batch} per tx, settled {settle_group} at a time"
    )
    batch_gas = b.k1_steady("k1_steady", a, batch, batch, settle_group, steady_funding)
    b.k1_steady("k1_steady_open", a, batch, batch, settle_group, steady_funding, quote=False)
    # The same jobs paid by a token transfer each (a client that never deposited).
    b.k1_steady("k1_steady_standing", a, batch, batch, settle_group, "standing")

    log("k = 3: first (cold) and warm")
    b.k3_single("k3_first")
    b.k3_single("k3_single", trace=True, repeats=repeats)
    log("dispute, expire, cancel")
    b.dispute("dispute", n_b, repeats=repeats)
    b.expire("expire", n_c)
    b.expire("expire_open", None)
    b.cancel("cancel", 1)
    b.cancel("cancel_k3", 3)
    # heartbeats: node 2 first (the epoch's first live node), then node 1's is measured
    rewards.heartbeat([n_b.id], sender=n_b.operator)
    b.op("rewards_heartbeat", rewards.heartbeat, [a.id], sender=a.operator)
    if rewards.currentEpoch() != epoch:
        raise RuntimeError("the benchmark crossed an epoch boundary: results would mix costs")

    log("first settlement of an epoch, rewards")
    # The nodes' fees wait in their ledgers as this epoch's work: sent to Rewards now (as
    # `ape run claim-rewards` does), except node 5's, which its settlement in the next epoch
    # sends (finalize_epoch_first).
    m.pushWork([n.id for n in b.nodes if n is not n_e], sender=r.keeper)
    b.advance(rewards.genesisTime() + (epoch + 1) * length - chain.pending_timestamp + 1)
    b.op("finalize_epoch_first", m.finalize, b.terms[epoch_job], sender=r.keeper)
    b.advance(length)
    b.op("rewards_checkpoint", rewards.checkpoint, 10, sender=r.keeper)
    b.op("rewards_claim", rewards.claim, [a.id], sender=a.owner)

    log(f"{batch} proofs from {batch} distinct operators in one transaction")
    distinct_gas = b.distinct_operators_batch(batch, owners[0])

    scenarios = _scenario_totals(b)
    del scenarios["_scratch"]
    ops = {**b.operations}
    ops["finalize_warm"] = _step_gas(scenarios["k1_single_keeper"], "finalize")
    ops["proof_own"] = _step_gas(scenarios["k1_single"], "submitProofs (own, 1 proof)")
    ops["create_and_assign"] = _step_gas(scenarios["k1_single"], "createAndAssign (quote)")
    ops["create_and_assign_permit"] = _step_gas(
        scenarios["k1_single_permit"], "createAndAssign (quote + permit)"
    )
    ops["create_and_assign_client_first"] = _step_gas(
        scenarios["k1_new_client"], "createAndAssign (quote)"
    )
    ops["create_job"] = _step_gas(scenarios["k1_single_open"], "createJob (k = 1)")
    report: dict[str, Any] = {
        "generated_by": "ape run gas",
        "network": network,
        "evm": f"py-evm {b.tracer.fork} rules" if b.tracer.enabled else "the node's EVM",
        "contracts_evm_version": "cancun",
        "batch": batch,
        "settle_group": settle_group,
        "repeats": repeats,
    }
    report["steady_funding"] = steady_funding
    for name, (key, _) in SCENARIOS.items():
        report[key] = scenarios[name]["total"]
    report[batch_key(batch)] = batch_gas // batch
    report[batch_key(batch, True)] = distinct_gas // batch
    report["proof_batch_tx"] = {"same_operator": batch_gas, "distinct_operators": distinct_gas}
    report["scenarios"] = scenarios
    report["operations"] = {k: ops[k] for k in OPERATION_LABELS if k in ops}
    report["targets"] = {
        key: _target(report[key], target) for key, target in TARGETS.items() if key in report
    }
    report["breakdown"] = b.breakdown
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def _new_account(accounts: Any) -> Any:
    test = accounts.test_accounts if hasattr(accounts, "test_accounts") else accounts
    return test.generate_test_account()


def _step_gas(scenario: dict[str, Any], label: str) -> int:
    return next(e["gas"] // e["txs"] for e in scenario["steps"] if e["step"] == label)


def _target(measured: int, target: int) -> dict[str, Any]:
    return {"measured": measured, "target": target, "met": measured <= target}
