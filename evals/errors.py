"""The errors the tool raises on purpose, each owning its exit code.

The command line maps an error to its exit code by its class, never by
guessing from a built-in exception type: a `KeyError` or `RuntimeError` that
escapes is a bug and is shown as one, with its traceback.
"""

from __future__ import annotations


class EvalsError(Exception):
    """Base of every error the tool raises on purpose."""

    exit_code: int = 1


class UsageError(EvalsError):
    """The user must change something: a file, a field, a flag, a name, an environment variable.
    Nothing was written; the message says what to change."""

    exit_code = 2


class InfrastructureError(EvalsError):
    """Something outside the user's input failed: the store, a server that would not start, the disk."""

    exit_code = 1
