"""Gas of every transaction a TES job needs, per scenario (protocol v2).

    ape run gas                                   # in-process EVM: writes docs/gas.md + docs/gas.json
    ape run gas --network ethereum:local:foundry  # anvil: merges its numbers into docs/gas.json/md

The ape entry point only: what is measured and how is told in `oracle.ape_helpers.gas` (the
scenarios, the opcode tracer, the anvil comparison and the report).
"""

import json
from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, network_option

from oracle.ape_helpers.gas import (
    DEFAULT_BATCH,
    DEFAULT_REPEATS,
    DEFAULT_SETTLE_GROUP,
    IN_PROCESS,
    measure,
    merge_anvil,
    render_tables,
    write_report,
)


@click.command(cls=ConnectedProviderCommand, short_help="Measure the gas of every job scenario")
@network_option(default=IN_PROCESS)
@click.option(
    "--batch",
    default=DEFAULT_BATCH,
    show_default=True,
    type=click.IntRange(1),
    help="Proofs per submitProofs transaction (and jobs in the steady state).",
)
@click.option(
    "--settle-group",
    default=DEFAULT_SETTLE_GROUP,
    show_default=True,
    type=click.IntRange(1),
    help="Jobs per settleAndWithdraw (and per fee flush) in the steady state.",
)
@click.option(
    "--repeats",
    default=DEFAULT_REPEATS,
    show_default=True,
    type=click.IntRange(1),
    help="Jobs averaged in the drawn scenarios (k = 3 alone, dispute).",
)
@click.option(
    "--steady-funding",
    type=click.Choice(["standing", "deposit"]),
    default="deposit",
    show_default=True,
    help="How the steady state's client pays (`k1_steady_per_job`, issue [2/7]: a deposit): one"
    " deposit of every payment (creation moves no token) or one standing approve (a token"
    " transfer per job; also measured as `k1_steady_standing_per_job` either way).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs"),
    show_default=True,
    help="Where gas.md and gas.json go.",
)
@click.option("--no-write", is_flag=True, help="Print the tables only.")
def cli(
    provider: Any,
    batch: int,
    settle_group: int,
    repeats: int,
    steady_funding: str,
    out_dir: Path,
    no_write: bool,
) -> None:
    """Deploys a fresh TES network on a local chain and measures every job scenario. On a
    network other than the in-process EVM, merges into an existing in-process docs/gas.json."""
    from ape import accounts, chain, project
    from rich.console import Console

    if not (provider.network.is_local or provider.network.is_fork):
        raise click.UsageError("the gas benchmark deploys with test accounts: use a local network")
    console = Console()
    report = measure(
        project, accounts, chain, batch=batch, settle_group=settle_group, repeats=repeats,
        steady_funding=steady_funding, network=provider.network_choice,
        log=lambda msg: console.log(msg),
    )  # fmt: skip
    existing = out_dir / "gas.json"
    if provider.network_choice != IN_PROCESS and existing.exists():
        base = json.loads(existing.read_text())
        same_run = (base.get("batch"), base.get("repeats"), base.get("steady_funding")) == (
            batch, repeats, report.get("steady_funding"),
        )  # fmt: skip
        if base.get("network") == IN_PROCESS and same_run:
            report = merge_anvil(base, report)
            c = report["anvil"]["comparison"]
            console.print(f"merged into {existing}: largest difference"
                          f" {100 * c['max_relative_difference']:.2f} %")  # fmt: skip
    for table in render_tables(report):
        console.print(table)
    if not no_write:
        md, js = write_report(report, out_dir, "make gas")
        console.print(f"wrote {md} and {js} ({report.get('seconds')} s)")
