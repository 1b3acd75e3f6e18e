"""Execution backends by name (oracle/execute/registry.py): one registry entry feeds the node's
`backend` setting and both command lines, so a new backend is one module plus one entry."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from oracle.client.cli import main as client_main
from oracle.execute.local import LocalSandboxBackend
from oracle.execute.registry import BACKENDS, BackendOptions, make
from oracle.node.cli import main as node_main
from oracle.node.settings import Settings


def test_the_registry_names_the_backends_and_builds_them(tmp_path):
    assert list(BACKENDS) == ["local", "ray"]
    backend = make("local", BackendOptions(work_dir=tmp_path, workers=1, allow_unsafe=True))
    assert isinstance(backend, LocalSandboxBackend)
    with pytest.raises(ValueError, match="unknown backend 'gpu-farm': one of local, ray"):
        make("gpu-farm", BackendOptions(work_dir=tmp_path))


def test_the_setting_takes_only_registered_names(monkeypatch):
    monkeypatch.delenv("TES_BACKEND", raising=False)
    assert Settings(backend="ray").backend == "ray"
    with pytest.raises(ValidationError, match="no backend 'gpu-farm': use one of local, ray"):
        Settings(backend="gpu-farm")


@pytest.mark.parametrize(
    "cli, args", [(node_main, ["run", "--help"]), (client_main, ["run-local", "--help"])]
)
def test_both_command_lines_offer_the_registered_names(cli, args):
    out = CliRunner().invoke(cli, args, terminal_width=400)
    assert out.exit_code == 0, out.output
    assert "[local|ray]" in out.output
