"""The keystore passphrase leaves the environment once read: no child of the node (Ray workers,
nvidia-smi, a job's launcher) inherits TES_PASSPHRASE, and the node's own start-up environment
(/proc/<pid>/environ, readable by any process of the same user) no longer holds it."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from eth_account import Account

from oracle.localnet.network import PASSPHRASE, make_keystore
from oracle.node import loop as node_module
from oracle.node.loop import Node
from oracle.node.settings import Settings

REPO = Path(__file__).resolve().parents[2]

# Run as a fresh process, as `tes-node run` is: TES_PASSPHRASE comes in its start-up environment.
READ_THEN_SPAWN = r"""
import json, os, subprocess, sys, time
from oracle.node.settings import Settings

secret = sys.argv[1]
read = Settings().passphrase() == secret
child = subprocess.Popen(["sleep", "30"])  # as Ray or nvidia-smi would be started
try:
    time.sleep(0.1)
    child_environ = open(f"/proc/{child.pid}/environ", "rb").read()
finally:
    child.kill()
print(json.dumps({
    "read": read,
    "in_os_environ": "TES_PASSPHRASE" in os.environ,
    "in_env_child": secret in subprocess.run(["env"], capture_output=True, text=True).stdout,
    "in_child_proc_environ": secret.encode() in child_environ,
    "in_own_proc_environ": secret.encode() in open("/proc/self/environ", "rb").read(),
}))
"""


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_passphrase__read_once__no_child_inherits_it__and_proc_environ_is_wiped(tmp_path):
    secret = "pass-" + secrets.token_hex(16)
    env = {**os.environ, "TES_PASSPHRASE": secret, "TES_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", READ_THEN_SPAWN, secret], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"read": True, "in_os_environ": False, "in_env_child": False,
                    "in_child_proc_environ": False, "in_own_proc_environ": False}  # fmt: skip


def test_passphrase__a_second_read_finds_only_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TES_PASSPHRASE", "from-env")
    (tmp_path / "pass").write_text("from-file\n")
    s = Settings(data_dir=tmp_path, passphrase_file=tmp_path / "pass")
    assert s.passphrase() == "from-env"
    assert "TES_PASSPHRASE" not in os.environ
    assert s.passphrase() == "from-file"


def _child_env() -> str:
    return subprocess.run(["env"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def offline_chain(monkeypatch):
    """The node's construction without a chain: only the operator key and the environment matter."""
    chain = MagicMock()
    chain.abis = {"JobMarket": []}
    chain.deployment_block = 0
    monkeypatch.setattr(node_module.Chain, "connect", staticmethod(lambda *args, **kwargs: chain))


def test_node__unlocks_its_key_with_the_passphrase__and_no_child_inherits_it(
    tmp_path, monkeypatch, offline_chain
):
    operator = Account.create()
    make_keystore(tmp_path / "ape", "op", operator.key)
    monkeypatch.setenv("APE_DATA_FOLDER", str(tmp_path / "ape"))
    monkeypatch.setenv("TES_PASSPHRASE", PASSPHRASE)

    node = Node(Settings(data_dir=tmp_path / "data", account="op"), backend=MagicMock())
    try:
        assert node.key.address == operator.address  # the passphrase was read and worked
        assert "TES_PASSPHRASE" not in os.environ
        assert PASSPHRASE not in _child_env()
    finally:
        node.close()


def test_node__given_its_key__still_drops_a_passphrase_from_the_environment(
    tmp_path, monkeypatch, offline_chain
):
    monkeypatch.setenv("TES_PASSPHRASE", PASSPHRASE)

    node = Node(Settings(data_dir=tmp_path / "data"), key=Account.create(), backend=MagicMock())
    try:
        assert "TES_PASSPHRASE" not in os.environ
        assert PASSPHRASE not in _child_env()
    finally:
        node.close()
