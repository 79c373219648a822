"""Scoring written in the questionnaire's YAML: sum or mean, reverse coding, 0-100 rescaling.

For simple instruments a new questionnaire needs no Python: list the scales under
``scoring.scales`` with ``scorer: declarative``.
"""
from __future__ import annotations

from typing import Any

from ..definitions import numeric_range
from . import Scale, answered, not_computable, scorer, too_few_answered


@scorer("declarative")
def score_declarative(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """Score each scale as declared.

    * reverse-coded items are recoded as ``(item min + item max) - value``;
    * ``method: sum`` adds answered items, ``method: mean`` averages them;
    * with ``prorate: true`` a sum of k answered items of n is scaled by n/k
      (the "half rule" many manuals use, together with ``min_answered``);
    * ``min_answered`` (default: all items) makes the scale not computable below it;
    * ``rescale: true`` maps the scale's possible range linearly onto 0-100.
    """
    scales = []
    for spec in questionnaire.scoring.scales:
        ranges = {i: numeric_range(questionnaire.item_for_answer(i), questionnaire) for i in spec.items}
        lo = [ranges[i][0] for i in spec.items]
        hi = [ranges[i][1] for i in spec.items]
        if spec.method == "sum":
            s_min, s_max = sum(lo), sum(hi)
        else:
            s_min, s_max = sum(lo) / len(lo), sum(hi) / len(hi)
        done = answered(answers, spec.items)
        missing = [i for i in spec.items if i not in done]
        need = spec.min_answered or len(spec.items)
        value: float | None = None
        reason = None
        if len(done) < need:
            reason = too_few_answered(len(done), len(spec.items), need)
        else:
            values = []
            for i in done:
                v = float(answers[i])
                if i in spec.reverse:
                    v = ranges[i][0] + ranges[i][1] - v
                values.append(v)
            if spec.method == "sum":
                value = sum(values) * (len(spec.items) / len(values) if spec.prorate else 1)
            else:
                value = sum(values) / len(values)
            if spec.method == "sum" and not spec.prorate and missing:
                # An unprorated sum with missing items would read as lower than it is.
                value = None
                reason = not_computable(
                    "A sum needs every item (or prorate: true).",
                    "En summa kräver alla frågor (eller prorate: true).",
                )
        lo_out, hi_out = (0.0, 100.0) if spec.rescale else (s_min, s_max)
        if value is not None:
            if spec.rescale:
                value = (value - s_min) / (s_max - s_min) * 100.0
            value = round(value, spec.decimals)
        scales.append(
            Scale(
                id=spec.id,
                label=spec.label.model_dump(),
                value=value,
                min=lo_out,
                max=hi_out,
                higher_is_better=spec.higher_is_better,
                answered=len(done),
                items=len(spec.items),
                missing=missing,
                reason=reason,
                decimals=spec.decimals,
            )
        )
    return scales
