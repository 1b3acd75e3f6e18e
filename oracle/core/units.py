"""Amounts, durations and times as people type and read them: the one parser and formatter of
each, for the node, the client and the ape scripts.

    parse_amount("1.5 TES") == parse_amount("1,500e-3") == parse_amount("1.5e18 wei") == 15 * 10**17
    format_tes(33_333_333_333_333_333_333) == "33.3333 TES"     # cut to 4 decimals, grouped
    format_tes(2 * E18 // 3, rounded=True) == "0.6667 TES"     # rounded, readable back
    parse_duration("90m") == 5_400;  format_duration(3_720) == "1h 2m"

Everything here is exact (integers and `Decimal`, never floats) and raises `ValueError` for a
bad input; each front end words that as its own error (click's, the client's).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

E18 = 10**18
# Wei per unit a person may name after an amount.
WEI_PER = {"wei": 1, "gwei": 10**9, "tes": E18, "eth": E18, "ether": E18}
# Decimals shown of an amount: enough for any fee or reward a person compares, never 18.
SHOWN_DECIMALS = 4

# A number (thousands grouped by commas, or with underscores; decimals; an exponent), then a unit.
_AMOUNT = re.compile(
    r"^\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9][0-9_]*)(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?"
    r"|\.[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$",
    re.I,
)


class AmountError(ValueError):
    """`text` is not an amount of the unit asked for; `why` says what is wrong with it."""

    def __init__(self, text: object, why: str) -> None:
        self.text, self.why = text, why
        super().__init__(f"not an amount: {text!r} ({why})")


def parse_amount(text: str | int | Decimal, unit: str = "tes") -> int:
    """An amount in wei from "1000", "1,000 TES", "12.5", ".5", "1.5e21 wei", "0.25 ETH" or
    "3 gwei"; an int or a Decimal is a number of `unit`.

    A bare number is in `unit` (`tes` or `eth`). Exact (no floats): refuses negatives, fractions
    of a wei and the other currency's unit ("1 ETH" where TES is meant)."""
    if isinstance(text, bool):
        raise AmountError(text, "a number is wanted")
    if isinstance(text, int | Decimal):
        text = str(text)
    m = _AMOUNT.match(str(text))
    if not m:
        raise AmountError(text, f"e.g. 1000, '1000 {unit.upper()}', '1.5e21 wei'")
    number, given = m.group(1).replace("_", "").replace(",", ""), (m.group(2) or unit).lower()
    allowed = {"wei", "gwei", unit} | ({"ether"} if unit == "eth" else set())
    if given not in allowed:
        raise AmountError(text, f"unit {given!r} not allowed here: use {unit.upper()} or wei")
    try:
        value = Decimal(number) * WEI_PER[given]
    except InvalidOperation as err:
        raise AmountError(text, "not a number") from err
    if value != value.to_integral_value():
        raise AmountError(text, "not a whole number of wei: at most 18 decimals of TES")
    return int(value)


def parse_tes(text: str | int | Decimal) -> int:
    return parse_amount(text, "tes")


def parse_eth(text: str | int | Decimal) -> int:
    return parse_amount(text, "eth")


def format_amount(
    wei: int, unit: str = "TES", *, exact: bool = False, rounded: bool = False
) -> str:
    """An amount for people, in `unit` (18 decimals).

    By default: thousands grouped, at most SHOWN_DECIMALS decimals, cut (never rounded up),
    trailing zeros dropped; a non-zero amount below that shows as "<0.0001 TES", never as 0
    (12_500 * 10**17 -> "1,250 TES"). `exact` keeps every decimal (for a value a command line
    will read back). `rounded` (the client's style): not grouped, rounded half to even, and an
    amount too small for SHOWN_DECIMALS shows its first three significant digits
    ("0.000000000000000123 TES"): `parse_amount` reads every one of them back."""
    value = int(wei)
    sign = "-" if value < 0 else ""
    if rounded:
        amount = Decimal(abs(value)) / E18
        if amount == 0:
            return f"0 {unit}"
        shown = amount.quantize(Decimal(1).scaleb(-SHOWN_DECIMALS), rounding=ROUND_HALF_EVEN)
        if shown == 0:
            shown = amount.quantize(Decimal(1).scaleb(amount.adjusted() - 2), ROUND_HALF_EVEN)
        whole_text, _, decimals = f"{shown:f}".partition(".")
        return (
            f"{sign}{whole_text}{'.' + decimals.rstrip('0') if decimals.rstrip('0') else ''} {unit}"
        )
    whole, frac = divmod(abs(value), E18)
    decimals = f"{frac:018d}".rstrip("0")
    if not exact:
        decimals = decimals[:SHOWN_DECIMALS].rstrip("0")
        if frac and not whole and not decimals:
            return f"{sign}<0.{'0' * (SHOWN_DECIMALS - 1)}1 {unit}"
    return f"{sign}{whole:,}{'.' + decimals if decimals else ''} {unit}"


def format_tes(wei: int, exact: bool = False, *, rounded: bool = False) -> str:
    return format_amount(wei, "TES", exact=exact, rounded=rounded)


def format_eth(wei: int, exact: bool = False) -> str:
    return format_amount(wei, "ETH", exact=exact)


# ------------------------------------------------------------------ durations and times
_DURATION = re.compile(r"^\s*([0-9]+)\s*(s|m|h|d|w)?\s*$", re.I)
SECONDS_PER = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def parse_duration(text: str | int) -> int:
    """Seconds from "3600", "90s", "90m", "12h", "7d" or "2w"."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration (e.g. 90, 90s, 30m, 12h, 7d, 2w)")
    return int(m.group(1)) * SECONDS_PER[(m.group(2) or "s").lower()]


def format_duration(seconds: int) -> str:
    """3_720 -> "1h 2m": the two largest units."""
    seconds = int(seconds)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return " ".join(parts[:2]) or "0s"


def parse_time(text: str | int) -> int:
    """A unix timestamp from "0" (none), "1767225600" or an ISO 8601 time ("2026-01-01T00:00Z";
    UTC when it names no zone)."""
    s = str(text).strip()
    if s.isdigit():
        return int(s)
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError as err:
        raise ValueError(f"not a time: {text!r} (unix seconds or ISO 8601)") from err
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp())


def format_time(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
