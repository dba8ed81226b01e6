"""The frontier as a picture: what each load level buys in throughput and costs in latency.

Two panels over the same x-axis, aggregate output tokens per second: time to
first token against the SLO (end-to-end latency when nothing streamed), and
the decode speed one user sees. The operating point is ringed. Inline SVG with
the report's conventions (evals/report/charts.py): text kept as text, ids
salted per chart, no mathtext, a SIMULATED watermark that travels with the
picture. Every figure drawn is also in the table beside it.
"""

from __future__ import annotations

import io
import re

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from evals.measure.metrics import percentile
from evals.measure.model import Dist, Frontier, Step

BLUE, ORANGE, VERMILLION, TEXT_RED = "#0072B2", "#E69F00", "#D55E00", "#A63D00"
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_GROUP_ID = re.compile(r' id="[A-Za-z][\w.]*_\d+"')


def _plot(ax: Axes, steps: list[Step], ys: list[float | None], colour: str, label: str | None = None, annotate: bool = False) -> None:
    # The x axis is output tokens/s: a step whose token counts are unknown has no place on it.
    pts = [(s.output_tokens_per_s, y, s) for s, y in zip(steps, ys) if y is not None and s.output_tokens_per_s is not None]
    if not pts:
        return
    ax.plot([x for x, _, _ in pts], [y for _, y, _ in pts], "o-", color=colour, label=label, markersize=4)
    if annotate:
        for x, y, s in pts:
            name = f"C={s.level:g}" if s.mode == "concurrency" else f"{s.level:g}/s"
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(3, 4), fontsize=7)


def frontier_svg(frontier: Frontier) -> str:
    """Bare `<svg>` markup of the frontier, fit for inlining in the report."""
    f, p = frontier, frontier.slo.percentile
    steps = [s for s in f.steps if s.served]
    streamed = any(s.ttft_ms for s in steps)

    def latency(s: Step) -> Dist | None:
        return s.ttft_ms if streamed else s.e2e_ms

    slo_ms = f.slo.ttft_ms if streamed else f.slo.e2e_ms
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": f"evals-frontier-{f.runner}",
            "text.parse_math": False,
            "font.size": 9,
            "font.family": "sans-serif",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        fig = Figure(figsize=(7.6, 3.0), layout="constrained")
        left, right = fig.subplots(1, 2, sharex=True)
        lat = [latency(s) for s in steps]
        _plot(left, steps, [d.p50 if d else None for d in lat], BLUE, "p50")
        _plot(left, steps, [percentile(d, p) if d else None for d in lat], ORANGE, f"p{p}", annotate=True)
        if slo_ms is not None:
            left.axhline(slo_ms, color=VERMILLION, linestyle="--", linewidth=1)
            left.text(0, slo_ms, f" SLO {slo_ms:g} ms", color=TEXT_RED, va="bottom", fontsize=8, transform=left.get_yaxis_transform())
        op = f.operating_point
        chosen = next((s for s in steps if op and s.mode == op.mode and s.level == op.level), None)
        if chosen is not None and chosen.output_tokens_per_s is not None and (d := latency(chosen)) is not None:
            left.plot([chosen.output_tokens_per_s], [percentile(d, p)], "o", markersize=12, markerfacecolor="none", markeredgecolor="black", label="operating point")
        left.set_ylabel("Time to first token (ms)" if streamed else "End-to-end latency (ms)")
        left.legend(fontsize=8, frameon=False)
        _plot(right, steps, [s.per_stream_output_tps for s in steps], BLUE, annotate=True)
        right.set_ylabel("Output tokens/s per stream (median)")
        for ax in (left, right):
            ax.set_xlabel("Output tokens/s, all streams")
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=0)
        if f.simulated:
            fig.text(1.0, 1.0, "SIMULATED", ha="right", va="bottom", color=TEXT_RED, fontsize=11, fontweight="bold")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    return _GROUP_ID.sub("", _COMMENT.sub("", _PROLOG.sub("", buf.getvalue(), count=1)))
