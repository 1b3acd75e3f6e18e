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


def test_job_terms__mirror_the_abi_tuple_the_market_hashes():
    """The dataclass's fields and the type string ids are hashed with are the compiled ABI's
    `JobTerms` (the input of `jobIdOf`): a field added, moved or resized there fails here."""
    from dataclasses import fields

    from eth_utils.abi import collapse_if_tuple

    from oracle.core.chain import load_abis
    from oracle.core.protocol import JOB_TERMS_ABI, JobTerms

    (fn,) = [e for e in load_abis({})["JobMarket"] if e.get("name") == "jobIdOf"]
    (arg,) = fn["inputs"]
    assert collapse_if_tuple(arg) == JOB_TERMS_ABI
    assert [c["name"] for c in arg["components"]] == [f.name for f in fields(JobTerms)]


def test_job_id__parsed_from_hex_or_decimal__printed_as_hex():
    from oracle.core.protocol import JobId, job_hex, parse_job_id

    job_id = 2**255 + 7
    assert parse_job_id(job_hex(job_id)) == parse_job_id(str(job_id)) == job_id
    assert str(JobId(job_id)) == f"{JobId(job_id)}" == job_hex(job_id) == "0x8" + "0" * 61 + "07"
    for bad in ("0x" + "f" * 65, "-1", "job 7"):
        with pytest.raises(ValueError):
            parse_job_id(bad)


def test_the_clis_job_id_parameter__takes_hex_or_decimal__refuses_anything_else():
    import click

    from oracle.client.commands.common import JOB_ID

    assert (
        JOB_ID.convert("0x" + "0" * 62 + "ff", None, None)
        == JOB_ID.convert("255", None, None)
        == 255
    )
    with pytest.raises(click.BadParameter, match="not a job id"):
        JOB_ID.convert("job-7", None, None)
