import os
import time

from hypothesis.stateful import run_state_machine_as_test

from tests.invariants import test_stateful as T


def test_dbg(world):
    T.EscrowMachine.world = world
    t = time.process_time()
    orig = T.EscrowMachine._read
    n = [0, 0.0]

    def rd(self, all_jobs=False):
        s = time.process_time()
        try:
            return orig(self, all_jobs)
        finally:
            n[0] += 1
            n[1] += time.process_time() - s

    T.EscrowMachine._read = rd
    try:
        run_state_machine_as_test(
            T.EscrowMachine,
            settings=T._settings(
                max_examples=int(os.environ.get("EX", 4)),
                stateful_step_count=int(os.environ.get("STEPS", 30)),
            ),
        )
    finally:
        print("\ntotal cpu", time.process_time() - t, "reads", n)
        print(", ".join(f"{k} x{v}" for k, v in sorted(T.COVERAGE.items())))


world = T.world
