"""oracle/core/protocol.py mirrors the Solidity enums member by member: a reordered or renamed member on
either side fails here, before a node compares a status against the wrong number."""

import re
from pathlib import Path

import pytest

from oracle.core.protocol import MARKET_PARAMETER_FIELDS, SOLIDITY_ENUMS

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def _solidity_enums() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in CONTRACTS.rglob("*.sol"):
        text = re.sub(r"//[^\n]*", "", path.read_text())
        for name, body in re.findall(r"enum\s+(\w+)\s*\{([^}]*)\}", text):
            found[name] = [m.strip() for m in body.split(",") if m.strip()]
    return found


def _snake_upper(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


@pytest.mark.parametrize("name", sorted(SOLIDITY_ENUMS))
def test_enum__mirrors_solidity(name):
    members = _solidity_enums()[name]
    mirror = SOLIDITY_ENUMS[name]
    assert [m.name for m in mirror] == [_snake_upper(m) for m in members]
    assert [int(m) for m in mirror] == list(range(len(members)))


def test_market_parameters__mirror_the_struct():
    text = (CONTRACTS / "interfaces" / "IJobMarket.sol").read_text()
    body = re.sub(r"//[^\n]*", "", re.search(r"struct Parameters \{([^}]*)\}", text).group(1))
    names = re.findall(r"\b\w+\s+(\w+);", body)
    assert tuple(names) == MARKET_PARAMETER_FIELDS
