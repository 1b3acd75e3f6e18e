"""The preflight stage (oracle/node/preflight.py) on manifests as a client writes them: what the node
would refuse when the job starts is refused before the claim, and the worst case is priced."""

import pytest

from oracle.core.bundle import Manifest
from oracle.core.errors import JobRefusedError
from oracle.node.preflight import Caps, check, plan

CAPS = Caps(max_time_limit_s=3_600, max_output_mb=1_024, max_processes=256, proof_margin_s=60)


def _manifest(**kw) -> Manifest:
    return Manifest.model_validate({"entrypoint": ["python3", "main.py"], **kw})


def test_plan__fanout__shards_run_workers_at_a_time_then_the_reduce():
    m = _manifest(
        time_limit_s=100, resources={"cpus": 2}, fanout={"shards": 5, "reduce": ["python3", "r.py"]}
    )
    p = plan(m, parallel=2, caps=CAPS)
    assert (p.worst_case_s, p.runs, p.cpu_seconds) == ((3 + 1) * 100 + 60, 6, 100 * 2 * 6)


def test_check__a_plain_job_inside_the_window__planned(tmp_path):
    p = check(
        1, tmp_path, _manifest(time_limit_s=60), execution_window_s=120, parallel=1, caps=CAPS
    )
    assert (p.worst_case_s, p.runs, p.cpu_seconds) == (120, 1, 60.0)


@pytest.mark.parametrize(
    "manifest, says",
    [
        (dict(env={"OMP_NUM_THREADS": "8"}), "OMP_NUM_THREADS is pinned"),
        (dict(env={"SEED": "3"}), "SEED is set by the backend"),
        (dict(env={"TES_SHARD": "0"}), "TES_SHARD is set by the backend"),
        (dict(env={"bad name": "x"}), "invalid environment variable"),
        (dict(entrypoint=[""]), "entrypoint must be a non-empty list"),
        (
            dict(fanout={"shards": 2, "reduce": ["python3", ""]}),
            "entrypoint must be a non-empty list",
        ),
        (dict(time_limit_s=3_601), "time_limit_s 3601 is above this node's cap of 3600"),
        (dict(max_output_mb=2_048), "max_output_mb 2048 is above"),
        (dict(max_processes=257), "max_processes 257 is above"),
        (dict(time_limit_s=61), "worst case 121s"),
        (
            dict(packages={"numpy": "0.0.1"}),
            r"pinned packages differ: numpy==0\.0\.1 \(this node has \d",
        ),
        (dict(packages={"no-such-dist": "1"}), r"no-such-dist==1 \(this node has none\)"),
        (dict(packages={"python": "2.7"}), r"python==2\.7"),
        (
            dict(time_limit_s=10, fanout={"shards": 12, "reduce": ["python3", "r.py"]}),
            "does not fit the 120s",
        ),
    ],
)
def test_check__refuses_before_the_claim_with_the_reason(tmp_path, manifest, says):
    with pytest.raises(JobRefusedError, match=says):
        check(1, tmp_path, _manifest(**manifest), execution_window_s=120, parallel=1, caps=CAPS)


def test_check__pins_this_node_honours__taken(tmp_path):
    """A command job pins packages in its manifest.json (`packages`); the built-in kinds pin the
    client's versions. The node takes a job whose pins are what its sandbox runs with."""
    import platform
    from importlib import metadata

    pins = {
        "numpy": metadata.version("numpy"),
        "python": ".".join(platform.python_version_tuple()[:2]),
    }
    m = _manifest(time_limit_s=10, packages=pins)
    assert check(1, tmp_path, m, execution_window_s=120, parallel=1, caps=CAPS).runs == 1
