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

__all__ = ["VisitSummary", "QuestionnaireSummary", "ScoreRow", "Trend", "Chart", "visit_summary",
           "response_criteria", "parse_time"]

CHART_WIDTH = 520
CHART_HEIGHT = 170
CHART_MARGIN = {"left": 52, "right": 16, "top": 14, "bottom": 40}


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
            note=_note(s, lang),
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


def _chart(points: list[dict[str, Any]], lo: float, hi: float | None, higher_is_better: bool) -> Chart:
    """Chart geometry; a scale without an upper bound (an enzyme) gets an axis that fits its values."""
    m = CHART_MARGIN
    inset = 24  # keep the first and last points (and their labels) clear of the axis
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

    segments: list[str] = []
    current: list[str] = []
    dots = []
    for i, point in enumerate(points):
        if point["value"] is None:
            if len(current) > 1:
                segments.append(" ".join(current))
            current = []
            continue
        x, y = round(x_of(i), 1), y_of(point["value"])
        current.append(f"{x},{y}")
        dots.append({"x": x, "y": y, "value": point["value"], "current": point["current"]})
    if len(current) > 1:
        segments.append(" ".join(current))
    ticks = [{"y": y_of(lo + span * k / 4), "value": lo + span * k / 4} for k in range(5)]
    step = span / 4
    decimals = 0 if step == int(step) else 1 if step * 10 == int(step * 10) else 2
    return Chart(
        width=CHART_WIDTH, height=CHART_HEIGHT, left=m["left"], right=CHART_WIDTH - m["right"], top=m["top"],
        bottom=CHART_HEIGHT - m["bottom"], segments=segments, dots=dots,
        x_labels=[{"x": round(x_of(i), 1), "text": p["label"]} for i, p in enumerate(points)],
        y_ticks=ticks, better_y=y_of(hi if higher_is_better else lo), tick_decimals=decimals,
    )


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
            questionnaire=qid, scale=sid, label=label if label == title else f"{title}: {label}", min=s.min, max=s.max,
            higher_is_better=s.higher_is_better, unit=unit, decimals=s.decimals, points=points,
            chart=_chart(points, s.min, s.max, s.higher_is_better),
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
    return VisitSummary(
        study_code=patient["study_code"],
        study=study.title.get(lang) if study else study_id,
        visit_key=visit["key"],
        visit_label=visit["label"].get(lang, visit["key"]),
        due=dt.date.fromisoformat(visit["due"]) if visit.get("due") else None,
        filled_from=min(times) if times else None,
        filled_to=max(times) if times else None,
        questionnaires=questionnaires,
        trends=_trends(cat, patient_id, visits, visit_id, lang),
        outcome=response_criteria(cat, patient_id, visit_id),
        lang=lang,
    )
