"""oracle/core/units.py: the one amount / duration / time parser and formatter of the node, the
client and the ape scripts."""

from decimal import Decimal

import pytest

from oracle.core.units import (
    E18,
    AmountError,
    format_amount,
    format_duration,
    format_eth,
    format_tes,
    format_time,
    parse_amount,
    parse_duration,
    parse_eth,
    parse_tes,
    parse_time,
)


@pytest.mark.parametrize(
    "text, wei",
    [
        ("12.5", 125 * 10**17), ("12.5 TES", 125 * 10**17), ("1,000", 1000 * E18),
        ("1,000,000 tes", 10**6 * E18), ("1_000", 1000 * E18), (".5", 5 * 10**17), ("5.", 5 * E18),
        ("1e3", 1000 * E18), ("1E+3", 1000 * E18), ("1.5e-3", 15 * 10**14), ("1.5e21 wei", 1500 * E18),
        ("3 gwei", 3 * 10**9), ("  7  ", 7 * E18), ("0", 0), (42, 42 * E18), (Decimal("0.25"), E18 // 4),
        ("0.000000000000000001", 1),
    ],
)  # fmt: skip
def test_parse_amount__what_the_client_and_the_scripts_both_accept(text, wei):
    assert parse_amount(text) == wei == parse_tes(text)


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "e.g."), ("lots", "e.g."), ("-1", "e.g."), ("1,5", "e.g."), ("1,0000", "e.g."),
        ("1.2.3", "e.g."), ("1 TES TES", "e.g."), ("1 ETH", "unit 'eth' not allowed"),
        ("0.5 wei", "whole number of wei"), ("0.0000000000000000001", "whole number of wei"),
        ("1e-30", "whole number of wei"), (True, "a number"),
    ],
)  # fmt: skip
def test_parse_amount__refuses_anything_else_and_says_why(text, why):
    with pytest.raises(AmountError) as info:
        parse_amount(text)
    assert info.value.text == text and why in info.value.why
    assert str(info.value).startswith(f"not an amount: {text!r} (")
    assert isinstance(info.value, ValueError)


def test_parse_eth__takes_eth_and_ether_not_tes():
    assert parse_eth("0.1") == parse_eth("0.1 ETH") == parse_eth("0.1 ether") == E18 // 10
    with pytest.raises(AmountError, match="not allowed"):
        parse_eth("1 TES")


@pytest.mark.parametrize(
    "wei, cut, rounded",
    [
        (0, "0 TES", "0 TES"),
        (1_250 * E18, "1,250 TES", "1250 TES"),
        (2 * E18 // 3, "0.6666 TES", "0.6667 TES"),
        (2 * E18 - 1, "1.9999 TES", "2 TES"),
        (123, "<0.0001 TES", "0.000000000000000123 TES"),
        (1_234_567 * 10**9, "0.0012 TES", "0.0012 TES"),
        (-15 * 10**17, "-1.5 TES", "-1.5 TES"),
        (10**24 + 1, "1,000,000 TES", "1000000 TES"),
    ],
)
def test_format_amount__cut_and_grouped_or_rounded_and_readable_back(wei, cut, rounded):
    assert format_tes(wei) == format_amount(wei) == cut
    assert format_tes(wei, rounded=True) == rounded
    if wei >= 0:  # the rounded form is what parse_amount reads back (to its shown precision)
        back = parse_amount(rounded.removesuffix(" TES"))
        assert abs(back - wei) <= E18 // 10**4 // 2 or back == wei


def test_format_amount__exact_keeps_every_decimal_and_reads_back():
    wei = 123_456_789 * 10**9 + 1
    exact = format_tes(wei, exact=True)
    assert exact == "0.123456789000000001 TES"
    assert parse_tes(exact) == wei
    assert format_eth(E18 // 10) == "0.1 ETH"


def test_durations_and_times():
    assert [parse_duration(x) for x in ("90", "90s", "30m", "2H", "1d", "2w", 60)] == [
        90, 90, 1_800, 7_200, 86_400, 1_209_600, 60,
    ]  # fmt: skip
    for bad in ("soon", "-5m", "1.5h", "5 minutes", ""):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)
    assert format_duration(3_720) == "1h 2m" and format_duration(0) == "0s"
    assert format_duration(-90) == "-1m 30s" and format_duration(90_061) == "1d 1h"
    assert parse_time("2026-01-01T00:00:00Z") == parse_time("2026-01-01T00:00") == 1_767_225_600
    assert parse_time(" 0 ") == 0
    assert format_time(1_767_225_600) == "2026-01-01 00:00:00 UTC"
    with pytest.raises(ValueError, match="not a time"):
        parse_time("tomorrow")
