"""The study's own tables: where a study stands and what its cohort shows (data only).

One ``StudyReport`` per study and data cut, built from the store: the patients x visits grid
(done, due, overdue, missed, not yet due), the cohort table (n, median, IQR of every score at
every visit, change from baseline with the Wilcoxon signed-rank test), responders to the
IMACS and 2016 ACR/EULAR criteria, tolerability, the geometry of the spaghetti plots, the
analysis dataset (one row per patient-visit) and the listings every number links to.
Templates (``report/``) draw it; numbers are formatted there, in the reader's language.

Statistics, stated in the report as here:

* Medians and quartiles with numpy's default ``linear`` method (Hyndman & Fan type 7, as R's
  ``quantile`` default); computed on exact scores, rounded only for display.
* Change from baseline: follow-up minus baseline per patient with both values; Wilcoxon
  signed-rank test, two-sided, from scipy. Zero differences are discarded (Wilcoxon's
  original rule, as R's ``wilcox.test`` and SPSS). With no ties among the remaining
  differences the exact null distribution is used (n <= 50); with ties and n <= 15 the exact
  conditional distribution, by enumerating all 2^n sign patterns of the tied ranks (scipy's
  ``permutation_test``, exhaustive); otherwise the normal approximation with the tie
  correction and no continuity correction. A small open-label study is exactly where a normal
  approximation misleads, hence exact p-values up to the size of such a study.
  Values and differences are the scores' exact fractions (``Scale.exact``), so a zero and a tie
  are exact; ranks are taken from them before scipy sees a float. (A caller passing floats gets
  them compared at 1e-9, so float noise such as 55.3 - 42.1 does not split a tie.)
* p-values are descriptive: not adjusted for the many measures and visits.
* The core set's enzyme is, per patient, the enzyme the criteria follow (``outcomes``), as a
  multiple of the lab's upper limit of normal, so patients on different enzymes share one row.
* Responders: evaluable exactly when a criterion is decided, missing measures or not (then
  footnoted with the measures missing).

Scores come from ``scoring.score`` (``Scale.exact``) and the criteria from
``outcomes.patient_outcomes``; the adapter to both is ``_ScoreReader`` and ``_criteria``
below, so a change there is a change in one place.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable, Iterable

import numpy as np
from scipy import stats

from .catalog import Catalog
from .config import clinic_setting, enzyme_unit
from .definitions import Questionnaire
from .outcomes import CORE_SET, CORE_SET_SOURCES, MEASURE_LABELS, patient_outcomes
from .scoring import Scale, as_exact, score
from .scoring.enzymes import ENZYMES, UNITS, enzyme_unit_code, from_u_per_l, to_u_per_l, unit_symbol
from .studies import Study

__all__ = ["StudyReport", "build_report", "VISIT_STATES", "QUANTILE_METHOD", "signed_rank", "describe",
           "analysis_csv", "AsOf"]

VISIT_STATES = ("done", "due", "overdue", "missed", "not_yet_due")
QUANTILE_METHOD = "linear"  # numpy's default: Hyndman & Fan type 7
EXACT_WITH_TIES_MAX_N = 15
EXACT_MAX_N = 50
TIE_TOLERANCE_DECIMALS = 9
# The primary outcome of the anakinra study (Zong M et al. Ann Rheum Dis 2014;73:913-20): FI-2.
PRIMARY_OUTCOME = ("mfi2", "FI2_total")
# The core set's muscle enzyme: per patient the enzyme the response criteria follow (the most abnormal
# at baseline, ``outcomes``), at each visit as value / the lab's upper limit of normal, so that patients
# followed on different enzymes share one row. Each enzyme keeps its own row, in its unit, with the enzymes.
ENZYME_FOLLOWED = ("enzymes", "enzyme_followed_xULN")
ENZYME_FOLLOWED_LABEL = {
    "en": "Muscle enzyme most abnormal at baseline, multiple of the upper limit of normal",
    "sv": "Muskelenzymet som var mest avvikande vid baslinjen, multipel av övre referensgränsen",
}
# The most abnormal enzyme of each visit may be another enzyme than at baseline: its change from
# baseline compares two enzymes, so the report leaves it out (the criteria never use it).
LEFT_OUT = {("enzymes", "enzyme_most_abnormal")}
AE_SCORER = "adverse_events"
UNIT_TEXT: dict[str, dict[str, str] | None] = {"xULN": None, "mm": {"sv": "mm", "en": "mm"},
                                                "cm": {"sv": "cm", "en": "cm"}, "%": {"sv": "%", "en": "%"}}

# Drawn at about 85 mm wide in print: 14 user units of text are then about 8 pt.
CHART_WIDTH = 470
CHART_HEIGHT = 260
CHART_MARGIN = {"left": 54, "right": 14, "top": 12, "bottom": 52}


# --------------------------------------------------------------------------- statistics


@dataclass
class Summary:
    """n, median and quartiles of one cell, and where its values came from."""

    n: int
    median: float | None = None
    q1: float | None = None
    q3: float | None = None


def describe(values: Iterable[Fraction | float]) -> Summary:
    """n, median and quartiles (type 7) of exact values; the float is taken only here, unrounded."""
    a = np.asarray([float(v) for v in values], dtype=float)
    if a.size == 0:
        return Summary(0)
    q1, median, q3 = np.percentile(a, [25, 50, 75], method=QUANTILE_METHOD)
    return Summary(int(a.size), float(median), float(q1), float(q3))


@dataclass
class SignedRank:
    """Wilcoxon signed-rank test of paired differences: how it was computed and its result."""

    n_pairs: int
    n_nonzero: int
    statistic: float | None
    p: float | None
    method: str  # exact | exact_conditional | normal | none


def _exact(x: Fraction | float) -> Fraction:
    """A difference as an exact fraction; a float is first taken to 1e-9 so that float noise is no difference."""
    if isinstance(x, (float, np.floating)):
        return as_exact(round(float(x), TIE_TOLERANCE_DECIMALS))
    return as_exact(int(x) if isinstance(x, np.integer) else x)


def _midranks(values: list[Fraction]) -> list[float]:
    """Ranks 1..n of exact values, tied values sharing the mean of their ranks."""
    counts = Counter(values)
    rank_of, below = {}, 0
    for v in sorted(counts):
        rank_of[v] = below + (counts[v] + 1) / 2
        below += counts[v]
    return [rank_of[v] for v in values]


def signed_rank(differences: Iterable[Fraction | float]) -> SignedRank:
    """Two-sided Wilcoxon signed-rank test; see the module docstring for the choices made.

    Zeros and ties are decided on exact values; scipy is given the signed ranks, whose ranks are
    those of the differences, so its statistic and p are those of the differences themselves.
    """
    d = [_exact(x) for x in differences]
    nonzero = [x for x in d if x != 0]
    n = len(nonzero)
    if n == 0:
        return SignedRank(len(d), 0, None, None, "none")
    ranks = np.array(_midranks([abs(x) for x in nonzero]))
    signed = np.where(np.array([x > 0 for x in nonzero]), ranks, -ranks)
    ties = len(set(map(abs, nonzero))) < n
    if ties and n <= EXACT_WITH_TIES_MAX_N:
        # The distribution of T+ over all 2^n sign patterns of these (mid-)ranks: what
        # wilcoxon(method=PermutationMethod()) computes, with the statistic vectorized (~100x faster).
        def t_plus(x: np.ndarray, axis: int = -1) -> np.ndarray:
            return np.sum(np.where(x > 0, ranks, 0.0), axis=axis)

        result = stats.permutation_test((signed,), t_plus, permutation_type="samples", vectorized=True,
                                        n_resamples=np.inf, alternative="two-sided")
        t = float(result.statistic)
        return SignedRank(len(d), n, min(t, float(ranks.sum()) - t), min(1.0, float(result.pvalue)),
                          "exact_conditional")
    method = "exact" if not ties and n <= EXACT_MAX_N else "normal"
    result = stats.wilcoxon(signed, zero_method="wilcox", correction=False, alternative="two-sided",
                            method="exact" if method == "exact" else "asymptotic")
    return SignedRank(len(d), n, float(result.statistic), min(1.0, float(result.pvalue)), method)


# --------------------------------------------------------------------------- the data cut


class AsOf:
    """The store as it stood at the end of a day: later responses are not there yet.

    Reads each patient's file once (the criteria ask for a visit's responses many times).
    A response completed after the cut counts as in progress; one started after it does not exist.
    """

    def __init__(self, store: Any, cut: dt.date):
        self._store = store
        self.cut = cut.isoformat()
        self._responses: dict[str, list[dict[str, Any]]] = {}
        self._visits: dict[str, list[dict[str, Any]]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_visits(self, patient_id: str) -> list[dict[str, Any]]:
        if patient_id not in self._visits:
            self._visits[patient_id] = self._store.list_visits(patient_id)
        return [dict(v) for v in self._visits[patient_id]]

    def list_responses(self, patient_id: str, visit_id: str | None = None) -> list[dict[str, Any]]:
        if patient_id not in self._responses:
            kept = []
            for r in self._store.list_responses(patient_id):
                if (r.get("started_at") or "")[:10] > self.cut:
                    continue
                if r.get("status") == "completed" and (r.get("completed_at") or "")[:10] > self.cut:
                    r = {**r, "status": "in_progress", "completed_at": None}
                kept.append(r)
            self._responses[patient_id] = kept
        return [r for r in self._responses[patient_id] if visit_id is None or r["visit"] == visit_id]


# --------------------------------------------------------------------------- the grid


@dataclass
class FormState:
    questionnaire: str
    title: str
    complete: bool


@dataclass
class VisitCell:
    key: str
    label: str
    visit_id: str | None
    due: dt.date | None
    window_days: int | None
    state: str  # one of VISIT_STATES
    forms: list[FormState]
    date: dt.date | None  # when its first form was completed

    @property
    def forms_done(self) -> int:
        return sum(f.complete for f in self.forms)

    @property
    def missing(self) -> list[FormState]:
        return [f for f in self.forms if not f.complete]

    @property
    def window_end(self) -> dt.date | None:
        return self.due + dt.timedelta(days=self.window_days) if self.due and self.window_days is not None else None


@dataclass
class PatientRow:
    patient_id: str
    study_code: str
    cells: list[VisitCell]


@dataclass
class VisitCount:
    key: str
    label: str
    states: dict[str, int]
    forms_missing: int  # forms not completed at visits that are done, due or overdue


@dataclass
class Overdue:
    patient_id: str
    study_code: str
    cell: VisitCell
    days_overdue: int


def visit_state(today: dt.date, due: dt.date | None, window_days: int | None, forms_complete: int, forms: int) -> str:
    """Where one visit stands on ``today``.

    done: every form completed, or some completed and the window has closed (the visit took
    place; its missing forms are listed). A window of ``window_days`` either side of the due
    date: not yet due before it opens; due from its opening to the due date; overdue after the
    due date while the window is open (no window: until it is done); missed once the window
    has closed with nothing completed.
    """
    if forms and forms_complete == forms:
        return "done"
    if due is None:
        return "done" if forms_complete else "due"
    w = window_days
    closed = w is not None and today > due + dt.timedelta(days=w)
    if forms_complete and closed:
        return "done"
    if today < due - dt.timedelta(days=w or 0):
        return "not_yet_due"
    if today <= due:
        return "due"
    return "missed" if closed else "overdue"


# --------------------------------------------------------------------------- the cohort table


@dataclass
class Measure:
    """One score shown in the cohort table: a questionnaire's scale, in one unit."""

    key: str  # "<questionnaire>.<scale>": the CSV column and the anchor of its listing
    questionnaire: str
    scale: str
    label: str
    unit: str | None  # as shown
    decimals: int
    higher_is_better: bool
    lo: float
    hi: float | None  # None: no natural upper bound (enzymes): charts fit the data
    core: str | None = None  # the core set measure it stands for (outcomes.CORE_SET)
    anchor: str = ""
    provisional: str | None = None  # why the instrument is not yet verified, in the report's language
    enzymes: list[tuple[str, int]] = field(default_factory=list)  # the enzyme followed: (name, patients)
    reference: float | None = None  # a line worth drawing on its plot (1 x the upper limit of normal)


@dataclass
class Cell:
    """One cell of the cohort table: the visit's values and, after baseline, the change."""

    level: Summary
    change: Summary | None = None
    test: SignedRank | None = None


@dataclass
class MeasureRow:
    measure: Measure
    cells: list[Cell]  # one per visit of the plan


@dataclass
class MeasureGroup:
    title: str | None  # the questionnaire's title; None for the core set (the template names it)
    rows: list[MeasureRow]
    primary: bool = False
    core: bool = False
    provisional: str | None = None


# --------------------------------------------------------------------------- responders


@dataclass
class ResponderRow:
    patient_id: str
    study_code: str
    visit_id: str | None
    state: str  # done, overdue or missed
    imacs: bool | None  # None: not decided (not evaluable)
    imacs_reason: str | None
    tis_total: float | None  # None unless every core set measure is known
    tis_category: str | None  # None: not decided (not evaluable)
    tis_reason: str | None
    missing: list[str]  # core set measures missing, by name (the result may still be decided)
    tis_min: float | None = None  # the range of totals the missing measures allow
    tis_max: float | None = None

    @property
    def measured(self) -> bool:
        """Some core set measure was recorded at both visits (a visit not done may still have forms)."""
        return len(self.missing) < len(CORE_SET)

    @property
    def imacs_despite_missing(self) -> bool:
        """Decided although measures are missing: every value they could take gives the same answer."""
        return self.imacs is not None and bool(self.missing)

    @property
    def tis_despite_missing(self) -> bool:
        return self.tis_category is not None and bool(self.missing)


@dataclass
class ResponderCount:
    key: str
    label: str
    anchor: str
    imacs_met: int
    imacs_evaluable: int
    tis: dict[str, int]  # at least minimal / moderate / major
    tis_evaluable: int
    rows: list[ResponderRow]
    footnote: int | None = None  # the number of the footnote on the patients decided despite missing measures

    @property
    def not_evaluable(self) -> list[ResponderRow]:
        return [r for r in self.rows if r.imacs is None or r.tis_category is None]

    @property
    def despite_missing(self) -> list[ResponderRow]:
        """Patients counted as evaluable for a criterion although core set measures are missing."""
        return [r for r in self.rows if r.imacs_despite_missing or r.tis_despite_missing]

    @property
    def imacs_despite_missing(self) -> int:
        return sum(r.imacs_despite_missing for r in self.rows)

    @property
    def tis_despite_missing(self) -> int:
        return sum(r.tis_despite_missing for r in self.rows)


TIS_LEVELS = ("minimal", "moderate", "major")
# Patients counted at a visit: those whose visit has taken place or should have.
COUNTED_STATES = ("done", "overdue", "missed")


# --------------------------------------------------------------------------- tolerability


@dataclass
class AdverseEvent:
    patient_id: str
    study_code: str
    visit_id: str
    visit_label: str
    onset: dt.date | None
    description: str
    severity: int | None
    relation: int | None
    serious: bool
    withdrawn: bool


@dataclass
class Category:
    code: int | None
    label: str
    events: int
    patients: int


@dataclass
class Tolerability:
    patients: int  # in the study
    events: list[AdverseEvent]
    patients_with_event: int
    by_severity: list[Category]
    by_relation: list[Category]
    serious: Category
    withdrawn: Category
    related: Category
    by_patient: list[dict[str, Any]]  # study code, patient id, counts
    forms_completed: int


# --------------------------------------------------------------------------- pictures


@dataclass
class Spaghetti:
    """Geometry of one spaghetti plot in SVG user units: a thin line per patient, the median bold."""

    measure: Measure
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    lines: list[str]  # "x,y x,y" per patient, broken where a visit has no value
    points: list[tuple[float, float]]  # values no line passes through, so a single visit shows too
    median_line: str
    median_points: list[dict[str, Any]]  # x, y, value, n
    x_labels: list[dict[str, Any]]  # x, text, n
    y_ticks: list[dict[str, Any]]  # y, value
    tick_decimals: int
    better_y: float
    reference_y: float | None = None  # where the measure's reference line is (1 x ULN), if on the plot
    better_label_y: float = 0.0  # the "better" label: at the better end, clear of the reference line


# --------------------------------------------------------------------------- the report


@dataclass
class DefinitionUsed:
    title: str
    version: str
    fingerprint: str
    responses: int


@dataclass
class StudyReport:
    study_id: str
    title: str
    lang: str
    as_of: dt.date
    generated: dt.datetime
    visits: list[dict[str, Any]]  # key, label, anchor
    grid: list[PatientRow]
    counts: list[VisitCount]
    overdue: list[Overdue]
    groups: list[MeasureGroup]
    responders: list[ResponderCount]
    tolerability: Tolerability
    plots: list[Spaghetti]
    listings: list[tuple[Measure, list[dict[str, Any]]]]  # per measure: rows of study code, patient, values
    definitions: list[DefinitionUsed]
    software: dict[str, str]
    study_fingerprint: str
    dataset: tuple[list[str], list[list[Any]]] = field(repr=False, default=([], []))

    @property
    def patients(self) -> int:
        return len(self.grid)


# --------------------------------------------------------------------------- building


def _text(texts: dict[str, str] | None, lang: str, fallback: str = "") -> str:
    if not texts:
        return fallback
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), fallback)


class _ScoreReader:
    """The one adapter to the scorers: each completed response scored once, exact values in one unit per scale."""

    def __init__(self, cat: Catalog, lab_unit: str):
        self.cat = cat
        self.lab_unit = lab_unit  # the clinic's unit code (PRO_APP_ENZYME_UNIT), as on the summaries
        self.scales: dict[tuple[str, str], Scale] = {}  # the first seen, for labels and ranges
        self.order: dict[str, list[str]] = {}
        self.units: dict[tuple[str, str], dict[str, int]] = {}  # lab values: unit code -> how often recorded
        self.fingerprints: dict[tuple[str, str, str], int] = {}

    def read(self, response: dict[str, Any]) -> dict[tuple[str, str], tuple[Fraction, str | None]]:
        """Each scale's exact value with, for a lab value, the code of the unit it was recorded in."""
        q = self.cat.for_response(response)
        if q is None:
            return {}
        digest = response.get("definition_hash") or ""
        key = (q.id, q.version, digest)
        self.fingerprints[key] = self.fingerprints.get(key, 0) + 1
        values = {}
        order = self.order.setdefault(q.id, [])
        for s in score(q, response.get("answers") or {}):
            if "repetitions" in s.extra:
                # FI-2 tasks: the repetitions counted, as their labels say (the scale is % of the task's maximum).
                reps = s.extra["repetitions"]
                s = replace(s, value=None if reps is None else as_exact(reps), unit=None, decimals=0,
                            max=float(s.extra.get("max_repetitions") or s.max))
            k = (q.id, s.id)
            if k not in self.scales:
                self.scales[k] = s
                order.append(s.id)
            if s.exact is None:
                continue
            unit = None
            if _is_lab_value(s):
                unit = s.extra.get("unit")
                if unit not in UNITS:
                    continue  # recorded without its unit: it cannot be placed beside the others
                counts = self.units.setdefault(k, {})
                counts[unit] = counts.get(unit, 0) + 1
            values[k] = (s.exact, unit)
        return values

    def shown_unit(self, k: tuple[str, str]) -> str | None:
        """The code of the unit a lab value is shown in: the clinic's, as on the patients' summaries."""
        return self.lab_unit if self.units.get(k) else None

    def convert(self, k: tuple[str, str], value: Fraction, unit: str | None) -> Fraction:
        """``value`` in the scale's shown unit, exactly (1 µkat/L = 60 U/L)."""
        target = self.shown_unit(k)
        if unit is None or target is None or unit == target:
            return value
        return from_u_per_l(to_u_per_l(value, unit), target)


def _is_lab_value(s: Scale) -> bool:
    return "value_U_L" in (s.extra or {})  # the enzymes scorer's values, which carry their unit


def _criteria(cat: Catalog, patient_id: str, lang: str) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The one adapter to the criteria (``outcomes.patient_outcomes``, as on the patient's summary):
    the enzyme they follow for this patient and, per visit key, IMACS and ACR/EULAR as decided there."""
    comparisons = patient_outcomes(cat, patient_id)
    enzyme = next((c.enzyme for c in comparisons if c.enzyme), None)
    out = {}
    for c in comparisons:
        imacs, tis = c.imacs, c.acr_eular
        missing = {m.measure for m in list(imacs.missing) + list(tis.missing)}
        out[c.visit] = {
            "imacs": imacs.met, "imacs_reason": _text(imacs.reason, lang) if imacs.met is None else None,
            "tis_total": tis.total, "tis_min": tis.total_min, "tis_max": tis.total_max, "tis_category": tis.category,
            "tis_reason": _text(tis.reason, lang) if tis.category is None else None,
            "missing": [m for m in CORE_SET if m in missing],
        }
    return enzyme, out


def _core_sources() -> dict[str, tuple[str, str]]:
    """Core set measure -> where the report reads it: the criteria's sources, the enzyme as it follows it."""
    return {**CORE_SET_SOURCES, "enzyme": ENZYME_FOLLOWED}


def _measure_names(measures: list[str], lang: str) -> list[str]:
    return [_text(MEASURE_LABELS.get(m), lang, m) for m in measures]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover


def _decimals_of(step: float) -> int:
    """The decimals that show every multiple of ``step`` as it is (2.5 -> 1, 0.75 -> 2), at most 2."""
    return next((d for d in range(2) if abs(step * 10 ** d - round(step * 10 ** d)) < 1e-9), 2)


def _spaghetti(measure: Measure, visit_labels: list[str], series: list[list[float | None]]) -> Spaghetti:
    m = CHART_MARGIN
    inset = 34  # half a visit label, so the first and last labels stay inside the picture
    plot_w = CHART_WIDTH - m["left"] - m["right"] - 2 * inset
    plot_h = CHART_HEIGHT - m["top"] - m["bottom"]
    values = [v for s in series for v in s if v is not None]
    lo = measure.lo
    hi = measure.hi if measure.hi is not None else _nice_max(max(values, default=1.0))
    span = (hi - lo) or 1.0
    n_visits = len(visit_labels)

    def x_of(i: int) -> float:
        return round(m["left"] + inset + (plot_w / 2 if n_visits == 1 else plot_w * i / (n_visits - 1)), 1)

    def y_of(v: float) -> float:
        return round(m["top"] + (hi - min(max(v, lo), hi)) / span * plot_h, 1)

    def polylines(vals: list[float | None]) -> list[str]:
        out, run = [], []
        for i, v in enumerate(vals):
            if v is None:
                if len(run) > 1:
                    out.append(" ".join(run))
                run = []
            else:
                run.append(f"{x_of(i)},{y_of(v)}")
        if len(run) > 1:
            out.append(" ".join(run))
        return out

    lines = [line for s in series for line in polylines(s)]
    # A dot only where no line passes: a value with no value at the visit before or after it.
    points = [(x_of(i), y_of(v)) for s in series for i, v in enumerate(s) if v is not None
              and (i == 0 or s[i - 1] is None) and (i == len(s) - 1 or s[i + 1] is None)]
    medians: list[float | None] = []
    median_points = []
    for i in range(n_visits):
        column = [s[i] for s in series if s[i] is not None]
        med = describe(column).median
        medians.append(med)
        if med is not None:
            median_points.append({"x": x_of(i), "y": y_of(med), "value": med, "n": len(column)})
    median_line = " ".join(f"{p['x']},{p['y']}" for p in median_points)
    ticks = [{"y": y_of(lo + span * k / 4), "value": lo + span * k / 4} for k in range(5)]
    ref = measure.reference
    reference_y = y_of(ref) if ref is not None and lo < ref < hi else None
    better_y = y_of(hi if measure.higher_is_better else lo)
    at_top = better_y < (m["top"] + CHART_HEIGHT - m["bottom"]) / 2
    # Inside the plot at the better end; past the reference line when that runs close to the end.
    edge = reference_y if reference_y is not None and abs(reference_y - better_y) < 20 else better_y
    better_label_y = edge + 15 if at_top else edge - 5
    return Spaghetti(
        measure=measure, width=CHART_WIDTH, height=CHART_HEIGHT, left=m["left"], right=CHART_WIDTH - m["right"],
        top=m["top"], bottom=CHART_HEIGHT - m["bottom"], lines=lines, points=points,
        median_line=median_line if len(median_points) > 1 else "", median_points=median_points,
        x_labels=[{"x": x_of(i), "text": label, "n": sum(s[i] is not None for s in series)}
                  for i, label in enumerate(visit_labels)],
        y_ticks=ticks, tick_decimals=_decimals_of(span / 4), better_y=better_y,
        reference_y=reference_y, better_label_y=better_label_y,
    )


def _option_texts(cat: Catalog, qid: str, answer_id: str, lang: str) -> list[tuple[int, str]]:
    q = cat.get(qid)
    if q is None:
        return []
    try:
        options = q.options_for(answer_id) or []
    except KeyError:
        return []
    return [(int(o.code), _text(o.text.model_dump(), lang, str(o.code))) for o in options]


def _tolerability(cat: Catalog, events: list[AdverseEvent], patients: list[PatientRow], forms: int,
                  lang: str) -> Tolerability:
    def category(code: int | None, label: str, chosen: list[AdverseEvent]) -> Category:
        return Category(code, label, len(chosen), len({e.patient_id for e in chosen}))

    severity = _option_texts(cat, "adverse_events", "AE1_severity", lang)
    relation = _option_texts(cat, "adverse_events", "AE1_relation", lang)
    from .scoring.adverse_events import RELATED_CODES

    by_patient = []
    for row in patients:
        mine = [e for e in events if e.patient_id == row.patient_id]
        by_patient.append({"study_code": row.study_code, "patient_id": row.patient_id, "events": len(mine),
                           "serious": sum(e.serious for e in mine), "withdrawn": sum(e.withdrawn for e in mine),
                           "related": sum(e.relation in RELATED_CODES for e in mine),
                           "severe": max((e.severity or 0 for e in mine), default=0)})
    severity_labels = dict(severity)
    return Tolerability(
        patients=len(patients), events=events, patients_with_event=len({e.patient_id for e in events}),
        by_severity=[category(code, label, [e for e in events if e.severity == code]) for code, label in severity]
        + ([category(None, "", [e for e in events if e.severity not in severity_labels])]
           if any(e.severity not in severity_labels for e in events) else []),
        by_relation=[category(code, label, [e for e in events if e.relation == code]) for code, label in relation],
        serious=category(None, "", [e for e in events if e.serious]),
        withdrawn=category(None, "", [e for e in events if e.withdrawn]),
        related=category(None, "", [e for e in events if e.relation in RELATED_CODES]),
        by_patient=by_patient, forms_completed=forms,
    )


def _float(x: Fraction | None) -> float | None:
    return None if x is None else float(x)


def _fingerprint(digest: str) -> str:
    return digest.split(":")[-1][:12]


def _software() -> dict[str, str]:
    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    return {"pro-app": v("pro-app"), "numpy": np.__version__, "scipy": v("scipy")}


def build_report(cat: Catalog, study: Study, lang: str, as_of: dt.date | None = None,
                 generated: dt.datetime | None = None, lab_unit: str | None = None) -> StudyReport:
    """The report of ``study`` with the data as it stood at the end of ``as_of`` (default today);
    lab values in ``lab_unit`` (a unit code; default the clinic's, ``PRO_APP_ENZYME_UNIT``)."""
    as_of = as_of or dt.date.today()
    generated = generated or dt.datetime.now(dt.timezone.utc)
    store = AsOf(cat.store, as_of)
    cut = Catalog(cat.questionnaires, store, cat._snapshots)
    reader = _ScoreReader(cut, lab_unit or clinic_setting("enzyme_unit") or enzyme_unit())
    plan = study.visits
    visit_keys = [v.key for v in plan]
    visits = [{"key": v.key, "label": _text(v.label.model_dump(), lang, v.key), "anchor": f"v{i}"}
              for i, v in enumerate(plan)]
    titles = {qid: _text((q.short_title or q.title).model_dump(), lang, qid) for qid, q in cat.questionnaires.items()}
    ae_ids = {qid for qid, q in cat.questionnaires.items() if q.scoring.scorer == AE_SCORER}

    grid: list[PatientRow] = []
    raw: dict[tuple[str, str], dict[tuple[str, str], tuple[Fraction, str | None]]] = {}
    visit_ids: dict[tuple[str, str], str] = {}
    events: list[AdverseEvent] = []
    ae_forms = 0
    for patient in cat.store.list_patients():
        pvisits = store.list_visits(patient["id"])
        mine = {v["key"]: v for v in pvisits if v.get("study") == study.id}
        if not mine:
            continue
        by_visit: dict[str, list[dict[str, Any]]] = {}
        for r in store.list_responses(patient["id"]):
            by_visit.setdefault(r["visit"], []).append(r)
        cells = []
        for plan_visit, info in zip(plan, visits):
            v = mine.get(plan_visit.key)
            planned = (list(v.get("questionnaires") or []) + list(v.get("clinician_forms") or [])) if v else []
            responses = {r["questionnaire"]: r for r in by_visit.get(v["id"], [])} if v else {}
            completed = {qid: r for qid, r in responses.items() if r.get("status") == "completed"}
            forms = [FormState(qid, titles.get(qid, qid), qid in completed) for qid in planned]
            due = dt.date.fromisoformat(v["due"]) if v and v.get("due") else None
            window = v.get("window_days") if v else plan_visit.window_days
            dates = sorted((r.get("completed_at") or "")[:10] for r in completed.values())
            state = visit_state(as_of, due, window, sum(f.complete for f in forms), len(forms)) if v else "not_yet_due"
            cells.append(VisitCell(plan_visit.key, info["label"], v["id"] if v else None, due, window, state, forms,
                                   dt.date.fromisoformat(dates[0]) if dates and dates[0] else None))
            if not v:
                continue
            visit_ids[(patient["id"], plan_visit.key)] = v["id"]
            values: dict[tuple[str, str], tuple[Fraction, str | None]] = {}
            for qid, r in sorted(completed.items()):
                if qid in ae_ids:
                    ae_forms += 1
                    events.extend(_events(patient, v, info["label"], r, cat.for_response(r)))
                    continue
                values.update(reader.read(r))
            raw[(patient["id"], plan_visit.key)] = values
        grid.append(PatientRow(patient["id"], patient["study_code"], cells))

    # ---- the criteria, and the enzyme they follow for each patient: its multiple of the upper limit
    # of normal at each visit is the core set's enzyme row (as the scorer computes it, value / ULN).
    criteria = {row.patient_id: _criteria(cut, row.patient_id, lang) for row in grid}
    per_patient = {pid: by_visit for pid, (_enzyme, by_visit) in criteria.items()}
    followed = {pid: enzyme for pid, (enzyme, _by_visit) in criteria.items() if enzyme}
    for (pid, _vkey), values in raw.items():
        ratio = values.get(("enzymes", f"{followed.get(pid)}_xULN"))
        if ratio is not None:
            values[ENZYME_FOLLOWED] = ratio
    enzymes_followed = Counter(followed.values())

    # ---- measures, in the order of the table: core set, primary outcome, then each questionnaire
    core = _core_sources()
    core_of = {src: name for name, src in core.items()}
    provisional = {qid: _text(q.provisional.model_dump(), lang) if q.provisional else None
                   for qid, q in cat.questionnaires.items()}
    planned_ids: list[str] = []
    for v in plan:
        for qid in list(v.questionnaires) + list(v.clinician_forms):
            if qid not in planned_ids and qid not in ae_ids:
                planned_ids.append(qid)
    seen = {k for values in raw.values() for k in values} - LEFT_OUT

    def measure(k: tuple[str, str]) -> Measure:
        if k == ENZYME_FOLLOWED:
            return Measure(key=f"{k[0]}.{k[1]}", questionnaire=k[0], scale=k[1],
                           label=_text(ENZYME_FOLLOWED_LABEL, lang), unit=None, decimals=2, higher_is_better=False,
                           lo=0.0, hi=None, core="enzyme", reference=1.0,
                           enzymes=[(_text(ENZYMES[e], lang, e), enzymes_followed[e]) for e in ENZYMES
                                    if e in enzymes_followed])
        s = reader.scales[k]
        unit_code = s.unit
        shown = unit_symbol(reader.shown_unit(k))
        if shown:
            unit = shown
        elif unit_code in UNIT_TEXT:
            unit = _text(UNIT_TEXT[unit_code], lang) if UNIT_TEXT[unit_code] else None
        else:
            unit = unit_code
        label = _text(s.label, lang, k[1])
        if unit and unit in label:
            unit = None  # "FI-2 total, % of maximum" needs no "%" after it
        bounded = shown is None and not (unit_code or "").endswith("ULN")
        decimals = s.decimals if not shown else (2 if shown == "µkat/L" else 0)
        return Measure(key=f"{k[0]}.{k[1]}", questionnaire=k[0], scale=k[1], label=label,
                       unit=unit, decimals=decimals, higher_is_better=s.higher_is_better, lo=s.min,
                       hi=s.max if bounded else None, core=core_of.get(k), provisional=provisional.get(k[0]))

    groups: list[MeasureGroup] = []
    core_keys = [src for src in core.values() if src in seen]
    if core_keys:
        groups.append(MeasureGroup(None, [MeasureRow(measure(k), []) for k in core_keys], core=True))
    ordered = [PRIMARY_OUTCOME[0]] + [q for q in planned_ids if q != PRIMARY_OUTCOME[0]]
    for qid in ordered:
        keys = [(qid, sid) for sid in reader.order.get(qid, []) if (qid, sid) in seen and (qid, sid) not in core_keys]
        if keys:
            groups.append(MeasureGroup(titles.get(qid, qid), [MeasureRow(measure(k), []) for k in keys],
                                       primary=qid == PRIMARY_OUTCOME[0], provisional=provisional.get(qid)))
    all_rows = [row for g in groups for row in g.rows]
    for i, row in enumerate(all_rows):
        row.measure.anchor = f"m{i}"

    # ---- exact values per patient-visit, converted to each measure's unit
    def value(pid: str, vkey: str, k: tuple[str, str]) -> Fraction | None:
        found = raw.get((pid, vkey), {}).get(k)
        return None if found is None else reader.convert(k, *found)

    baseline_key = visit_keys[0]
    pids = [row.patient_id for row in grid]
    for row in all_rows:
        k = (row.measure.questionnaire, row.measure.scale)
        base = {pid: value(pid, baseline_key, k) for pid in pids}
        for i, vkey in enumerate(visit_keys):
            current = [value(pid, vkey, k) for pid in pids]
            cell = Cell(describe(v for v in current if v is not None))
            if i > 0:
                diffs = [c - base[pid] for pid, c in zip(pids, current) if c is not None and base[pid] is not None]
                cell.change = describe(diffs)
                cell.test = signed_rank(diffs)
            row.cells.append(cell)

    # ---- responders: evaluable exactly when the criterion is decided, missing measures or not
    responders = []
    footnotes = 0
    for i, info in enumerate(visits[1:], start=1):
        rows = []
        for prow in grid:
            state = prow.cells[i].state
            found = per_patient[prow.patient_id].get(info["key"])
            if state not in COUNTED_STATES or found is None:
                continue  # not due yet: not counted at this visit
            rows.append(ResponderRow(prow.patient_id, prow.study_code, visit_ids.get((prow.patient_id, info["key"])),
                                     state, found["imacs"], found["imacs_reason"], found["tis_total"],
                                     found["tis_category"], found["tis_reason"], _measure_names(found["missing"], lang),
                                     found["tis_min"], found["tis_max"]))
        evaluable_tis = [r for r in rows if r.tis_category is not None]
        reached = {level: sum(1 for r in evaluable_tis if r.tis_category in TIS_LEVELS[j:])
                   for j, level in enumerate(TIS_LEVELS)}
        count = ResponderCount(
            info["key"], info["label"], f"r{i}", imacs_met=sum(1 for r in rows if r.imacs is True),
            imacs_evaluable=sum(1 for r in rows if r.imacs is not None), tis=reached,
            tis_evaluable=len(evaluable_tis), rows=rows)
        if count.despite_missing:
            footnotes += 1
            count.footnote = footnotes
        responders.append(count)

    # ---- counts per visit and the visits to chase
    counts = []
    for i, info in enumerate(visits):
        states = {s: 0 for s in VISIT_STATES}
        missing = 0
        for prow in grid:
            c = prow.cells[i]
            states[c.state] += 1
            if c.state in ("done", "due", "overdue"):
                missing += len(c.missing)
        counts.append(VisitCount(info["key"], info["label"], states, missing))
    overdue = sorted(
        (Overdue(prow.patient_id, prow.study_code, c, (as_of - c.due).days)
         for prow in grid for c in prow.cells if c.state == "overdue" and c.due),
        key=lambda o: (-o.days_overdue, o.study_code, visit_keys.index(o.cell.key)))

    # ---- pictures: every core set measure and the primary outcome
    labels = [v["label"] for v in visits]
    plots = []
    pictured = [r for r in all_rows if r.measure.core] + [r for r in all_rows if
                                                          (r.measure.questionnaire, r.measure.scale) == PRIMARY_OUTCOME]
    for row in pictured:
        k = (row.measure.questionnaire, row.measure.scale)
        plots.append(_spaghetti(row.measure, labels, [[_float(value(pid, vkey, k)) for vkey in visit_keys]
                                                      for pid in pids]))

    # ---- listings (what every number links to) and the analysis dataset
    listings = []
    for row in all_rows:
        k = (row.measure.questionnaire, row.measure.scale)
        listings.append((row.measure, [
            {"study_code": prow.study_code, "patient_id": prow.patient_id,
             "values": [(value(prow.patient_id, vkey, k), visit_ids.get((prow.patient_id, vkey))) for vkey in visit_keys],
             # the enzyme behind the core set's enzyme row, patient by patient
             "note": _text(ENZYMES.get(followed.get(prow.patient_id, "")), lang) if k == ENZYME_FOLLOWED else None}
            for prow in grid]))
    dataset = _dataset(grid, visits, all_rows, value, per_patient, followed)

    used = [DefinitionUsed(titles.get(qid, qid), ver, _fingerprint(digest), n)
            for (qid, ver, digest), n in sorted(reader.fingerprints.items())]
    study_text = study.model_dump_json()
    return StudyReport(
        study_id=study.id, title=_text(study.title.model_dump(), lang, study.id), lang=lang, as_of=as_of,
        generated=generated, visits=visits, grid=grid, counts=counts, overdue=overdue, groups=groups,
        responders=responders, tolerability=_tolerability(cat, events, grid, ae_forms, lang), plots=plots,
        listings=listings, definitions=used, software=_software(),
        study_fingerprint=hashlib.sha256(study_text.encode()).hexdigest()[:12], dataset=dataset,
    )


def _events(patient: dict[str, Any], visit: dict[str, Any], visit_label: str, response: dict[str, Any],
            q: Questionnaire | None) -> list[AdverseEvent]:
    from .scoring.adverse_events import recorded_events

    out = []
    answers = response.get("answers") or {}
    for e in recorded_events(q.shown_answers(answers) if q is not None else answers):
        out.append(AdverseEvent(
            patient_id=patient["id"], study_code=patient["study_code"], visit_id=visit["id"],
            visit_label=visit_label, onset=_date(e.get("date")), description=str(e.get("description") or ""),
            severity=_int(e.get("severity")), relation=_int(e.get("relation")),
            serious=str(e.get("serious")) == "1", withdrawn=_int(e.get("action")) == WITHDRAWN))
    return out


WITHDRAWN = 4  # the adverse event form's "action taken with the study drug": drug withdrawn


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None  # never a crash on a stored value the form would not accept today


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- the analysis dataset


def _dataset(grid: list[PatientRow], visits: list[dict[str, Any]], rows: list[MeasureRow],
             value: Callable[[str, str, tuple[str, str]], Fraction | None], responders: dict[str, Any],
             followed: dict[str, str]) -> tuple[list[str], list[list[Any]]]:
    """One row per patient-visit: the exact scores (each enzyme in its shown unit), the enzyme the
    criteria follow and the criteria, with the range of totals and the measures missing."""
    def column(m: Measure) -> str:
        if m.unit in {symbol for symbol, _factor in UNITS.values()}:
            return f"{m.key}_{enzyme_unit_code(m.unit)}"
        return m.key

    header = (["study_code", "visit", "visit_number", "due", "window_days", "state", "visit_date", "forms_planned",
               "forms_completed", "days_from_baseline", "enzyme_followed"]
              + [column(r.measure) for r in rows]
              + ["imacs_improvement_met", "acr_eular_total", "acr_eular_total_min", "acr_eular_total_max",
                 "acr_eular_category", "criteria_measures_missing"])
    out = []
    for prow in grid:
        base_date = prow.cells[0].date or prow.cells[0].due
        for i, (cell, info) in enumerate(zip(prow.cells, visits)):
            when = cell.date or None
            crit = responders[prow.patient_id].get(info["key"], {}) if i else {}
            out.append(
                [prow.study_code, info["key"], i, cell.due, cell.window_days, cell.state, cell.date, len(cell.forms),
                 cell.forms_done, (when - base_date).days if when and base_date else None,
                 followed.get(prow.patient_id)]
                + [value(prow.patient_id, info["key"], (r.measure.questionnaire, r.measure.scale)) for r in rows]
                + [crit.get("imacs"), crit.get("tis_total"), crit.get("tis_min"), crit.get("tis_max"),
                   crit.get("tis_category"), ";".join(crit.get("missing") or [])])
    return header, out


def analysis_csv(report: StudyReport) -> str:
    """The analysis dataset as CSV for R, SPSS and Stata: exact values, '.' decimals, empty when missing."""
    import csv
    import io

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, Fraction):
            v = float(v)  # the exact score's unrounded float, in its shortest form
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() else repr(v)
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)

    header, rows = report.dataset
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return buffer.getvalue()
