"""The gate (and the trend) as Markdown, for CI job summaries and pull requests.

Runner and category names are user data: Markdown specials in them are
escaped so a name cannot break the table or inject a link.
"""

from __future__ import annotations

import re
from typing import Any

from evals.gate.gate import GateReport
from evals.report.text import fmt_usd

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!$])")
_ICON = {"pass": "pass", "regression": "**REGRESSION**", "inconclusive": "*inconclusive*", "skipped": "skipped"}
_HEADLINE = {
    "pass": "PASS: no regression beyond tolerance",
    "regression": "REGRESSION",
    "inconclusive": "INCONCLUSIVE: not a fair comparison (not a regression)",
    "no-baseline": "NO BASELINE: first run of this suite, nothing to compare with",
}


def esc(text: object) -> str:
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def gate_markdown(report: GateReport) -> str:
    lines = [
        f"## evals gate: {_HEADLINE[report.result]} (exit {report.exit_code})",
        "",
    ]
    if report.simulated_runners:
        lines += [f"> **⚠️ SIMULATED:** {esc(', '.join(report.simulated_runners))} answered from the simulated server: this gate tests the tool, not a model.", ""]
    lines += [
        f"Run `{report.run_id}` against baseline `{report.baseline_id or 'none'}`: {esc(report.baseline_reason)}.",
        "",
    ]
    if report.comparison is not None:
        a, b = report.comparison.run_a, report.comparison.run_b
        lines += [
            f"- suite hash: {a['suite_hash']} → {b['suite_hash']}",
            f"- git commit: {a['git_commit'] or 'unknown'} → {b['git_commit'] or 'unknown'}; tool {a['tool_version']} → {b['tool_version']}",
        ]
        if report.comparison.only_in_a or report.comparison.only_in_b:
            lines.append(f"- runners only in the baseline: {esc(', '.join(report.comparison.only_in_a)) or 'none'}; only now: {esc(', '.join(report.comparison.only_in_b)) or 'none'}")
    lines += [f"- {esc(r)}" for r in report.reasons]
    lines += ["", "| runner | check | result | detail |", "|---|---|---|---|"]
    for g in report.runners:
        for c in g.checks:
            lines.append(f"| {esc(g.runner)} | {esc(c.name)} | {_ICON[c.status]} | {esc(c.message)} |")
    notes = [(g.runner, n) for g in report.runners for n in g.notes]
    if notes:
        lines += ["", "Changes besides the measurements:", ""] + [f"- {esc(r)}: {esc(n)}" for r, n in notes]
    o = report.options
    lines += [
        "",
        f"<sub>Rule: {esc(report.rule)}. Tolerances: quality {100 * o.tolerance:g} points, cost +{100 * o.cost_tolerance:g}%, "
        f"latency p95 +{100 * o.latency_tolerance:g}%, max error rate {100 * o.max_error_rate:g}%, min shared samples {o.min_shared}, alpha {o.alpha:g}.</sub>",
        "",
    ]
    return "\n".join(lines)


def trend_markdown(points_by_runner: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["## Trend", ""]
    for runner, points in points_by_runner.items():
        lines += [f"### {esc(runner)}", "", "| run | when | pass rate (95% CI) | errors | cost / completed (at volume) | latency p95 | gate |", "|---|---|---|---|---|---|---|"]
        for p in points:
            rate = "n/a" if p["pass_rate"] is None else f"{100 * p['pass_rate']:.1f}%"
            if p["pass_rate_ci"]:
                rate += f" ({100 * p['pass_rate_ci'][0]:.1f}–{100 * p['pass_rate_ci'][1]:.1f})"
            lat = "n/a" if p["latency_ms_p95"] is None else f"{p['latency_ms_p95']:.0f} ms"
            lines.append(f"| `{p['run_id']}` | {p['created_at']} | {rate} | {100 * p['error_rate']:.1f}% | {fmt_usd(p['cost_per_completed_task_usd'])} | {lat} | {p['gate'] or '–'} |")
        lines.append("")
    return "\n".join(lines)
