"""The rendered report without a browser: hostile text stays inert, nothing is fetched, the side files are right."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from report_fixtures import HOSTILE, HOSTILE_NAME, make_model

from evals import api
from evals.gate.history import record_gate_result
from evals.report.model import SCHEMA_VERSION, BreakEvenResult, ReportModel
from evals.report.render import TEXT_LIMIT, break_even_sentence, explorer_data, fmt_usd, render
from tests.conftest import sim_runner, write_workspace

URL_ATTRS = {"href", "xlink:href", "src", "srcset", "action", "formaction", "poster", "data", "background", "ping", "manifest"}


class Page(HTMLParser):
    """Every element with its attributes, every script with its exact text, every comment."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.comments: list[str] = []
        self._script: dict[str, str | None] | None = None
        self._text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script, self._text = dict(attrs), []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(make_model(n_failures=40, simulated=True, hostile=True), tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(make_model(n_failures=8, simulated=False, hostile=False), tmp_path_factory.mktemp("plain"))


def test_render_writes_three_files(hostile: Path) -> None:
    assert hostile.name == "index.html"
    assert {p.name for p in hostile.parent.iterdir()} == {"index.html", "summary.json", "summary.md"}


def test_only_our_script_runs_and_csp_pins_it(hostile: Path) -> None:
    page = Page(hostile.read_text(encoding="utf-8"))
    executable = [(a, text) for a, text in page.scripts if a.get("type") in (None, "", "text/javascript", "module")]
    data = [(a, text) for a, text in page.scripts if a.get("type") == "application/json"]
    assert len(executable) == 1 and len(data) == 1 and len(page.scripts) == 2
    assert executable[0][0] == {} and data[0][0] == {"type": "application/json", "id": "rows"}

    digest = base64.b64encode(hashlib.sha256(executable[0][1].encode("utf-8")).digest()).decode()
    metas = [a for tag, a in page.tags if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1
    csp = metas[0]["content"] or ""
    assert f"script-src 'sha256-{digest}'" in csp
    assert csp.startswith("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src ")
    # The policy must precede everything it governs.
    assert [t for t, _ in page.tags[:4]] == ["html", "head", "meta", "meta"] and page.tags[3][1] is metas[0]


def test_no_injected_markup_handlers_or_fetches(hostile: Path) -> None:
    raw = hostile.read_text(encoding="utf-8")
    page = Page(raw)
    for tag, attrs in page.tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for key in URL_ATTRS & attrs.keys():
            assert (attrs[key] or "").startswith(("#", "data:")), (tag, key, attrs[key])
        assert "url(" not in (attrs.get("style") or "").replace("url(#", ""), (tag, attrs)
        assert tag not in {"img", "iframe", "object", "embed", "base", "form", "frame", "audio", "video", "source"}, tag
    assert [a["href"] for t, a in page.tags if t == "link"] == ["data:,"]
    assert not [a for t, a in page.tags if t == "meta" and (a.get("http-equiv") or "").lower() == "refresh"]
    assert page.comments == []
    assert len(re.findall(r"<script", raw, re.I)) == 2 and len(re.findall(r"</script", raw, re.I)) == 2
    assert "<!--" not in raw and "@import" not in raw and "<b " not in raw
    assert not re.search(r"url\(\s*['\"]?(?!#)", raw)
    ids = [a["id"] for _, a in page.tags if a.get("id")]
    assert len(ids) == len(set(ids))


def test_invisible_characters_are_shown_not_obeyed(hostile: Path) -> None:
    raw = hostile.read_text(encoding="utf-8")
    for ch in "\u202e\u202c\u200b\ufeff\u2028\u2029":
        assert ch not in raw, f"raw U+{ord(ch):04X} in the page"
    assert "[U+202E]" in raw and "[U+200B]" in raw


def test_hostile_outputs_travel_as_clipped_text(hostile: Path) -> None:
    _, text = next(s for s in Page(hostile.read_text(encoding="utf-8")).scripts if s[0].get("id") == "rows")
    data = json.loads(text)
    strings = data["strings"]
    rows = data["rows"]
    assert len(rows) == 40
    assert "<script>alert(1)</script>" in strings and "<img src=x onerror=alert(1)>" in strings
    assert HOSTILE[2] in strings and HOSTILE[5] in strings and "\u2028" not in text
    big = strings[rows[0][5]]
    assert big.startswith("AAAA") and big.endswith("… (995,025 more chars)") and len(big) < TEXT_LIMIT + 40
    assert "alert(4)" not in text
    assert hostile.stat().st_size < 500_000


def test_names_are_escaped_in_tables_and_charts(hostile: Path) -> None:
    raw = hostile.read_text(encoding="utf-8")
    shown = "&lt;b onmouseover=alert(5)&gt;q[U+202E]wen $x$&lt;/b&gt;"
    assert raw.count(shown) >= 10
    svgs = re.findall(r"<svg xmlns.*?</svg>", raw, re.S)
    frontier = re.findall(r"<svg xmlns.*?</svg>", _section(raw, "frontier"), re.S)
    assert len(svgs) == 6 and len(frontier) == 1  # gap, cost, latency, break-even, trend; the frontier chart names no runner
    assert all(shown in s for s in svgs if s not in frontier)
    assert HOSTILE_NAME not in raw


def test_names_are_escaped_in_cost_at_volume_and_routing(hostile: Path) -> None:
    raw = hostile.read_text(encoding="utf-8")
    shown = "&lt;b onmouseover=alert(5)&gt;q[U+202E]wen $x$&lt;/b&gt;"
    volume = _section(raw, "volume")
    assert f'<tr><th scope="row">{shown}</th><td class="nowrap">self-hosted</td>' in volume
    assert f"<h4>{shown} (self-hosted)</h4>" in volume
    assert f"<li>{shown} becomes cheaper than claude per completed task" in volume
    assert f'<th scope="colgroup" colspan="3">{shown}</th>' in volume
    chart = re.search(r"<svg xmlns.*?</svg>", volume, re.S)
    assert chart and f"{shown} (self-hosted)" in chart.group() and "break-even vs claude: 498,507/month" in chart.group()
    routing = _section(raw, "routing")
    # a 5% category no longer goes to the self-hosted runner: it would pay a whole replica for it
    assert '<tr><th scope="row">&lt;i&gt;tiny&lt;/i&gt;</th><td class="num">5.0%</td><td>llama-8b</td>' in routing
    assert f'<tr><th scope="row">{shown}</th><td>claude</td>' in routing
    assert "<i>" not in volume + routing


def _section(raw: str, start: str) -> str:
    """The page from the element with id `start` to the end of its section."""
    at = raw.index(f'id="{start}"')
    return raw[at : raw.index("</section>", at)]


def _cells(row: str) -> str:
    """A table row's text on one line, cells and tags turned into single `|`s."""
    return re.sub(r"\|+", "|", re.sub(r"<[^>]+>", "|", row.replace("\n", "")))


def test_cost_at_volume(plain: Path) -> None:
    raw = plain.read_text(encoding="utf-8")
    volume = _section(raw, "volume")
    assert '600,000 requests a month (about 19,726 a day) <span class="badge">estimated</span>' in volume
    assert "10.0% of a day's requests, about 1,973 an hour" in volume
    assert "triage 60.0%" in volume and "tiny 5.0%" in volume and "estimated from two weeks of support tickets" in volume
    rows = re.findall(r'<tr><th scope="row">(.*?)</tr>', volume)
    assert [_cells(r) for r in rows] == [
        "claude|API|—|—|$7,369.80|—|$0.0123|$0.0135|—|",
        "qwen-7b|self-hosted|1|4|$5,840.00|33.5%|$0.00973|$0.0112|2,450 |this run*|",
        "llama-8b|API|—|—|$342.63|—|$0.000571|$0.000769|—|",
    ]
    assert "throughput achieved in this run, not a measured latency-bounded frontier; run <code>evals measure</code> for that" in volume
    assert "Not projected" not in volume


def test_cost_at_volume_says_what_it_lacks(tmp_path: Path) -> None:
    """A measured capacity drops the this-run note, a real profile the badge; a runner left out is named."""
    m = make_model(n_failures=0, simulated=False, hostile=False)
    assert m.workload
    workload = m.workload.model_copy(update={"estimated": False})
    projections = [p.model_copy(update={"capacity_source": "measured"} if p.capacity_source else {}) for p in m.projections if p.runner != "llama-8b"]
    raw = render(m.model_copy(update={"workload": workload, "projections": projections}), tmp_path).read_text(encoding="utf-8")
    volume = _section(raw, "volume")
    assert 'class="badge"' not in volume and "not a measured latency-bounded frontier" not in volume
    assert '<span class="tag">measured</span>' in volume
    assert "Not projected (no pass rate, price or capacity to project from): llama-8b." in volume
    assert "this run" not in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_break_even_sentences_chart_and_table(plain: Path) -> None:
    raw = plain.read_text(encoding="utf-8")
    section = _section(raw, "break-even")
    assert (
        "<li>qwen-7b becomes cheaper than claude per completed task from 498,507 requests/month (you are at 600,000);"
        " not at every volume above that, since right after a replica is added the API can be cheaper again.</li>"
    ) in section
    assert "<li>qwen-7b does not become cheaper than llama-8b per completed task up to 6,000,000 requests/month (you are at 600,000).</li>" in section
    svgs = re.findall(r"<svg xmlns.*?</svg>", section, re.S)
    assert len(svgs) == 1 and "your volume: 600,000/month" in svgs[0] and "break-even vs claude: 498,507/month" in svgs[0]
    assert "break-even vs llama-8b" not in svgs[0]
    rows = [_cells(r) for r in re.findall(r"<tr(?: class=\"yours\")?><th scope=\"row\" class=\"num\">(.*?)</tr>", section, re.S)]
    assert rows == [
        "150,000|1|$5,840.00|$0.0448|$1,842.45|$0.0135|$85.66|$0.000769|",
        "450,000|1|$5,840.00|$0.0149|$5,527.35|$0.0135|$256.97|$0.000769|",
        "600,000 |≈ yours|1|$5,840.00|$0.0112|$7,369.80|$0.0135|$342.63|$0.000769|",
        "6,000,000|9|$52,560.00|$0.0101|$73,698.00|$0.0135|$3,426.30|$0.000769|",
    ]


def test_break_even_sentence_without_relapse() -> None:
    flat = {"requests_per_month": 2000.0, "api_monthly": 20.0, "self_hosted_monthly": 10.0, "replicas": 1.0, "api_per_completed_task": 0.01, "self_hosted_per_completed_task": 0.005}
    b = BreakEvenResult(self_hosted="sh", api="api", requests_per_month=1_000, searched_up_to=10_000, curve=[flat])
    assert break_even_sentence(b, 123.4) == "sh becomes cheaper than api per completed task from 1,000 requests/month (you are at 123)."


def test_routing_options(plain: Path) -> None:
    routing = _section(plain.read_text(encoding="utf-8"), "routing")
    # Whole replicas: qwen-7b on triage + tiny (65%) would still pay its one replica ($5,840/month) plus claude on the
    # other 35%: (5,840 + 0.35 × 600,000 × $0.012283) / 600,000 = $0.01403 > all-claude $0.01228. Sending only tiny
    # to the llama-8b API: 0.95 × 0.012283 + 0.05 × 0.00057105 = $0.01170 per request.
    assert "<p>Blended pass rate <strong>90.9%</strong> vs 92.0% (-1.1 pts) · cost per task <strong>$0.0117</strong> vs $0.0123 (-5%) · search: exhaustive · traffic: claude 95.0%, llama-8b 5.0%</p>" in routing
    assert "stays within 5 points of sending everything to claude" in routing
    rows = [_cells(r) for r in re.findall(r'<tr><th scope="row">(.*?)</tr>', routing)]
    assert rows == [
        "extraction|35.0%|claude |reference|92.0%|92.0%|",
        "tiny|5.0%|llama-8b|70.0%|92.0%|",
        "triage|60.0%|claude |reference|92.0%|92.0%|",
        "qwen-7b|claude|180|6.1%|88.3%|$0.0105|$0.0119|",
    ]
    assert "Check: escalate when the local answer is not ok" in routing
    assert "For comparison, claude alone: 86.5% of all samples passed (errors counted as failures), $0.0123 per task, $0.0135 per completed task." in routing


def test_change_since_baseline(plain: Path) -> None:
    section = _section(plain.read_text(encoding="utf-8"), "baseline")
    assert (
        "<p>Against run <code>20250530-120000-aaa111</code> of 2025-05-30 12:00:00 UTC: the latest earlier run of this suite that passed its gate."
        " It ran workload-evals 0.0.9 at commit <code>fedcba987654</code>.</p>"
    ) in section
    rows = [_cells(r) for r in re.findall(r'<tr><th scope="row">(.*?)</tr>', section)]
    assert rows == [
        "qwen-7b|180|83.8%|was 90.0%|-6.2 pts| |significant|[-9.2, -3.2]|0.0021|$0.0038 (+5.6%)|was $0.0036|2,000 ms (+5.3%)|was 1,900 ms|5.0%|was 2.0%|",
        "claude|180|90.4%|was 90.0%|+0.4 pts|[-2.6, +3.4]|0.81|$0.0142 (+0.0%)|was $0.0142|8,400 ms (+0.0%)|was 8,400 ms|5.0%|was 5.0%|",
        "qwen-7b|tiny|180|65.0%|was 90.0%|-25.0 pts|[-28.0, -22.0]|4 / 49|0.0024|",  # only the significant category
    ]
    assert "<li>qwen-7b: profile: params; server version: 0.8.4 → 0.8.5</li>" in section
    assert "only in this run: llama-8b." in section and "suite changed" not in section


def test_change_since_baseline_names_are_escaped_and_a_suite_change_is_said(tmp_path: Path) -> None:
    m = make_model(n_failures=0)
    assert m.baseline
    m = m.model_copy(update={"baseline": m.baseline.model_copy(update={"suite_changed": True, "reason": "<b>why</b>"})})
    section = _section(render(m, tmp_path).read_text(encoding="utf-8"), "baseline")
    shown = "&lt;b onmouseover=alert(5)&gt;q[U+202E]wen $x$&lt;/b&gt;"
    assert f'<tr><th scope="row">{shown}</th><td>&lt;i&gt;tiny&lt;/i&gt;</td>' in section
    assert f"<li>{shown}: profile: params;" in section and "&lt;b&gt;why&lt;/b&gt;" in section
    assert '<p class="stale">The suite changed since then' in section
    assert "<b" not in section and "<i>" not in section


def test_trend(plain: Path, hostile: Path) -> None:
    section = _section(plain.read_text(encoding="utf-8"), "trend")
    [svg] = re.findall(r"<svg xmlns.*?</svg>", section, re.S)
    assert "qwen-7b: last 3 runs" in svg and "SIMULATED" not in svg
    rows = [_cells(r) for r in re.findall(r"<tr(?: class=\"yours\")?><th scope=\"row\">(.*?)</tr>", section)]
    assert rows == [  # newest first
        "|20250601-120000-abc123| |this run|2025-06-01 12:00:00 UTC|87.0%|82.0–91.0%|$0.004|2,000 ms|5.0%|—|",
        "|20250531-120000-bbb222|2025-05-31 12:00:00 UTC|82.0%|77.0–86.0%|$0.0039|1,950 ms|5.0%|regression|profile|",
        "|20250530-120000-aaa111|2025-05-30 12:00:00 UTC|90.0%|85.0–94.0%|$0.0038|1,900 ms|5.0%|pass|",
    ]
    assert '<tr class="yours"><th scope="row"><code>20250601-120000-abc123</code>' in section
    assert "<p>No history yet for claude, llama-8b: they have fewer than two finished runs of support-triage" in section
    [svg] = re.findall(r"<svg xmlns.*?</svg>", _section(hostile.read_text(encoding="utf-8"), "trend"), re.S)
    assert "SIMULATED" in svg and "&lt;b onmouseover=alert(5)&gt;q[U+202E]wen $x$&lt;/b&gt;: last 3 runs" in svg


def test_measured_frontier(plain: Path, hostile: Path) -> None:
    section = _section(plain.read_text(encoding="utf-8"), "frontier")
    assert "<p>Operating point: <strong>5,760 tasks/h</strong> (1.60 requests/s) at concurrency 8, TTFT p95 315 ms, end-to-end p95 6,300 ms.</p>" in section
    assert "Target: TTFT p95 ≤ 500 ms, with at most 1% of requests failing." in section and "may serve more" not in section
    assert '<li><span class="stale">Flag:</span> output tokens/s at C=32 exceeds the physical decode bound &lt;script&gt;x&lt;/script&gt;</li>' in section
    [svg] = re.findall(r"<svg xmlns.*?</svg>", section, re.S)
    assert "SLO 500 ms" in svg and "SIMULATED" not in svg
    rows = [_cells(r) for r in re.findall(r"<tr(?: class=\"yours\")?><th scope=\"row\" class=\"nowrap\">(.*?)</tr>", section)]
    assert rows == [
        "C=1|40 / 40|0|0.22|0.22|55|90 ms|135 ms|6,135 ms|61.0|yes|",
        "C=8 |operating point|40 / 40|0|1.60|1.60|400|210 ms|315 ms|6,315 ms|55.0|yes|",
        "C=32|38 / 40|2|4.10|1.64|1,025|880 ms|1,320 ms|7,320 ms|38.0|no|",
    ]
    assert "2 requests failed at C=32." in section
    assert "SIMULATED" in re.findall(r"<svg xmlns.*?</svg>", _section(hostile.read_text(encoding="utf-8"), "frontier"), re.S)[0]


def test_unmeasured_frontier_says_how_to_measure(tmp_path: Path) -> None:
    m = make_model(n_failures=0)
    raw = render(m.model_copy(update={"frontiers": {name: None for name in m.frontiers}}), tmp_path).read_text(encoding="utf-8")
    section = _section(raw, "frontier")
    assert "Not measured with this profile: run <code>evals measure --runner &#39;&lt;b onmouseover=alert(5)&gt;q[U+202E]wen $x$&lt;/b&gt;&#39;</code>." in section
    assert "<svg" not in section and "<table" not in section


def test_method_hardware_servers_and_sandbox(plain: Path, hostile: Path) -> None:
    method = _section(plain.read_text(encoding="utf-8"), "method")
    rows = [_cells(r) for r in re.findall(r'<tr><th scope="row">(.*?)</tr>', method)]
    # utilisation at your volume, not the profile's assumption: (600,000 / 730 h) / (1 replica × 2,450 tasks/h) = 33.5%
    assert "qwen-7b|4 × A100-80GB|rented|$8.00|$2.00 per GPU-hour|33.5%|" in rows
    assert "qwen-7b|http://gpu-1:8000/v1|0.8.5|Qwen/Qwen2.5-7B-Instruct (32,768)|" in rows
    assert "qwen-7b|http://gpu-2:8000/v1|not reported|not reported|No version: HTTP 404. No metrics: GET /metrics: connection refused. 7 answers came without token counts.|" in rows
    assert "qwen-7b|http://gpu-1:8000/v1|1,234,567|98,765|3|42.1%|42 ms|7.3%|" in rows  # gpu-2 had no /metrics: not in this table
    assert "Model-written code (40 answers) ran under bubblewrap: its own namespaces, no network" in method
    hostile_method = _section(hostile.read_text(encoding="utf-8"), "method")
    assert '<strong class="stale">resource limits only: no network isolation, and the code saw the host\'s filesystem</strong>' in hostile_method
    assert '<span class="tag">simulated: hypothetical</span>' in hostile_method and "simulated: hypothetical" not in method


def test_confusion_matrices_render_defensively(hostile: Path) -> None:
    raw = hostile.read_text(encoding="utf-8")
    assert raw.count('<table class="cm">') == 1
    assert "&lt;script&gt;x&lt;/script&gt;" in raw
    assert "not a matrix" in raw


def test_simulated_banner(hostile: Path, plain: Path) -> None:
    raw = hostile.read_text(encoding="utf-8")
    assert re.search(r"<title>SIMULATED — ", raw)
    assert raw.index('<aside class="simulated"') < raw.index("<header>")
    assert "These numbers demonstrate the tool, not the models" in raw
    assert "SIMULATED" not in plain.read_text(encoding="utf-8")


def test_summary_json(hostile: Path) -> None:
    summary = json.loads((hostile.parent / "summary.json").read_text(encoding="utf-8"))
    assert summary["schema_version"] == SCHEMA_VERSION
    assert "failures" not in summary
    assert summary == make_model(n_failures=40).summary()
    assert ReportModel.model_validate(summary).summary() == summary  # dashboards can read it back into the model
    assert HOSTILE_NAME in (hostile.parent / "summary.json").read_text(encoding="utf-8")


def test_summary_markdown(hostile: Path, plain: Path) -> None:
    md = (hostile.parent / "summary.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    assert lines[0].startswith("> **⚠️ SIMULATED:**") and "demonstrate the tool, not the models" in lines[0]
    assert "<" not in md.replace("\\<", "")
    tables = [line for line in lines if line.startswith("| ")]
    table, projection = tables[:4], tables[4:8]
    assert table[0].startswith("| Runner | Pass rate (95% CI) | Completed / answered / errors | Cost per completed task | TTFT p50 | Latency p95 |")
    assert "| claude (reference) | 91.1% (85.0–96.0%) | 173 / 190 / 10 | $0.0142 | 420 ms | 8,400 ms |" in table
    assert all(line.count(" | ") == 5 for line in table), "a name broke the table"
    assert "- llama-8b is not good enough at a 5-point margin: -17.0 points vs claude." in lines

    assert "### At 600,000 requests/month (estimated)" in lines
    assert projection[0] == "| Runner | Kind | Replicas (GPUs) | Monthly cost (730 h) | Utilisation | Cost per completed task | Capacity (tasks/h) |"
    assert len(projection) == 1 + 3 and all(line.count(" | ") == 6 for line in projection), "a name broke the table"
    assert "| \\<b onmouseover=alert(5)\\>q\\[U+202E\\]wen \\$x\\$\\</b\\> | self-hosted | 1 (4) | $5,840.00 | 33.5% | $0.0112 | 2,450 (this run) |" in projection
    assert "| claude | API | — | $7,369.80 | — | $0.0135 | — |" in projection
    assert "not a measured latency-bounded frontier; run `evals measure` for that" in md
    sentences = [line for line in lines if "cheaper than" in line]
    assert len(sentences) == 2 and all(line.startswith("- \\<b onmouseover") for line in sentences)
    assert "does not become cheaper than llama-8b per completed task up to 6,000,000 requests/month (you are at 600,000)." in sentences[1]

    assert "### Since the baseline run" in lines and "Baseline 20250530-120000-aaa111: the latest earlier run of this suite that passed its gate." in lines
    assert (
        "- \\<b onmouseover=alert(5)\\>q\\[U+202E\\]wen \\$x\\$\\</b\\>: -6.2 pts [-9.2, -3.2] on 180 paired samples, McNemar p=0.0021 (significant); "
        "significant in \\<i\\>tiny\\</i\\> -25.0 pts; cost per completed task +5.6%, latency p95 +5.3%"
    ) in lines
    trend = tables[8:]
    assert trend[0] == "| Runner | Runs | Pass rate | Cost per completed task | Latency p95 | Gate |" and len(trend) == 2  # the one runner with history
    assert trend[1].endswith("| 3 | 87.0% (82.0%) | \\$0.004 (\\$0.0039) | 2,000 ms (1,950 ms) | — (regression) |") and trend[1].count(" | ") == 5

    plain_md = (plain.parent / "summary.md").read_text(encoding="utf-8")
    assert "SIMULATED" not in plain_md and plain_md.startswith("## support-triage: run ")
    assert "- qwen-7b is inconclusive at a 5-point margin: -3.1 points vs claude." in plain_md


def test_bare_run_renders(tmp_path: Path) -> None:
    """Only the reference, nothing failed, no confusion or method: every section still says something."""
    m = make_model(n_failures=0, simulated=False, hostile=False)
    m = m.model_copy(
        update={
            "runners": m.runners[:1], "verdicts": [], "category_verdicts": [], "confusion": {"odd": ["not", "a", "dict"]}, "method": {}, "prices": [],
            "workload": None, "projections": [], "break_even": [], "routing": None, "cascades": [],
        }
    )
    m = m.model_copy(update={"trend": {}, "baseline": None, "frontiers": {}, "servers": [], "hardware": [], "sandbox": None})
    raw = render(ReportModel.model_validate(m.model_dump()), tmp_path).read_text(encoding="utf-8")
    assert "No candidate to compare" in raw and "nothing to explore" in raw
    assert "No routing option could be priced" in raw and "At your volume" not in raw
    assert "No earlier run of this suite: nothing to compare with yet." in _section(raw, "baseline")
    assert "No history yet for claude: it has fewer than two finished runs of support-triage" in _section(raw, "trend")
    assert 'id="frontier"' not in raw and "No self-hosted runner in this run" in raw and "No server facts" in raw
    assert "No scorer of this run executed model-written code." in raw
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "No candidate to compare" in md and "requests/month" not in md
    assert "No earlier run of this suite" in md and "Trend" not in md


def test_explorer_keeps_every_kind_of_failure_within_budget() -> None:
    rows = make_model(n_failures=400, hostile=False).failures
    explorer = explorer_data(rows, budget=4_000)
    assert explorer.total == 400 and 0 < explorer.shown < 400
    kinds = {(r.runner, r.category, r.status) for r in rows}
    shown = json.loads(explorer.rows_json)
    names = shown["strings"]
    assert {(names[r[2]], names[r[1]], names[r[3]]) for r in shown["rows"]} == kinds
    assert [names[r[0]] for r in shown["rows"]] == sorted(names[r[0]] for r in shown["rows"])


@pytest.mark.parametrize(("usd", "text"), [(None, "—"), (0, "$0.00"), (0.0021, "$0.0021"), (0.0142, "$0.0142"), (0.84, "$0.84"), (0.1, "$0.10"), (0.00004213, "$0.0000421"), (1234.5, "$1,234.50")])
def test_fmt_usd(usd: float | None, text: str) -> None:
    assert fmt_usd(usd) == text


def test_history_measurement_and_servers_from_the_store(tmp_path: Path) -> None:
    """The new sections as analyse fills them from a real store: first run, then a degraded one, measured, with server facts."""
    ws = write_workspace(tmp_path, {"m": sim_runner("m", accuracy={"default": 0.95})}, n_samples=60)

    def run() -> tuple[str, dict, str]:
        out = api.run(workspace=ws, suite="mini", runners=["m"], quiet=True, reuse=False)
        assert out.report_path
        return out.run_id, json.loads((out.report_path.parent / "summary.json").read_text()), out.report_path.read_text(encoding="utf-8")

    first, summary, raw = run()
    assert summary["baseline"] is None and [p["run_id"] for p in summary["trend"]["m"]] == [first]
    assert summary["frontiers"] == {"m": None} and summary["servers"] == [] and summary["sandbox"]["code_answers"] == 0
    assert summary["hardware"] == [{"runner": "m", "gpu": "A100-80GB", "gpus": 4, "ownership": "rented", "hourly_usd": 8.0, "usd_per_gpu_hour": 2.0, "purchase": None, "utilisation": 0.6}]
    assert "No earlier run of this suite" in raw and "No history yet for m" in raw and "Not measured with this profile: run <code>evals measure --runner m</code>" in raw

    st = api.open_store(ws)
    record_gate_result(st, first, None, "pass", 0, "{}")
    st.close()
    (ws / "runners" / "m.yaml").write_text(yaml.safe_dump({"name": "m", **sim_runner("m", accuracy={"default": 0.95, "factual": 0.2})}))
    api.measure_runner(ws, "m", concurrencies=[1, 2], requests_per_step=6, quiet=True)
    second, _, _ = run()
    st = api.open_store(ws)
    server = {"version": "0.9.1", "models": [{"id": "m", "max_model_len": 8192}], "unavailable": {}, "shared_with": ["m", "other"]}
    st.add_server_fact(second, "m", "http://gpu-1:8000/v1", "server", server)
    st.add_server_fact(second, "m", "http://gpu-1:8000/v1", "metrics", {"deltas": {"prompt_tokens": 5000.0, "preemptions": 0.0, "prefix_cache_hit_rate": 0.5}, "shared_with": ["m", "other"]})
    st.add_server_fact(second, "m", "http://gpu-1:8000/v1", "usage_missing", {"answers": 3, "note": "no usage chunk"})
    st.commit()
    st.close()
    index = api.build_report(workspace=ws, run_id=second)
    summary, raw = json.loads((index.parent / "summary.json").read_text()), index.read_text(encoding="utf-8")

    b = summary["baseline"]
    assert b["run_id"] == first and b["reason"] == "the latest earlier run of this suite that passed its gate"
    [m] = b["runners"]
    assert m["overall"]["gap"] < 0 and m["overall"]["paired"] == 60 and m["changes"] == ["profile: simulate", "server version: unknown → 0.9.1"]
    factual = next(c for c in m["categories"] if c["scope"] == "factual")
    assert factual["significant"] and factual["adjusted_p"] <= 0.05 and factual["gap"] < -0.5
    assert not next(c for c in m["categories"] if c["scope"] == "triage")["significant"]
    assert '<tr><th scope="row">m</th><td>factual</td><td class="num">30</td>' in _section(raw, "baseline")
    assert [p["run_id"] for p in summary["trend"]["m"]] == [first, second] and summary["trend"]["m"][0]["gate"] == "pass"
    assert len(re.findall(r"<svg xmlns", _section(raw, "trend"))) == 1

    frontier = summary["frontiers"]["m"]
    assert frontier["simulated"] and [s["level"] for s in frontier["steps"]] == [1.0, 2.0] and frontier["operating_point"]["tasks_per_hour"] > 0
    assert next(p for p in summary["projections"] if p["runner"] == "m")["capacity_source"].startswith("measured: sweep 1 of ")
    assert "C=2" in _section(raw, "frontier") and "SIMULATED" in re.findall(r"<svg xmlns.*?</svg>", _section(raw, "frontier"), re.S)[0]
    [server] = summary["servers"]
    assert server == {
        "runner": "m", "base_url": "http://gpu-1:8000/v1", "version": "0.9.1", "models": [{"id": "m", "max_model_len": 8192}], "shared_with": ["m", "other"],
        "metrics": {"prompt_tokens": 5000.0, "preemptions": 0.0, "prefix_cache_hit_rate": 0.5}, "unavailable": {}, "answers_without_usage": 3,
    }
    method = _section(raw, "method")
    assert "m (8,192)" in method and "5,000" in method and "shared with m, other. 3 answers came without token counts." in method

    # Another profile makes the measurement someone else's: not shown, and not the capacity.
    (ws / "runners" / "m.yaml").write_text(yaml.safe_dump({"name": "m", **sim_runner("m", accuracy={"default": 0.95, "factual": 0.2}), "concurrency": 4}))
    _, summary, raw = run()
    assert summary["frontiers"] == {"m": None} and "Not measured with this profile" in raw
    assert summary["baseline"]["run_id"] == first  # the degraded run was never gated: last-pass still prefers the run that passed
