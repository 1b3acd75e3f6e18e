"""Fixtures for running real node processes against the anvil chain ape starts (tests marked
`anvil`, run with `--network ethereum:local:foundry`)."""

import pytest

from oracle.localnet.deployment import Deployment, save_record
from tests.utils.nodes import NodeProcess, make_keystore


@pytest.fixture(scope="session")
def rpc_url(chain):
    provider = chain.provider
    uri = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    assert uri and uri.startswith("http"), (
        f"node tests need an HTTP chain node, got {provider.name}"
    )
    return uri


@pytest.fixture(scope="session")
def record(tmp_path_factory, chain, deployer, token, licence, registry, rewards, market):
    d = Deployment(
        token,
        licence,
        registry,
        rewards,
        market,
        deployer=str(deployer),
        chain_id=chain.chain_id,
        block_number=chain.blocks.head.number,
    )
    return save_record("test", d, tmp_path_factory.mktemp("deployments") / "test.json", abis=True)


@pytest.fixture(scope="session")
def ape_data(tmp_path_factory, operators):
    """A private ape data folder holding one encrypted keystore per operator (alias op0, op1...)."""
    folder = tmp_path_factory.mktemp("ape-data")
    for i, op in enumerate(operators):
        make_keystore(folder, f"op{i}", op.private_key)
    return folder


@pytest.fixture
def spawn(tmp_path, rpc_url, record, ape_data):
    """spawn(i, *extra_args, rpc_url=None, env=None) -> a started `tes-node run` process for
    operator i (through another RPC endpoint, with extra environment); all stopped at teardown."""
    started = []
    default_url = rpc_url

    def _spawn(i, *extra, start=True, rpc_url=None, env=None):
        n = NodeProcess(f"op{i}", tmp_path, rpc_url or default_url, record, ape_data, *extra)
        n.env.update(env or {})
        started.append(n)
        return n.start() if start else n

    yield _spawn
    for n in started:  # all at once: each may take seconds to finish its step and exit
        if n.alive():
            n.proc.terminate()
    for n in started:
        n.stop()
