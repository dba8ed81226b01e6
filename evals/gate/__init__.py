"""Nightly regression checks: run history, baselines, the gate and the trend.

- history: what the gate reads from the store (runs, baselines, gate results)
- compare: two runs side by side, paired on sample ids (pure)
- rule: the statistical rule (pure)
- gate: checks, result and exit code from a comparison (pure)
- junit, markdown: the gate for CI systems and job summaries
- trend: quality, cost and latency over past runs, and its chart
- service: the gate over a store; nightly: config, lock, post-run steps
"""
