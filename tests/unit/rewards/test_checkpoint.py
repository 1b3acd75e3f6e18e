"""Closing epochs: lazily, in order, in chunks; carry-over between epochs."""

from tests.utils.constants import INITIAL_EMISSION

E = INITIAL_EMISSION


def _closed(tx, rewards):
    return [(log.epoch, log.emission, log.carried) for log in tx.decode_logs(rewards.EpochClosed)]


def test_checkpoint__in_chunks__closes_finished_epochs_in_order(
    rewards, rtoken, goto_epoch, stranger
):
    goto_epoch(rewards, 5)
    tx = rewards.checkpoint(2, sender=stranger)
    # Nobody took part: each pot carries whole into the next.
    assert _closed(tx, rewards) == [(0, E, E), (1, E, 2 * E)]
    assert rewards.lastClosedEpoch() == 2
    assert rewards.totalMinted() == rewards.totalFunded() == 2 * E
    assert rtoken.balanceOf(rewards) == 2 * E
    assert rewards.carried() == 2 * E

    tx = rewards.checkpoint(10, sender=stranger)
    assert _closed(tx, rewards) == [(2, E, 3 * E), (3, E, 4 * E), (4, E, 5 * E)]
    assert rewards.lastClosedEpoch() == 5  # the current epoch stays open
    assert rewards.totalMinted() == 5 * E


def test_checkpoint__nothing_finished__is_a_no_op(rewards, rtoken, stranger):
    tx = rewards.checkpoint(10, sender=stranger)
    assert tx.decode_logs(rewards.EpochClosed) == []
    assert rewards.lastClosedEpoch() == 0
    assert rewards.totalMinted() == 0
    assert rtoken.balanceOf(rewards) == 0


def test_checkpoint__zero_max__closes_nothing(rewards, goto_epoch, stranger):
    goto_epoch(rewards, 2)
    tx = rewards.checkpoint(0, sender=stranger)
    assert tx.decode_logs(rewards.EpochClosed) == []
    assert rewards.lastClosedEpoch() == 0


def test_checkpoint__empty_epoch__reports_pots_and_carries_all(rewards, goto_epoch, stranger):
    goto_epoch(rewards, 2)
    tx = rewards.checkpoint(2, sender=stranger)
    logs = tx.decode_logs(rewards.EpochClosed)
    for i, log in enumerate(logs):
        pot = (i + 1) * E  # emission + the previous epoch's carry: all availability, no work
        assert (log.availabilityPot, log.workPot) == (pot, 0)
        assert log.fees == 0
        assert log.carried == pot


def test_epoch__closed_flag__follows_the_cursor(rewards, goto_epoch, stranger):
    goto_epoch(rewards, 3)
    rewards.checkpoint(1, sender=stranger)
    assert rewards.epoch(0).closed
    assert not rewards.epoch(1).closed
    assert not rewards.epoch(3).closed
