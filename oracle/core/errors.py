"""One exception base for the node software; each stage raises its own subclass with a message
that tells the operator what went wrong and, where possible, what to do."""


class OracleError(Exception):
    """Base of every error the node raises on purpose."""


class InputError(OracleError):
    """A user's input (a manifest, a kind's config, a settings file) holds an unknown key or a
    value of the wrong shape; the message names the likely spelling."""


class ConfigError(OracleError):
    """Settings, keys or the deployment record are missing or wrong."""


class BundleError(OracleError):
    """A job bundle is malformed or hostile (bad manifest, escaping paths, links, too large)."""


class FetchError(OracleError):
    """A bundle could not be fetched, or its hash does not match the one on chain."""


class ExecutionError(OracleError):
    """A job could not be run (refused by the backend, sandbox unavailable...)."""


class SandboxUnavailableError(ExecutionError):
    """No working sandbox (bubblewrap) on this machine, and unsafe execution was not allowed."""


class JobRefusedError(ExecutionError):
    """The backend can never run this job (more CPUs, GPUs or memory than any worker has)."""


class ResultError(OracleError):
    """An output directory is not a valid result (links, special files, bad names), or a stored
    result is missing or does not match its hash."""


class SubmitError(OracleError):
    """A transaction could not be sent or was reverted."""
