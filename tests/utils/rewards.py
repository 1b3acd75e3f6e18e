"""Expected-value helpers for Rewards tests: the contract's arithmetic, in Python."""

BPS = 10_000
SCALE = 10**18


def split(pot: int, availability_bps: int) -> tuple[int, int]:
    """(availabilityPot, workPot) of a pot, rounded as the contract rounds."""
    availability = pot * availability_bps // BPS
    return availability, pot - availability


def emission(epoch: int, initial: int, halving_epochs: int) -> int:
    """The schedule: `initial >> (epoch // halving_epochs)`, 0 past 255 halvings."""
    halvings = epoch // halving_epochs
    return 0 if halvings > 255 else initial >> halvings
