"""A run that ends wakes the node's loop (oracle/node/execution.py `on_done`): a short job is
proven at once instead of at the next poll, which otherwise holds its seat a poll longer."""

import json
import threading
import time

from oracle.core import bundle as bundles
from oracle.core.protocol import job_hex
from oracle.node.execution import Executions
from oracle.node.settings import Settings


class SlowBackend:
    """Runs nothing: returns after `delay_s`, on the executor's worker thread."""

    def __init__(self, delay_s: float):
        self.delay_s = delay_s

    def run_bundle(self, job_id, bundle_dir, manifest, out):
        time.sleep(self.delay_s)
        return f"result {job_id}"


def test_run_ends__on_done_called_from_the_worker__result_collected(tmp_path):
    bundle = tmp_path / "work" / job_hex(3) / "bundle"
    bundle.mkdir(parents=True)
    (bundle / bundles.MANIFEST).write_text(json.dumps({"entrypoint": ["true"]}))
    ex = Executions(Settings(data_dir=tmp_path, workers=1), SlowBackend(0.2))  # type: ignore[arg-type]
    woke = threading.Event()
    ex.on_done = woke.set
    try:
        ex.start({"job_id": 3, "bundle_hash": "ab" * 32, "bundle_uri": "file:///unused"})
        assert ex.collect(3) is None and not woke.is_set()  # still running: no wake yet
        assert woke.wait(5.0)
        assert ex.collect(3) == "result 3" and not ex.is_running(3)
    finally:
        ex.close()
