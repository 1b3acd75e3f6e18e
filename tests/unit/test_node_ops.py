"""Node operations that no hostile party may turn against the operator: one process per data
directory and per key, and no salt in what `tes-node status` prints."""

import json

import pytest
from click.testing import CliRunner

from oracle.core.errors import ConfigError
from oracle.node.cli import main
from oracle.node.loop import _exclusive
from oracle.node.store import Store

SALT = "ab" * 32


def test_lock__a_second_holder_is_refused_until_the_first_lets_go(tmp_path):
    first = _exclusive(tmp_path / "node.lock", "data directory x")
    with pytest.raises(
        ConfigError, match="another tes-node is already running with this data directory x"
    ):
        _exclusive(tmp_path / "node.lock", "data directory x")
    first.close()
    _exclusive(tmp_path / "node.lock", "data directory x").close()


def test_status_json__never_prints_a_salt(tmp_path):
    store = Store(tmp_path / "node.sqlite")
    store.upsert_job(7, stage="proven", node_id=1, result_hash="cd" * 32, salt=SALT)
    store.add_intent("reveal", 7, 1, {"result": "cd" * 32, "salt": SALT})
    store.close()

    out = CliRunner().invoke(main, ["status", "--json", "--data-dir", str(tmp_path)])

    assert out.exit_code == 0, out.output
    assert SALT not in out.output
    status = json.loads(out.output)
    assert status["jobs"][0]["salt"] == "<hidden>"
    # before the reveal the result hash alone lets a replica or juror commit to it without running
    assert "cd" * 32 not in out.output and status["jobs"][0]["result_hash"] == "<hidden>"
    assert status["pending_intents"][0]["payload"] == {"result": "<hidden>", "salt": "<hidden>"}


def test_status_table__no_salt__and_a_result_hash_only_once_public(tmp_path):
    store = Store(tmp_path / "node.sqlite")
    store.upsert_job(7, stage="proven", node_id=1, result_hash="cd" * 32, salt=SALT)
    store.upsert_job(8, stage="done", node_id=1, result_hash="ef" * 32, salt="12" * 32)
    store.close()

    out = CliRunner().invoke(main, ["status", "--data-dir", str(tmp_path)], terminal_width=200)

    assert out.exit_code == 0, out.output
    assert SALT not in out.output and "12" * 32 not in out.output
    assert "cdcdcdcd" not in out.output  # committed, not revealed: hidden
    assert "efefefef" in out.output  # settled: public (a prefix is shown)
