"""SF-36 / RAND 36: eight 0-100 scales, the health transition item, and PCS/MCS.

Item ids are the form's numbers (``q1``, ``q2``, ``q3a``..``q3j``, ``q4a``..``q4d``,
``q5a``..``q5c``, ``q6``, ``q7``, ``q8``, ``q9a``..``q9i``, ``q10``, ``q11a``..``q11d``);
codes are the printed response numbers (1 = first option).

Sources
-------
* RAND: Hays RD, Sherbourne CD, Mazel RM. The RAND 36-Item Health Survey 1.0.
  Health Econ 1993;2:217-27, and RAND's "36-Item Short Form Survey Scoring Instructions"
  (Table 1: recoding of items to 0-100; Table 2: items per scale). Every item is recoded
  to 0-100 with a high score meaning a better state, and a scale is the mean of its items.
* SF-36 v1: Ware JE, Snow KK, Kosinski M, Gandek B. SF-36 Health Survey Manual and
  Interpretation Guide. Boston: The Health Institute, 1993. Identical to RAND for six
  scales; differs for
  - general health item 1 (precoded 5.0, 4.4, 3.4, 2.0, 1.0 instead of equal steps), and
  - bodily pain: item 7 precoded 6.0, 5.4, 4.2, 3.1, 2.2, 1.0; item 8 scored from the
    combination of items 7 and 8 (8=1 and 7=1 -> 6; 8=1 and 7>1 -> 5; 8=2..5 -> 4..1;
    with item 7 missing, 8 = 6.0, 4.75, 3.5, 2.25, 1.0), raw sum 2-12 rescaled to 0-100.
  ``scoring.options.method`` chooses ``rand`` (default) or ``sf36v1``.
* Missing items (both methods): a scale is scored when at least half of its items are
  answered, as the mean of the answered items (Ware et al. 1993: substitute the person's
  mean of the answered items of the scale when at least 50% are answered, which gives the
  same 0-100 value). RAND's own instructions average whatever items were answered; the
  half rule is applied here to both methods so that one or two answers never make a scale.
  ``scoring.options.min_fraction`` (default 0.5) changes the fraction.
* Health transition (item 2) is not part of any scale (Ware 1993; Hays 1993); it is
  reported alone, recoded as in RAND Table 1 (1 -> 100 ... 5 -> 0; high = better than a
  year ago), with the response code in ``extra.response``.
* PCS/MCS: Ware JE, Kosinski M, Keller SD. SF-36 Physical and Mental Health Summary
  Scales: A User's Manual. Boston: The Health Institute, 1994; Ware JE, Kosinski M,
  Bayliss MS, et al. Comparison of methods for the scoring and statistical analysis of
  SF-36 health profile and summary measures. Med Care 1995;33(4 Suppl):AS264-79.
  Each scale is standardised with the 1990 US general population mean and SD
  (``US_NORMS``), multiplied by the factor score coefficients (``PCS_COEFFICIENTS``,
  ``MCS_COEFFICIENTS``), summed, and transformed to T scores: 50 + 10 * sum.
  Not computed when any of the eight scales is missing. The norms and coefficients were
  derived from scales scored with the SF-36 v1 algorithm, so PCS and MCS are always
  computed from v1-scored scales, whichever ``method`` shows the eight scales (RAND and
  v1 differ for bodily pain and general health). Checked against an independent
  implementation: SF36HealthSurvey.jl (PharmCat, MIT licence), whose test vector gives
  PCS 44.4028 and MCS 32.3110.
* Every value is an exact fraction (the v1 precodes and the norms are decimal numbers read
  exactly); ``decimals`` is for display only.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from . import Scale, as_exact, is_answered, not_computable, scorer, single_item_scale, too_few_answered

__all__ = [
    "SCALES",
    "US_NORMS",
    "PCS_COEFFICIENTS",
    "MCS_COEFFICIENTS",
    "item_scores",
    "score_sf36",
    "summary_range",
    "summary_score",
]

# RAND Table 1, written as code -> 0-100 per item id of the form.
_DOWN5 = {1: 100.0, 2: 75.0, 3: 50.0, 4: 25.0, 5: 0.0}
_UP5 = {1: 0.0, 2: 25.0, 3: 50.0, 4: 75.0, 5: 100.0}
_DOWN6 = {1: 100.0, 2: 80.0, 3: 60.0, 4: 40.0, 5: 20.0, 6: 0.0}
_UP6 = {1: 0.0, 2: 20.0, 3: 40.0, 4: 60.0, 5: 80.0, 6: 100.0}
_PF = {1: 0.0, 2: 50.0, 3: 100.0}
_ROLE = {1: 0.0, 2: 100.0}

RAND_RECODE: dict[str, dict[int, float]] = {
    "q1": _DOWN5, "q2": _DOWN5, "q6": _DOWN5, "q8": _DOWN5, "q11b": _DOWN5, "q11d": _DOWN5,
    **{f"q3{x}": _PF for x in "abcdefghij"},
    **{f"q4{x}": _ROLE for x in "abcd"},
    **{f"q5{x}": _ROLE for x in "abc"},
    "q7": _DOWN6, "q9a": _DOWN6, "q9d": _DOWN6, "q9e": _DOWN6, "q9h": _DOWN6,
    "q9b": _UP6, "q9c": _UP6, "q9f": _UP6, "q9g": _UP6, "q9i": _UP6,
    "q10": _UP5, "q11a": _UP5, "q11c": _UP5,
}

# Ware et al. 1993 precodes, expressed on 0-100: (precode - 1) / (top - 1) * 100.
_V1_GH1 = {1: 5.0, 2: 4.4, 3: 3.4, 4: 2.0, 5: 1.0}
_V1_BP7 = {1: 6.0, 2: 5.4, 3: 4.2, 4: 3.1, 5: 2.2, 6: 1.0}
_V1_BP8_ALONE = {1: 6.0, 2: 4.75, 3: 3.5, 4: 2.25, 5: 1.0}

# (id, English label, Swedish label, items); RAND Table 2 / Ware 1993.
SCALES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("PF", "Physical functioning", "Fysisk funktion", tuple(f"q3{x}" for x in "abcdefghij")),
    ("RP", "Role limitations due to physical health", "Rollbegränsning p.g.a. fysisk hälsa", tuple(f"q4{x}" for x in "abcd")),
    ("BP", "Bodily pain", "Kroppslig smärta", ("q7", "q8")),
    ("GH", "General health", "Allmän hälsa", ("q1", "q11a", "q11b", "q11c", "q11d")),
    ("VT", "Vitality (energy/fatigue)", "Vitalitet (energi/trötthet)", ("q9a", "q9e", "q9g", "q9i")),
    ("SF", "Social functioning", "Social funktion", ("q6", "q10")),
    ("RE", "Role limitations due to emotional problems", "Rollbegränsning p.g.a. känslomässiga problem", tuple(f"q5{x}" for x in "abc")),
    ("MH", "Mental health (emotional well-being)", "Psykiskt välbefinnande", ("q9b", "q9c", "q9d", "q9f", "q9h")),
)

# Ware, Kosinski & Keller 1994; Ware et al. 1995: 1990 US general population
# (factor analytic sample, n=2393) means and SDs, and factor score coefficients.
US_NORMS: dict[str, tuple[float, float]] = {
    "PF": (84.52404, 22.89490),
    "RP": (81.19907, 33.79729),
    "BP": (75.49196, 23.55879),
    "GH": (72.21316, 20.16964),
    "VT": (61.05453, 20.86942),
    "SF": (83.59753, 22.37642),
    "RE": (81.29467, 33.02717),
    "MH": (74.84212, 18.01189),
}
PCS_COEFFICIENTS: dict[str, float] = {
    "PF": 0.42402, "RP": 0.35119, "BP": 0.31754, "GH": 0.24954,
    "VT": 0.02877, "SF": -0.00753, "RE": -0.19206, "MH": -0.22069,
}
MCS_COEFFICIENTS: dict[str, float] = {
    "PF": -0.22999, "RP": -0.12329, "BP": -0.09731, "GH": -0.01571,
    "VT": 0.23534, "SF": 0.26876, "RE": 0.43407, "MH": 0.48581,
}

METHODS = ("rand", "sf36v1")


def item_scores(answers: dict[str, Any], method: str = "rand") -> dict[str, Fraction]:
    """Each answered item recoded to 0-100 (high = better), per RAND Table 1 or Ware 1993.

    ``method="sf36v1"`` applies the Ware et al. 1993 precodes to items 1, 7 and 8;
    every other item is recoded the same way by both methods.
    """
    if method not in METHODS:
        raise ValueError(f"unknown SF-36 scoring method '{method}' (known: {', '.join(METHODS)})")
    out: dict[str, Fraction] = {}
    for item, table in RAND_RECODE.items():
        if is_answered(answers.get(item)):
            out[item] = as_exact(table[int(answers[item])])
    if method == "sf36v1":
        if "q1" in out:
            out["q1"] = (as_exact(_V1_GH1[int(answers["q1"])]) - 1) / 4 * 100
        if "q7" in out:
            out["q7"] = (as_exact(_V1_BP7[int(answers["q7"])]) - 1) / 5 * 100
        if "q8" in out:
            q8 = int(answers["q8"])
            if "q7" in out:
                raw = as_exact((6.0 if int(answers["q7"]) == 1 else 5.0) if q8 == 1 else 6.0 - q8)
            else:
                raw = as_exact(_V1_BP8_ALONE[q8])
            out["q8"] = (raw - 1) / 5 * 100
    return out


def scale_scores(answers: dict[str, Any], method: str, fraction: float) -> dict[str, Fraction | None]:
    """The eight 0-100 scales: the mean of the answered items when enough are answered (None otherwise)."""
    scores = item_scores(answers, method)
    out: dict[str, Fraction | None] = {}
    for sid, _en, _sv, items in SCALES:
        done = [scores[i] for i in items if i in scores]
        out[sid] = sum(done, Fraction(0)) / len(done) if len(done) >= _need(len(items), fraction) else None
    return out


def _need(n_items: int, fraction: float) -> int:
    return max(1, math.ceil(n_items * fraction))


def summary_range(coefficients: dict[str, float]) -> tuple[float, float]:
    """Lowest and highest possible T score of a summary, from scales at 0 or 100."""
    lo = hi = Fraction(0)
    for scale, coef in coefficients.items():
        mean, sd = (as_exact(x) for x in US_NORMS[scale])
        ends = (as_exact(coef) * (0 - mean) / sd, as_exact(coef) * (100 - mean) / sd)
        lo += min(ends)
        hi += max(ends)
    return float(50 + 10 * lo), float(50 + 10 * hi)


def summary_score(values: dict[str, Any], coefficients: dict[str, float]) -> Fraction:
    """Ware, Kosinski & Keller 1994: T = 50 + 10 * sum(coef * (scale - mean) / sd), exactly."""
    total = sum((as_exact(coefficients[s]) * (as_exact(values[s]) - as_exact(US_NORMS[s][0])) / as_exact(US_NORMS[s][1])
                 for s in coefficients), Fraction(0))
    return 50 + 10 * total


@scorer("sf36")
def score_sf36(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """The eight scales (0-100), health transition (0-100), PCS and MCS (T scores).

    See the module docstring for the source of each rule: recoding (RAND Table 1 or
    Ware 1993), the half rule for missing items (Ware 1993), PCS/MCS (Ware 1994, 1995).
    """
    options = questionnaire.scoring.options
    method = str(options.get("method", "rand"))
    fraction = float(options.get("min_fraction", 0.5))
    scores = item_scores(answers, method)
    shown = scale_scores(answers, method, fraction)
    scales: list[Scale] = []
    for sid, en, sv, items in SCALES:
        done = [i for i in items if i in scores]
        need = _need(len(items), fraction)
        scales.append(
            Scale(
                id=sid,
                label={"en": en, "sv": sv},
                value=shown[sid],
                min=0.0,
                max=100.0,
                higher_is_better=True,
                answered=len(done),
                items=len(items),
                missing=[i for i in items if i not in done],
                reason=None if shown[sid] is not None else too_few_answered(len(done), len(items), need),
                decimals=1,
                extra={"method": method},
            )
        )

    ht = scores.get("q2")
    scales.append(single_item_scale(
        "HT", {"en": "Health transition (compared with one year ago)", "sv": "Hälsoförändring (jämfört med för ett år sedan)"},
        ht, "q2", min=0.0, max=100.0, higher_is_better=True, decimals=0,
        reason=not_computable("Item 2 was not answered.", "Fråga 2 besvarades inte."),
        extra=None if ht is None else {"response": int(answers["q2"])},
    ))

    # The summaries always use v1-scored scales: the norms and coefficients were derived from them.
    v1 = shown if method == "sf36v1" else scale_scores(answers, "sf36v1", fraction)
    missing_scales = [sid for sid, *_ in SCALES if v1[sid] is None]
    labels = {sid: (en, sv) for sid, en, sv, _items in SCALES}
    names = {"en": ", ".join(labels[s][0] for s in missing_scales), "sv": ", ".join(labels[s][1] for s in missing_scales)}
    note = "Computed from SF-36 v1-scored scales with the 1990 US norms (Ware 1994), whatever method shows the scales."
    for sid, en, sv, coefficients in (
        ("PCS", "Physical component summary", "Fysisk summaskala", PCS_COEFFICIENTS),
        ("MCS", "Mental component summary", "Psykisk summaskala", MCS_COEFFICIENTS),
    ):
        lo, hi = summary_range(coefficients)
        value = None if missing_scales else summary_score(v1, coefficients)
        scales.append(
            Scale(
                id=sid,
                label={"en": en, "sv": sv},
                value=value,
                min=lo,
                max=hi,
                higher_is_better=True,
                answered=8 - len(missing_scales),
                items=8,
                missing=missing_scales,
                reason=None
                if value is not None
                else not_computable(
                    f"Needs all eight scales; missing: {names['en']}.",
                    f"Kräver alla åtta skalor; saknas: {names['sv'].lower()}.",
                ),
                decimals=1,
                extra={"norms": "US general population 1990", "scored_as": "sf36v1", "note": note},
            )
        )
    return scales
