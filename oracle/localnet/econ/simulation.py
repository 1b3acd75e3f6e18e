"""The epoch loop: every strategy against honest operation, paired epoch by epoch.

For each strategy a fresh copy of the same network (one deployment and population, snapshotted)
gets the attacker's capital. Every epoch then runs in two parts:

  prefix  (shared)  heartbeats, re-activation, clients' jobs, k = 1 claims, the seat draws
  body    (twice)   from one chain snapshot: first with the attacker behaving honestly, then
                    playing its strategy; every job of the epoch is driven to a terminal status,
                    the nodes' fees are pushed to Rewards as work (`JobMarket.pushWork`) and time
                    moves to the next epoch, which closes this one's rewards.

The attacker's holdings at the end of the two bodies differ only by what the strategy did: same
draws, same jobs, same capital. profit_vs_honest sums that difference over the epochs; the run
continues from the strategy's body. Consequences that outlast an epoch (a jail running into the
next one) are not charged to the strategy, so the figures lean in the attacker's favour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from oracle.localnet.deployment import DEFAULTS, E18, JOB_COLLATERAL, JOB_PAYMENT, deploy_all
from oracle.localnet.econ.strategies import Strategy, build
from oracle.localnet.econ.world import Actor, Node, Policy, Position, World

EPOCH_START_OFFSET = 60  # seconds into an epoch when its prefix runs


@dataclass(frozen=True)
class SimConfig:
    epochs: int = 5  # ~1 min per strategy on a free core: `make econ` stays near 10 minutes
    k1_jobs: int = 2  # per epoch, by the honest clients
    k3_jobs: int = 2
    # One owner and one operator key each. Enough for an escalated round to be seated: a k = 1
    # dispute that escalates needs 1 + 3 + 7 distinct nodes, a k = 3 round 3 + 7.
    honest_nodes: int = 12
    honest_stake: int = 10_000 * E18
    flaky_every: int = 3  # the population's faulty node gets every n-th k = 1 job it runs wrong
    payment: int = JOB_PAYMENT
    collateral: int = JOB_COLLATERAL
    tes_per_eth: int = 1_000  # to charge ETH spent (gas, licences) in TES
    strategies: tuple[str, ...] = field(default_factory=tuple)  # empty: all

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("honest_stake", "payment", "collateral"):
            out[key] = out[key] / E18
        out["strategies"] = list(self.strategies)
        return out


class Flaky(Policy):
    """A population node with bad hardware: every n-th k = 1 job it runs comes out wrong, so the
    client's check disputes it and juries are drawn in every run, honest or not."""

    def __init__(self, every: int):
        self.every = every

    def result(self, w: World, job_id: int, node: Node) -> bytes | None:
        # Keyed on the job, not on a counter: both branches of an epoch must see the same faults.
        job = w.d.market.job(job_id)
        if job.k == 1 and job.round == 0 and job_id % self.every == 0:
            return b"\xee" * 32
        return w.expected(job_id)


def build_world(project: Any, accounts: Any, chain: Any, cfg: SimConfig) -> World:
    test = accounts.test_accounts if hasattr(accounts, "test_accounts") else accounts
    deployer, treasury, keeper = test[0], test[1], test[5]
    d = deploy_all(project, deployer, treasury, params=DEFAULTS)
    w = World(d, chain, deployer, treasury, keeper, test)
    w.population = []
    for i in range(cfg.honest_nodes):
        policy = Flaky(cfg.flaky_every) if i == cfg.honest_nodes - 1 else Policy()
        w.population.append(w.new_node(w.new_account(), cfg.honest_stake, policy))
    budget = (cfg.k1_jobs + cfg.k3_jobs) * cfg.payment * (cfg.epochs + 1) + 100 * cfg.collateral
    w.clients = [w.new_client(budget), w.new_client(budget)]
    return w


def _epoch_start(w: World, epoch: int) -> int:
    rw = w.d.rewards
    return rw.genesisTime() + (epoch + 1) * rw.epochLength()  # epoch 0 of the run = rewards epoch 1


def run_prefix(w: World, strategy: Strategy, actor: Actor, cfg: SimConfig, epoch: int) -> None:
    w.advance_to(_epoch_start(w, epoch) + EPOCH_START_OFFSET)
    w.upkeep()
    strategy.prefix(w, actor, epoch)
    for i in range(cfg.k1_jobs):
        w.create_job(w.clients[i % 2], 1, cfg.payment, cfg.collateral)
    for i in range(cfg.k3_jobs):
        w.create_job(w.clients[(i + 1) % 2], 3, cfg.payment, cfg.collateral)
    # k = 1 jobs are first-come; the simulation hands them round-robin to the nodes able to serve,
    # starting with the attacker's: a strategy that never held a job would show 0 and prove nothing.
    ordered = [n for n in w.nodes.values() if actor.owns(n.id)] + [
        n for n in w.nodes.values() if not actor.owns(n.id)
    ]
    servers = [n for n in ordered if w.can_claim(n)]
    k1 = [j for j in w.jobs if w.d.market.job(j).k == 1 and j not in w.failing]
    for i, job_id in enumerate(k1):
        if servers:
            w.claim(job_id, servers[(epoch * cfg.k1_jobs + i) % len(servers)])
    w.draw_ready()


def run_body(w: World, strategy: Strategy, actor: Actor, epoch: int, attack: bool) -> Position:
    if attack:
        strategy.install(w, actor)
        strategy.branch(w, actor, epoch)
    w.drive()
    w.push_work()  # the epoch's job fees count as this epoch's work, claimable once it closes
    w.advance_to(_epoch_start(w, epoch + 1) + 1)
    return w.position(actor)


def _rewind(chain: Any, timestamp: int) -> None:
    """After a restore: the next block's time as it was at the snapshot (the same in both branches)."""
    head = chain.provider.evm_backend.get_block_by_number("latest")["timestamp"]
    # ape's setter skips a value equal to the pending block it reports, which after a restore can
    # be stale: travel on the in-process EVM directly.
    chain.provider.evm_backend.time_travel(max(timestamp, head + 2))  # mines one block


def run_strategy(
    w: World, strategy: Strategy, cfg: SimConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    chain = w.chain
    actor = strategy.setup(w, cfg)
    honest_policies = {n.id: Policy() for n in actor.nodes}
    w.policies.update(honest_policies)
    start = w.position(actor)
    diff_tes = diff_eth = 0
    per_epoch = []
    for epoch in range(cfg.epochs):
        run_prefix(w, strategy, actor, cfg, epoch)
        saved, snap, ts = w.save(), chain.snapshot(), chain.pending_timestamp
        nodes_before = list(actor.nodes)
        honest = run_body(w, strategy, actor, epoch, attack=False)
        chain.restore(snap)
        _rewind(chain, ts)
        w.load(saved)
        actor.nodes[:] = nodes_before
        attacked = run_body(w, strategy, actor, epoch, attack=True)
        for n in actor.nodes:  # back to honest behaviour until the next epoch's branch
            w.policies[n.id] = Policy()
        w.disputers = []
        d_tes, d_eth = attacked.tes - honest.tes, attacked.eth - honest.eth
        diff_tes += d_tes
        diff_eth += d_eth
        per_epoch.append(round((d_tes + d_eth * cfg.tes_per_eth) / E18, 6))
    end = w.position(actor)
    profit = (diff_tes + diff_eth * cfg.tes_per_eth) / E18
    log(f"{strategy.name}: {profit:+.4f} TES vs honest")
    return {
        "profit_vs_honest": round(profit, 6),
        "why": strategy.why,
        "detail": {
            "tes_vs_honest": round(diff_tes / E18, 6),
            "eth_vs_honest": diff_eth / E18,
            "per_epoch": per_epoch,
            "capital_tes": round(start.tes / E18, 6),
            "net_change_tes": round((end.tes - start.tes) / E18, 6),
            **strategy.detail(w, actor),
        },
    }


def simulate(
    project: Any,
    accounts: Any,
    chain: Any,
    cfg: SimConfig,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Runs every strategy of `cfg` for `cfg.epochs` epochs; returns the docs/econ.json report."""
    began = time.monotonic()
    w = build_world(project, accounts, chain, cfg)
    genesis, genesis_ts, genesis_state = chain.snapshot(), chain.pending_timestamp, w.save()
    population = (dict(w.nodes), list(w.population))
    results: dict[str, Any] = {}
    for strategy in build(list(cfg.strategies) or None):
        chain.restore(genesis)
        genesis = chain.snapshot()
        _rewind(chain, genesis_ts)
        w.load(genesis_state)
        w.nodes, w.population = dict(population[0]), list(population[1])
        results[strategy.name] = run_strategy(w, strategy, cfg, log)
    m = w.d.market.parameters()
    return {
        "parameters": {
            **cfg.as_json(),
            "market": {
                name: getattr(m, name)
                for name in (
                    "protocolFeeBps",
                    "keeperBountyBps",
                    "minCollateralBps",
                    "disputeReplicas",
                    "acceptWindow",
                )
            },
            "min_stake": DEFAULTS.min_stake / E18,
            "initial_emission_per_epoch": DEFAULTS.initial_emission / E18,
            "epoch_length_s": DEFAULTS.epoch_length,
            "jail_period_s": DEFAULTS.jail_period,
            "licence_price_eth": DEFAULTS.tier_price / E18,
        },
        "epochs": cfg.epochs,
        "seconds": round(time.monotonic() - began, 1),
        "strategies": results,
    }
