"""What a printed summary shows: one patient, one visit, every questionnaire scored (data only).

Scores are computed here, when the summary is read, from the raw answers and the exact
definition each response was answered against (``Catalog.for_response``): a corrected
scorer fixes old summaries too. Templates (``staff/summary_body.html``) draw the result;
numbers and dates are formatted there, in the reader's language.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from .catalog import Catalog
from .config import clinic_setting
from .definitions import Questionnaire
from .scoring import Scale, display_number, is_answered, score
from .scoring.enzymes import UNITS, from_u_per_l, to_u_per_l, unit_symbol
from .studies import Study

__all__ = ["VisitSummary", "QuestionnaireSummary", "ScoreRow", "MainScores", "Sparkline", "Trend", "Chart",
           "visit_summary", "response_criteria", "parse_time", "sparkline"]

# User units of a trend chart, drawn at about 90 mm in print: its 11-unit labels are 7-8 pt there.
CHART_WIDTH = 360
CHART_HEIGHT = 150
CHART_MARGIN = {"left": 44, "right": 12, "top": 16, "bottom": 34}
SPARK_WIDTH, SPARK_HEIGHT, SPARK_INSET = 96, 16, 3


def parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@dataclass
class ScoreRow:
    id: str
    label: str
    value: float | None
    min: float
    max: float | None  # None: no upper bound (serum enzymes)
    higher_is_better: bool
    answered: int
    items: int
    reason: str | None
    unit: str | None
    decimals: int
    note: str | None = None  # what else a reader needs: the lab's upper limit, the enzyme, unanswered aids
    detail: bool = False  # a component (subscale, task): in the full report, not the one-page summary
    baseline: float | None = None  # the value at the baseline visit, where this is a later visit
    change: float | None = None  # this visit minus baseline, in the score's units
    improved: bool | None = None  # None: unchanged, or no change to tell


@dataclass
class QuestionnaireSummary:
    id: str
    title: str
    audience: str  # patient | clinician
    version: str | None
    status: str  # completed | in_progress | not_started
    language: str | None  # the language it was filled in
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    filled_by: str | None  # "patient" or a staff username
    scores: list[ScoreRow] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)  # question texts, in the reader's language
    provisional: str | None = None  # why the instrument is not yet verified, in the reader's language


@dataclass
class Chart:
    """Geometry of one trend chart in SVG user units; the template draws it."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    segments: list[str]  # "x,y x,y ..." polylines, broken where a visit has no value
    dots: list[dict[str, Any]]  # x, y, value, current
    x_labels: list[dict[str, Any]]  # x, text
    y_ticks: list[dict[str, Any]]  # y, value
    better_y: float  # y of the better end of the scale, to label it
    tick_decimals: int = 0


@dataclass
class Sparkline:
    """A trend small enough for a table cell: the line over visits, the shown visit marked; no labels to overlap."""

    width: int
    height: int
    segments: list[str]
    dots: list[dict[str, Any]]  # x, y, value, current


@dataclass
class MainScores:
    """One instrument's main scores on the one-page summary (its components are in the full report)."""

    questionnaire: QuestionnaireSummary
    instrument: str  # the short title, in the reader's language
    scores: list[ScoreRow]


@dataclass
class Trend:
    questionnaire: str
    scale: str
    label: str
    min: float
    max: float
    higher_is_better: bool
    unit: str | None
    decimals: int
    points: list[dict[str, Any]]  # visit key, label, value (None if missing), current
    chart: Chart
    detail: bool = False  # a component's trend: its values are in the tables, no chart of its own


@dataclass
class VisitSummary:
    study_code: str
    study: str | None  # study title in the reader's language
    visit_key: str
    visit_label: str
    due: dt.date | None
    filled_from: dt.datetime | None
    filled_to: dt.datetime | None
    questionnaires: list[QuestionnaireSummary]
    trends: list[Trend]
    outcome: Any  # pro_app.outcomes.VisitComparison, None for the baseline visit
    lang: str
    main: list[MainScores] = field(default_factory=list)  # per questionnaire, its main scores
    sparklines: dict[str, Sparkline] = field(default_factory=dict)  # core set measure -> its trend


# --------------------------------------------------------------------------- building blocks


def _filled_by(response: dict[str, Any]) -> str | None:
    actor = response.get("completed_by") or response.get("started_by") or ""
    if actor.startswith("staff:"):
        return actor[len("staff:"):]
    if actor.startswith("patient"):
        return "patient"
    return actor or None


NOTES = {
    "uln": {"en": "upper limit of normal {uln}", "sv": "övre referensgräns {uln}"},
    "unit_missing": {"en": "unit not recorded", "sv": "enhet ej registrerad"},
    "enzyme": {"en": "{enzyme}", "sv": "{enzyme}"},
    "aids_help_unanswered": {"en": "aids/help questions not answered: no category raised for them",
                             "sv": "frågorna om hjälpmedel/hjälp obesvarade: ingen kategori höjd för dem"},
}


def _format(value: float, decimals: int, lang: str) -> str:
    text = display_number(value, decimals)
    return text.replace(".", ",") if lang == "sv" else text


def _note(s: Scale, lang: str) -> str | None:
    """A short note that the value alone does not tell: the lab's limit, the enzyme, unanswered aids."""
    extra = s.extra or {}
    parts = []
    if "uln" in extra and s.value is not None:
        if extra.get("uln") is not None:
            uln = _format(extra["uln"], s.decimals, lang) + (f" {s.unit}" if s.unit else "")
            parts.append(NOTES["uln"][lang].format(uln=uln))
        if extra.get("unit") is None:
            parts.append(NOTES["unit_missing"][lang])
    if extra.get("enzyme_label"):
        parts.append(NOTES["enzyme"][lang].format(enzyme=extra["enzyme_label"][lang]))
    if "unanswered" in (extra.get("aids_help") or {}).values() and s.value is not None:
        parts.append(NOTES["aids_help_unanswered"][lang])
    return "; ".join(parts) or None


def _score_rows(scales: list[Scale], lang: str) -> list[ScoreRow]:
    return [
        ScoreRow(
            id=s.id, label=s.label.get(lang) or s.label.get("en", s.id), value=s.value, min=s.min, max=s.max,
            higher_is_better=s.higher_is_better, answered=s.answered, items=s.items,
            reason=(s.reason or {}).get(lang) if s.value is None else None, unit=s.unit, decimals=s.decimals,
            note=_note(s, lang), detail=s.detail,
        )
        for s in scales
    ]


def _unanswered(q: Questionnaire, answers: dict[str, Any], lang: str) -> list[str]:
    # An empty list is no answer: "none of these" is an explicit option now (see haq.yaml).
    return [q.answer_text(aid, lang) for aid in q.visible_answer_ids(answers) if not is_answered(answers.get(aid))]


def _questionnaire_summary(cat: Catalog, qid: str, response: dict[str, Any] | None, lang: str) -> QuestionnaireSummary | None:
    q = cat.for_response(response) if response else cat.get(qid)
    if q is None:
        return None
    summary = QuestionnaireSummary(
        id=q.id, title=q.title.get(lang), audience=q.audience, version=response["version"] if response else q.version,
        status=response["status"] if response else "not_started", language=response.get("language") if response else None,
        started_at=parse_time(response.get("started_at")) if response else None,
        completed_at=parse_time(response.get("completed_at")) if response else None,
        filled_by=_filled_by(response) if response else None,
        provisional=q.provisional.get(lang) if q.provisional else None,
    )
    if response:
        summary.scores = _score_rows(score(q, response["answers"]), lang)
        summary.unanswered = _unanswered(q, response["answers"], lang)
    return summary


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k times 4 that holds ``value``: an axis top with round ticks."""
    if value <= 0:
        return 1.0
    step = value / 4
    power = 10 ** math.floor(math.log10(step))
    for factor in (1, 2, 2.5, 5, 10):
        if step <= factor * power * (1 + 1e-12):
            return factor * power * 4
    return 10 * power * 4  # pragma: no cover - the loop ends at 10


def _tick_values(lo: float, hi: float) -> tuple[list[float], float]:
    """Round axis labels: multiples of the smallest 1, 2, 2.5 or 5 x 10^k step that makes at most five intervals
    (the SF-36 summary scales run from 1.73 to 76.28: 20, 40, 60 rather than 1.73, 20.37, 39.00...)."""
    step = nice_ceiling((hi - lo) * 4 / 5) / 4
    first = math.ceil(lo / step - 1e-9)
    values = [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]
    if len(values) < 3:  # pragma: no cover - at least 2.5 steps fit in the span, so two multiples always do
        return [lo + (hi - lo) * k / 4 for k in range(5)], (hi - lo) / 4
    return [round(v, 10) for v in values], step


def _polylines(points: list[dict[str, Any]], xy: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The lines through the points (``xy(index, value)`` places one), broken where a visit has no value; the dots."""
    segments: list[str] = []
    run: list[str] = []
    dots = []
    for i, point in enumerate(points):
        if point["value"] is None:
            if len(run) > 1:
                segments.append(" ".join(run))
            run = []
            continue
        x, y = xy(i, point["value"])
        run.append(f"{x},{y}")
        dots.append({"x": x, "y": y, "value": point["value"], "current": point["current"]})
    if len(run) > 1:
        segments.append(" ".join(run))
    return segments, dots


def _chart(points: list[dict[str, Any]], lo: float, hi: float | None, higher_is_better: bool) -> Chart:
    """Chart geometry; a scale without an upper bound (an enzyme) gets an axis that fits its values."""
    m = CHART_MARGIN
    inset = 22  # keep the first and last points (and their labels) clear of the axis
    plot_w = CHART_WIDTH - m["left"] - m["right"] - 2 * inset
    plot_h = CHART_HEIGHT - m["top"] - m["bottom"]
    if hi is None:
        hi = lo + nice_ceiling(max((p["value"] for p in points if p["value"] is not None), default=1.0) - lo)
    span = (hi - lo) or 1.0

    def x_of(i: int) -> float:
        return m["left"] + inset + (plot_w / 2 if len(points) == 1 else plot_w * i / (len(points) - 1))

    def y_of(v: float) -> float:
        v = min(max(v, lo), hi)
        return round(m["top"] + (hi - v) / span * plot_h, 1)

    segments, dots = _polylines(points, lambda i, v: (round(x_of(i), 1), y_of(v)))
    values, step = _tick_values(lo, lo + span)
    ticks = [{"y": y_of(v), "value": v} for v in values]
    decimals = 0 if step == int(step) else 1 if step * 10 == int(step * 10) else 2
    return Chart(
        width=CHART_WIDTH, height=CHART_HEIGHT, left=m["left"], right=CHART_WIDTH - m["right"], top=m["top"],
        bottom=CHART_HEIGHT - m["bottom"], segments=segments, dots=dots,
        x_labels=[{"x": round(x_of(i), 1), "text": p["label"]} for i, p in enumerate(points)],
        y_ticks=ticks, better_y=y_of(hi if higher_is_better else lo), tick_decimals=decimals,
    )


def sparkline(points: list[dict[str, Any]], lo: float, hi: float | None) -> Sparkline:
    """A small line over the visits (higher values higher up), broken where a visit has no value."""
    if hi is None:  # no upper bound (an enzyme): the axis fits the values
        hi = lo + nice_ceiling(max((p["value"] for p in points if p["value"] is not None), default=1.0) - lo)
    span = (hi - lo) or 1.0
    inner_w, inner_h = SPARK_WIDTH - 2 * SPARK_INSET, SPARK_HEIGHT - 2 * SPARK_INSET

    def xy(i: int, v: float) -> tuple[float, float]:
        x = SPARK_INSET + (inner_w / 2 if len(points) == 1 else inner_w * i / (len(points) - 1))
        y = SPARK_INSET + (hi - min(max(v, lo), hi)) / span * inner_h
        return round(x, 1), round(y, 1)

    segments, dots = _polylines(points, xy)
    return Sparkline(SPARK_WIDTH, SPARK_HEIGHT, segments, dots)


def _with_changes(questionnaires: list[QuestionnaireSummary], outcome: Any) -> None:
    """Each score's baseline value and change since baseline, as the response criteria computed them."""
    changes = {(c.questionnaire, c.scale): c for c in (outcome.scales if outcome is not None else [])}
    for qs in questionnaires:
        for score in qs.scores:
            c = changes.get((qs.id, score.id))
            if c is not None:
                score.baseline, score.change, score.improved = c.baseline, c.change, c.improved


def _main_scores(questionnaires: list[QuestionnaireSummary], cat: Catalog, lang: str) -> list[MainScores]:
    """Each instrument's main scores (not its components)."""
    out = []
    for qs in questionnaires:
        q = cat.get(qs.id)
        name = (q.short_title or q.title).get(lang) if q else qs.title
        out.append(MainScores(qs, name, [score for score in qs.scores if not score.detail]))
    return out


def _sparklines(trends: list[Trend], outcome: Any) -> dict[str, Sparkline]:
    """The core set measures' trends, drawn small: the followed enzyme for the enzyme."""
    from .outcomes import CORE_SET_SOURCES

    by_scale = {(t.questionnaire, t.scale): t for t in trends}
    out = {}
    for measure, (qid, sid) in CORE_SET_SOURCES.items():
        if measure == "enzyme":
            sid = getattr(outcome, "enzyme", None) or sid
        trend = by_scale.get((qid, sid))
        if trend is not None:
            out[measure] = sparkline(trend.points, trend.min, trend.max)
    return out


def _trends(cat: Catalog, patient_id: str, visits: list[dict[str, Any]], current_id: str, lang: str) -> list[Trend]:
    """Each score over the patient's visits that have a completed response (and the visit shown)."""
    responses = cat.store.list_responses(patient_id)
    completed: dict[str, dict[str, dict[str, Any]]] = {}
    for r in responses:
        if r["status"] == "completed":
            completed.setdefault(r["visit"], {})[r["questionnaire"]] = r
    shown = [v for v in visits if v["id"] in completed or v["id"] == current_id]
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for index, visit in enumerate(shown):
        for qid, response in completed.get(visit["id"], {}).items():
            q = cat.for_response(response)
            if q is None:
                continue
            for s in score(q, response["answers"]):
                entry = series.setdefault((qid, s.id), {"scale": s, "values": [None] * len(shown)})
                entry["values"][index] = _in_clinic_unit(s)
    trends = []
    for (qid, sid), entry in series.items():
        if sum(v is not None for v in entry["values"]) == 0:
            continue
        s: Scale = entry["scale"]
        points = [
            {"key": v["key"], "label": v["label"].get(lang, v["key"]), "value": entry["values"][i], "current": v["id"] == current_id}
            for i, v in enumerate(shown)
        ]
        q = cat.get(qid)
        title = (q.short_title or q.title).get(lang) if q else qid
        label = s.label.get(lang, s.id)
        unit = _clinic_unit_symbol(s)
        trends.append(Trend(
            questionnaire=qid, scale=sid, label=label if label.startswith(title) else f"{title}: {label}", min=s.min, max=s.max,
            higher_is_better=s.higher_is_better, unit=unit, decimals=s.decimals, points=points,
            chart=_chart(points, s.min, s.max, s.higher_is_better), detail=s.detail,
        ))
    return trends


def _is_lab_value(s: Scale) -> bool:
    return "value_U_L" in (s.extra or {})  # the enzymes scorer's values, which carry their unit


def _in_clinic_unit(s: Scale) -> float | None:
    """A lab value in the clinic's unit (PRO_APP_ENZYME_UNIT), so one trend never mixes µkat/L and U/L."""
    target = clinic_setting("enzyme_unit")
    if s.exact is None or not _is_lab_value(s) or target not in UNITS:
        return s.value
    unit = s.extra.get("unit")
    if unit is None:
        return None  # a value without its unit cannot be placed beside the others
    return float(from_u_per_l(to_u_per_l(s.exact, unit), target))


def _clinic_unit_symbol(s: Scale) -> str | None:
    target = clinic_setting("enzyme_unit")
    return unit_symbol(target) if _is_lab_value(s) and target in UNITS else s.unit


def response_criteria(cat: Catalog, patient_id: str, visit_id: str) -> Any:
    """This visit against baseline: IMACS improvement, ACR/EULAR score, changes; None at baseline."""
    from .outcomes import patient_outcomes

    found = patient_outcomes(cat, patient_id, only_visit=visit_id)
    return found[0] if found else None


# --------------------------------------------------------------------------- the summary


def visit_summary(cat: Catalog, patient_id: str, visit_id: str, lang: str,
                  studies: dict[str, Study] | None = None) -> VisitSummary:
    store = cat.store
    patient = store.get_patient(patient_id)
    visit = store.get_visit(patient_id, visit_id)
    visits = store.list_visits(patient_id)
    by_questionnaire = {r["questionnaire"]: r for r in store.list_responses(patient_id, visit_id)}
    planned = list(visit.get("questionnaires") or []) + list(visit.get("clinician_forms") or [])
    order = planned + [qid for qid in by_questionnaire if qid not in planned]
    questionnaires = [s for qid in order if (s := _questionnaire_summary(cat, qid, by_questionnaire.get(qid), lang))]
    times = [t for s in questionnaires for t in (s.completed_at,) if t]
    study_id = visit.get("study") or patient.get("study")
    study = (studies or {}).get(study_id) if study_id else None
    trends = _trends(cat, patient_id, visits, visit_id, lang)
    outcome = response_criteria(cat, patient_id, visit_id)
    _with_changes(questionnaires, outcome)
    return VisitSummary(
        study_code=patient["study_code"],
        study=study.title.get(lang) if study else None,  # never the study's id
        visit_key=visit["key"],
        visit_label=visit["label"].get(lang, visit["key"]),
        due=dt.date.fromisoformat(visit["due"]) if visit.get("due") else None,
        filled_from=min(times) if times else None,
        filled_to=max(times) if times else None,
        questionnaires=questionnaires,
        trends=trends,
        outcome=outcome,
        lang=lang,
        main=_main_scores(questionnaires, cat, lang),
        sparklines=_sparklines(trends, outcome),
    )
