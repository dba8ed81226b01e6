"""Named extension points: providers, scorers and report sections.

Each kind has one registry. Built-ins register on import; an installed package
adds its own through an entry point in the group `workload_evals.<kind>s`
(loaded the first time the registry is read), and a suite's `plugins:` files
register when the suite is loaded. Two different objects under one name are
an error naming both: a plugin must never silently replace a built-in, nor
the other way round, depending on import order.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable, Generic, TypeVar

from evals.errors import UsageError

T = TypeVar("T")


class DuplicateNameError(UsageError):
    """Two extensions claim one name."""


class UnknownNameError(UsageError):
    """Nothing is registered under a name a suite or runner uses."""


def origin_of(obj: object) -> str:
    """Where an object was defined, `module.qualname`: the same origin registering again (a module
    imported twice) replaces itself; a different one is a clash."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    item: T
    origin: str


class Registry(Generic[T]):
    def __init__(self, kind: str, load_builtins: Callable[[], None]) -> None:
        self.kind = kind
        self.group = f"workload_evals.{kind}s"
        self._entries: dict[str, Entry[T]] = {}
        self._load_builtins = load_builtins
        self._loaded = False

    def add(self, name: str, item: T, origin: str) -> None:
        old = self._entries.get(name)
        if old is not None and old.origin != origin:
            raise DuplicateNameError(f"two {self.kind}s are named {name!r}: {old.origin} and {origin}; rename one of them")
        self._entries[name] = Entry(name, item, origin)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        self._load_builtins()
        for ep in entry_points(group=self.group):
            loaded = ep.load()  # importing the module runs its registration decorators
            if ep.name not in self._entries and callable(loaded):
                self.add(ep.name, loaded, origin_of(loaded))

    def get(self, name: str) -> Entry[T]:
        self._load()
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._entries))} (packages add more through the `{self.group}` entry point group)")
        return entry

    def entries(self) -> dict[str, Entry[T]]:
        self._load()
        return dict(self._entries)
