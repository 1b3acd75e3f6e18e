"""What the scripts' options accept from a person (click parameter types over the shared parsers
of `oracle.core.units`) and the one error they expect: `ScriptError`."""

from __future__ import annotations

from typing import Any

import click
from eth_utils import is_address, to_checksum_address

from oracle.core.units import parse_amount, parse_duration, parse_time


class ScriptError(click.ClickException):
    """An expected failure: printed as `Error: <message>`, exit status 1."""


class Amount(click.ParamType):
    """A click option type for `parse_amount`."""

    def __init__(self, unit: str = "tes") -> None:
        self.unit = unit
        self.name = f"{unit.upper()} amount"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return parse_amount(value, self.unit)
        except ValueError as err:
            self.fail(str(err), param, ctx)


TES = Amount("tes")
ETH = Amount("eth")


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return parse_duration(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


class Timestamp(click.ParamType):
    name = "time"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return parse_time(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


def resolve_address(value: str) -> str:
    """A checksummed address from a 0x address, an ape account alias or `TEST::<n>`."""
    value = str(value).strip()
    if is_address(value):
        return to_checksum_address(value)
    from ape import accounts

    if value.upper().startswith("TEST::") and value[6:].isdigit():
        index = int(value[6:])
        if index < len(accounts.test_accounts):
            return str(accounts.test_accounts[index].address)
    elif value in accounts.aliases:
        return str(accounts.load(value).address)
    raise ValueError(f"{value!r} is neither an address nor an ape account alias")


class AddressParam(click.ParamType):
    name = "address"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        try:
            return resolve_address(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


ADDRESS = AddressParam()
