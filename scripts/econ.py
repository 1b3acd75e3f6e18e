"""Adversarial economics: every attack strategy against honest work, on the real contracts.

    ape run econ                         # in-process EVM; writes docs/ECONOMICS.md + docs/econ.json
    ape run econ --epochs 5 --strategies honest,free_disputer --no-write

See oracle/localnet/econ/ for the population, the strategies and the paired-epoch measurement.
"""

from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, network_option

from oracle.localnet.econ import STRATEGIES, SimConfig, simulate
from oracle.localnet.econ.report import write_report


def _strategies(_ctx: Any, _param: Any, value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip()) if value else ()
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise click.BadParameter(f"unknown: {', '.join(unknown)}; known: {', '.join(STRATEGIES)}")
    return names


@click.command(
    cls=ConnectedProviderCommand, short_help="Play every attack strategy against honest work"
)
@network_option(default="ethereum:local:test")
@click.option("--epochs", default=SimConfig.epochs, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--k1-jobs",
    default=SimConfig.k1_jobs,
    show_default=True,
    type=click.IntRange(0, 50),
    help="k = 1 jobs per epoch (honest clients).",
)
@click.option(
    "--k3-jobs",
    default=SimConfig.k3_jobs,
    show_default=True,
    type=click.IntRange(0, 50),
    help="k = 3 jobs per epoch (honest clients).",
)
@click.option(
    "--honest-nodes", default=SimConfig.honest_nodes, show_default=True, type=click.IntRange(4, 50)
)
@click.option(
    "--tes-per-eth",
    default=SimConfig.tes_per_eth,
    show_default=True,
    type=click.IntRange(0),
    help="Price used to charge ETH spent (gas, licences) in TES.",
)
@click.option(
    "--strategies",
    default="",
    callback=_strategies,
    help=f"Comma-separated subset (default all): {', '.join(STRATEGIES)}.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs"),
    show_default=True,
)
@click.option("--no-write", is_flag=True, help="Print the results only.")
def cli(provider: Any, epochs: int, k1_jobs: int, k3_jobs: int, honest_nodes: int, tes_per_eth: int,
        strategies: tuple[str, ...], out_dir: Path, no_write: bool) -> None:  # fmt: skip
    """Deploys a fresh TES network on a local chain and measures each strategy's profit over honest
    operation with the same capital."""
    import ape_ethereum.provider
    from ape import accounts, chain, project
    from rich.console import Console

    if not provider.network.is_local:
        raise click.UsageError(
            "the simulation deploys with test accounts and snapshots: use a local network"
        )
    # ape replays every transaction with a call trace only to print console.log lines; none here.
    ape_ethereum.provider._post_send_transaction = lambda tx, receipt: None
    console = Console()
    cfg = SimConfig(epochs=epochs, k1_jobs=k1_jobs, k3_jobs=k3_jobs, honest_nodes=honest_nodes,
                    tes_per_eth=tes_per_eth, strategies=strategies)  # fmt: skip
    report = simulate(project, accounts, chain, cfg, log=console.log)
    for name, r in report["strategies"].items():
        console.print(f"{name:24} {r['profit_vs_honest']:+14.4f} TES")
    if not no_write:
        md, js = write_report(report, out_dir)
        console.print(f"wrote {md} and {js} ({report['seconds']} s)")
