from hypothesis import Verbosity
from hypothesis.stateful import run_state_machine_as_test
from tests.invariants.test_stateful import EscrowMachine, world, _settings  # noqa: F401

def test_dbg(world):
    EscrowMachine.world = world
    run_state_machine_as_test(EscrowMachine, settings=_settings(max_examples=3, stateful_step_count=30, verbosity=Verbosity.verbose))
