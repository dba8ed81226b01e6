"""workload-evals: measure whether a self-hosted open model is good enough on a
team's own traffic, and what each completed task costs."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

__version__ = "0.1.0"


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) that imports a re-exported name's module on first use.

    A package's `__init__` runs whenever any of its modules is imported; re-exporting eagerly
    would make `import evals.measure.model` load both SDKs through the frontier, and
    `evals --help` would pay seconds for modules it never uses (tests/test_startup.py)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(exports[name]), name)

    return __getattr__
