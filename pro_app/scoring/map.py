"""Myositis Activities Profile (MAP): subscale, single-item and total medians.

Sources:

* Alexanderson H, Lundberg IE, Stenström CH. Development of the Myositis Activities
  Profile. J Rheumatol 2002;29:2386-92: 31 items, each rated on a 7-point scale of
  difficulty (1 = no difficulty ... 7 = impossible to do); ordinal data, reported as medians.
* Alexanderson H, Reed AM, Ytterberg SR. The Myositis Activities Profile: initial
  validation for assessment of polymyositis/dermatomyositis in the USA.
  J Rheumatol 2012;39:2134ff: four subscales and four single items; analyses use "the
  median of subscales/single items".

What is implemented:

* each subscale: the median of its answered items (1-7; the mean of the two middle
  values when the count is even, the usual definition of a median);
* each single item: reported as itself (1-7);
* total: the median of the four subscale medians and the four single items.

Not verified from the published papers (only their abstracts were available): any
missing-data rule. The rule here is a documented pro-app choice, borrowed from the
"half rule" common to questionnaire manuals (e.g. the SF-36, Ware 1993): a subscale needs
at least half of its items answered, and the total at least half of its eight components.
``scoring.options.min_fraction`` changes the fraction.

The domain structure (which items make up which subscale, which are single items) is read
from ``scoring.options`` in the YAML, so a clinic holding the official form can correct it
without touching Python::

    options:
      domains:
        - {id: movement, label: {sv: ..., en: ...}, items: [map1, map2, ...]}
      single_items: [map28, map29, map30, map31]
      min_fraction: 0.5
"""
from __future__ import annotations

import math
import statistics
from fractions import Fraction
from typing import Any

from . import Scale, as_exact, is_answered, not_computable, scorer, too_few_answered

__all__ = ["score_map", "median_score"]

ITEM_MIN, ITEM_MAX = 1.0, 7.0


def median_score(values: list[Any]) -> Fraction:
    """The median of ordinal MAP ratings (Alexanderson et al. 2002; 2012), exactly (2.5, not 2.4999...)."""
    return as_exact(statistics.median([as_exact(v) for v in values]))


def _structure(questionnaire: Any) -> tuple[list[dict[str, Any]], list[str], float]:
    options = questionnaire.scoring.options
    domains = options.get("domains")
    singles = options.get("single_items", [])
    known = set(questionnaire.answer_ids())
    problems = []
    if not isinstance(domains, list) or not domains:
        problems.append("scoring.options.domains must list the subscales")
        domains = []
    for d in domains:
        if not (isinstance(d, dict) and {"id", "label", "items"} <= set(d) and set(d["label"]) >= {"sv", "en"}):
            problems.append(f"subscale {d!r} needs id, label {{sv, en}} and items")
            continue
        problems += [f"subscale '{d['id']}' uses unknown item '{i}'" for i in d["items"] if i not in known]
    problems += [f"unknown single item '{i}'" for i in singles if i not in known]
    if problems:
        raise ValueError(f"questionnaire '{questionnaire.id}': " + "; ".join(problems))
    return domains, list(singles), float(options.get("min_fraction", 0.5))


def _need(n: int, fraction: float) -> int:
    return max(1, math.ceil(n * fraction))


@scorer("map")
def score_map(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """MAP subscales (median), single items, and total (median of the eight components).

    Median scoring: Alexanderson et al. 2002 and 2012 (see module docstring). The
    missing-data rule (at least half the items of a subscale, at least half of the eight
    components for the total) is a pro-app choice; no published rule was found.
    """
    domains, singles, fraction = _structure(questionnaire)
    scales: list[Scale] = []
    components: list[Fraction] = []
    component_ids: list[str] = []

    def make(sid: str, label: dict[str, str], items: list[str]) -> Scale:
        done = [i for i in items if is_answered(answers.get(i))]
        need = _need(len(items), fraction)
        value = None
        reason = None
        if len(done) < need:
            reason = too_few_answered(len(done), len(items), need)
        else:
            value = median_score([answers[i] for i in done])
            components.append(value)
        component_ids.append(sid)
        return Scale(
            id=sid,
            label=label,
            value=value,
            min=ITEM_MIN,
            max=ITEM_MAX,
            higher_is_better=False,
            answered=len(done),
            items=len(items),
            missing=[i for i in items if i not in done],
            reason=reason,
            decimals=1,
        )

    for d in domains:
        scales.append(make(d["id"], {"sv": d["label"]["sv"], "en": d["label"]["en"]}, list(d["items"])))
    for item in singles:
        label = {lang: questionnaire.answer_text(item, lang) for lang in ("sv", "en")}
        scales.append(make(item, label, [item]))

    n = len(component_ids)
    need = _need(n, fraction)
    total = median_score(components) if len(components) >= need else None
    scales.append(
        Scale(
            id="MAP_total",
            label={"en": "MAP total", "sv": "MAP totalt"},
            value=total,
            min=ITEM_MIN,
            max=ITEM_MAX,
            higher_is_better=False,
            answered=len(components),
            items=n,
            missing=[s.id for s in scales if s.value is None],
            reason=None
            if total is not None
            else not_computable(
                f"{len(components)} of {n} subscales and single items could be scored; at least {need} are needed.",
                f"{len(components)} av {n} delskalor och enskilda frågor kunde beräknas; minst {need} behövs.",
            ),
            decimals=1,
            extra={"method": "median of subscale medians and single items"},
        )
    )
    return scales
