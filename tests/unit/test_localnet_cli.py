"""tes-localnet's pieces that need no chain: what `--fresh` may delete, the exports file, anvil's
development keys; and the demo keeping the logs it points to (docs/first-job.md, [5/7] 1 and 6).
The whole network is driven in tests/integration/test_localnet.py."""

import shlex
import subprocess

import click
import pytest
from eth_account import Account

from oracle.localnet.demo import _keep_only_logs
from oracle.localnet.keep import Layout, _wipe
from oracle.localnet.network import PASSPHRASE, dev_key


def test_dev_keys__are_anvils_funded_development_accounts():
    # anvil's first three accounts, as `anvil` lists them at start
    assert [Account.from_key(dev_key(i)).address for i in range(3)] == [
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    ]


def test_fresh__refuses_to_delete_a_directory_it_did_not_make(tmp_path):
    mine = tmp_path / "precious"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(click.ClickException, match="not a tes-localnet directory"):
        _wipe(Layout(mine))
    assert (mine / "thesis.tex").exists()


def test_fresh__deletes_a_network_directory(tmp_path):
    lay = Layout(tmp_path / ".localnet")
    (lay.nodes / "op0").mkdir(parents=True)
    (lay.nodes / "op0" / "node.sqlite").write_text("")
    lay.info.write_text("{}")
    lay.state.write_text("{}")
    _wipe(lay)
    assert not lay.root.exists()
    _wipe(lay)  # nothing there: nothing to do


def test_env_file__is_what_a_shell_sources(tmp_path):
    lay = Layout(tmp_path / "with space")
    lay.root.mkdir()
    lay.write_env("http://127.0.0.1:8545")
    out = subprocess.run(
        ["bash", "-c", f"source {shlex.quote(str(lay.env))} && env"],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert got["TES_PASSPHRASE"] == PASSPHRASE
    assert got["TES_RPC_URL"] == "http://127.0.0.1:8545"
    assert got["TES_DEPLOYMENT"] == str(lay.record) and got["APE_DATA_FOLDER"] == str(lay.ape)
    assert got["APE_ACCOUNTS_owner_PASSPHRASE"] == PASSPHRASE


def test_demo__keeps_the_logs_it_points_to_and_drops_the_rest(tmp_path):
    (tmp_path / "anvil.log").write_text("anvil")
    node = tmp_path / "nodes" / "op0"
    (node / "work" / "7").mkdir(parents=True)
    (node / "node.log").write_text("claimed job 7")
    (node / "node.sqlite").write_text("db")
    (node / "work" / "7" / "bundle.tar.gz").write_text("x")
    (tmp_path / "bundles").mkdir()
    (tmp_path / "bundles" / "train.tar.gz").write_text("x")
    _keep_only_logs(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["anvil.log", "nodes", "nodes/op0", "nodes/op0/node.log"]
