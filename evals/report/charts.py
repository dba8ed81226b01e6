"""Charts for the report: small matplotlib figures as inline SVG markup.

SVG, not PNG, so the report stays one text file that scales and prints
crisply; `svg.fonttype: none` keeps labels as text (searchable, a fraction of
the size of glyph paths). Labels come from runner names, which are user
data: matplotlib escapes `<`, `>` and `&` in text and `--` in the comments it
writes, and the comments are stripped anyway; mathtext is switched off so a
`$` in a name is shown, not parsed. Callers pass labels ready to print, since
changing them after drawing would break the layout matplotlib measured.
Every chart is a picture of numbers the report also prints in a table, so
nothing is lost when a reader cannot see it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import cycle
from typing import Any, NamedTuple

import matplotlib
from matplotlib.axis import Axis
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from evals.report.text import fmt_usd

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, VERMILLION, GREY = "#0072B2", "#E69F00", "#D55E00", "#7F7F7F"
TEXT_RED = "#A63D00"
"""Vermillion darkened to a 6:1 contrast on white, for text."""
VERDICT_COLOURS = {"good enough": BLUE, "not good enough": VERMILLION}
API_STYLES = ((ORANGE, "--"), (VERMILLION, "-."), ("#CC79A7", ":"), ("#009E73", (0, (5, 1, 1, 1))), ("#56B4E9", (0, (1, 1))))
"""Colour and dash per API line: the rest of Okabe-Ito, each with its own dash so lines stay apart in grey print too."""
PASS_RATE_MIN_SPAN = 20.0
"""Narrowest pass-rate axis in points: a 1-point change between nights stays a small step, not a full-height swing."""
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_GROUP_ID = re.compile(r' id="[A-Za-z][\w.]*_\d+"')
"""matplotlib's numbered group ids (figure_1, axes_1): nothing refers to them, and they repeat across charts in one page."""


@contextmanager
def _style(name: str) -> Iterator[None]:
    """One place for the settings every chart needs.

    The hash salt makes the ids matplotlib writes (clip paths, markers)
    deterministic and distinct per chart, since several SVGs share one HTML
    document and ids must be unique in it.
    """
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": f"evals-{name}",
            "text.parse_math": False,
            "font.size": 9,
            "font.family": "sans-serif",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        yield


def _to_svg(fig: Figure, simulated: bool) -> str:
    """The figure as bare `<svg>` markup fit for inlining in HTML.

    A SIMULATED watermark travels with the picture, since charts get
    screenshotted and shared without the page around them.
    """
    if simulated:
        fig.text(1.0, 1.0, "SIMULATED", ha="right", va="bottom", color=TEXT_RED, fontsize=11, fontweight="bold")
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    return _GROUP_ID.sub("", _COMMENT.sub("", _PROLOG.sub("", buf.getvalue(), count=1)))


def _height(rows: int) -> float:
    """Figure height in inches: a fixed frame plus a band per row."""
    return 0.9 + 0.32 * max(rows, 1)


class Gap(NamedTuple):
    label: str
    gap: float
    ci: list[float] | None
    verdict: str


class Cost(NamedTuple):
    label: str
    usd: float
    text: str
    """The figure as the tables print it, so chart and table agree to the digit."""
    reference: bool


class Latency(NamedTuple):
    label: str
    ttft_p50: float | None
    ttft_p95: float | None
    e2e_p50: float | None
    e2e_p95: float | None


def gap_forest(gaps: list[Gap], margin: float, simulated: bool) -> str | None:
    """Each candidate's gap and 95% interval against zero and the −margin line.

    This is the verdict drawn: an interval wholly right of −margin is good
    enough, wholly left is not, straddling is inconclusive.
    """
    if not gaps:
        return None
    with _style("gap"):
        fig = Figure(figsize=(6.4, _height(len(gaps))))
        ax = fig.add_subplot()
        for y, g in enumerate(gaps):
            colour = VERDICT_COLOURS.get(g.verdict, GREY)
            if g.ci:
                ax.plot([100 * g.ci[0], 100 * g.ci[1]], [y, y], color=colour, linewidth=3, solid_capstyle="butt")
            ax.plot([100 * g.gap], [y], "o", color=colour, markersize=7, markeredgecolor="white")
        ax.axvline(0, color="#333333", linewidth=0.8)
        ax.axvline(-100 * margin, color=VERMILLION, linewidth=1, linestyle="--")
        ax.text(-100 * margin, -0.5, f" −margin ({100 * margin:g} pts)", color=TEXT_RED, va="top", fontsize=8)
        ax.set_yticks(range(len(gaps)), [g.label for g in gaps])
        ax.set_ylim(len(gaps) - 0.4, -0.6)
        ax.set_xlim(*gap_limits(gaps, margin))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+,.0f}" if v else "0"))
        ax.set_xlabel("Pass-rate gap, candidate − reference (percentage points, 95% CI)")
        return _to_svg(fig, simulated)


def gap_limits(gaps: list[Gap], margin: float) -> tuple[float, float]:
    """The gap axis in points: every interval whole, with the zero and −margin lines, and a little room either side."""
    ends = [0.0, -100 * margin] + [100 * x for g in gaps for x in (g.ci or [g.gap])] + [100 * g.gap for g in gaps]
    pad = max(1.0, 0.08 * (max(ends) - min(ends)))
    return min(ends) - pad, max(ends) + pad


def cost_bars(costs: list[Cost], simulated: bool) -> str | None:
    """Cost per completed task per runner; the reference in a second colour."""
    if not costs:
        return None
    with _style("cost"):
        fig = Figure(figsize=(6.4, _height(len(costs))))
        ax = fig.add_subplot()
        ys = range(len(costs))
        ax.barh(ys, [c.usd for c in costs], color=[ORANGE if c.reference else BLUE for c in costs])
        for y, c in zip(ys, costs):
            ax.text(c.usd, y, f" {c.text}", va="center", fontsize=8)
        ax.set_yticks(ys, [c.label for c in costs])
        ax.invert_yaxis()
        ax.set_xlabel("USD per completed task")
        ax.set_xlim(0, 1.25 * max(c.usd for c in costs) or 1.0)  # bars start at zero; room for the labels
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _dollars(v)))
        return _to_svg(fig, simulated)


def latency_bars(rows: list[Latency], simulated: bool) -> str | None:
    """Time to first token and end-to-end latency per runner, p50 over a lighter p95."""
    if not any(r.ttft_p50 or r.e2e_p50 for r in rows):
        return None
    with _style("latency"):
        fig = Figure(figsize=(7.2, _height(len(rows))))
        axes = fig.subplots(1, 2, sharey=True)
        ys = list(range(len(rows)))
        panels = (("Time to first token (ms)", "ttft_p50", "ttft_p95"), ("End-to-end latency (ms)", "e2e_p50", "e2e_p95"))
        for ax, (title, p50, p95) in zip(axes, panels):
            ax.barh(ys, [getattr(r, p95) or 0.0 for r in rows], color="#9CC7E4", label="p95")
            ax.barh(ys, [getattr(r, p50) or 0.0 for r in rows], color=BLUE, height=0.5, label="p50")
            ax.set_xlabel(title)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        axes[0].set_yticks(ys, [r.label for r in rows])
        axes[0].invert_yaxis()
        axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
        return _to_svg(fig, simulated)


class CurvePoint(NamedTuple):
    volume: float
    """Requests per month."""
    monthly: float
    per_completed: float


class ApiLine(NamedTuple):
    label: str
    points: list[CurvePoint]
    break_even: CurvePoint | None
    """The self-hosted runner's point at the break-even volume against this API; None: it never breaks even."""


def break_even_chart(name: str, self_hosted: str, staircase: list[CurvePoint], apis: list[ApiLine], volume: float, simulated: bool) -> str | None:
    """One self-hosted runner against each API as monthly volume grows: monthly cost, and cost per completed task.

    Both axes are logarithmic, so an API's cost (price × volume) is a straight
    line and the self-hosted cost a staircase, one step per added replica.
    The break-even is defined per completed task, so it sits where the lines
    of the right panel cross; on the left it can sit off the crossing by the
    ratio of the pass rates. `name` keeps the SVG ids of several such charts
    in one page apart.
    """
    if not staircase or not apis:
        return None
    with _style(f"break-even-{name}"):
        fig = Figure(figsize=(8.4, 3.6))
        axes = fig.subplots(1, 2)
        panels = ((axes[0], "monthly", "Monthly cost (USD, 730 h)"), (axes[1], "per_completed", "Cost per completed task (USD)"))
        xs = [p.volume for p in staircase]
        for ax, field, title in panels:
            ax.plot(xs, [getattr(p, field) for p in staircase], color=BLUE, linewidth=2.2, drawstyle="steps-post" if field == "monthly" else "default", label=f"{self_hosted} (self-hosted)")
            for line, (colour, dash) in zip(apis, cycle(API_STYLES)):
                ax.plot([p.volume for p in line.points], [getattr(p, field) for p in line.points], color=colour, linestyle=dash, linewidth=1.6, label=f"{line.label} (API)")
                if line.break_even:
                    ax.plot([line.break_even.volume], [getattr(line.break_even, field)], "D", color=colour, markersize=8, markeredgecolor="black", label=f"break-even vs {line.label}: {line.break_even.volume:,.0f}/month")
            ax.axvline(volume, color="#333333", linewidth=1, linestyle=(0, (2, 2)), label=f"your volume: {volume:,.0f}/month")
            ax.set_xscale("log")
            ax.set_yscale("log")
            _log_ticks(ax.xaxis, _compact)
            _log_ticks(ax.yaxis, _dollars)
            ax.set_xlabel("Requests per month (730 h)")
            ax.set_title(title, fontsize=9, loc="left")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8, frameon=False)
        fig.tight_layout()
        return _to_svg(fig, simulated)


def _log_ticks(axis: Axis, fmt: Callable[[float], str]) -> None:
    """Plain labels on a log axis: every power of ten, and 2× and 5× between them.

    matplotlib's own log labels are mathtext, which the charts switch off, so
    they would print as source; the 2× and 5× labels keep a span of under
    two decades from showing a single number.
    """
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: fmt(v) if f"{v:.0e}"[0] in "25" else ""))
    axis.set_tick_params(which="minor", pad=5.0)  # minor ticks are shorter: line their labels up with the major ones


def _compact(x: float) -> str:
    """A volume tick: 20k, 1.5M."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= size:
            return f"{x / size:g}{suffix}"
    return f"{x:g}"


def _dollars(x: float) -> str:
    """A cost tick: $0.00001, $0.0025, $20, $5k; never `1e-05` or an offset."""
    if x == 0:
        return "$0"
    if x >= 1000:
        return f"${_compact(x)}"
    if x >= 1 and float(x).is_integer():
        return f"${x:,.0f}"
    return fmt_usd(x)


def cell_colours(value: float | None, palette: str = "cividis") -> tuple[str, str]:
    """Background and text colour for a table cell shaded by a value in [0, 1].

    cividis (heatmaps) is perceptually uniform and readable with
    colour-vision deficiencies; Blues (counts) keeps zero nearly white so the
    non-zero cells stand out. The text colour is whichever of black or white
    contrasts more with the cell (WCAG relative luminance).
    """
    if value is None:
        return "#EEEEEE", "#000000"
    r, g, b, _ = matplotlib.colormaps[palette](min(max(value, 0.0), 1.0))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    # Contrast with black is (L + .05) / .05, with white 1.05 / (L + .05): equal at L ≈ 0.179.
    return to_hex((r, g, b)), "#000000" if luminance > 0.179 else "#FFFFFF"


def trend_svg(points: list[dict[str, Any]], current: str | None = None) -> str:
    """Pass rate (with interval), cost per completed task and latency p95 over
    the runs, as inline SVG in the report's chart style. Runs whose gate found
    a regression are drawn in vermillion; the run `current` (the report's own,
    tonight's in a nightly) is marked by a dashed line and labelled."""
    if not points:
        raise ValueError("no trend points to draw")
    runner = str(points[0]["runner"])
    xs = list(range(len(points)))
    labels = [str(p["created_at"])[5:16].replace("T", " ") for p in points]
    colours = [VERMILLION if p.get("gate") == "regression" else BLUE for p in points]
    with _style(f"trend-{runner}"):
        fig = Figure(figsize=(7.2, 5.2))
        quality, cost, latency = fig.subplots(3, 1, sharex=True)
        for x, p, colour in zip(xs, points, colours):
            if p["pass_rate"] is None:
                continue
            if p["pass_rate_ci"]:
                lo, hi = p["pass_rate_ci"]
                quality.plot([x, x], [100 * lo, 100 * hi], color=colour, linewidth=2, solid_capstyle="butt", clip_on=False)
            quality.plot([x], [100 * p["pass_rate"]], "o", color=colour, markersize=5)
        quality.set_ylabel("Pass rate % (95% CI)")
        quality.set_ylim(*pass_rate_limits(points))
        quality.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
        for ax, key, label in ((cost, "cost_per_completed_task_usd", "USD per completed task"), (latency, "latency_ms_p95", "Latency p95 (ms)")):
            pts = [(x, p[key]) for x, p in zip(xs, points) if p[key] is not None]
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], "-o", color=GREY, markerfacecolor=BLUE, markeredgecolor=BLUE, markersize=4)
            ax.set_ylabel(label)
            # From zero: a few per cent of drift reads as a few per cent, not as the whole height.
            ax.set_ylim(0, 1.15 * max((y for _, y in pts), default=1.0) or 1.0)
        cost.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _dollars(v)))
        latency.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        latency.set_xticks(xs, labels, rotation=45, ha="right")
        for x, p in zip(xs, points):
            if p.get("run_id") == current:
                for ax in (quality, cost, latency):
                    ax.axvline(x, color=GREY, linestyle="--", linewidth=1)
                quality.annotate("this run", (x, 1), xycoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=8)
        quality.set_title(f"{runner}: last {len(points)} runs", loc="left")
        return _to_svg(fig, any(p.get("simulated") for p in points))


def pass_rate_limits(points: list[dict[str, Any]]) -> tuple[float, float]:
    """The pass-rate axis in points: every interval end inside it, at least PASS_RATE_MIN_SPAN tall, within 0-100 where that allows."""
    values = [100 * v for p in points if p["pass_rate"] is not None for v in (p["pass_rate"], *(p["pass_rate_ci"] or ()))]
    if not values:
        return 0.0, 100.0
    low, high = min(values), max(values)
    pad = max(2.0, (PASS_RATE_MIN_SPAN - (high - low)) / 2)
    low, high = low - pad, high + pad
    if low < 0:
        low, high = 0.0, high - low
    if high > 100:
        low, high = max(0.0, low - (high - 100)), 100.0
    return min(low, min(values)), max(high, max(values))
