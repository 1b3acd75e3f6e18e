"""Signing without prompts: the keystore passphrase the way tes-node takes it, `--yes` and
`--passphrase-file` for every script that sends transactions."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from oracle.ape_helpers.params import ScriptError

# ------------------------------------------------------------------ signing without prompts
PASSPHRASE_ENV = "TES_PASSPHRASE"


def read_passphrase(passphrase_file: Path | None) -> str | None:
    """The keystore passphrase the way tes-node takes it: TES_PASSPHRASE, else the first line of
    --passphrase-file; None when neither is given."""
    if env := os.environ.get(PASSPHRASE_ENV):
        return env
    if passphrase_file is not None:
        try:
            return Path(passphrase_file).read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise ScriptError(f"cannot read the passphrase file {passphrase_file}: {err}") from err
    return None


def unlock_account(account: Any, yes: bool, passphrase_file: Path | None = None) -> None:
    """Unlocks an ape keystore account with TES_PASSPHRASE / --passphrase-file (no passphrase
    prompt) and, with --yes, lets it sign every transaction of this command without asking
    `Sign: [y/N]`. Test accounts (TEST::n) never ask. --yes without a passphrase asks for it
    once on a terminal and is an error elsewhere (a prompt nobody can answer would hang)."""
    if not hasattr(account, "set_autosign"):
        return  # a test account or a hardware wallet: nothing to unlock here
    from ape.exceptions import AccountsError
    from ape.logging import LogLevel, logger

    alias = getattr(account, "alias", None) or account.address
    passphrase = read_passphrase(passphrase_file)
    ape_env = f"APE_ACCOUNTS_{alias}_PASSPHRASE"
    if yes and passphrase is None and ape_env not in os.environ and not sys.stdin.isatty():
        raise ScriptError(
            f"--yes signs without asking, but there is no passphrase for account {alias!r}: set"
            f" {PASSPHRASE_ENV} or pass --passphrase-file (nothing was sent)"
        )
    try:
        with logger.at_level(LogLevel.ERROR):  # not ape's "Danger! ... will sign any transaction"
            if yes:
                account.set_autosign(True, passphrase=passphrase)
            elif passphrase is not None:
                account.unlock(passphrase=passphrase)
    except AccountsError as err:
        source = PASSPHRASE_ENV if os.environ.get(PASSPHRASE_ENV) else "the passphrase file"
        raise ScriptError(
            f"cannot unlock account {alias!r} with {source}: wrong passphrase? ({err})"
        ) from err
    # ape warns "Using cached key for <alias>" before every signature of an unlocked account.
    logging.getLogger("ape").addFilter(_NoCachedKeyNotice())
    if yes:
        click.echo(f"Signing as {account.address} ({alias}) without prompts (--yes)", err=True)


class _NoCachedKeyNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Using cached key")


def signing_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --yes and --passphrase-file to a script's command; the account is unlocked before
    the command body runs. Put it right above the function, under the click options."""

    @click.option(
        "--yes",
        "-y",
        "yes",
        is_flag=True,
        default=False,
        help="Sign every transaction without a `Sign: [y/N]` prompt; the keystore passphrase"
        f" comes from {PASSPHRASE_ENV} or --passphrase-file (as for tes-node).",
    )
    @click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"File holding the account's keystore passphrase (else env {PASSPHRASE_ENV}).",
    )
    @functools.wraps(f)
    def wrapper(*args: Any, yes: bool, passphrase_file: Path | None, **kwargs: Any) -> Any:
        unlock_account(kwargs.get("account"), yes, passphrase_file)
        return f(*args, **kwargs)

    return wrapper


def account_ref(account: Any) -> str:
    """How to name `account` in a command line: its alias (`TEST::3` for a test account)."""
    return str(getattr(account, "alias", None) or account.address)
