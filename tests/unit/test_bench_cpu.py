"""The benchmark's CPU split (oracle/localnet/bench/cpu.py): a process's own CPU lands in its
group, what no named process used in the rest, and the machine's busy share is of all cores."""

import multiprocessing
import os
import time

import pytest

from oracle.localnet.bench.cpu import CpuWindow, process_cpu_s, with_descendants

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux /proc only")


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_busy_named_process__its_cpu_in_its_group__an_unnamed_one_in_the_rest():
    ctx = multiprocessing.get_context("fork")
    named, unnamed = ctx.Process(target=_spin, args=(0.6,)), ctx.Process(target=_spin, args=(0.6,))
    named.start()
    window = CpuWindow({"named": [named.pid]}).start()
    unnamed.start()
    time.sleep(0.5)  # both spin through the window (the stop reads the named one while it lives)
    window.stop()
    named.join()
    unnamed.join()
    rep = window.report(jobs=10)
    assert rep is not None
    assert 0.3 <= rep["cpu_s"]["named"] <= 0.7
    assert rep["cpu_s"]["jobs_and_rest"] >= 0.3  # the unnamed spinner (and anything else running)
    assert rep["ms_per_job"]["named"] == pytest.approx(100 * rep["cpu_s"]["named"], abs=0.2)
    assert 0 < rep["busy_share"] <= 1.05 and rep["cores"] == os.cpu_count()


def test_process_cpu__a_gone_process_is_none__descendants_include_children():
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=time.sleep, args=(1.0,))
    child.start()
    try:
        assert child.pid in with_descendants(os.getpid())
        assert process_cpu_s(os.getpid()) is not None
    finally:
        child.join()
    assert process_cpu_s(child.pid) is None
