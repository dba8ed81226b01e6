"""The report opened from disk in headless Chromium: it runs offline, hostile outputs stay inert, and the explorer works.

Needs `pip install playwright` and a system Chromium at /usr/bin/chromium
(Playwright's own browser downloads are not used).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_model

from evals.report.render import render

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated, hostile report with enough failure rows for three pages."""
    return render(make_model(n_failures=120), tmp_path_factory.mktemp("report"))


def test_report_in_chromium(browser: Any, report: Path, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console_errors: list[str] = []
    page_errors: list[str] = []
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url == report.as_uri() else route.abort())
    page.goto(report.as_uri())
    page.wait_for_load_state("load")

    shots = Path(os.environ.get("EVALS_SCREENSHOT_DIR") or Path(__file__).parent / "artifacts")
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "report-first-screen.png"))
    # Every section but the verdict starts folded; its navigation link opens it.
    for name in ("cost", "routing", "latency", "baseline", "trend", "failures", "method"):
        assert not page.locator(f"#{name} > details").evaluate("d => d.open"), name
        page.click(f"nav a[href='#{name}']")
        assert page.locator(f"#{name} > details").evaluate("d => d.open"), name
    page.locator("#cost").screenshot(path=str(shots / "report-cost.png"))
    page.locator("#routing").screenshot(path=str(shots / "report-routing.png"))
    break_even = page.locator("#cost figure svg").nth(1)
    assert break_even.is_visible() and break_even.bounding_box()["width"] > 500
    assert page.locator("nav a[href='#routing']").is_visible()
    for section in ("#baseline", "#trend", "#method"):
        page.locator(section).screenshot(path=str(shots / f"report-{section[1:]}.png"))
    for chart in ("#trend figure svg", "#latency figure svg >> nth=1"):
        assert page.locator(chart).is_visible() and page.locator(chart).bounding_box()["width"] > 500

    body_rows = page.locator("#fx-body tr")
    assert body_rows.count() == 50
    assert page.locator("#fx-info").inner_text().startswith("Rows 1–50 of 120")

    page.click("#fx-next")
    assert page.locator("#fx-info").inner_text().startswith("Rows 51–100 of 120")
    page.click("#fx-next")
    assert body_rows.count() == 20
    assert page.locator("#fx-next").is_disabled()
    page.click("#fx-prev")
    assert page.locator("#fx-info").inner_text().startswith("Rows 51–100")

    runner = page.locator("select[data-column='2']")
    runner.select_option(label="llama-8b (60)")
    assert body_rows.count() == 50
    assert page.locator("#fx-info").inner_text().startswith("Rows 1–50 of 60")
    assert set(page.locator("#fx-body tr td:nth-child(2)").all_inner_texts()) == {"llama-8b"}
    status = page.locator("select[data-column='3']")
    status.select_option(label="timeout (30)")
    assert body_rows.count() == 30
    assert set(page.locator("#fx-body tr td:nth-child(3)").all_inner_texts()) == {"timeout\nnot graded"}
    runner.select_option(value="")
    status.select_option(value="")
    assert page.locator("#fx-info").inner_text().startswith("Rows 1–50 of 120")

    # Hostile text arrives as text: visible, never parsed into elements.
    assert "<script>alert(1)</script>" in page.locator("#fx-body").inner_text()
    assert page.locator("#fx-body script, #fx-body img, #fx-body a").count() == 0
    assert page.locator("script").count() == 2
    assert page.locator("img").count() == 0
    assert "SIMULATED" in page.title()
    assert page.locator(".simulated").is_visible()

    page.emulate_media(media="print")
    assert page.locator(".simulated").is_visible()
    assert not page.locator(".controls").is_visible() and not page.locator("nav").is_visible()

    assert dialogs == []
    assert page_errors == []
    assert console_errors == []
    assert requests == [report.as_uri()]
    page.close()
