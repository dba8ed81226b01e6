"""Confusion matrix for the `label` scorer: where a classifier's mistakes go,
which a single accuracy figure hides."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

NONE = "(none)"
"""How a missing label (no prediction, or no expected label) is shown."""


def confusion_matrix(pairs: Iterable[tuple[str | None, str | None]]) -> dict[str, Any]:
    """Counts of (expected, predicted) pairs with per-label precision, recall and F1.

    Returns `labels` (sorted, then "(none)" last if any pair lacks a label),
    `matrix` (rows expected, columns predicted, in `labels` order), `per_label`
    (for each real label: precision, recall, f1, support = times expected,
    predicted = times predicted), `accuracy`, `macro_f1` and `n`.

    Precision with no predictions of a label, and recall with no expected
    instances, are None (undefined) rather than 0, so a report can show a dash
    instead of a misleading zero. F1 is 2·TP / (predicted + support), which is
    defined whenever the label occurs at all.
    """
    counts = Counter((e if e is not None else NONE, p if p is not None else NONE) for e, p in pairs)
    seen = {x for pair in counts for x in pair}
    real = sorted(seen - {NONE})
    labels = real + ([NONE] if NONE in seen else [])
    matrix = [[counts[(e, p)] for p in labels] for e in labels]
    n = sum(counts.values())

    per_label: dict[str, dict[str, float | int | None]] = {}
    f1s = []
    for lab in real:
        tp = counts[(lab, lab)]
        support = sum(c for (e, _), c in counts.items() if e == lab)
        predicted = sum(c for (_, p), c in counts.items() if p == lab)
        f1s.append(2 * tp / (predicted + support))
        per_label[lab] = {
            "precision": tp / predicted if predicted else None,
            "recall": tp / support if support else None,
            "f1": f1s[-1],
            "support": support,
            "predicted": predicted,
        }
    correct = sum(counts[(lab, lab)] for lab in real)
    return {
        "labels": labels,
        "matrix": matrix,
        "per_label": per_label,
        "accuracy": correct / n if n else None,
        "macro_f1": sum(f1s) / len(f1s) if f1s else None,
        "n": n,
    }
