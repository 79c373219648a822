"""Response criteria across visits: IMACS improvement, the 2016 ACR/EULAR score, change from baseline.

The criteria are pure functions over typed inputs (a ``Measurement`` per core set measure and
visit); ``patient_outcomes`` is the one adapter that reads a patient's visits through a ``Catalog``
and scores the responses with the questionnaires' scorers.

A measure missing at either visit is never guessed: a criterion that needs it is not computable
and says which measure is missing and why, in English and Swedish.

Percent changes are signed so that a positive number is always an improvement: for the MMT a
rise, for every other measure a fall.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping

from .scoring import Scale, not_computable
from .scoring import score as score_response

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
    "scale_changes",
    "core_set_from_scores",
    "patient_outcomes",
]

# Core set measure -> (questionnaire id, scale id). Adjust here when an instrument's ids change.
CORE_SET_SOURCES: dict[str, tuple[str, str]] = {
    "PhGA": ("physician_global", "PhGA"),
    "PtGA": ("patient_global", "PtGA"),
    "HAQ": ("haq", "HAQ_DI"),
    "MMT": ("mmt8", "MMT8_total"),
    "extramuscular": ("myoact", "extramuscular_global"),
    "enzyme": ("enzymes", "CK"),
}
CORE_SET: tuple[str, ...] = tuple(CORE_SET_SOURCES)
HIGHER_IS_BETTER: dict[str, bool] = {m: m == "MMT" for m in CORE_SET}
MEASURE_LABELS: dict[str, dict[str, str]] = {
    "PhGA": {"en": "Physician global activity", "sv": "Läkarens helhetsbedömning"},
    "PtGA": {"en": "Patient global activity", "sv": "Patientens helhetsbedömning"},
    "HAQ": {"en": "HAQ disability index", "sv": "HAQ funktionsindex"},
    "MMT": {"en": "Manual muscle testing (MMT-8)", "sv": "Manuell muskeltestning (MMT-8)"},
    "extramuscular": {"en": "Extramuscular global activity", "sv": "Extramuskulär global aktivitet"},
    "enzyme": {"en": "Muscle enzyme (CK)", "sv": "Muskelenzym (CK)"},
}

# IMACS preliminary definition of improvement (Oddis CV et al. Arthritis Rheum 2005;52:2607-15;
# Rider LG et al. Arthritis Rheum 2004;50:2281-90).
IMACS_IMPROVED_PCT = 20.0
IMACS_WORSENED_PCT = 25.0
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
TIS_THRESHOLDS: tuple[tuple[float, str], ...] = ((60.0, "major"), (40.0, "moderate"), (20.0, "minimal"))
TIS_CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "none": {"en": "No improvement", "sv": "Ingen förbättring"},
    "minimal": {"en": "Minimal improvement", "sv": "Minimal förbättring"},
    "moderate": {"en": "Moderate improvement", "sv": "Måttlig förbättring"},
    "major": {"en": "Major improvement", "sv": "Stor förbättring"},
}

# Percentages are compared after rounding, so 10.000000000000002 % is 10 %.
_PCT_DIGITS = 6

Reason = dict[str, str]


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Measurement:
    """One core set measure at one visit: its value and the scale range it lives on.

    ``scale_max`` None means the measure has no upper bound (serum enzymes): the ACR/EULAR
    score then uses the change relative to baseline instead of to the range.
    ``reason`` says why ``value`` is None.
    """

    value: float | None
    scale_min: float = 0.0
    scale_max: float | None = None
    reason: Reason | None = None


# --------------------------------------------------------------------------- per measure


@dataclass
class MeasureChange:
    """How one core set measure changed from baseline; positive percentages are improvements."""

    measure: str
    label: Reason
    baseline: float | None
    follow_up: float | None
    # (baseline - follow-up) / baseline, sign flipped for the MMT; None when baseline is 0.
    relative_improvement_pct: float | None
    # ACR/EULAR "absolute percent change": the change over the scale's range (enzymes: relative).
    absolute_improvement_pct: float | None
    higher_is_better: bool
    from_zero: bool = False  # baseline 0: no relative percentage exists (see _relative)
    reason: Reason | None = None

    @property
    def computable(self) -> bool:
        return self.reason is None


def measure_change(measure: str, baseline: Measurement | None, follow_up: Measurement | None) -> MeasureChange:
    """The change of one core set measure from baseline to follow-up.

    Baseline 0 (possible for the VAS, HAQ and extramuscular activity, whose best value is 0)
    has no relative percentage: ``relative_improvement_pct`` is None and ``from_zero`` is set.
    The IMACS definition then treats an unchanged 0 as unchanged and any change away from 0 as
    a change beyond every threshold in its direction (a worsening, since nothing is below 0).
    """
    better_high = HIGHER_IS_BETTER[measure]
    label = MEASURE_LABELS[measure]
    base = baseline.value if baseline else None
    follow = follow_up.value if follow_up else None
    missing = _missing_reason(measure, baseline, follow_up)
    if missing:
        return MeasureChange(measure, label, base, follow, None, None, better_high, reason=missing)
    assert base is not None and follow is not None and baseline is not None
    gain = (follow - base) if better_high else (base - follow)
    relative = None if base == 0 else round(gain / abs(base) * 100.0, _PCT_DIGITS)
    if baseline.scale_max is None:
        absolute = relative
    else:
        absolute = round(gain / (baseline.scale_max - baseline.scale_min) * 100.0, _PCT_DIGITS)
    return MeasureChange(measure, label, base, follow, relative, absolute, better_high, from_zero=base == 0)


def _missing_reason(measure: str, baseline: Measurement | None, follow_up: Measurement | None) -> Reason | None:
    name = MEASURE_LABELS[measure]
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


def _relative(change: MeasureChange) -> float:
    """The relative improvement for classification; from a baseline of 0 any change is unbounded."""
    if change.relative_improvement_pct is not None:
        return change.relative_improvement_pct
    assert change.baseline is not None and change.follow_up is not None
    if change.follow_up == change.baseline:
        return 0.0
    better = change.follow_up > change.baseline if change.higher_is_better else change.follow_up < change.baseline
    return math.inf if better else -math.inf


# --------------------------------------------------------------------------- IMACS


@dataclass
class MeasureDriver:
    """A measure that drove a result, with its percent change (None: from a baseline of 0)."""

    measure: str
    label: Reason
    improvement_pct: float | None
    points: float | None = None


@dataclass
class MissingMeasure:
    measure: str
    reason: Reason


@dataclass
class ImacsImprovement:
    """IMACS preliminary definition of improvement; ``met`` None when not computable."""

    met: bool | None
    improved: list[MeasureDriver] = field(default_factory=list)
    worsened: list[MeasureDriver] = field(default_factory=list)
    missing: list[MissingMeasure] = field(default_factory=list)
    reason: Reason | None = None


def imacs_improvement(baseline: Mapping[str, Measurement], follow_up: Mapping[str, Measurement]) -> ImacsImprovement:
    """IMACS definition of improvement: at least 3 of the 6 core set measures improved by >= 20 %,
    no more than 2 worsened by >= 25 %, and the MMT not among the worsened.

    Source: Rider LG, Giannini EH, Brunner HI, et al. International consensus on preliminary
    definitions of improvement in adult and juvenile myositis. Arthritis Rheum 2004;50:2281-90;
    validated in Oddis CV, Rider LG, Reed AM, et al. Arthritis Rheum 2005;52:2607-15.
    Percent change is relative to the baseline value (baseline 0: see ``measure_change``).
    All six measures are needed at both visits: with one missing, it could be the one that
    decides, so the result is not computable and names it.
    """
    changes = [measure_change(m, baseline.get(m), follow_up.get(m)) for m in CORE_SET]
    missing = [MissingMeasure(c.measure, c.reason) for c in changes if c.reason]
    if missing:
        return ImacsImprovement(met=None, missing=missing, reason=_needs_all(missing))
    improved = [c for c in changes if _relative(c) >= IMACS_IMPROVED_PCT]
    worsened = [c for c in changes if _relative(c) <= -IMACS_WORSENED_PCT]
    mmt_worse = any(c.measure == "MMT" for c in worsened)
    met = len(improved) >= IMACS_MIN_IMPROVED and len(worsened) <= IMACS_MAX_WORSENED and not mmt_worse
    return ImacsImprovement(
        met=met,
        improved=[MeasureDriver(c.measure, c.label, c.relative_improvement_pct) for c in improved],
        worsened=[MeasureDriver(c.measure, c.label, c.relative_improvement_pct) for c in worsened],
    )


def _needs_all(missing: list[MissingMeasure]) -> Reason:
    names_en = ", ".join(MEASURE_LABELS[m.measure]["en"] for m in missing)
    names_sv = ", ".join(MEASURE_LABELS[m.measure]["sv"] for m in missing)
    return not_computable(
        f"Needs all six core set measures at both visits; missing: {names_en}.",
        f"Kräver alla sex kärnmått vid båda besöken; saknas: {names_sv}.",
    )


# --------------------------------------------------------------------------- ACR/EULAR 2016


@dataclass
class TotalImprovementScore:
    """2016 ACR/EULAR myositis response criteria (adult DM/PM); ``total`` None when not computable."""

    total: float | None
    category: Literal["none", "minimal", "moderate", "major"] | None
    category_label: Reason | None = None
    points: list[MeasureDriver] = field(default_factory=list)
    improved: list[MeasureDriver] = field(default_factory=list)
    worsened: list[MeasureDriver] = field(default_factory=list)
    missing: list[MissingMeasure] = field(default_factory=list)
    reason: Reason | None = None


def tis_points(measure: str, improvement_pct: float) -> float:
    """Points for one measure's absolute percent improvement (worsening scores 0)."""
    pct = round(improvement_pct, _PCT_DIGITS)
    for upper, points in TIS_POINTS[measure]:
        if pct <= upper:
            return points
    return TIS_POINTS[measure][-1][1]  # pragma: no cover - the last bound is infinite


def tis_category(total: float) -> Literal["none", "minimal", "moderate", "major"]:
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
    change relative to baseline (an enzyme from a baseline of 0 scores 0 points). Every one of
    the six measures is needed at both visits.
    """
    changes = [measure_change(m, baseline.get(m), follow_up.get(m)) for m in CORE_SET]
    missing = [MissingMeasure(c.measure, c.reason) for c in changes if c.reason]
    if missing:
        return TotalImprovementScore(total=None, category=None, missing=missing, reason=_needs_all(missing))
    drivers = []
    for c in changes:
        pct = c.absolute_improvement_pct
        points = 0.0 if pct is None else tis_points(c.measure, pct)
        drivers.append(MeasureDriver(c.measure, c.label, pct, points))
    total = round(sum(d.points or 0.0 for d in drivers), 1)
    category = tis_category(total)
    return TotalImprovementScore(
        total=total,
        category=category,
        category_label=TIS_CATEGORY_LABELS[category],
        points=drivers,
        improved=[d for d in drivers if (d.points or 0) > 0],
        worsened=[d for d in drivers if d.improvement_pct is not None and d.improvement_pct < 0],
    )


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


def scale_changes(baseline: Mapping[str, list[Scale]], follow_up: Mapping[str, list[Scale]]) -> list[ScaleChange]:
    """Every scale scored at both visits (or at one, with the reason the other is missing)."""
    out: list[ScaleChange] = []
    for qid in sorted(set(baseline) | set(follow_up)):
        base = {s.id: s for s in baseline.get(qid, [])}
        follow = {s.id: s for s in follow_up.get(qid, [])}
        for sid in list(base) + [s for s in follow if s not in base]:
            b, f = base.get(sid), follow.get(sid)
            ref = b or f
            assert ref is not None
            bv = b.value if b else None
            fv = f.value if f else None
            reason = None
            change = change_pct = improved = None
            if bv is None or fv is None:
                which_en, which_sv, s = ("baseline", "baslinjen", b) if bv is None else ("follow-up", "uppföljningen", f)
                why = (s.reason if s and s.reason else None) or {"en": "not recorded", "sv": "inte registrerat"}
                reason = not_computable(f"Missing at {which_en}: {why['en']}", f"Saknas vid {which_sv}: {why['sv']}")
            else:
                change = round(fv - bv, 4)
                change_pct = None if bv == 0 else round((fv - bv) / abs(bv) * 100.0, 1)
                improved = None if change == 0 else (change > 0) == ref.higher_is_better
            out.append(ScaleChange(qid, sid, ref.label, bv, fv, change, change_pct, ref.higher_is_better,
                                   improved, ref.unit, reason))
    return out


# --------------------------------------------------------------------------- from the store


def core_set_from_scores(
    scores: Mapping[str, list[Scale]], absent: Mapping[str, Reason] | None = None
) -> dict[str, Measurement]:
    """The six core set measures of one visit from its scored responses.

    ``absent`` maps a questionnaire id to why it has no scores at this visit.
    """
    absent = absent or {}
    out: dict[str, Measurement] = {}
    for measure, (qid, sid) in CORE_SET_SOURCES.items():
        if qid not in scores:
            out[measure] = Measurement(None, reason=absent.get(qid) or _no_response(qid))
            continue
        scale = next((s for s in scores[qid] if s.id == sid), None)
        if scale is None:
            out[measure] = Measurement(None, reason=not_computable(
                f"the scorer of '{qid}' gives no scale '{sid}'", f"poängsättningen av '{qid}' ger ingen skala '{sid}'"))
            continue
        upper = None if measure == "enzyme" else scale.max
        out[measure] = Measurement(scale.value, scale.min, upper, scale.reason)
    return out


def _no_response(qid: str) -> Reason:
    return not_computable(f"no completed '{qid}' response", f"inget ifyllt '{qid}'-formulär")


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def visit_scores(cat: Catalog, patient_id: str, visit: dict[str, Any]
                 ) -> tuple[dict[str, list[Scale]], dict[str, Reason]]:
    """Scores of every completed response of one visit, and why other questionnaires have none."""
    scores: dict[str, list[Scale]] = {}
    absent: dict[str, Reason] = {}
    for response in cat.store.list_responses(patient_id, visit["id"]):
        qid = response["questionnaire"]
        if response.get("status") != "completed":
            absent[qid] = not_computable(f"the '{qid}' response is not completed",
                                         f"'{qid}'-formuläret är inte färdigifyllt")
        elif cat.get(qid) is None:
            absent[qid] = not_computable(f"the questionnaire '{qid}' is not installed",
                                         f"formuläret '{qid}' är inte installerat")
        else:
            # Scored against the definition it was answered against, even if the YAML has changed since.
            q = cat.for_response(response) or cat.questionnaires[qid]
            scores[qid] = score_response(q, response.get("answers") or {})
    for qid, _ in CORE_SET_SOURCES.values():
        if qid not in scores and qid not in absent:
            absent[qid] = _no_response(qid)
    return scores, absent


def compare_visits(baseline_key: str, visit: dict[str, Any], baseline_scores: Mapping[str, list[Scale]],
                   baseline_absent: Mapping[str, Reason], scores: Mapping[str, list[Scale]],
                   absent: Mapping[str, Reason]) -> VisitComparison:
    base_core = core_set_from_scores(baseline_scores, baseline_absent)
    core = core_set_from_scores(scores, absent)
    changes = scale_changes(baseline_scores, scores)
    return VisitComparison(
        visit=visit["key"],
        label=visit.get("label") or {},
        date=visit.get("date") or visit.get("due"),
        baseline_visit=baseline_key,
        core_set=[measure_change(m, base_core[m], core[m]) for m in CORE_SET],
        imacs=imacs_improvement(base_core, core),
        acr_eular=total_improvement_score(base_core, core),
        functional_index=[c for c in changes if c.questionnaire == "mfi2"],
        scales=changes,
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
        out.append(compare_visits(baseline["key"], visit, base_scores, base_absent, scores, absent))
    return out
