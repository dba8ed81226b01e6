"""The report's sections by name, in page order: the built-ins, and those an installed package adds
through the entry point group `workload_evals.sections`.

A section is a Jinja2 template rendered with the report's context (`m`, the ReportModel, and the
views render.py prepares), in the report's environment: autoescaped, so model outputs stay inert.
A package's section gives its template as source; it is wrapped in its own `<section>` with its
title, and listed in the page's navigation like the built-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from evals.registry import Registry, origin_of


def _always(context: dict[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Section:
    name: str
    """Its anchor on the page."""
    title: str
    order: int
    """Page position: the built-ins are at 10, 20, ... 100; a package picks a number between."""
    template: str
    """A file of the report's templates, or `section:<name>` for a package's source."""
    source: str | None = None
    shown: Callable[[dict[str, Any]], bool] = _always
    """Whether the section appears, given the render context."""


def _load_builtins() -> None:
    """The built-ins register below, at import; nothing more to import."""


SECTIONS: Registry[Section] = Registry("section", _load_builtins)


def section(name: str, *, title: str, order: int, source: str, shown: Callable[[dict[str, Any]], bool] = _always) -> Section:
    """Register a package's section: `source` is a Jinja2 template (autoescaped) with the report's context."""
    s = Section(name, title, order, f"section:{name}", f'<section id="{name}" aria-labelledby="{name}-h">\n<h2 id="{name}-h">{title}</h2>\n{source}\n</section>\n', shown)
    SECTIONS.add(name, s, origin_of(shown) + f":{name}" if shown is not _always else f"section:{name}")
    return s


def _builtin(name: str, title: str, order: int, shown: Callable[[dict[str, Any]], bool] = _always) -> None:
    SECTIONS.add(name, Section(name, title, order, f"_{name}.html.j2", None, shown), f"evals.report.sections:{name}")


_builtin("verdict", "Verdict", 10)
_builtin("disagreements", "What decides the verdict", 15, lambda context: bool(context.get("disagreements")))
_builtin("quality", "Quality", 20)
_builtin("cost", "Cost", 30)
_builtin("latency", "Latency", 40)
_builtin("routing", "Routing", 50)
_builtin("baseline", "Since baseline", 60)
_builtin("trend", "Trend", 70)
_builtin("confusion", "Confusion", 80, lambda context: bool(context.get("confusion")))
_builtin("failures", "Failures", 90)
_builtin("method", "Method", 100)


def page_sections(context: dict[str, Any]) -> list[Section]:
    """The sections this report shows, in page order."""
    return sorted((e.item for e in SECTIONS.entries().values() if e.item.shown(context)), key=lambda s: (s.order, s.name))


def sources() -> dict[str, str]:
    """Template name -> source of the packages' sections, for the report's template loader."""
    return {e.item.template: e.item.source for e in SECTIONS.entries().values() if e.item.source is not None}
