"""Node operations: one process per data directory and per key, no salt in what `tes-node status`
prints, and every mistake in the node's inputs (settings file, options, environment, deployment
record, RPC) one readable message with the fix, never a traceback; `run --help` shows every
setting with its default, and docs/tes-node.example.toml is true to them."""

import json
import os
import socket
import time
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from oracle.core.errors import ConfigError
from oracle.node.cli import _metrics_server, main, tes
from oracle.node.loop import _exclusive
from oracle.node.serve import MetricsServer
from oracle.node.settings import DEFAULT_METRICS_PORT, Settings, load_settings
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


# ---------------------------------------------------------------------- strict inputs, no traceback
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "tes-node.example.toml"


@pytest.fixture(autouse=True)
def _environ_restored():
    """`tes-node --config` names its file in this process's environment (TES_CONFIG_FILE), which
    CliRunner does not undo: without this, a later test in the same run reads a bad test TOML."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def clean_env(monkeypatch):
    """No TES_* setting from the environment of whoever runs the tests."""
    for name in list(os.environ):
        if name.startswith("TES_"):
            monkeypatch.delenv(name)
    return monkeypatch


def _record(tmp_path, chain_id=31337):
    path = tmp_path / "record.json"
    path.write_text(
        json.dumps({"chainId": chain_id, "contracts": {"NodeRegistry": "0x" + "11" * 20}})
    )
    return path


def _fails(args, *, env=None, tmp_path=None):
    """tes-node <args>: exit status 1, one `Error:` message, no traceback."""
    out = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert out.exit_code == 1, out.output
    assert "Traceback" not in out.output
    lines = out.output.splitlines()
    assert [line for line in lines if line.startswith("Error: ")] == lines[-1:], out.output
    return out.output


@pytest.mark.parametrize(
    "toml, expected",
    [
        ('rpc_ulr = "http://x"\n', "unknown setting 'rpc_ulr' in {path} (did you mean 'rpc_url'?)"),
        ("metrics_prot = 1\n", "did you mean 'metrics_port'?"),
        ("compute_price_per_cpu = 5\n", "did you mean 'compute_price_per_cpu_s'?"),
        ("zzz = 1\n", "unknown setting 'zzz' in {path}; `tes-node run --help` lists every setting"),
        ("rpc_url = \n", "{path} is not valid TOML: Invalid value (at line 1, column 11)"),
        ('workers = "many"\n', "workers in {path} = 'many': Input should be a valid integer"),
        ("workers = 0\n", "workers in {path} = 0: Input should be greater than or equal to 1"),
        ('backend = "gpu"\n', "backend in {path} = 'gpu': no backend 'gpu': use one of local, ray"),
        ('log_level = "LOUD"\n', "not a log level: use DEBUG, INFO, WARNING or ERROR"),
    ],
)
@pytest.mark.parametrize("command", ["run", "status"])
def test_bad_settings_file__one_message_with_the_fix(tmp_path, clean_env, toml, expected, command):
    path = tmp_path / "node.toml"
    path.write_text(toml)
    out = _fails([command, "--config", str(path)])
    assert expected.format(path=path) in out


@pytest.mark.parametrize(
    "args, env, expected",
    [
        (["--workers", "x"], {}, "Invalid value for '--workers': 'x' is not a valid integer"),
        ([], {"TES_WORKERS": "x"}, "TES_WORKERS = 'x': Input should be a valid integer"),
        (["--max-fee-gwei", "-1"], {}, "--max-fee-gwei = -1.0: Input should be greater than 0"),
        (["--deployment", "/nonexistent/local.json"], {},
         "no deployment record at /nonexistent/local.json: pass --deployment"),
        (["--config", "/nonexistent.toml"], {}, "'/nonexistent.toml' does not exist"),
        ([], {"TES_CONFIG_FILE": "/nonexistent.toml"}, "no settings file at /nonexistent.toml"),
    ],
)  # fmt: skip
def test_bad_option_or_environment__one_message(clean_env, args, env, expected):
    out = CliRunner().invoke(main, ["run", *args], env=env, catch_exceptions=False)
    assert out.exit_code in (1, 2), out.output  # 2: click's usage errors
    assert "Traceback" not in out.output and expected in out.output, out.output


def test_deployment_record_that_is_no_json__says_so(tmp_path, clean_env):
    bad = tmp_path / "local.json"
    bad.write_text("{")
    out = _fails(["run", "--deployment", str(bad)])
    assert f"{bad} is not a deployment record (JSONDecodeError" in out


def test_unreachable_rpc__one_line_with_the_url_and_the_fix(tmp_path, clean_env):
    started = time.monotonic()
    out = _fails(["run", "--rpc-url", "http://127.0.0.1:9", "--deployment", str(_record(tmp_path))])
    assert "cannot reach the chain at http://127.0.0.1:9 (ConnectionError)" in out
    assert "Pass --rpc-url" in out
    assert time.monotonic() - started < 30  # no minutes of retries


def test_status__without_database_or_chain__says_what_is_missing(tmp_path, clean_env):
    out = _fails(
        ["status", "--data-dir", str(tmp_path / "none"), "--deployment", str(tmp_path / "x.json")]
    )
    assert "nothing to show: no node database at" in out and "no deployment record" in out


def test_near_miss_environment_variable__warned(tmp_path, clean_env):
    out = CliRunner().invoke(
        main, ["status", "--no-chain", "--data-dir", str(tmp_path)], env={"TES_WORKRES": "3"}
    )
    assert "warning: TES_WORKRES is not a setting (did you mean TES_WORKERS?)" in out.output


# ---------------------------------------------------------------------- --help and the example
def test_run_help__every_setting_with_its_default():
    out = CliRunner().invoke(main, ["run", "--help"], terminal_width=400)
    assert out.exit_code == 0
    text = " ".join(out.output.split())
    for name in Settings.model_fields:
        if name == "config_file":
            continue
        flag = "--node-id" if name == "node_ids" else "--" + name.replace("_", "-")
        assert flag in text, name
        segment = text.split(flag + " ", 1)[1]
        segment = segment.split(" --", 2)[1 if segment.startswith("/") else 0]
        assert "[default: " in segment or "(default" in segment, (name, segment)
    assert f"[default: {DEFAULT_METRICS_PORT}]" in text
    for pricing in ("--min-margin", "--compute-price-per-cpu-s", "--gas-limit-estimate"):
        assert pricing in text


def test_example_toml__names_every_setting_with_its_default(clean_env):
    example = tomllib.loads(EXAMPLE.read_text())
    commented = {
        line.lstrip("# ").split(" =")[0]
        for line in EXAMPLE.read_text().splitlines()
        if line.startswith("# ") and " = " in line
    }
    settings = set(Settings.model_fields) - {"config_file"}
    assert settings <= set(example) | commented, settings - set(example) - commented
    clean_env.setenv("TES_CONFIG_FILE", str(EXAMPLE))
    s = load_settings()
    defaults = Settings.model_construct()
    for name in example:  # the values set in the example are the defaults, as it says
        assert getattr(s, name) == getattr(defaults, name), name


# ---------------------------------------------------------------------- metrics port, amounts
def test_metrics_port__default_taken_falls_back__an_explicit_one_is_an_error(clean_env):
    blocker = socket.socket()
    try:
        try:
            blocker.bind(("127.0.0.1", DEFAULT_METRICS_PORT))
            blocker.listen()
        except OSError:
            pass  # taken already (a node on this machine): the same situation
        server = _metrics_server(MetricsServer, Settings())
        try:
            assert not server.url.endswith(f":{DEFAULT_METRICS_PORT}")
        finally:
            server.stop()
        with pytest.raises(
            ConfigError, match=f"cannot serve /metrics on 127.0.0.1:{DEFAULT_METRICS_PORT}"
        ):
            _metrics_server(MetricsServer, Settings(metrics_port=DEFAULT_METRICS_PORT))
    finally:
        blocker.close()


@pytest.mark.parametrize(
    "wei, text",
    [(0, "0 TES"), (10**18, "1 TES"), (12_345_678 * 10**14, "1,234.5678 TES"),
     (15 * 10**17, "1.5 TES"), (1, "<0.0001 TES"), (10**14, "0.0001 TES")],
)  # fmt: skip
def test_amounts__at_most_four_decimals(wei, text):
    assert tes(wei) == text
