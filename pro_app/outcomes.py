"""Response criteria across visits: IMACS improvement, the 2016 ACR/EULAR score, change from baseline.

The criteria are pure functions over typed inputs (a ``Measurement`` per core set measure and
visit); ``patient_outcomes`` is the one adapter that reads a patient's visits through a ``Catalog``
and scores the responses with the questionnaires' scorers.

Every change and every threshold is decided on exact fractions (``fractions.Fraction``): the
scores' exact values, never a number rounded for display. 5/6 -> 4/6 is exactly a 20 %
improvement, 4/6 -> 5/6 exactly 25 % worse.

A measure missing at either visit is never guessed. A criterion is still decided when every
value the missing measures could take (anywhere on their scale) gives the same answer; it then
names the missing measures in ``note``. Otherwise it is not computable and says which measures
are missing and why, in English and Swedish. For the Total Improvement Score the range of
possible totals is given, and the category when the range decides it.

Percent changes are signed so that a positive number is always an improvement: for the MMT a
rise, for every other measure a fall.

Muscle enzymes: the measure is the enzyme most abnormal at baseline (highest value / upper
limit of normal among CK, aldolase, LD, AST and ALT), followed at later visits; values are
converted to one unit (1 µkat/L = 60 U/L) before any change is computed.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal, Mapping

from .scoring import Scale, as_exact, not_computable
from .scoring import score as score_response
from .scoring.enzymes import ENZYMES, from_u_per_l, to_u_per_l, unit_symbol

if TYPE_CHECKING:
    from .catalog import Catalog

__all__ = [
    "CORE_SET_SOURCES",
    "CORE_SET",
    "TIS_POINTS",
    "TIS_THRESHOLDS",
    "Measurement",
    "MeasureChange",
    "ImacsImprovement",
    "TotalImprovementScore",
    "ScaleChange",
    "VisitComparison",
    "measure_change",
    "imacs_improvement",
    "total_improvement_score",
    "tis_points",
    "tis_category",
    "scale_changes",
    "core_set_from_scores",
    "patient_outcomes",
]

# Core set measure -> (questionnaire id, scale id). Adjust here when an instrument's ids change.
# The enzyme is chosen per patient (the most abnormal at baseline), not a fixed scale.
CORE_SET_SOURCES: dict[str, tuple[str, str]] = {
    "PhGA": ("physician_global", "PhGA"),
    "PtGA": ("patient_global", "PtGA"),
    "HAQ": ("haq", "HAQ_DI"),
    "MMT": ("mmt8", "MMT8_total"),
    "extramuscular": ("myoact", "extramuscular_global"),
    "enzyme": ("enzymes", "enzyme_most_abnormal"),
}
CORE_SET: tuple[str, ...] = tuple(CORE_SET_SOURCES)
HIGHER_IS_BETTER: dict[str, bool] = {m: m == "MMT" for m in CORE_SET}
MEASURE_LABELS: dict[str, dict[str, str]] = {
    "PhGA": {"en": "Physician global activity", "sv": "Läkarens helhetsbedömning"},
    "PtGA": {"en": "Patient global activity", "sv": "Patientens helhetsbedömning"},
    "HAQ": {"en": "HAQ disability index", "sv": "HAQ funktionsindex"},
    "MMT": {"en": "Manual muscle testing (MMT-8)", "sv": "Manuell muskeltestning (MMT-8)"},
    "extramuscular": {"en": "Extramuscular global activity", "sv": "Extramuskulär global aktivitet"},
    "enzyme": {"en": "Most abnormal muscle enzyme", "sv": "Mest avvikande muskelenzym"},
}

# IMACS preliminary definition of improvement (Oddis CV et al. Arthritis Rheum 2005;52:2607-15;
# Rider LG et al. Arthritis Rheum 2004;50:2281-90).
IMACS_IMPROVED_PCT = 20
IMACS_WORSENED_PCT = 25
IMACS_MIN_IMPROVED = 3
IMACS_MAX_WORSENED = 2

# 2016 ACR/EULAR Total Improvement Score: per measure, (upper bound of improvement %, points);
# an improvement above the last bound scores the last points. "Worsening to 5 % improvement"
# is the first row. Aggarwal R, Rider LG, Ruperto N, et al. Arthritis Rheumatol 2017;69:898-910
# and Ann Rheum Dis 2017;76:792-801; table as in Rider LG et al. Ann Rheum Dis 2017;76:782-91,
# Table 3 (PMC5577002), which lists the same points with the adult DM/PM thresholds.
# The maxima add to 100: 20 + 10 + 32.5 + 10 + 7.5 + 20.
TIS_POINTS: dict[str, tuple[tuple[float, float], ...]] = {
    "PhGA": ((5, 0.0), (15, 7.5), (25, 15.0), (40, 17.5), (math.inf, 20.0)),
    "PtGA": ((5, 0.0), (15, 2.5), (25, 5.0), (40, 7.5), (math.inf, 10.0)),
    "MMT": ((2, 0.0), (10, 10.0), (20, 20.0), (30, 27.5), (math.inf, 32.5)),
    "HAQ": ((5, 0.0), (15, 5.0), (25, 7.5), (40, 7.5), (math.inf, 10.0)),
    "enzyme": ((5, 0.0), (15, 2.5), (25, 5.0), (40, 7.5), (math.inf, 7.5)),
    "extramuscular": ((5, 0.0), (15, 7.5), (25, 12.5), (40, 15.0), (math.inf, 20.0)),
}
# Adult DM/PM thresholds (the juvenile ones are 30/45/70).
TIS_THRESHOLDS: tuple[tuple[float, str], ...] = ((60, "major"), (40, "moderate"), (20, "minimal"))
TIS_CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "none": {"en": "No improvement", "sv": "Ingen förbättring"},
    "minimal": {"en": "Minimal improvement", "sv": "Minimal förbättring"},
    "moderate": {"en": "Moderate improvement", "sv": "Måttlig förbättring"},
    "major": {"en": "Major improvement", "sv": "Stor förbättring"},
}

Reason = dict[str, str]
Status = Literal["improved", "unchanged", "worsened"]  # IMACS: >= 20 % better, neither, >= 25 % worse
INF = math.inf


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Measurement:
    """One core set measure at one visit: its value and the scale range it lives on.

    ``value`` may be a Fraction (a scale's exact value) or a decimal number. ``scale_max`` None
    means the measure has no upper bound (serum enzymes): the ACR/EULAR score then uses the
    change relative to baseline instead of to the range. ``reason`` says why ``value`` is None.
    For the enzyme, ``enzyme`` names which one and ``unit_code`` its unit (``ukat_L``, ``U_L``).
    """

    value: float | Fraction | None
    scale_min: float = 0.0
    scale_max: float | None = None
    reason: Reason | None = None
    unit: str | None = None  # shown to people: "mm", "µkat/L"
    decimals: int = 1
    enzyme: str | None = None
    unit_code: str | None = None

    @property
    def exact(self) -> Fraction | None:
        return None if self.value is None else as_exact(self.value)


# --------------------------------------------------------------------------- per measure


@dataclass
class MeasureChange:
    """How one core set measure changed from baseline; positive percentages are improvements.

    The ``*_pct`` floats are for display; decisions use ``relative_exact`` / ``absolute_exact``.
    """

    measure: str
    label: Reason
    baseline: float | None
    follow_up: float | None
    # (baseline - follow-up) / baseline, sign flipped for the MMT; None when baseline is 0.
    relative_improvement_pct: float | None
    # ACR/EULAR "absolute percent change": the change over the scale's range (enzymes: relative).
    absolute_improvement_pct: float | None
    higher_is_better: bool
    from_zero: bool = False  # baseline 0: no relative percentage exists (see ``relative_change``)
    reason: Reason | None = None
    unit: str | None = None
    decimals: int = 1
    scale_min: float = 0.0
    scale_max: float | None = None
    enzyme: str | None = None  # the enzyme followed (its id, e.g. "aldolase")
    note: Reason | None = None  # e.g. that the follow-up value was converted from another unit
    relative_exact: Fraction | None = None
    absolute_exact: Fraction | None = None

    @property
    def computable(self) -> bool:
        return self.reason is None

    @property
    def tis_basis(self) -> Literal["range", "baseline"]:
        """What the ACR/EULAR percentage is relative to: the scale's range, or (enzymes) the baseline."""
        return "baseline" if self.scale_max is None else "range"


def relative_change(base: Fraction, follow: Fraction, higher_is_better: bool) -> Fraction | float:
    """Improvement relative to baseline, in percent (exact), signed so that positive is better.

    From a baseline of 0 no relative change exists (Vickers AJ. BMC Med Res Methodol 2001;1:6:
    percentage change is undefined at a zero baseline) and no published IMACS rule covers it.
    pro-app takes the limit: an unchanged 0 is 0 % (unchanged); any change away from 0 is a change
    beyond every threshold in its direction (+inf or -inf). For the VAS, HAQ and extramuscular
    activity, whose best value is 0, that is a worsening; for the MMT a rise from 0 is an improvement.
    """
    gain = (follow - base) if higher_is_better else (base - follow)
    if base == 0:
        return gain if gain == 0 else math.copysign(INF, gain)
    return gain / base * 100


def measure_change(measure: str, baseline: Measurement | None, follow_up: Measurement | None) -> MeasureChange:
    """The change of one core set measure from baseline to follow-up (exact)."""
    better_high = HIGHER_IS_BETTER[measure]
    # Scale, unit and decimals come from a visit that has a value (else from whichever exists).
    ref = next((m for m in (baseline, follow_up) if m is not None and m.value is not None),
               baseline or follow_up or Measurement(None))
    label = _measure_label(measure, ref.enzyme)
    base, follow = (m.exact if m else None for m in (baseline, follow_up))
    common = dict(unit=ref.unit, decimals=ref.decimals, scale_min=ref.scale_min, scale_max=ref.scale_max,
                  enzyme=ref.enzyme)
    missing = _missing_reason(measure, baseline, follow_up)
    if missing:
        return MeasureChange(measure, label, _float(base), _float(follow), None, None, better_high, reason=missing,
                             **common)
    assert base is not None and follow is not None and baseline is not None
    relative, absolute = _exact_changes(measure, baseline, follow_up)  # type: ignore[arg-type]
    finite_relative = relative if base != 0 else None
    finite_absolute = absolute if isinstance(absolute, Fraction) else None
    return MeasureChange(
        measure, label, float(base), float(follow), _float(finite_relative), _float(finite_absolute), better_high,
        from_zero=base == 0, relative_exact=finite_relative, absolute_exact=finite_absolute, **common,  # type: ignore[arg-type]
    )


def _exact_changes(measure: str, baseline: Measurement, follow_up: Measurement
                   ) -> tuple[Fraction | float, Fraction | float]:
    """(relative change for IMACS, ACR/EULAR change) in percent, exact; both values must be present."""
    better_high = HIGHER_IS_BETTER[measure]
    base, follow = baseline.exact, follow_up.exact
    assert base is not None and follow is not None
    relative = relative_change(base, follow, better_high)
    if baseline.scale_max is None:
        return relative, relative
    gain = (follow - base) if better_high else (base - follow)
    return relative, gain / (as_exact(baseline.scale_max) - as_exact(baseline.scale_min)) * 100


def _float(x: Fraction | float | None) -> float | None:
    return None if x is None else float(x)


def _measure_label(measure: str, enzyme: str | None) -> Reason:
    if measure == "enzyme" and enzyme in ENZYMES:
        return {lang: f"{MEASURE_LABELS['enzyme'][lang]}: {ENZYMES[enzyme][lang]}" for lang in ("en", "sv")}
    return MEASURE_LABELS[measure]


def _missing_reason(measure: str, baseline: Measurement | None, follow_up: Measurement | None) -> Reason | None:
    name = _measure_label(measure, (baseline or follow_up or Measurement(None)).enzyme)
    for visit_en, visit_sv, m in (("baseline", "baslinjebesöket", baseline), ("follow-up", "uppföljningsbesöket", follow_up)):
        if m is None or m.value is None:
            why = (m.reason if m is not None and m.reason else None) or {"en": "not recorded", "sv": "inte registrerat"}
            return not_computable(
                f"{name['en']} is missing at the {visit_en} visit: {why['en']}",
                f"{name['sv']} saknas vid {visit_sv}: {why['sv']}",
            )
    assert baseline is not None and follow_up is not None
    if (baseline.scale_min, baseline.scale_max) != (follow_up.scale_min, follow_up.scale_max):
        return not_computable(
            f"{name['en']} was measured on different scales at the two visits.",
            f"{name['sv']} mättes på olika skalor vid de två besöken.",
        )
    return None


# --------------------------------------------------------------------------- what a missing value could be


def _scale_of(measure: str, *measurements: Measurement | None) -> tuple[Fraction, Fraction | float]:
    """The scale of a measure: the first of ``measurements`` that knows it; unknown (or an enzyme): 0 and up."""
    if measure != "enzyme":
        for m in measurements:
            if m is not None and m.scale_max is not None:
                return as_exact(m.scale_min), as_exact(m.scale_max)
    return Fraction(0), INF


def _bounds(measure: str, m: Measurement | None, other: Measurement | None) -> tuple[Fraction, Fraction | float]:
    """The values a measure could have at one visit: its value, or anywhere on its scale when missing."""
    if m is not None and m.exact is not None:
        return m.exact, m.exact
    return _scale_of(measure, m, other)


def _both_measured_apart(measure: str, baseline: Measurement | None, follow_up: Measurement | None) -> bool:
    """Both values present but on different scales: they say nothing about the change."""
    return (baseline is not None and follow_up is not None and baseline.value is not None
            and follow_up.value is not None and _missing_reason(measure, baseline, follow_up) is not None)


def _change_at(base: Fraction | float, follow: Fraction | float, better_high: bool) -> Fraction | float:
    """The relative change at one corner of the possible values; an enzyme's bound is infinite."""
    if follow == INF:
        return INF if better_high else -INF
    if base == INF:  # the limit of (base - follow) / base: the whole baseline gone
        return Fraction(-100) if better_high else Fraction(100)
    return relative_change(base, follow, better_high)  # type: ignore[arg-type]


def _relative_range(measure: str, baseline: Measurement | None, follow_up: Measurement | None
                    ) -> tuple[Fraction | float, Fraction | float]:
    """Lowest and highest relative improvement (%) over every value the measure could have.

    The relative change is monotone in each value (for lower-is-better measures it rises with
    the baseline and falls with the follow-up), so its extremes lie at the corners.
    """
    if _both_measured_apart(measure, baseline, follow_up):
        return -INF, INF
    b_lo, b_hi = _bounds(measure, baseline, follow_up)
    f_lo, f_hi = _bounds(measure, follow_up, baseline)
    if HIGHER_IS_BETTER[measure]:
        return _change_at(b_hi, f_lo, True), _change_at(b_lo, f_hi, True)  # type: ignore[arg-type]
    return _change_at(b_lo, f_hi, False), _change_at(b_hi, f_lo, False)  # type: ignore[arg-type]


def _best_absolute(measure: str, baseline: Measurement | None, follow_up: Measurement | None) -> Fraction | float:
    """The highest ACR/EULAR percent change any value of a missing measure could give.

    (The lowest is always "no improvement": a missing value can always be as bad as its scale's
    worst end, so a missing measure scores from 0 points up.)
    """
    if measure == "enzyme":
        return _relative_range(measure, baseline, follow_up)[1]
    if _both_measured_apart(measure, baseline, follow_up):
        return INF
    low, high = _scale_of(measure, baseline, follow_up)
    if high == INF:  # missing at both visits, nothing says on what scale: any change, the top band included
        return INF
    b_lo, b_hi = _bounds(measure, baseline, follow_up)
    f_lo, f_hi = _bounds(measure, follow_up, baseline)
    best = (f_hi - b_lo) if HIGHER_IS_BETTER[measure] else (b_hi - f_lo)
    return best / (high - low) * 100  # type: ignore[operator]


def _status(pct: Fraction | float) -> Status:
    if pct >= IMACS_IMPROVED_PCT:
        return "improved"
    if pct <= -IMACS_WORSENED_PCT:
        return "worsened"
    return "unchanged"


def _possible_statuses(low: Fraction | float, high: Fraction | float) -> list[Status]:
    """IMACS statuses reachable by a relative change anywhere in [low, high], best first."""
    out: list[Status] = []
    if high >= IMACS_IMPROVED_PCT:
        out.append("improved")
    if low < IMACS_IMPROVED_PCT and high > -IMACS_WORSENED_PCT:
        out.append("unchanged")
    if low <= -IMACS_WORSENED_PCT:
        out.append("worsened")
    return out


# --------------------------------------------------------------------------- IMACS


@dataclass
class MeasureDriver:
    """A measure that drove a result, with its percent change (None: from a baseline of 0, or unknown)."""

    measure: str
    label: Reason
    improvement_pct: float | None
    points: float | None = None
    points_min: float | None = None  # a missing measure: the fewest points it could give
    points_max: float | None = None  # ... and the most


@dataclass
class MissingMeasure:
    measure: str
    reason: Reason


@dataclass
class ImacsImprovement:
    """IMACS preliminary definition of improvement; ``met`` None when not computable.

    With measures missing, ``met`` is still True or False when every value they could take gives
    that answer; ``missing`` then names them and ``note`` says so.
    """

    met: bool | None
    improved: list[MeasureDriver] = field(default_factory=list)
    worsened: list[MeasureDriver] = field(default_factory=list)
    missing: list[MissingMeasure] = field(default_factory=list)
    reason: Reason | None = None
    note: Reason | None = None


def _imacs_met(statuses: Mapping[str, Status]) -> bool:
    improved = sum(1 for s in statuses.values() if s == "improved")
    worsened = sum(1 for s in statuses.values() if s == "worsened")
    return improved >= IMACS_MIN_IMPROVED and worsened <= IMACS_MAX_WORSENED and statuses.get("MMT") != "worsened"


def imacs_improvement(baseline: Mapping[str, Measurement], follow_up: Mapping[str, Measurement]) -> ImacsImprovement:
    """IMACS definition of improvement: at least 3 of the 6 core set measures improved by >= 20 %,
    no more than 2 worsened by >= 25 %, and the MMT not among the worsened.

    Source: Rider LG, Giannini EH, Brunner HI, et al. International consensus on preliminary
    definitions of improvement in adult and juvenile myositis. Arthritis Rheum 2004;50:2281-90;
    validated in Oddis CV, Rider LG, Reed AM, et al. Arthritis Rheum 2005;52:2607-15.
    Percent change is relative to the baseline value, exactly (baseline 0: see ``relative_change``).

    Missing measures: the rule is monotone (a measure moving from worsened to unchanged to
    improved never turns "met" into "not met"), so it is decided when the best case (every
    missing measure as good as its scale allows) and the worst case give the same answer.
    """
    changes = [measure_change(m, baseline.get(m), follow_up.get(m)) for m in CORE_SET]
    known: dict[str, Status] = {
        c.measure: _status(_exact_changes(c.measure, baseline[c.measure], follow_up[c.measure])[0])
        for c in changes if c.reason is None
    }
    drivers = {c.measure: MeasureDriver(c.measure, c.label, c.relative_improvement_pct) for c in changes}
    improved = [drivers[m] for m, s in known.items() if s == "improved"]
    worsened = [drivers[m] for m, s in known.items() if s == "worsened"]
    missing = [MissingMeasure(c.measure, c.reason) for c in changes if c.reason]
    if not missing:
        return ImacsImprovement(met=_imacs_met(known), improved=improved, worsened=worsened)
    possible = {m.measure: _possible_statuses(*_relative_range(m.measure, baseline.get(m.measure),
                                                               follow_up.get(m.measure))) for m in missing}
    best = _imacs_met({**known, **{m: s[0] for m, s in possible.items()}})
    worst = _imacs_met({**known, **{m: s[-1] for m, s in possible.items()}})
    names = _names(missing)
    if best != worst:
        return ImacsImprovement(met=None, improved=improved, worsened=worsened, missing=missing,
                                reason=_depends_on(names))
    note = not_computable(
        f"{'Met' if best else 'Not met'} whatever the missing measures are ({names['en']}).",
        f"{'Uppfyllt' if best else 'Inte uppfyllt'} oavsett värdena för de saknade måtten ({names['sv']}).",
    )
    return ImacsImprovement(met=best, improved=improved, worsened=worsened, missing=missing, note=note)


def _names(missing: list[MissingMeasure]) -> Reason:
    return {lang: ", ".join(MEASURE_LABELS[m.measure][lang] for m in missing) for lang in ("en", "sv")}


def _depends_on(names: Reason) -> Reason:
    return not_computable(
        f"The result depends on measures missing at one or both visits: {names['en']}.",
        f"Resultatet beror på mått som saknas vid ett eller båda besöken: {names['sv']}.",
    )


# --------------------------------------------------------------------------- ACR/EULAR 2016


@dataclass
class TotalImprovementScore:
    """2016 ACR/EULAR myositis response criteria (adult DM/PM); ``total`` None when not computable.

    With measures missing, ``total_min``/``total_max`` give the range of possible totals and
    ``category`` is set when that range lies within one category (``note`` says so).
    """

    total: float | None
    category: Literal["none", "minimal", "moderate", "major"] | None
    category_label: Reason | None = None
    points: list[MeasureDriver] = field(default_factory=list)
    improved: list[MeasureDriver] = field(default_factory=list)
    worsened: list[MeasureDriver] = field(default_factory=list)
    missing: list[MissingMeasure] = field(default_factory=list)
    reason: Reason | None = None
    total_min: float | None = None
    total_max: float | None = None
    note: Reason | None = None


def tis_points(measure: str, improvement_pct: Fraction | float) -> float:
    """Points for one measure's percent improvement (worsening scores 0), decided on the exact value."""
    return next(points for upper, points in TIS_POINTS[measure] if improvement_pct <= upper)


def tis_category(total: Fraction | float) -> Literal["none", "minimal", "moderate", "major"]:
    total = as_exact(total)
    for threshold, name in TIS_THRESHOLDS:
        if total >= threshold:
            return name  # type: ignore[return-value]
    return "none"


def total_improvement_score(
    baseline: Mapping[str, Measurement], follow_up: Mapping[str, Measurement]
) -> TotalImprovementScore:
    """Total Improvement Score 0-100 and minimal (>= 20), moderate (>= 40), major (>= 60) improvement.

    Source: Aggarwal R, Rider LG, Ruperto N, et al. 2016 American College of Rheumatology /
    European League Against Rheumatism criteria for minimal, moderate, and major clinical
    response in adult dermatomyositis and polymyositis. Arthritis Rheumatol 2017;69:898-910;
    Ann Rheum Dis 2017;76:792-801. Points per measure as in ``TIS_POINTS``.

    Each measure's "absolute percent change" is its change divided by the scale's range
    (VAS 0-100 mm, HAQ 0-3, MMT-8 0-80 or 0-150); the enzyme, with no upper bound, uses the
    change relative to baseline (an enzyme from a baseline of 0 scores 0 points). A missing
    measure could score anything from the points of its worst to those of its best possible
    change, which gives the range of totals.
    """
    changes = [measure_change(m, baseline.get(m), follow_up.get(m)) for m in CORE_SET]
    drivers: list[MeasureDriver] = []
    low = high = Fraction(0)
    missing = []
    for c in changes:
        if c.reason is None:
            points = tis_points(c.measure, _exact_changes(c.measure, baseline[c.measure], follow_up[c.measure])[1])
            drivers.append(MeasureDriver(c.measure, c.label, c.absolute_improvement_pct, points, points, points))
            low += as_exact(points)
            high += as_exact(points)
        else:
            missing.append(MissingMeasure(c.measure, c.reason))
            best = tis_points(c.measure, _best_absolute(c.measure, baseline.get(c.measure), follow_up.get(c.measure)))
            drivers.append(MeasureDriver(c.measure, c.label, None, None, 0.0, best))
            high += as_exact(best)
    improved = [d for d in drivers if d.points]
    worsened = [d for d in drivers if d.improvement_pct is not None and d.improvement_pct < 0]
    if not missing:
        category = tis_category(low)
        return TotalImprovementScore(
            total=float(low), category=category, category_label=TIS_CATEGORY_LABELS[category], points=drivers,
            improved=improved, worsened=worsened, total_min=float(low), total_max=float(high),
        )
    names = _names(missing)
    lo_cat, hi_cat = tis_category(low), tis_category(high)
    result = TotalImprovementScore(total=None, category=None, points=drivers, improved=improved, worsened=worsened,
                                   missing=missing, total_min=float(low), total_max=float(high))
    if lo_cat != hi_cat:
        result.reason = not_computable(
            f"The total could be anything from {float(low):g} to {float(high):g}: it depends on measures missing "
            f"at one or both visits ({names['en']}).",
            f"Totalen kan bli allt från {_sv(low)} till {_sv(high)}: den beror på mått som saknas vid ett eller "
            f"båda besöken ({names['sv']}).",
        )
        return result
    result.category, result.category_label = lo_cat, TIS_CATEGORY_LABELS[lo_cat]
    result.note = not_computable(
        f"Total between {float(low):g} and {float(high):g} whatever the missing measures are ({names['en']}): "
        f"{TIS_CATEGORY_LABELS[lo_cat]['en'].lower()} either way.",
        f"Totalen blir mellan {_sv(low)} och {_sv(high)} oavsett de saknade måtten ({names['sv']}): "
        f"{TIS_CATEGORY_LABELS[lo_cat]['sv'].lower()} i vilket fall som helst.",
    )
    return result


def _sv(x: Fraction) -> str:
    return f"{float(x):g}".replace(".", ",")


# --------------------------------------------------------------------------- every scale


@dataclass
class ScaleChange:
    """Change of one questionnaire scale from baseline: absolute and relative to baseline."""

    questionnaire: str
    scale: str
    label: Reason
    baseline: float | None
    follow_up: float | None
    change: float | None  # follow-up minus baseline, in the scale's units
    change_pct: float | None  # relative to baseline; None when baseline is 0
    higher_is_better: bool
    improved: bool | None  # None when unchanged or not computable
    unit: str | None = None
    reason: Reason | None = None
    decimals: int = 1


def scale_changes(baseline: Mapping[str, list[Scale]], follow_up: Mapping[str, list[Scale]]) -> list[ScaleChange]:
    """Every scale scored at both visits (or at one, with the reason the other is missing); exact."""
    out: list[ScaleChange] = []
    for qid in sorted(set(baseline) | set(follow_up)):
        base = {s.id: s for s in baseline.get(qid, [])}
        follow = {s.id: s for s in follow_up.get(qid, [])}
        for sid in list(base) + [s for s in follow if s not in base]:
            b, f = base.get(sid), follow.get(sid)
            ref = b or f
            assert ref is not None
            bv = b.exact if b else None
            fv = f.exact if f else None
            reason = None
            change = change_pct = improved = None
            if bv is None or fv is None:
                which_en, which_sv, s = ("baseline", "baslinjen", b) if bv is None else ("follow-up", "uppföljningen", f)
                why = (s.reason if s and s.reason else None) or {"en": "not recorded", "sv": "inte registrerat"}
                reason = not_computable(f"Missing at {which_en}: {why['en']}", f"Saknas vid {which_sv}: {why['sv']}")
            elif b is not None and f is not None and b.unit != f.unit:
                reason = not_computable("Measured in different units at the two visits.",
                                        "Mätt i olika enheter vid de två besöken.")
            else:
                delta = fv - bv
                change = float(delta)
                change_pct = None if bv == 0 else float(delta / bv * 100)
                improved = None if delta == 0 else (delta > 0) == ref.higher_is_better
            out.append(ScaleChange(qid, sid, ref.label, _float(bv), _float(fv), change, change_pct, ref.higher_is_better,
                                   improved, ref.unit, reason, ref.decimals))
    return out


# --------------------------------------------------------------------------- from the store


def core_set_from_scores(
    scores: Mapping[str, list[Scale]], absent: Mapping[str, Reason] | None = None, enzyme: str | None = None
) -> dict[str, Measurement]:
    """The six core set measures of one visit from its scored responses.

    ``absent`` maps a questionnaire id to why it has no scores at this visit. The enzyme measure
    is ``enzyme`` (the one chosen at baseline) or, without it, this visit's most abnormal enzyme.
    """
    absent = absent or {}
    out: dict[str, Measurement] = {}
    for measure, (qid, sid) in CORE_SET_SOURCES.items():
        if measure == "enzyme":
            out[measure] = _enzyme_measurement(scores.get(qid), absent.get(qid) or _no_response(_form_name(measure)),
                                               enzyme)
            continue
        if qid not in scores:
            out[measure] = Measurement(None, reason=absent.get(qid) or _no_response(_form_name(measure)))
            continue
        scale = next((s for s in scores[qid] if s.id == sid), None)
        if scale is None:
            out[measure] = Measurement(None, reason=not_computable(
                "the form's scoring gives no value for this measure", "formulärets poängsättning ger inget värde för måttet"))
            continue
        out[measure] = Measurement(scale.exact, scale.min, scale.max, scale.reason, scale.unit, scale.decimals)
    return out


def _enzyme_measurement(scales: list[Scale] | None, why_absent: Reason, enzyme: str | None) -> Measurement:
    """The enzyme measure of one visit: ``enzyme``, or this visit's most abnormal, in its recorded unit."""
    if scales is None:
        return Measurement(None, reason=why_absent, enzyme=enzyme)
    by_id = {s.id: s for s in scales}
    if enzyme is None:
        worst = by_id.get("enzyme_most_abnormal")
        enzyme = worst.extra.get("enzyme") if worst is not None else None
        if enzyme is None:
            measured = [e for e in ENZYMES if e in by_id and by_id[e].value is not None]
            if len(measured) != 1:
                return Measurement(None, reason=not_computable(
                    "no enzyme has both a value and the lab's upper limit of normal, so the most abnormal "
                    "cannot be chosen",
                    "inget enzym har både värde och laboratoriets övre referensgräns, så det mest avvikande "
                    "kan inte väljas"))
            enzyme = measured[0]
    name = ENZYMES.get(enzyme, {"en": enzyme, "sv": enzyme})
    scale = by_id.get(enzyme)
    if scale is None or scale.value is None:
        return Measurement(None, reason=not_computable(f"{name['en']} was not measured", f"{name['sv']} mättes inte"),
                           enzyme=enzyme)
    unit = scale.extra.get("unit")
    if unit is None:
        return Measurement(None, reason=not_computable(f"the unit of {name['en']} was not recorded",
                                                       f"enheten för {name['sv']} registrerades inte"),
                           enzyme=enzyme)
    return Measurement(scale.exact, unit=unit_symbol(unit), decimals=scale.decimals, enzyme=enzyme, unit_code=unit)


def _in_unit_of(m: Measurement, ref: Measurement) -> Measurement:
    """``m`` (an enzyme) expressed in ``ref``'s unit: 1 µkat/L = 60 U/L."""
    if m.value is None or ref.unit_code is None or m.unit_code in (None, ref.unit_code):
        return m
    value = from_u_per_l(to_u_per_l(m.exact, m.unit_code), ref.unit_code)  # type: ignore[arg-type]
    return Measurement(value, m.scale_min, m.scale_max, m.reason, ref.unit, m.decimals, m.enzyme, ref.unit_code)


def _form_name(measure: str) -> Reason:
    """What a reader calls the form a measure comes from, when no definition is at hand."""
    return {lang: f"{MEASURE_LABELS[measure][lang]}" for lang in ("en", "sv")}


def _title(cat: Catalog, qid: str) -> Reason:
    """A questionnaire's short title in both languages (never its id); a core set measure's name if not installed."""
    q = cat.get(qid)
    if q is not None:
        return (q.short_title or q.title).model_dump()
    measure = next((m for m, (source, _sid) in CORE_SET_SOURCES.items() if source == qid), None)
    return _form_name(measure) if measure else {"en": "a form", "sv": "ett formulär"}


def _no_response(name: Reason) -> Reason:
    return not_computable(f"no completed form ({name['en']})", f"inget ifyllt formulär ({name['sv']})")


@dataclass
class VisitComparison:
    """One later visit compared with baseline."""

    visit: str
    label: Reason
    date: str | None
    baseline_visit: str
    core_set: list[MeasureChange]
    imacs: ImacsImprovement
    acr_eular: TotalImprovementScore
    functional_index: list[ScaleChange]
    scales: list[ScaleChange]
    enzyme: str | None = None  # the enzyme followed (most abnormal at baseline)
    baseline_label: Reason | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: exact fractions as "numerator/denominator" text beside their floats."""
        return _json_ready(asdict(self))


def _json_ready(value: Any) -> Any:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def visit_scores(cat: Catalog, patient_id: str, visit: dict[str, Any]
                 ) -> tuple[dict[str, list[Scale]], dict[str, Reason]]:
    """Scores of every completed response of one visit, and why other questionnaires have none."""
    scores: dict[str, list[Scale]] = {}
    absent: dict[str, Reason] = {}
    for response in cat.store.list_responses(patient_id, visit["id"]):
        qid = response["questionnaire"]
        name = _title(cat, qid)
        if response.get("status") != "completed":
            absent[qid] = not_computable(f"the form ({name['en']}) is not completed",
                                         f"formuläret ({name['sv']}) är inte färdigifyllt")
        elif cat.get(qid) is None:
            absent[qid] = not_computable(f"the form ({name['en']}) is not installed",
                                         f"formuläret ({name['sv']}) är inte installerat")
        else:
            # Scored against the definition it was answered against, even if the YAML has changed since.
            q = cat.for_response(response) or cat.questionnaires[qid]
            scores[qid] = score_response(q, response.get("answers") or {})
    for qid, _ in CORE_SET_SOURCES.values():
        if qid not in scores and qid not in absent:
            absent[qid] = _no_response(_title(cat, qid))
    return scores, absent


def compare_visits(baseline_key: str, visit: dict[str, Any], baseline_scores: Mapping[str, list[Scale]],
                   baseline_absent: Mapping[str, Reason], scores: Mapping[str, list[Scale]],
                   absent: Mapping[str, Reason], baseline_label: Reason | None = None) -> VisitComparison:
    base_core = core_set_from_scores(baseline_scores, baseline_absent)
    chosen = base_core["enzyme"].enzyme
    core = core_set_from_scores(scores, absent, enzyme=chosen)
    if chosen is not None:
        core["enzyme"] = _in_unit_of(core["enzyme"], base_core["enzyme"])
    changes = scale_changes(baseline_scores, scores)
    core_set = [measure_change(m, base_core[m], core[m]) for m in CORE_SET]
    enzyme = next(c for c in core_set if c.measure == "enzyme")
    follow_unit = next((s.extra.get("unit") for s in scores.get("enzymes", []) if s.id == chosen), None)
    if enzyme.reason is None and follow_unit not in (None, base_core["enzyme"].unit_code):
        enzyme.note = not_computable(
            f"Follow-up value measured in {unit_symbol(follow_unit)}, shown converted (1 µkat/L = 60 U/L).",
            f"Uppföljningsvärdet mättes i {unit_symbol(follow_unit)} och visas omräknat (1 µkat/L = 60 U/L).")
    return VisitComparison(
        visit=visit["key"],
        label=visit.get("label") or {},
        date=visit.get("date") or visit.get("due"),
        baseline_visit=baseline_key,
        core_set=core_set,
        imacs=imacs_improvement(base_core, core),
        acr_eular=total_improvement_score(base_core, core),
        functional_index=[c for c in changes if c.questionnaire == "mfi2"],
        scales=changes,
        enzyme=chosen,
        baseline_label=baseline_label,
    )


def patient_outcomes(cat: Catalog, patient_id: str, only_visit: str | None = None) -> list[VisitComparison]:
    """Every later visit of a patient (or only the visit with id ``only_visit``) compared with
    the baseline visit (key "baseline", else the first)."""
    visits = cat.store.list_visits(patient_id)
    if not visits:
        return []
    baseline = next((v for v in visits if v["key"] == "baseline"), visits[0])
    later = [v for v in visits[visits.index(baseline) + 1:] if only_visit in (None, v["id"])]
    if not later:
        return []
    base_scores, base_absent = visit_scores(cat, patient_id, baseline)
    out = []
    for visit in later:
        scores, absent = visit_scores(cat, patient_id, visit)
        out.append(compare_visits(baseline["key"], visit, base_scores, base_absent, scores, absent,
                                  baseline.get("label") or None))
    return out
