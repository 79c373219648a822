"""Scoring written in the questionnaire's YAML: sum or mean, reverse coding, 0-100 rescaling.

For simple instruments a new questionnaire needs no Python: list the scales under
``scoring.scales`` with ``scorer: declarative``.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..definitions import numeric_range
from . import Scale, answered, as_exact, not_computable, scorer, too_few_answered


@scorer("declarative")
def score_declarative(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """Score each scale as declared.

    * reverse-coded items are recoded as ``(item min + item max) - value``;
    * ``method: sum`` adds answered items, ``method: mean`` averages them;
    * with ``prorate: true`` a sum of k answered items of n is scaled by n/k
      (the "half rule" many manuals use, together with ``min_answered``);
    * ``min_answered`` (default: all items) makes the scale not computable below it;
    * ``rescale: true`` maps the scale's possible range linearly onto 0-100.

    Every step is exact (fractions); ``decimals`` only says how many decimals to show.
    """
    scales = []
    for spec in questionnaire.scoring.scales:
        ranges = {i: tuple(as_exact(x) for x in numeric_range(questionnaire.item_for_answer(i), questionnaire))
                  for i in spec.items}
        lo = [ranges[i][0] for i in spec.items]
        hi = [ranges[i][1] for i in spec.items]
        s_min, s_max = sum(lo, Fraction(0)), sum(hi, Fraction(0))
        if spec.method == "mean":
            s_min, s_max = s_min / len(lo), s_max / len(hi)
        done = answered(answers, spec.items)
        missing = [i for i in spec.items if i not in done]
        need = spec.min_answered or len(spec.items)
        value: Fraction | None = None
        reason = None
        if len(done) < need:
            reason = too_few_answered(len(done), len(spec.items), need)
        else:
            values = []
            for i in done:
                v = as_exact(answers[i])
                if i in spec.reverse:
                    v = ranges[i][0] + ranges[i][1] - v
                values.append(v)
            if spec.method == "sum":
                value = sum(values, Fraction(0)) * (Fraction(len(spec.items), len(values)) if spec.prorate else 1)
            else:
                value = sum(values, Fraction(0)) / len(values)
            if spec.method == "sum" and not spec.prorate and missing:
                # An unprorated sum with missing items would read as lower than it is.
                value = None
                reason = not_computable(
                    "A sum needs every item (or prorate: true).",
                    "En summa kräver alla frågor (eller prorate: true).",
                )
        lo_out, hi_out = (Fraction(0), Fraction(100)) if spec.rescale else (s_min, s_max)
        if value is not None and spec.rescale:
            value = (value - s_min) / (s_max - s_min) * 100
        scales.append(
            Scale(
                id=spec.id,
                label=spec.label.model_dump(),
                value=value,
                min=float(lo_out),
                max=float(hi_out),
                higher_is_better=spec.higher_is_better,
                answered=len(done),
                items=len(spec.items),
                missing=missing,
                reason=reason,
                decimals=spec.decimals,
            )
        )
    return scales
