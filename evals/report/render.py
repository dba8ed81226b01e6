"""ReportModel -> index.html, summary.json and summary.md.

Every figure is computed by the analyse stage; this module only lays them
out. The HTML is one file a reader can open from disk or an air-gapped
share: inline CSS, inline SVG, one inline script pinned by hash in a
Content-Security-Policy that forbids every fetch.

Model outputs, sample ids and runner and category names are untrusted text.
Jinja2 escapes everything it prints; the failure rows travel as JSON whose
`<`, `>`, `&`, U+2028 and U+2029 are escaped so nothing can end the script
element early, and the script inserts them with textContent. Invisible
characters that can disguise text (bidi overrides, zero-width spaces, tag
characters, control codes) are shown as `[U+XXXX]` so a reader sees what
the model actually wrote.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections import Counter, defaultdict
from itertools import chain, zip_longest
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import ChoiceLoader, DictLoader, Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from evals.cost.projection import COST_DEFINITION, DAYS_PER_MONTH
from evals.measure.chart import frontier_svg
from evals.measure.metrics import percentile
from evals.measure.model import Dist, Frontier
from evals.report import charts, sections
from evals.report.model import BreakEvenResult, CategoryResult, Disagreement, FailureRow, ReportModel
from evals.report.sections import page_sections
from evals.report.text import clip, fmt_p, fmt_points, fmt_sig, fmt_usd

TEMPLATES = Path(__file__).parent / "templates"
TEXT_LIMIT = 5_000
"""Characters kept per text in the explorer: a backstop above analyse's own 4,000 clip, so its note survives."""
HEAT_MIN_SPAN = 0.2
"""Narrowest range of pass rates the heatmap's shading spans."""
LONG_LINES, LONG_CHARS = 8, 600
"""A text longer than this is shown clipped, with a control that expands it."""
DISAGREEMENTS_SHOWN = 30
"""Disagreements shown per candidate and direction; the rest are one `evals export` away."""
EMBED_BUDGET_BYTES = 8_000_000
"""Text the explorer may embed; keeps a 100,000-sample report well under 15 MB and quick to open."""
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_JSON_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!$~])")
_ROW_FIELDS = ("sample_id", "category", "runner", "status", "passed", "output", "reference_output", "expected", "explanation", "error", "prompt")
_FILTERS = (("Runner", "runner"), ("Category", "category"), ("Status", "status"))
_KINDS = {"api": "API", "self_hosted": "self-hosted"}


def render(model: ReportModel, out_dir: Path) -> Path:
    """Write index.html, summary.json and summary.md into out_dir; return the index.html path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(model.summary(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "summary.md").write_text(summary_markdown(model), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_html(model), encoding="utf-8")
    return index


def render_html(model: ReportModel) -> str:
    """The self-contained report page."""
    script = (TEMPLATES / "explorer.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    context: dict[str, Any] = dict(
        m=model,
        csp=csp,
        script=Markup(script),
        runners={r.name: r for r in model.runners},
        heatmap=_heatmap(model),
        category_results={(c.runner, c.category): c for c in model.categories},
        days_per_month=DAYS_PER_MONTH,
        cost_definition=COST_DEFINITION,
        break_even=_break_even_views(model),
        break_even_short=break_even_short(model),
        category_verdicts=sorted(model.category_verdicts, key=lambda v: (v.category, v.candidate)),
        **_charts(model),
        confusion={runner: _confusion_view(cm) for runner, cm in model.confusion.items()},
        explorer=explorer_data(model.failures),
        disagreements=disagreement_views(model),
        frontiers=[_frontier_view(runner, f) for runner, f in model.frontiers.items()],
        trends=[_trend_view(runner, points, model.run_id) for runner, points in model.trend.items() if len(points) >= 2],
        no_history=[r.name for r in model.runners if len(model.trend.get(r.name, [])) < 2],
    )
    return _environment().get_template("report.html.j2").render(**context, sections=page_sections(context))


class BreakEvenView(NamedTuple):
    """One self-hosted runner against every API: sentences, a chart, and the chart's figures at a few volumes."""

    self_hosted: str
    sentences: list[str]
    chart: Markup | None
    apis: list[str]
    rows: list[tuple[float, bool, list[dict[str, float]]]]
    """(requests per month, nearest to the team's volume, one curve point per API in `apis` order)."""


class FrontierView(NamedTuple):
    """One self-hosted runner's measured frontier, or the command that would measure it."""

    runner: str
    command: str
    """`evals measure` for this runner, quoted for a shell."""
    frontier: Frontier | None
    chart: Markup | None
    rows: list[dict[str, Any]]
    """One per load level: its label, counts, rates, latencies at p50 and at the SLO's percentile, whether it is the operating point."""
    at_top: bool
    """The operating point is the heaviest load measured: the replica's real capacity may be higher."""
    target: str
    """The latency target in words."""


class TrendView(NamedTuple):
    runner: str
    chart: Markup
    rows: list[dict[str, Any]]
    """The points, newest first, each with `current` (this report's run) and `changed` (what differs from the run before it)."""


def _frontier_view(runner: str, f: Frontier | None) -> FrontierView:
    command = f"evals measure --runner {shlex.quote(runner)}"
    if f is None:
        return FrontierView(runner, command, None, None, [], False, "")
    p, op = f.slo.percentile, f.operating_point

    def at(d: Dist | None, q: int) -> float | None:
        return percentile(d, q) if d is not None else None

    rows = [
        {
            "level": f"C={s.level:g}" if s.mode == "concurrency" else f"{s.level:g}/s", "requests": s.requests, "served": s.served, "errors": sum(s.errors.values()),
            "requests_per_s": s.requests_per_s, "goodput_per_s": s.goodput_per_s, "output_tokens_per_s": s.output_tokens_per_s,
            "ttft_p50": at(s.ttft_ms, 50), "ttft_p": at(s.ttft_ms, p), "e2e_p": at(s.e2e_ms, p), "per_stream_tps": s.per_stream_output_tps,
            "meets_slo": s.meets_slo, "operating": op is not None and (s.mode, s.level) == (op.mode, op.level),
        }
        for s in f.steps
    ]
    chart = Markup(frontier_svg(f)) if any(s.served for s in f.steps) else None
    heaviest = max(f.steps, key=lambda s: s.level, default=None)
    at_top = op is not None and heaviest is not None and (heaviest.mode, heaviest.level) == (op.mode, op.level)
    limits = ([f"TTFT p{p} ≤ {f.slo.ttft_ms:,.0f} ms"] if f.streaming else []) + ([f"end-to-end p{p} ≤ {f.slo.e2e_ms:,.0f} ms"] if f.slo.e2e_ms is not None else [])
    target = " and ".join(limits) or "no latency target it could check (no streaming, so no time to first token, and no end-to-end target)"
    return FrontierView(runner, command, f, chart, rows, at_top, f"{target}, with at most {f.slo.max_error_share:.0%} of requests failing")


def _trend_view(runner: str, points: list[dict[str, Any]], run_id: str) -> TrendView:
    """The chart is drawn oldest first, as time runs; the table lists newest first, where a reader starts."""
    chart = Markup(charts.trend_svg([{**p, "runner": reveal(p["runner"])} for p in points], current=run_id))
    rows = []
    for before, p in zip([None, *points], points):
        changed = [] if before is None else [what for what, key in (("suite", "suite_hash"), ("profile", "profile_hash"), ("server version", "server_versions")) if before.get(key) != p.get(key)]
        rows.append({**p, "current": p["run_id"] == run_id, "changed": changed})
    return TrendView(runner, chart, rows[::-1])


def break_even_sentence(b: BreakEvenResult, volume: float) -> str:
    """The break-even in words; says so when a later replica makes the API cheaper again above it."""
    you = f"you are at {volume:,.0f}"
    if b.requests_per_month is None:
        return f"{b.self_hosted} does not become cheaper than {b.api} per completed task up to {b.searched_up_to:,} requests/month ({you})."
    caveat = "; not at every volume above that, since right after a replica is added the API can be cheaper again" if _relapses(b) else ""
    return f"{b.self_hosted} becomes cheaper than {b.api} per completed task from {b.requests_per_month:,} requests/month ({you}){caveat}."


def break_even_short(model: ReportModel) -> dict[str, str]:
    """Per runner, its break-even with the reference in a few words, for the first screen's table (the Cost section has every pair)."""
    out: dict[str, str] = {}
    for b in model.break_even:
        if model.reference not in (b.api, b.self_hosted):
            continue
        who = "" if b.self_hosted != model.reference else f"{b.self_hosted} "
        if b.requests_per_month is None:
            text = f"{who}not cheaper up to {b.searched_up_to:,}/month"
        else:
            text = f"{who}cheaper from {b.requests_per_month:,}/month" + (", not at every volume above" if _relapses(b) else "")
        out[b.api if b.self_hosted == model.reference else b.self_hosted] = text
    return out


def _relapses(b: BreakEvenResult) -> bool:
    """Whether the API is cheaper again somewhere above the break-even (right after a replica is added)."""
    at = b.requests_per_month
    return at is not None and any(p["requests_per_month"] > at and p["self_hosted_per_completed_task"] >= p["api_per_completed_task"] for p in b.curve)


def reveal(text: str) -> str:
    """Show invisible and direction-changing characters as [U+XXXX].

    Untrusted text could otherwise reorder what a reader sees (U+202E) or hide
    a difference that made a scorer fail (a zero-width space).
    """
    return _HIDDEN.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def is_long(text: str | None) -> bool:
    """Whether a text is shown clipped with an expand control rather than whole."""
    return text is not None and (text.count("\n") >= LONG_LINES or len(text) > LONG_CHARS)


class DisagreementView(NamedTuple):
    """One candidate against the reference: the paired samples where exactly one of them passed."""

    candidate: str
    verdict: str | None
    failed: list[Disagreement]
    """The candidate failed where the reference passed: these pull the gap down."""
    passed: list[Disagreement]
    """The candidate passed where the reference failed: these pull it up."""
    failed_total: int
    passed_total: int


def disagreement_views(model: ReportModel, shown: int = DISAGREEMENTS_SHOWN) -> list[DisagreementView]:
    """Per verdict, in the verdicts' order, the disagreements that decide it, capped at `shown` per direction."""
    views = []
    for v in model.verdicts:
        rows = [d for d in model.disagreements if d.candidate == v.candidate]
        failed = [d for d in rows if not d.candidate_passed]
        passed = [d for d in rows if d.candidate_passed]
        views.append(DisagreementView(v.candidate, v.verdict, failed[:shown], passed[:shown], len(failed), len(passed)))
    return views


class Explorer(NamedTuple):
    """What the failure explorer embeds."""

    rows_json: Markup
    """{"strings": [...], "rows": [[string index or null, ..., passed, ...], ...]}, escaped for a script element."""
    shown: int
    total: int
    options: list[tuple[str, int, list[tuple[int, str, int]]]]
    """Per filter: label, column, and (string index, text, rows) choices."""


def explorer_data(failures: list[FailureRow], budget: int = EMBED_BUDGET_BYTES) -> Explorer:
    """The failure rows for the page, as string-table JSON.

    Strings go in a table referenced by index: the reference output and the
    expected answer repeat for every candidate, and statuses and names for
    every row. When the rows outgrow the budget they are taken round-robin
    across (runner, category, status) groups, so every kind of failure keeps
    examples; the page says how many it holds.
    """
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, row in enumerate(failures):
        groups[(row.runner, row.category, row.status)].append(i)
    strings: list[str] = []
    index: dict[str, int] = {}
    encoded: dict[int, list[Any]] = {}
    used = 0
    round_robin = (i for i in chain.from_iterable(zip_longest(*groups.values())) if i is not None)
    for i in round_robin:
        values = [v if v is None or isinstance(v, bool) else reveal(clip(v, TEXT_LIMIT)) for v in (_field(failures[i], f) for f in _ROW_FIELDS)]
        fresh = {v for v in values if isinstance(v, str) and v not in index}
        used += sum(len(v.encode("utf-8")) + 3 for v in fresh)
        if used > budget:
            break
        for v in values:
            if isinstance(v, str) and v not in index:
                index[v] = len(strings)
                strings.append(v)
        encoded[i] = [index[v] if isinstance(v, str) else v for v in values]
    rows = [encoded[i] for i in sorted(encoded)]
    text = json.dumps({"strings": strings, "rows": rows}, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _JSON_ESCAPES:
        text = text.replace(raw, escaped)
    options = []
    for label, field in _FILTERS:
        column = _ROW_FIELDS.index(field)
        counts = Counter(row[column] for row in rows)
        options.append((label, column, sorted(((k, strings[k], n) for k, n in counts.items()), key=lambda o: o[1])))
    return Explorer(Markup(text), len(rows), len(failures), options)


def _field(row: FailureRow, name: str) -> Any:
    """A failure row's value as the explorer shows it: an answer of a later epoch says which."""
    if name == "sample_id" and row.epoch > 1:
        return f"{row.sample_id} (epoch {row.epoch})"
    return getattr(row, name)


def summary_markdown(model: ReportModel) -> str:
    """summary.md: the verdicts and a runner table, for CI step summaries and PR comments."""
    lines = []
    if model.simulated:
        lines += [f"> **⚠️ SIMULATED:** {_md(', '.join(model.simulated_runners))} answered from the simulated server. These numbers demonstrate the tool, not the models.", ""]
    lines += [f"## {_md(model.suite)}: run {_md(model.run_id)}", ""]
    lines += [f"- {_md(v.sentence)}" for v in model.verdicts] or ["- No candidate to compare: only the reference ran."]
    lines += [
        "",
        "| Runner | Pass rate (95% CI) | Completed / answered / errors | Cost per completed task | TTFT p50 | Latency p95 |",
        "|---|---|---|---|---|---|",
    ]
    w = model.workload
    for r in model.runners:
        name = f"{_md(r.name)} ({_md(r.role)})"
        rate = f"{fmt_pct(r.pass_rate)} ({fmt_ci(r.pass_rate_ci)})"
        lines.append(f"| {name} | {rate} | {r.completed:,} / {r.answered:,} / {r.errors:,} | {fmt_usd(r.cost_per_completed_task_usd)} | {fmt_ms(r.ttft_ms_p50)} | {fmt_ms(r.latency_ms_p95)} |")
    if w is not None:
        assumed = f" Estimated; {_md(w.source)}." if w.estimated else ""
        lines += ["", f"Cost per completed task at {w.requests_per_month:,.0f} requests/month (730 h).{assumed} {COST_DEFINITION}"]
    full = [r for r in model.runners if r.cost_at_full_load_per_completed_task_usd is not None]
    if full:
        lines += ["", "Cost at full load (servers kept 100% busy, not your volume): " + "; ".join(f"{_md(r.name)} {fmt_usd(r.cost_at_full_load_per_completed_task_usd)} per completed task" for r in full) + "."]
    for runner, why in model.capacity_refused.items():
        lines += ["", f"Capacity refused for {_md(runner)}: {_md(why)}"]
    lines += _volume_markdown(model)
    lines += _baseline_markdown(model)
    lines += _trend_markdown(model)
    lines += ["", f"Margin {fmt_points(model.margin)} points; reference {_md(model.reference)}; tool {_md(model.tool_version)}; suite hash {_md(model.suite_hash[:12])}.", ""]
    return "\n".join(lines)


def _volume_markdown(model: ReportModel) -> list[str]:
    """The projection at the team's volume and the break-even sentences, for readers who never open the page."""
    w = model.workload
    if w is None or not (model.projections or model.break_even):
        return []
    estimated = " (estimated)" if w.estimated else ""
    lines = ["", f"### At {w.requests_per_month:,.0f} requests/month{estimated}", "", f"Source: {_md(w.source)}; busiest hour {fmt_pct(w.peak_hour_share)} of a day's requests."]
    if model.projections:
        lines += ["", "| Runner | Kind | Replicas (GPUs) | Monthly cost (730 h) | Utilisation | Cost per completed task | Capacity (tasks/h) |", "|---|---|---|---|---|---|---|"]
        for p in model.projections:
            fleet = "—" if p.replicas is None else f"{p.replicas:,} ({fmt_value(p.gpus)})"
            capacity = fmt_num(p.capacity_tasks_per_hour, 0) + (f" ({_md(p.capacity_source)})" if p.capacity_source else "")
            lines.append(f"| {_md(p.runner)} | {fmt_kind(p.kind)} | {fleet} | {fmt_usd(p.monthly_cost_usd)} | {fmt_pct(p.utilisation)} | {fmt_usd(p.cost_per_completed_task_usd)} | {capacity} |")
        if any(p.capacity_source == "this run" for p in model.projections):
            lines += ["", "Capacity \"this run\" is the throughput achieved in this run, not a measured latency-bounded frontier; run `evals measure` for that."]
    if model.break_even:
        lines += [""] + [f"- {_md(break_even_sentence(b, w.requests_per_month))}" for b in model.break_even]
    return lines


def _baseline_markdown(model: ReportModel) -> list[str]:
    """One line per runner: the paired change since the baseline run, with cost and latency beside it."""
    b = model.baseline
    if b is None:
        return ["", "### Since the baseline run", "", "No earlier run of this suite: nothing to compare with yet."]
    lines = ["", "### Since the baseline run", "", f"Baseline {_md(b.run_id)}: {_md(b.reason)}." + (" **The suite changed since then.**" if b.suite_changed else ""), ""]
    for r in b.runners:
        o = r.overall
        flagged = [c for c in r.categories if c.significant]
        cats = f"; significant in {', '.join(f'{_md(c.scope)} {fmt_pts(c.gap)}' for c in flagged)}" if flagged else ""
        p = "" if o.mcnemar_p is None else f", McNemar p={fmt_p(o.mcnemar_p)}"
        lines.append(
            f"- {_md(r.runner)}: {fmt_pts(o.gap)} {fmt_pts_ci(o.gap_ci)} on {o.paired:,} paired samples{p}{' (significant)' if o.significant else ''}{cats}; "
            f"cost per completed task {fmt_rel(r.cost_change)}, latency p95 {fmt_rel(r.latency_change)}"
        )
    return lines


def _trend_markdown(model: ReportModel) -> list[str]:
    """Each runner's latest run against the one before it, for runners with history."""
    rows = [(runner, points[-2], points[-1]) for runner, points in model.trend.items() if len(points) >= 2]
    if not rows:
        return []
    lines = ["", "### Trend: latest run (previous run)", "", "| Runner | Runs | Pass rate | Cost per completed task | Latency p95 | Gate |", "|---|---|---|---|---|---|"]
    for runner, before, now in rows:
        n = len(model.trend[runner])
        lines.append(
            f"| {_md(runner)} | {n} | {fmt_pct(now['pass_rate'])} ({fmt_pct(before['pass_rate'])}) | {_md(fmt_usd(now['cost_per_completed_task_usd']))} ({_md(fmt_usd(before['cost_per_completed_task_usd']))}) "
            f"| {fmt_ms(now['latency_ms_p95'])} ({fmt_ms(before['latency_ms_p95'])}) | {_md(now['gate'] or '—')} ({_md(before['gate'] or '—')}) |"
        )
    return lines


def _md(text: str) -> str:
    """Untrusted text as one line of inert Markdown: no links, HTML, emphasis, math or table breaks."""
    return _MD_SPECIAL.sub(r"\\\1", reveal(" ".join(text.split())))


def fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def fmt_ci(ci: list[float] | None) -> str:
    return "—" if not ci else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%"


def fmt_pts(x: float | None) -> str:
    """A gap in percentage points, signed so a drop is never mistaken for a gain."""
    return "—" if x is None else f"{100 * x:+.1f} pts"


def fmt_pts_ci(ci: list[float] | None) -> str:
    return "—" if not ci else f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def fmt_when(iso: str | None) -> str:
    """An ISO timestamp as people read it: `2026-11-22 15:13:27 UTC`."""
    if not iso:
        return "—"
    text = iso.replace("T", " ", 1)
    for utc in ("+00:00", "Z"):
        if text.endswith(utc):
            return text[: -len(utc)] + " UTC"
    return text


def fmt_rel(x: float | None) -> str:
    """A relative change (0.1 = +10%), signed."""
    return "—" if x is None else f"{100 * x:+.1f}%"


def fmt_ms(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f} ms"


def fmt_seconds(x: float | None) -> str:
    """A duration in seconds, in milliseconds when under one (queue times are usually tiny)."""
    if x is None:
        return "—"
    return f"{x:,.2f} s" if x >= 1 else f"{1000 * x:,.0f} ms"


def fmt_num(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def fmt_kind(kind: str) -> str:
    return _KINDS.get(kind, kind)


def fmt_value(x: Any) -> str:
    """A scalar from a free-form dict (method, confusion): readable whatever its type."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.3f}".rstrip("0").rstrip(".") if abs(x) >= 0.001 else fmt_sig(x)
    return str(x)


def _finalize(value: Any) -> Any:
    """Applied to every {{ }} before escaping: untrusted strings get their hidden characters shown."""
    return reveal(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _environment() -> Environment:
    loader = ChoiceLoader([FileSystemLoader(TEMPLATES), DictLoader(sections.sources())])
    env = Environment(loader=loader, autoescape=True, undefined=StrictUndefined, finalize=_finalize, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        pct=fmt_pct, ci=fmt_ci, pts=fmt_pts, pts_ci=fmt_pts_ci, rel=fmt_rel, when=fmt_when, usd=fmt_usd, ms=fmt_ms, value=fmt_value, num=fmt_num, seconds=fmt_seconds,
        kind=fmt_kind, p=fmt_p, points=fmt_points, sig=fmt_sig, long=is_long, clip=lambda t: clip(t, TEXT_LIMIT), lines=lambda t: t.count("\n") + 1,
    )
    return env


def _charts(model: ReportModel) -> dict[str, Markup | None]:
    """The three charts as trusted markup: matplotlib XML-escapes the labels, which are revealed first."""
    gaps = [charts.Gap(reveal(f"{v.candidate} vs {v.reference}"), v.gap, v.gap_ci, v.verdict) for v in model.verdicts if v.gap is not None]
    costs = [
        charts.Cost(reveal(f"{r.name} ({r.role})"), r.cost_per_completed_task_usd, fmt_usd(r.cost_per_completed_task_usd), r.role == "reference")
        for r in model.runners
        if r.cost_per_completed_task_usd is not None
    ]
    latency = [charts.Latency(reveal(r.name), r.ttft_ms_p50, r.ttft_ms_p95, r.latency_ms_p50, r.latency_ms_p95) for r in model.runners]
    svgs = {
        "gap_chart": charts.gap_forest(gaps, model.margin, model.simulated),
        "cost_chart": charts.cost_bars(costs, model.simulated),
        "latency_chart": charts.latency_bars(latency, model.simulated),
    }
    return {name: Markup(svg) if svg else None for name, svg in svgs.items()}


def _break_even_views(model: ReportModel) -> list[BreakEvenView]:
    """Break-even pairs grouped by self-hosted runner: one chart holds its staircase and every API's line.

    The table rows are volumes every pair of the group sampled: the ends of
    the curve, the one nearest the team's volume, and those either side of
    each break-even, so the crossing shows in the figures as well as the
    picture.
    """
    if model.workload is None:
        return []
    volume = model.workload.requests_per_month
    groups: dict[str, list[BreakEvenResult]] = defaultdict(list)
    for b in model.break_even:
        groups[b.self_hosted].append(b)
    views = []
    for i, (self_hosted, pairs) in enumerate(groups.items()):
        curves = [{p["requests_per_month"]: p for p in b.curve} for b in pairs]
        staircase = {v: charts.CurvePoint(v, p["self_hosted_monthly"], p["self_hosted_per_completed_task"]) for c in curves for v, p in c.items()}
        lines = []
        for b, c in zip(pairs, curves):
            at = c.get(b.requests_per_month) if b.requests_per_month is not None else None
            points = [charts.CurvePoint(v, p["api_monthly"], p["api_per_completed_task"]) for v, p in sorted(c.items())]
            marker = charts.CurvePoint(at["requests_per_month"], at["self_hosted_monthly"], at["self_hosted_per_completed_task"]) if at else None
            lines.append(charts.ApiLine(reveal(b.api), points, marker))
        common = sorted(set.intersection(*(set(c) for c in curves)))
        nearest = min(common, key=lambda v: abs(v - volume), default=None)
        picks = set(common[:1] + common[-1:] + ([nearest] if nearest is not None else []))
        for b in pairs:
            if b.requests_per_month is not None:
                picks |= set([v for v in common if v < b.requests_per_month][-1:] + [v for v in common if v >= b.requests_per_month][:1])
        chart = charts.break_even_chart(str(i), reveal(self_hosted), [staircase[v] for v in sorted(staircase)], lines, volume, model.simulated)
        views.append(
            BreakEvenView(
                self_hosted, [break_even_sentence(b, volume) for b in pairs], Markup(chart) if chart else None, [b.api for b in pairs],
                [(v, v == nearest, [c[v] for c in curves]) for v in sorted(picks)],
            )
        )
    return views


def _heatmap(model: ReportModel) -> list[tuple[str, list[tuple[CategoryResult | None, tuple[str, str]]]]]:
    """Rows of the runner × category table: per category, a (result, colours) cell per runner in runner order.

    Shading spans the rates in this table, light at the highest, over at least
    HEAT_MIN_SPAN, so that a couple of points' difference never looks like the
    whole scale.
    """
    rates = [c.pass_rate for c in model.categories if c.pass_rate is not None]
    high = max(rates, default=1.0)
    low = min(min(rates, default=0.0), high - HEAT_MIN_SPAN)
    cells = {(c.category, c.runner): c for c in model.categories}
    categories = list(dict.fromkeys(c.category for c in model.categories))
    grid = []
    for cat in categories:
        row = [cells.get((cat, r.name)) for r in model.runners]
        grid.append((cat, [(c, charts.cell_colours(None if c is None or c.pass_rate is None else (c.pass_rate - low) / (high - low))) for c in row]))
    return grid


def _confusion_view(cm: Any) -> dict[str, Any]:
    """A confusion matrix checked before it is drawn: the dict is free-form, so any part may be missing or malformed.

    Cells are shaded by their share of the row (the expected label), so the
    diagonal reads as recall whatever the class sizes.
    """
    if not isinstance(cm, dict):
        return {"labels": [], "grid": None, "per_label": None, "other": {"value": cm}}
    labels, matrix = cm.get("labels"), cm.get("matrix")
    grid = None
    if isinstance(labels, list) and isinstance(matrix, list) and len(matrix) == len(labels) and all(
        isinstance(row, list) and len(row) == len(labels) and all(isinstance(c, (int, float)) and not isinstance(c, bool) and c >= 0 for c in row) for row in matrix
    ):
        grid = [(str(label), [(c, charts.cell_colours(c / sum(row) if sum(row) else None, "Blues")) for c in row]) for label, row in zip(labels, matrix)]
    per_label, table = cm.get("per_label"), None
    if isinstance(per_label, dict) and all(isinstance(v, dict) for v in per_label.values()):
        columns = list(dict.fromkeys(k for v in per_label.values() for k in v))
        table = {"columns": columns, "rows": [(str(label), [v.get(c) for c in columns]) for label, v in per_label.items()]}
    skip = {"per_label"} if table else set()
    skip |= {"labels", "matrix"} if grid else set()
    return {"labels": [g[0] for g in grid] if grid else [], "grid": grid, "per_label": table, "other": {k: v for k, v in cm.items() if k not in skip}}
