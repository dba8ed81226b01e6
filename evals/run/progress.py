"""Progress bars for long runs; silent in CI and when asked to be quiet."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as _RichProgress


class Progress:
    def __init__(self, quiet: bool = False) -> None:
        self.enabled = not quiet and not os.environ.get("CI") and sys.stderr.isatty()
        self._bar: _RichProgress | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._bar = _RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), transient=False
            )
            self._bar.__enter__()
        return self

    def add(self, name: str, total: int) -> Callable[[], None]:
        if self._bar is None:
            return lambda: None
        task = self._bar.add_task(name, total=total)
        bar = self._bar
        return lambda: bar.advance(task)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
