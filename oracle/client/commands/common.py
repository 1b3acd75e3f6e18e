"""What every `tes-client` command shares: one-line errors (`fail_clearly`), the chain options
(`with_chain`) and the connection with the user's key (`connect`), durations as options give them."""

from __future__ import annotations

from functools import wraps
from pathlib import Path

import click

from oracle.core.errors import OracleError
from oracle.core.protocol import JobId, parse_job_id
from oracle.core.units import parse_duration as _parse_duration


def parse_duration(text: str, what: str) -> int:
    """Seconds from "90", "90s", "30m", "2h", "1d" (`oracle.core.units.parse_duration`); a bad
    value is a click error naming the option `what`."""
    try:
        return _parse_duration(text)
    except ValueError as err:
        raise click.BadParameter(f"{what}: {err}") from err


class JobIdParam(click.ParamType):
    """A job id as printed (0x and 64 hex digits) or in decimal."""

    name = "job_id"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return JobId(value)
        try:
            return parse_job_id(value)
        except ValueError:
            self.fail(f"{value!r} is not a job id (0x and 64 hex digits, as printed)", param, ctx)


JOB_ID = JobIdParam()


def fail_clearly(f):
    """Turns every error into one line on stderr and exit status 1: the client's own errors
    (which say what to do), a chain that stops answering, a revert, and, as a last resort,
    anything else (type and message; TES_DEBUG=1 shows the traceback)."""

    @wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except OracleError as err:
            raise click.ClickException(str(err)) from err
        except TimeoutError as err:
            raise click.ClickException(str(err) or "timed out") from err
        except Exception as err:  # noqa: BLE001 (the user gets one line, never a traceback)
            import os

            if os.environ.get("TES_DEBUG"):
                raise
            raise click.ClickException(_unexpected(err, kwargs.get("rpc_url"))) from err

    return wrapper


def _unexpected(err: Exception, rpc_url: str | None) -> str:
    """One line for an error the commands did not foresee."""
    import requests
    from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

    from oracle.client.inputs import unreachable
    from oracle.core.reverts import explain_revert

    if isinstance(err, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return unreachable(rpc_url or "the RPC URL", err)
    if isinstance(err, ContractCustomError | ContractLogicError | Web3RPCError):
        return f"the chain refused: {explain_revert(err, {})}"
    text = " ".join(str(err).split())[:300]
    return f"{type(err).__name__}: {text} (set TES_DEBUG=1 to see where)"


chain_options = [
    click.option("--rpc-url", envvar="TES_RPC_URL", default="http://127.0.0.1:8545", show_default=True,
                 help="JSON-RPC endpoint of the chain (env TES_RPC_URL)."),
    click.option("--deployment", envvar="TES_DEPLOYMENT", default="deployments/local.json", show_default=True,
                 type=click.Path(path_type=Path), help="Deployment record from `ape run deploy` (env TES_DEPLOYMENT)."),
    click.option("--account", envvar="TES_CLIENT_ACCOUNT", default="client", show_default=True,
                 help="ape account alias of your key (env TES_CLIENT_ACCOUNT)."),
    click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="File holding the keystore passphrase (else env TES_PASSPHRASE)."),
]  # fmt: skip


def with_chain(f):
    for opt in reversed(chain_options):
        f = opt(f)
    return f


def connect(
    rpc_url: str,
    deployment: Path,
    account: str | None,
    passphrase_file: Path | None,
    need_key: bool = True,
):
    import os

    from oracle.client.errors import ClientError
    from oracle.client.sdk import Client, check_deployment
    from oracle.core.chain import load_operator_key

    check_deployment(Path(deployment))  # before the key: a wrong path is the likelier mistake
    key = None
    passphrase = os.environ.get("TES_PASSPHRASE")
    if passphrase is None and passphrase_file is not None:
        passphrase = passphrase_file.read_text().strip()
    if need_key:
        if passphrase is None:
            raise ClientError(
                "no passphrase for your key: set TES_PASSPHRASE or pass --passphrase-file"
            )
        if account is None:
            raise ClientError("this command needs your key: pass --account ALIAS")
        key = load_operator_key(account, passphrase)
    elif passphrase is not None and account:
        # status and watch read the chain without a key; with one, they also look at the
        # result to tell a failed run from a good one (only the job's client may fetch it)
        try:
            key = load_operator_key(account, passphrase)
        except OracleError as err:
            click.echo(f"note: not checking results ({err})", err=True)
    return Client.connect(rpc_url, deployment, key)
