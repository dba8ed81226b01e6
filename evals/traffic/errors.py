"""The one error an import raises for bad input, so callers can catch it apart from bugs."""

from __future__ import annotations

from evals.errors import UsageError


class TrafficImportError(UsageError, ValueError):
    """The import cannot go on; the message names the file and says what to fix. Nothing was written."""
