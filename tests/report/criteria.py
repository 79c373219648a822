"""IMACS improvement and the 2016 ACR/EULAR Total Improvement Score, written out here from the
published definitions with exact fractions, for checking the report (never pro-app's own code).

IMACS (Rider LG et al. Arthritis Rheum 2004;50:2281-90; Oddis CV et al. Arthritis Rheum
2005;52:2607-15): improved when >= 3 of the 6 core set measures improved by >= 20 % of baseline,
no more than 2 worsened by >= 25 %, and the MMT not among the worsened.
ACR/EULAR (Aggarwal R et al. Arthritis Rheumatol 2017;69:898-910, Table 3): points for each
measure's absolute percent change (change / the scale's range; the enzyme, unbounded, relative to
baseline), total 0-100; minimal >= 20, moderate >= 40, major >= 60 (adult DM/PM).

A missing measure: the criteria only get better as a measure gets better, so the best case is
every missing value at the good end of its scale (the follow-up; a missing baseline at the bad
end) and the worst case the opposite. A criterion is decided when the two cases agree. A
percentage from a baseline of 0 has no value; as the report's methods state, an unchanged 0 is
unchanged and a change away from 0 counts as beyond every threshold in its direction.
"""
from __future__ import annotations

import math
from fractions import Fraction

MEASURES = ("PhGA", "PtGA", "HAQ", "MMT", "extramuscular", "enzyme")
SCALE = {"PhGA": (0, 100), "PtGA": (0, 100), "HAQ": (0, 3), "MMT": (0, 80), "extramuscular": (0, 100),
         "enzyme": (0, None)}
HIGHER_IS_BETTER = {"MMT"}
HUGE = Fraction(10) ** 12  # an enzyme "as high as it gets": beyond every threshold of either rule
POINTS = {  # Table 3: (upper bound of the absolute % improvement, points)
    "PhGA": ((5, 0), (15, 7.5), (25, 15), (40, 17.5), (math.inf, 20)),
    "PtGA": ((5, 0), (15, 2.5), (25, 5), (40, 7.5), (math.inf, 10)),
    "MMT": ((2, 0), (10, 10), (20, 20), (30, 27.5), (math.inf, 32.5)),
    "HAQ": ((5, 0), (15, 5), (25, 7.5), (40, 7.5), (math.inf, 10)),
    "enzyme": ((5, 0), (15, 2.5), (25, 5), (40, 7.5), (math.inf, 7.5)),
    "extramuscular": ((5, 0), (15, 7.5), (25, 12.5), (40, 15), (math.inf, 20)),
}


def _gain(m: str, base: Fraction, follow: Fraction) -> Fraction:
    return follow - base if m in HIGHER_IS_BETTER else base - follow


def _relative(m: str, base: Fraction, follow: Fraction) -> Fraction | float:
    gain = _gain(m, base, follow)
    if base == 0:
        return 0 if gain == 0 else math.copysign(math.inf, gain)
    return gain / base * 100


def _imacs(base: dict, follow: dict) -> bool:
    rel = {m: _relative(m, base[m], follow[m]) for m in MEASURES}
    improved = [m for m in MEASURES if rel[m] >= 20]
    worsened = [m for m in MEASURES if rel[m] <= -25]
    return len(improved) >= 3 and len(worsened) <= 2 and "MMT" not in worsened


def _total(base: dict, follow: dict) -> Fraction:
    total = Fraction(0)
    for m in MEASURES:
        low, high = SCALE[m]
        pct = _relative(m, base[m], follow[m]) if high is None else _gain(m, base[m], follow[m]) / (high - low) * 100
        total += Fraction(next(points for upper, points in POINTS[m] if pct <= upper))
    return total


def category(total: Fraction) -> str:
    return next((name for threshold, name in ((60, "major"), (40, "moderate"), (20, "minimal")) if total >= threshold),
                "none")


def _case(base: dict, follow: dict, best: bool) -> tuple[dict, dict]:
    """Every missing value at the good end of its scale (best) or the bad end (worst)."""
    b, f = dict(base), dict(follow)
    for m in MEASURES:
        low, high = SCALE[m]
        good, bad = (high, low) if m in HIGHER_IS_BETTER else (low, HUGE if high is None else high)
        if b[m] is None:
            b[m] = Fraction(bad if best else good)
        if f[m] is None:
            f[m] = Fraction(good if best else bad)
    return b, f


def decide(base: dict, follow: dict) -> dict:
    """IMACS met (None: undecided) and the ACR/EULAR category (None: undecided), total (None unless
    every measure is known) and the range of totals, for core set values (Fractions or None)."""
    missing = [m for m in MEASURES if base[m] is None or follow[m] is None]
    best, worst = _case(base, follow, True), _case(base, follow, False)
    met_best, met_worst = _imacs(*best), _imacs(*worst)
    high, low = _total(*best), _total(*worst)
    return {
        "imacs": met_best if met_best == met_worst else None,
        "category": category(low) if category(low) == category(high) else None,
        "total": None if missing else low,
        "low": low, "high": high, "missing": missing,
    }
