"""The rendered report without a browser: hostile text stays inert, nothing is fetched, the side files are right."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evals.report.model import SCHEMA_VERSION, ReportModel
from evals.report.render import TEXT_LIMIT, explorer_data, fmt_usd, render
from report_fixtures import HOSTILE, HOSTILE_NAME, make_model

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
    assert len(svgs) == 3 and all(shown in s for s in svgs)
    assert HOSTILE_NAME not in raw


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
    assert HOSTILE_NAME in (hostile.parent / "summary.json").read_text(encoding="utf-8")


def test_summary_markdown(hostile: Path, plain: Path) -> None:
    md = (hostile.parent / "summary.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    assert lines[0].startswith("> **⚠️ SIMULATED:**") and "demonstrate the tool, not the models" in lines[0]
    assert "<" not in md.replace("\\<", "")
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].startswith("| Runner | Pass rate (95% CI) | Completed / answered / errors | Cost per completed task | TTFT p50 | Latency p95 |")
    assert len(table) == 1 + 3
    assert "| claude (reference) | 91.1% (85.0–96.0%) | 173 / 190 / 10 | $0.0142 | 420 ms | 8,400 ms |" in table
    assert all(line.count(" | ") == 5 for line in table), "a name broke the table"
    assert "- llama-8b is not good enough at a 5-point margin: -17.0 points vs claude." in lines

    plain_md = (plain.parent / "summary.md").read_text(encoding="utf-8")
    assert "SIMULATED" not in plain_md and plain_md.startswith("## support-triage: run ")
    assert "- qwen-7b is inconclusive at a 5-point margin: -3.1 points vs claude." in plain_md


def test_bare_run_renders(tmp_path: Path) -> None:
    """Only the reference, nothing failed, no confusion or method: every section still says something."""
    m = make_model(n_failures=0, simulated=False, hostile=False)
    m = m.model_copy(update={"runners": m.runners[:1], "verdicts": [], "category_verdicts": [], "confusion": {"odd": ["not", "a", "dict"]}, "method": {}, "prices": []})
    raw = render(ReportModel.model_validate(m.model_dump()), tmp_path).read_text(encoding="utf-8")
    assert "No candidate to compare" in raw and "nothing to explore" in raw
    assert "No candidate to compare" in (tmp_path / "summary.md").read_text(encoding="utf-8")


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
