"""The report as a decision document (issue 16, item 2), opened in headless Chromium where it can be:
the verdict, the cost answer and the gate on the first screen; the other sections folded; what decides
the verdict; filter counts that follow the other filters; charts and numbers without exponents.

Screenshots go to $EVALS_SCREENSHOT_DIR (tests/artifacts/ when unset). The browser tests need playwright
and a system Chromium at /usr/bin/chromium and skip without them; the text and chart checks always run.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import BIG_OUTPUT, HOSTILE, HOSTILE_NAME, make_model

from evals import api
from evals.report import charts
from evals.report.model import Disagreement, GateOutcome, ReportModel
from evals.report.render import render, render_html
from evals.report.text import clip, fmt_p, fmt_sig, fmt_usd
from tests.conftest import sim_runner, write_workspace

DESKTOP = {"width": 1280, "height": 800}
SHOTS = Path(os.environ.get("EVALS_SCREENSHOT_DIR") or Path(__file__).parent / "artifacts")
EXPONENT = re.compile(r"\d(?:\.\d+)?e[-+]?\d", re.I)
"""`1e-05`, `8.63713e-05`, `2e+03`: scientific notation, which the report never prints."""
CODE = "\n".join(f"    line_{i} = compute({i})  # step {i} of the answer" for i in range(40))
"""A 40-line answer: shown clipped with a control that expands it."""


def _disagreement(sid: str, candidate: str, passed: bool, output: str, prompt: str = "[user]\nClassify this ticket.") -> Disagreement:
    return Disagreement(
        sample_id=sid, category="triage", candidate=candidate, candidate_passed=passed, prompt=prompt, candidate_output=output,
        reference_output=HOSTILE[1], expected="billing", candidate_explanation="exact: " + ("matched" if passed else "expected billing"),
        reference_explanation="exact: " + ("expected billing" if passed else "matched"),
    )


def decision_model(tiny_costs: bool = False) -> ReportModel:
    """The report fixture with a gate result and disagreements: the candidate failed 3 samples the reference passed
    (one a 40-line answer, one hostile, one the 1 MB output), and passed 2 it failed; llama-8b failed 1.

    With `tiny_costs`, costs and p-values small enough that a careless formatter would print them as exponents.
    """
    m = make_model(n_failures=30)
    disagreements = [
        _disagreement("s-1", HOSTILE_NAME, False, CODE, prompt="[system]\nYou triage tickets.\n\n[user]\n" + HOSTILE[0]),
        _disagreement("s-2", HOSTILE_NAME, False, HOSTILE[2]),
        _disagreement("s-3", HOSTILE_NAME, False, BIG_OUTPUT),
        _disagreement("s-4", HOSTILE_NAME, True, "billing"),
        _disagreement("s-5", HOSTILE_NAME, True, "billing"),
        _disagreement("s-6", "llama-8b", False, "bug"),
    ]
    gate = GateOutcome(result="regression", exit_code=1, baseline_id="20250530-120000-aaa111", reasons=[f"{HOSTILE_NAME}: pass rate −6.2 points (McNemar p < 0.0001)"])
    update: dict[str, Any] = {"disagreements": disagreements, "gate": gate}
    if tiny_costs:
        update["runners"] = [r.model_copy(update={"cost_per_completed_task_usd": 8.63713e-05 / (i + 1), "cost_total_usd": 0.0123 / (i + 1)}) for i, r in enumerate(m.runners)]
        update["verdicts"] = [v.model_copy(update={"mcnemar_p": 1.2e-7}) for v in m.verdicts]
        update["trend"] = {name: [{**p, "cost_per_completed_task_usd": 1.0e-5 + 2e-7 * i} for i, p in enumerate(points)] for name, points in m.trend.items()}
    return m.model_copy(update=update)


class _VisibleText(HTMLParser):
    """The text a reader sees: everything outside <script> and <style> (SVG labels included)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


# ---- The data (no browser) ----


def test_disagreements_are_the_verdicts_discordant_pairs(tmp_path: Path) -> None:
    """A real run on the simulated server: the disagreements listed are exactly the pairs the verdict counts."""
    ws = write_workspace(tmp_path, {"ref": sim_runner("ref-model", "anthropic", accuracy={"default": 0.9}), "cand": sim_runner("cand-model", accuracy={"default": 0.6})})
    out = api.run(workspace=ws, suite="mini", runners=["ref", "cand"], reference="ref", quiet=True)
    m = out.report
    assert m is not None
    [v] = m.verdicts
    lost = [d for d in m.disagreements if not d.candidate_passed]
    won = [d for d in m.disagreements if d.candidate_passed]
    # discordant = [b, c]: b the pairs the candidate won, c those it lost (gap = (b - c) / n).
    assert [len(won), len(lost)] == v.discordant and lost, v.discordant
    assert v.gap == pytest.approx((len(won) - len(lost)) / v.paired)
    d = next(d for d in m.disagreements if d.sample_id.startswith("triage-"))
    i = int(d.sample_id.split("-")[1])
    # The prompt is the sample's input as a conversation; the expected answer its reference.
    assert d.prompt == f"[system]\nAnswer with the label only.\n\n[user]\nTicket {i}: my invoice #{i} is wrong"
    assert d.expected is not None and d.candidate_output and d.reference_output
    assert "disagreements" not in m.summary()  # per-sample rows stay out of summary.json
    assert all(f.prompt for f in m.failures)


# ---- Numbers and charts (no browser) ----


def test_no_scientific_notation_in_visible_text() -> None:
    html = render_html(decision_model(tiny_costs=True))
    text = visible_text(html)
    # The tiny figures are there, positional: 8.63713e-05 to three significant digits is $0.0000864.
    assert "$0.0000864" in text and "< 0.0001" in text
    assert not EXPONENT.findall(text), [text[max(0, m.start() - 40) : m.end() + 10] for m in EXPONENT.finditer(text)]
    # Thousands separators on counts in prose: 600,000 requests a month.
    assert "600,000 requests a month" in text and "600000" not in text


def test_one_formatter_for_small_numbers() -> None:
    assert fmt_usd(8.63713e-05) == "$0.0000864"
    assert fmt_usd(12_345.678) == "$12,345.68"
    assert fmt_sig(1.23e-5) == "0.0000123" and fmt_sig(12_345.6) == "12,346"
    assert fmt_p(0.00021) == "0.00021" and fmt_p(3e-9) == "< 0.0001"
    # A cut falls at a line end near the limit: 40 lines of 40 characters (39 + newline) cut at 200 keep 5 whole lines.
    text = "\n".join("x" * 39 for _ in range(40))
    cut = clip(text, 200)
    assert cut.startswith("x" * 39 + "\n") and cut.split("…")[0].splitlines()[-1] == "x" * 39
    assert cut.endswith(f"({len(text) - 5 * 40 + 1:,} more chars)")


def test_chart_ticks_are_dollars_without_exponents() -> None:
    costs = [charts.Cost("a", 1.0e-5, fmt_usd(1.0e-5), True), charts.Cost("b", 3.2e-5, fmt_usd(3.2e-5), False)]
    svg = charts.cost_bars(costs, simulated=False)
    assert svg is not None
    labels = visible_text(svg)
    assert "$0.00001" in labels and not EXPONENT.search(labels), labels
    trend = charts.trend_svg([{**p, "cost_per_completed_task_usd": 1.0e-5 + 1e-7 * i} for i, p in enumerate(make_model().trend["claude"] * 3)])
    assert not EXPONENT.search(visible_text(trend)) and "$0" in visible_text(trend)


def test_pass_rate_axis_holds_every_interval_and_damps_small_changes() -> None:
    points = [{"pass_rate": 0.90, "pass_rate_ci": [0.85, 0.94]}, {"pass_rate": 0.91, "pass_rate_ci": [0.86, 0.95]}]
    low, high = charts.pass_rate_limits(points)
    assert low <= 85 and high >= 95  # no clipped whisker
    assert high - low >= charts.PASS_RATE_MIN_SPAN  # a 1-point change is at most 1/20 of the height
    # Near the top the axis stops at 100% and still holds the interval.
    low, high = charts.pass_rate_limits([{"pass_rate": 0.99, "pass_rate_ci": [0.97, 1.0]}])
    assert (low, high) == (80.0, 100.0)
    # The gap axis holds every interval end, zero and the −margin line.
    gaps = [charts.Gap("x", -0.03, [-0.21, 0.12], "inconclusive")]
    low, high = charts.gap_limits(gaps, 0.05)
    assert low < -21 and high > 12


# ---- In the browser ----


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(decision_model(), tmp_path_factory.mktemp("decision"))


def _open(browser: Any, report: Path, viewport: dict[str, int] = DESKTOP, hash: str = "") -> Any:
    page = browser.new_page(viewport=viewport)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.route("**/*", lambda route: route.continue_() if route.request.url.split("#")[0] == report.as_uri() else route.abort())
    page.goto(report.as_uri() + hash)
    page.wait_for_load_state("load")
    page.errors = errors
    SHOTS.mkdir(parents=True, exist_ok=True)
    return page


@pytest.mark.browser
def test_first_screen_answers_and_the_page_is_short_until_opened(browser: Any, report: Path) -> None:
    page = _open(browser, report)
    page.screenshot(path=str(SHOTS / "decision-first-screen-1280x800.png"))
    bottom = DESKTOP["height"]
    # The gate, every verdict, the cost answer (a cost per completed task per runner, and the break-even) end above the fold.
    for selector in ("#gate", "#verdict .verdict >> nth=-1", "#cost-answer"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["y"] + box["height"] <= bottom, (selector, box)
    answer = page.locator("#cost-answer").inner_text()
    # The self-hosted candidate's break-even with the reference, as the Cost section states it (that one, not the one with llama-8b).
    [b] = [b for b in decision_model().break_even if b.api == "claude"]
    assert "$0.0038" in answer and "600,000 requests a month" in answer
    assert f"cheaper from {b.requests_per_month:,}/month, not at every volume above" in answer and "llama-8b: " not in answer
    assert "REGRESSION" in page.locator("#gate").inner_text()
    assert page.locator(".simulated").is_visible()
    # Folded: a few screens tall. Opened: the whole report.
    folded = page.evaluate("document.documentElement.scrollHeight")
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    opened = page.evaluate("document.documentElement.scrollHeight")
    (SHOTS / "decision-page-height.json").write_text(json.dumps({"viewport": DESKTOP, "folded_px": folded, "opened_px": opened}) + "\n")
    assert folded <= 4 * bottom < opened, (folded, opened)
    assert page.errors == []


@pytest.mark.browser
def test_a_link_or_the_address_opens_its_section(browser: Any, report: Path) -> None:
    page = _open(browser, report, hash="#method")
    assert page.locator("#method > details").evaluate("d => d.open")
    assert not page.locator("#cost > details").evaluate("d => d.open")
    page.click("#cost-answer a[href='#cost']")  # a link inside the text, not only the navigation
    assert page.locator("#cost > details").evaluate("d => d.open")
    assert page.locator("#cost table").first.is_visible()
    page.click("nav a[href='#disagreements']")
    assert page.locator("#disagreements > details").evaluate("d => d.open")
    assert page.locator("#disagreements h3").first.is_visible()
    assert page.errors == []


@pytest.mark.browser
def test_what_decides_the_verdict(browser: Any, report: Path) -> None:
    page = _open(browser, report)
    # Each verdict links to the samples that decide it: that candidate's part opens, the other stays folded.
    page.click("#verdict .verdict >> nth=0 >> a[href='#disagreements-1']")
    section = page.locator("#disagreements")
    assert section.locator("#disagreements-1").evaluate("d => d.open") and not section.locator("#disagreements-2").evaluate("d => d.open")
    cand = HOSTILE_NAME.replace("\u202e", "[U+202E]")
    assert section.locator("#disagreements-2 > summary").inner_text() == "llama-8b vs claude: 1 failed where claude passed, 0 the reverse"
    section.locator("#disagreements-2 > summary").click()
    headings = section.locator("h4").all_inner_texts()
    # Per candidate, failures where the reference passed first, then the reverse.
    assert headings == [f"{cand} failed where claude passed: 3 samples", f"{cand} passed where claude failed: 2 samples", "llama-8b failed where claude passed: 1 sample"]
    pairs = section.locator("article.pair")
    assert pairs.count() == 6
    first = pairs.nth(0)
    # Prompt, both answers and the expected one, side by side.
    assert first.locator(".prompt").inner_text().startswith("Prompt\n[system]\nYou triage tickets.")
    sides = first.locator(".side")
    assert sides.count() == 3
    boxes = [sides.nth(i).bounding_box() for i in range(3)]
    assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"] and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert [sides.nth(i).locator("h5").inner_text() for i in range(3)] == [f"{cand} failed", "claude (reference) passed", "Expected"]
    # A long answer is clipped, with a control that shows all of it.
    text, button = sides.nth(0).locator(".text"), sides.nth(0).locator("button.expand")
    clipped = text.bounding_box()["height"]
    assert button.inner_text() == "Show all (40 lines)" and button.get_attribute("aria-expanded") == "false"
    assert text.evaluate("e => e.scrollHeight > e.clientHeight")
    page.screenshot(path=str(SHOTS / "decision-disagreements-1280x800.png"))
    section.screenshot(path=str(SHOTS / "decision-disagreements.png"))
    button.click()
    assert button.get_attribute("aria-expanded") == "true" and button.inner_text() == "Show less"
    assert text.bounding_box()["height"] > 3 * clipped and text.evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    assert "line_39 = compute(39)" in text.inner_text()
    # Hostile text stays text.
    assert "<script>alert(1)</script>" in first.locator(".prompt").inner_text()
    assert section.locator("script, img, a[href^='javascript']").count() == 0
    assert page.errors == []


@pytest.mark.browser
def test_filter_counts_follow_the_other_filters(browser: Any, report: Path) -> None:
    page = _open(browser, report, hash="#failures")
    runner, status = page.locator("select[data-column='2']"), page.locator("select[data-column='3']")

    def counts(select: Any) -> dict[str, str]:
        return dict(t.rsplit(" (", 1) for t in select.locator("option").all_inner_texts()[1:])

    # The fixture's 30 rows: row i is runner 1 + i % 2 of [claude, candidate, llama-8b], status [ok, ok, error, timeout][i % 4].
    assert counts(status) == {"error": "7)", "ok": "16)", "timeout": "7)"}  # i % 4 == 0 or 1: 8 + 8; == 2: 7; == 3: 7
    runner.select_option(label="llama-8b (15)")
    # llama-8b has the odd rows: i % 4 == 1 (ok) for i = 1, 5, ..., 29: 8 rows; i % 4 == 3 (timeout): 7 rows; no error.
    assert counts(status) == {"error": "0)", "ok": "8)", "timeout": "7)"}
    assert counts(runner)["llama-8b"] == "15)"  # a filter's own choice does not change its counts
    status.select_option(label="ok (8)")
    # ok rows: i % 4 in (0, 1): the candidate's i % 4 == 0 (i = 0, 4, ..., 28): 8; llama-8b's: 8.
    assert set(counts(runner).values()) == {"8)"}
    assert page.locator("#fx-info").inner_text().startswith("Rows 1–8 of 8")
    assert page.errors == []


@pytest.mark.browser
def test_explorer_clips_long_cells_with_a_control(browser: Any, report: Path) -> None:
    page = _open(browser, report)
    page.click("nav a[href='#failures']")
    # Row 0's output is the 1 MB answer, cut to the page's 5,000-character limit plus its note: taller than the clip.
    cell = page.locator("#fx-body tr >> nth=0").locator("td >> nth=4")
    text, button = cell.locator(".text"), cell.locator("button.expand")
    assert button.inner_text().startswith("Show all (") and text.evaluate("e => e.scrollHeight > e.clientHeight")
    # A short cell is shown whole, with no control.
    short = page.locator("#fx-body tr >> nth=1").locator("td >> nth=6")
    assert short.locator("button.expand").count() == 0 and not short.locator(".text").evaluate("e => e.classList.contains('clip')")
    button.click()
    assert button.get_attribute("aria-expanded") == "true" and text.evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    # The prompt column is there (the fixture's rows carry none: a dash).
    assert page.locator("#fx-table thead th >> nth=3").inner_text() == "Prompt"
    page.locator("#failures").screenshot(path=str(SHOTS / "decision-failure-explorer.png"))
    assert page.errors == []


@pytest.mark.browser
def test_opened_report_never_scrolls_sideways_at_390_px(browser: Any, report: Path) -> None:
    page = _open(browser, report, viewport={"width": 390, "height": 844})
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.locator("#disagreements").screenshot(path=str(SHOTS / "decision-disagreements-390px.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_gate_messages_print_small_p_values_positionally() -> None:
    """The gate's reasons reach the report's first screen, JUnit and summary.md: a tiny p-value is a number, not `1.2e-07`."""
    from evals.gate.compare import PairedScope
    from evals.gate.gate import GateOptions, _quality

    scope = PairedScope(scope="overall", n=200, improved=0, regressed=40, pass_rate_a=0.9, pass_rate_b=0.7, gap=-0.2, gap_ci=[-0.26, -0.15], mcnemar_p=1.8e-12)
    message = _quality("quality", scope, GateOptions()).describe(9.1e-13, 1.2e-7, "regression")
    assert "p=0.00000000000091, Holm-adjusted 0.00000012" in message and not EXPONENT.search(message), message
