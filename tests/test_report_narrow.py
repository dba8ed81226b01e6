"""The report on a phone (390 px wide): the page itself never scrolls sideways; a table wider than
the screen scrolls inside its own box. Needs playwright and a system Chromium at /usr/bin/chromium."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_model

from evals.report.render import render

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_tables_scroll_inside_themselves_at_390_px(browser: Any, tmp_path: Path) -> None:
    report = render(make_model(n_failures=30), tmp_path / "report")
    page = browser.new_page(viewport=PHONE)
    page.route("**/*", lambda route: route.continue_() if route.request.url == report.as_uri() else route.abort())
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    shots = Path(os.environ.get("EVALS_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "report-390px.png"))
    # The page is exactly as wide as the screen: nothing pushes it sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    wide = page.evaluate(
        """() => [...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().width > 0).map(t => {
            let box = t; while (box && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
            return {id: t.id || t.closest('section')?.id, scroller: box === document.documentElement || box === document.body ? 'page' : 'own box',
                    fits: t.getBoundingClientRect().right <= window.innerWidth + 1 || box.scrollWidth > box.clientWidth};
        })"""
    )
    assert wide, "the report has tables"
    assert all(w["scroller"] == "own box" for w in wide), [w for w in wide if w["scroller"] != "own box"]
    assert all(w["fits"] for w in wide), wide
