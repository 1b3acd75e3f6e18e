"""Errors the client reports to its user: each says what is wrong and how to fix it."""

from oracle.core.errors import OracleError


class ClientError(OracleError):
    """A bad input or a refused action, explained (the CLI prints it and exits 1)."""


class ResultMismatch(ClientError):
    """Files that are not the job's accepted result (the chain's hash or commitment disagrees)."""
