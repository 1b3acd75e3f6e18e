"""`ape run gas` keeps working: its core runs on small batches and reports sane numbers."""

import json

import pytest

from scripts.gas import (
    BREAKDOWN_COLUMNS,
    K1_STEPS,
    OPERATION_LABELS,
    TARGETS,
    measure,
    render_markdown,
    render_tables,
    write_report,
)


@pytest.fixture(scope="module")
def report(project, accounts, chain):
    return measure(project, accounts, chain, batch_sizes=(1, 3), network="ethereum:local:test")


def test_measure__reports_required_keys_with_positive_gas(report):
    assert report["lifecycle_k1_total"] > 0 and report["lifecycle_k3_total"] > 0
    assert set(report["proof_relay_per_job"]) == {"1", "3"}
    assert all(gas > 0 for gas in report["proof_relay_per_job"].values())
    assert set(report["operations"]) == set(OPERATION_LABELS)
    assert all(gas > 21_000 for gas in report["operations"].values())


def test_measure__lifecycle_totals_are_the_sum_of_their_steps(report):
    assert list(report["lifecycle_k1"]) == [label for label, _ in K1_STEPS.values()]
    assert report["lifecycle_k1_total"] == sum(report["lifecycle_k1"].values())
    assert len(report["lifecycle_k3"]) == 13
    assert report["lifecycle_k3_total"] == sum(report["lifecycle_k3"].values())
    # Steady state: the first job ever pays one-off costs that later jobs do not.
    assert report["lifecycle_k1_first_job_total"] > report["lifecycle_k1_total"]


def test_measure__batching_proofs_lowers_the_cost_per_job(report):
    relay, tx = report["proof_relay_per_job"], report["proof_relay_tx"]
    assert relay["1"] == tx["1"]
    assert relay["3"] == tx["3"] // 3
    assert relay["3"] < relay["1"]


def test_measure__breakdown_adds_up_to_each_receipt(report):
    breakdown = report["breakdown"]
    assert {key for _, key in K1_STEPS.values()} <= set(breakdown)
    assert "proof_batch_3" in breakdown
    for name, entry in breakdown.items():
        by_category = sum(entry[column] for column, _ in BREAKDOWN_COLUMNS)
        assert by_category == entry["total"], name
        outside = entry["intrinsic"] + entry["calldata"] + entry["refund"]
        assert outside + sum(entry["by_contract"].values()) == entry["total"], name
        assert entry["calldata_floor"] < entry["total"], name  # EIP-7623 floor never decides


def test_measure__targets_compare_against_the_issue(report):
    k1 = report["targets"]["lifecycle_k1_total"]
    assert k1 == {
        "measured": report["lifecycle_k1_total"],
        "target": TARGETS["lifecycle_k1_total"],
        "met": report["lifecycle_k1_total"] <= TARGETS["lifecycle_k1_total"],
    }
    assert "proof_relay_per_job_100" not in report["targets"]  # batch of 100 not run here


def test_write_report__writes_json_and_markdown(report, tmp_path):
    md, js = write_report(report, tmp_path / "docs", "make gas")

    assert json.loads(js.read_text())["lifecycle_k1_total"] == report["lifecycle_k1_total"]
    text = md.read_text()
    assert text == render_markdown(report, "make gas")
    assert "`make gas`" in text and "200,000" in text
    assert f"{report['lifecycle_k1_total']:,}" in text
    assert "## Where the gas goes" in text
    assert len(render_tables(report)) == 2
