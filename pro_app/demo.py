"""Demo data: staff accounts and a patient with a pending visit, so the tablet flow can be tried at once.

With ``history`` the demo patient has also been seen: the first visits of the study are filled in
(every questionnaire and clinician form, improving from visit to visit), so the scored summary,
the response criteria and the trends have something to show.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask

from .auth import hash_password
from .definitions import Grid, MultipleChoice, Numeric, SingleChoice, VisualAnalogueScale, WithOptions, YesNo
from .studies import enroll

__all__ = ["seed_demo", "fill_visit", "DEMO_USERS", "DEMO_PATIENT"]

DEMO_USERS = {
    "nurse": ("demo-nurse", "nurse"),
    "doctor": ("demo-doctor", "physician"),
    "admin": ("demo-admin", "admin"),
}
DEMO_PATIENT = "DEMO-001"
DEMO_STUDY = "anakinra"


def seed_demo(app: Flask, history: int = 0) -> list[str]:
    """Create what is missing (idempotent); return lines that tell how to log in.

    ``history``: how many of the study's visits the demo patient has already done (0: none, the
    baseline is due today). With history the baseline lies in the past so that the next visit is due today.
    """
    catalog = app.extensions["pro_app"]
    store = catalog.store
    for username, (password, role) in DEMO_USERS.items():
        if store.get_user(username) is None:
            store.create_user(username, hash_password(password), role, "demo")
    study = app.extensions.get("pro_app.studies", {}).get(DEMO_STUDY)
    patient = store.find_patient(DEMO_PATIENT) or store.create_patient(
        DEMO_PATIENT, "demo", study=study.id if study else "demo")
    if not store.list_visits(patient["id"]) and study is not None:
        # Baseline today: the demo patient's first visit is due now, the others follow the study's schedule.
        # With history, the visit after the last one done is due today.
        baseline = dt.date.today()
        if 0 < history < len(study.visits):
            offset = study.visits[history].offset
            baseline = _months_before(baseline, offset.months) - dt.timedelta(days=offset.days)
        enroll(store, patient["id"], study, baseline, "demo")
    if not store.list_visits(patient["id"]):
        patient_forms = [q.id for q in catalog.for_audience("patient")]
        clinician_forms = [q.id for q in catalog.for_audience("clinician")]
        store.add_visit(patient["id"], "demo", key="baseline", label={"sv": "Baslinje", "en": "Baseline"},
                        questionnaires=sorted(patient_forms, key=_order), clinician_forms=clinician_forms)
    visits = store.list_visits(patient["id"])
    done = {r["visit"] for r in store.list_responses(patient["id"]) if r["status"] == "completed"}
    for index, visit in enumerate(visits[:history]):
        if visit["id"] not in done:
            fill_visit(app, patient["id"], visit, severity=max(0.15, 0.6 - 0.25 * index))
    pending = next((v for v in visits if v["id"] not in done and visits.index(v) >= history), None)
    label = pending["label"]["en"] if pending else "no"
    lines = [f"Demo patient {DEMO_PATIENT} has a pending {label.lower()} visit."]
    lines += [f"Staff login: {u} / {p} ({r})" for u, (p, r) in DEMO_USERS.items()]
    return lines


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def _order(qid: str) -> tuple[int, str]:
    # The usual order in clinic: global assessment first, then the longer forms.
    preferred = ["patient_global", "haq", "map", "sf36"]
    return (preferred.index(qid) if qid in preferred else len(preferred), qid)


# CK in µkat/L at severity 0.6 (falling with it towards normal), and the lab's upper limit of normal.
CK_AT_BASELINE, CK_ULN = 12.0, 3.3


def _value(q: Any, item: Any, severity: float, salt: int) -> Any:
    """A plausible answer: ``severity`` 0 (none) to 1 (worst), with a little variation per item."""
    wobble = ((salt * 37) % 7 - 3) / 30  # -0.1 .. +0.1, the same for the same item every time
    s = min(1.0, max(0.0, severity + wobble))
    if isinstance(item, VisualAnalogueScale):
        return round(100 * s, 1)
    if isinstance(item, MultipleChoice):
        return [item.none_option.code] if item.none_option else []
    if isinstance(item, YesNo):
        return 0
    if isinstance(item, (SingleChoice, WithOptions)):
        options = item.option_list(q)
        return options[round(s * (len(options) - 1))].code
    if isinstance(item, Numeric):
        if item.id == "CK":
            return round(CK_AT_BASELINE * severity / 0.6, 2)
        if item.id == "CK_ULN":
            return CK_ULN
        if item.id.endswith("_ULN") or item.id in ("aldolase", "LD", "AST", "ALT"):
            return None  # not measured
        # Strength and repetitions, higher is better: weak but not paralysed.
        return round(item.min + (1 - s / 2) * (item.max - item.min))
    return None


def fill_visit(app: Flask, patient_id: str, visit: dict[str, Any], severity: float) -> None:
    """Every questionnaire and clinician form of the visit answered and completed, as the tablet and staff would."""
    catalog = app.extensions["pro_app"]
    store = catalog.store
    for qid in list(visit.get("questionnaires") or []) + list(visit.get("clinician_forms") or []):
        q = catalog.get(qid)
        if q is None:
            continue
        actor = "patient:tablet(handed over by staff:nurse)" if q.audience == "patient" else "staff:doctor"
        answers: dict[str, Any] = {}
        for salt, item in enumerate(q.items()):
            if item.show_if is not None:
                continue  # follow-up questions stay hidden: the answers above do not ask for them
            if isinstance(item, Grid):
                options = item.option_list(q)
                for k, row in enumerate(item.rows):
                    wobble = ((salt + k) * 37 % 7 - 3) / 30
                    s = min(1.0, max(0.0, severity + wobble))
                    answers[row.id] = options[round(s * (len(options) - 1))].code
            elif item.type == "date":
                answers[item.id] = visit.get("due") or dt.date.today().isoformat()
            elif (value := _value(q, item, severity, salt)) is not None:
                answers[item.id] = value
        for item in q.items():  # follow-ups of what was answered (an enzyme's unit and upper limit)
            if item.show_if is not None and item.show_if.holds(answers) and item.id not in answers:
                if item.id.endswith("_unit"):
                    answers[item.id] = "ukat_L"
                elif (value := _value(q, item, severity, 0)) is not None:
                    answers[item.id] = value
        response = store.start_response(patient_id, visit["id"], q, actor, "sv")
        visible = set(q.visible_answer_ids(answers))
        store.save_answers(patient_id, response["id"], actor, {k: v for k, v in answers.items() if k in visible},
                           language="sv")
        store.complete_response(patient_id, response["id"], actor)
