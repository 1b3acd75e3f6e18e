"""The commands on a job's result and the client's money: fetch and verify a result against the
chain, dispute a k = 1 result, cancel an unclaimed job, deposit TES to pay jobs from, withdraw
credited TES, show the balance."""

from __future__ import annotations

from pathlib import Path

import click

from oracle.client.commands.common import JOB_ID, connect, fail_clearly, with_chain


@click.command()
@click.argument("job_id", type=JOB_ID)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the result (new or empty).",
)
@with_chain
@fail_clearly
def fetch(job_id, out, rpc_url, deployment, account, passphrase_file) -> None:
    """Download a job's result from a node that produced it (the URL the node announced on
    chain; the request is signed with your key, since only the job's client may fetch it),
    and check it against the chain: a mismatch is refused and nothing is written.

    \b
    k = 1: the chain holds keccak(jobId, nodeId, resultHash, salt); the node sends its salt,
           which is checked and kept next to the result as OUT.tes-salt (for `verify`).
           Served once the proof is in (accepted or paid).
    k >= 3: the chain holds the agreed result hash; served once the job is paid."""
    from oracle.client.views import outcome_of, salt_path

    client = connect(rpc_url, deployment, account, passphrase_file)
    digest = client.fetch(job_id, out)
    kept = salt_path(out)
    click.echo(f"result of job {job_id} in {out}: 0x{digest.hex()} matches the chain"
               + (f" (salt kept in {kept})" if kept.is_file() else ""))  # fmt: skip
    outcome = outcome_of(out)
    if outcome.failed:
        click.echo(f"job {job_id}: {outcome.label} (the run was paid: the failure is the result)")
        if outcome.stderr_tail:
            click.echo("the end of its stderr:")
            click.echo("\n".join("  | " + line for line in outcome.stderr_tail.splitlines()))
        elif outcome.exit_code is None or not 0 < outcome.exit_code < 128:
            click.echo("(no stderr is kept for a run stopped by a limit or a signal: try"
                       " `tes-client run-local` on the bundle)")  # fmt: skip


@click.command()
@click.argument("job_id", type=JOB_ID)
@click.argument("result_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also check this bundle is what the job ran.",
)
@click.option(
    "--salt",
    help="k = 1: the node's salt, 0x + 64 hex (default: RESULT_DIR.tes-salt from `fetch`).",
)
@click.option(
    "--node",
    "node_id",
    type=int,
    help="k = 1, with --salt: the node that sent it (default: the job's node).",
)
@with_chain
@fail_clearly
def verify(
    job_id, result_dir, bundle, salt, node_id, rpc_url, deployment, account, passphrase_file
) -> None:
    """Recompute the result hash of a directory (docs/bundle.md) and check it against the job's
    on-chain record: the agreed result hash (k >= 3, or a k = 1 result revealed in a dispute),
    or for k = 1 the salted commitment, with the salt `fetch` kept (or --salt). Exit status 1 on
    a mismatch."""
    from oracle.client.views import parse_salt

    client = connect(rpc_url, deployment, account, passphrase_file, need_key=False)
    digest = client.verify(
        job_id, result_dir, bundle, salt=parse_salt(salt) if salt else None, node_id=node_id
    )
    click.echo(f"OK: {result_dir} is job {job_id}'s result 0x{digest.hex()}")


@click.command()
@click.argument("job_id", type=JOB_ID)
@with_chain
@fail_clearly
def dispute(job_id, rpc_url, deployment, account, passphrase_file) -> None:
    """Dispute a k = 1 job's accepted result inside its dispute window (anyone but the job's own
    node operator or owner may). You post a bond equal to the job's collateral (approve +
    dispute); a jury of nodes is drawn by the contract, re-runs the job and commits, then the
    jurors and the original node reveal. What happens to your bond:

    \b
      overturned (the jury's majority disagrees, or the node does not reveal):
                 your bond back plus 50 % of the node's seized collateral; the
                 client's payment is refunded
      upheld     (the majority agrees with the node): you lose the bond; it pays
                 the jurors who were right, and the node is paid as usual
      no answer  (no jury forms, or no juror reveals): the result stands and you
                 get the bond back minus a 10 % fee, paid to the node you held up

    Refunds and winnings are credited to your market balance: your next `submit` spends it,
    or collect it with `tes-client withdraw`."""
    from oracle.client.inputs import fmt_tes

    client = connect(rpc_url, deployment, account, passphrase_file)
    bond = client.dispute(job_id)
    click.echo(
        f"job {job_id} disputed with a {fmt_tes(bond)} bond; a jury is being drawn to re-run it"
    )


@click.command()
@click.argument("job_id", type=JOB_ID)
@with_chain
@fail_clearly
def cancel(job_id, rpc_url, deployment, account, passphrase_file) -> None:
    """Withdraw an open job nobody has claimed yet (the payment is credited back to your market
    balance: `withdraw`, or spent by your next `submit`)."""
    connect(rpc_url, deployment, account, passphrase_file).cancel(job_id)
    click.echo(f"job {job_id} cancelled")


@click.command()
@with_chain
@fail_clearly
def withdraw(rpc_url, deployment, account, passphrase_file) -> None:
    """Send your market balance (refunds, won dispute bonds, deposits not spent) to your
    wallet."""
    from oracle.client.inputs import fmt_tes

    amount = connect(rpc_url, deployment, account, passphrase_file).withdraw()
    click.echo(f"withdrew {fmt_tes(amount)}")


@click.command()
@click.argument("amount")
@with_chain
@fail_clearly
def deposit(amount, rpc_url, deployment, account, passphrase_file) -> None:
    """Move AMOUNT TES (e.g. 100 or 2.5) from your wallet into your market balance. `submit`
    pays a job from that balance whenever it covers the whole payment: no permit and no token
    transfer per job. Two transactions (approve, deposit); `withdraw` takes back what is left."""
    from oracle.client.inputs import fmt_tes, tes

    wei = tes(amount)  # read before anything is asked of the chain
    balance = connect(rpc_url, deployment, account, passphrase_file).deposit(wei)
    click.echo(f"deposited {fmt_tes(wei)}; market balance {fmt_tes(balance)}")


@click.command()
@with_chain
@fail_clearly
def balance(rpc_url, deployment, account, passphrase_file) -> None:
    """Show your address, the TES in your wallet, your market balance (refunds, won bonds and
    deposits: what `submit` pays from first and `withdraw` sends back) and the market's minimum
    fee."""
    from oracle.client.inputs import fmt_tes

    client = connect(rpc_url, deployment, account, passphrase_file)
    p = client.parameters()
    click.echo(f"address   {client.address}")
    click.echo(f"wallet    {fmt_tes(client.balance())}")
    click.echo(f"balance   {fmt_tes(client.credited())} (refunds, deposits)")
    click.echo(
        f"min fee   {fmt_tes(p['minJobFee'])} (collateral >= {p['minCollateralBps'] / 100:g}% of payment)"
    )
