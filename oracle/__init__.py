"""TES node software (the oracle): watches the chain, runs paid jobs, submits proofs."""

__version__ = "0.1.0"
