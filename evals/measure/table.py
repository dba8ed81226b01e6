"""A Frontier as a terminal table (rich), for `evals measure`."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evals.measure.metrics import percentile
from evals.measure.model import Dist, Frontier


def _ms(d: Dist | None, p: int) -> str:
    return f"{percentile(d, p):,.0f}" if d is not None else "n/a"


def _num(x: float | None, digits: int = 1) -> str:
    return f"{x:,.{digits}f}" if x is not None else "n/a"


def frontier_table(f: Frontier) -> Table:
    """One row per step; the rest of each step's figures are in `--json`."""
    p = f.slo.percentile
    rate = f.mode == "rate"
    client = f" [{f.client} client]" if f.client else ""
    t = Table(title=f"{f.runner} ({f.model}){' - SIMULATED' if f.simulated else ''}{client}", title_justify="left", padding=(0, 1))
    heads = ["offered\nreq/s", "lag p99\nms"] if rate else ["C"]
    heads += ["req/s", "goodput\nreq/s", "output\ntok/s", "TTFT\np50", f"TTFT\np{p}", "ITL\np50", f"ITL\np{p}", f"TPOT\np{p}", f"E2E\np{p}", "tok/s per\nstream", "errors", "client\nlag p99", "meets\nSLO"]
    for h in heads:
        t.add_column(h, justify="right", no_wrap=True)
    for s in f.steps:
        row = [f"{s.level:g}"] + ([_ms(s.lag_ms, 99)] if rate else [])
        row += [
            _num(s.requests_per_s, 2),
            _num(s.goodput_per_s, 2),
            _num(s.output_tokens_per_s, 0),
            _ms(s.ttft_ms, 50),
            _ms(s.ttft_ms, p),
            _num(s.itl_ms.p50 if s.itl_ms else None),
            _num(percentile(s.itl_ms, p) if s.itl_ms else None),
            _num(percentile(s.tpot_ms, p) if s.tpot_ms else None),
            _ms(s.e2e_ms, p),
            _num(s.per_stream_output_tps),
            ", ".join(f"{k}×{n}" for k, n in s.errors.items()) or "0",
            _num(s.client_lag_ms.p99 if s.client_lag_ms else None) + (" !" if s.client_bound else ""),
            ("yes" if s.meets_slo else "no") + (" (client lagged)" if s.client_bound and s.meets_slo else ""),
        ]
        t.add_row(*row)
    target = f"TTFT p{p} ≤ {f.slo.ttft_ms:g} ms" + (f", TPOT p{p} ≤ {f.slo.tpot_ms:g} ms" if f.slo.tpot_ms is not None else "") + (f", end-to-end p{p} ≤ {f.slo.e2e_ms:g} ms" if f.slo.e2e_ms is not None else "")
    t.caption = (
        f"Latencies in ms over the measured requests (client lag: how late the client's event loop ran, above 10 ms p99 (!) the step is not used as capacity; ITL: gaps between streamed chunks; TPOT: per request, (E2E - TTFT) / (output tokens - 1)); "
        f"rates over each step's window; n/a: not measured or token counts unknown. SLO: {target}, at most {f.slo.max_error_share:.0%} failed."
    )
    return t


def frontier_summary(f: Frontier) -> Group:
    """The operating point, then the flags (red) and notes (dim)."""
    lines: list[Text] = []
    op = f.operating_point
    if op is not None:
        lines.append(Text(f"operating point: {op.tasks_per_hour:,.0f} tasks/hour ({op.requests_per_s:,.2f} req/s) - {op.basis}", style="bold"))
    lines += [Text(f"FLAG: {x}", style="red") for x in f.flags]
    lines += [Text(x, style="dim") for x in f.notes]
    return Group(*lines)
