"""Study visit schedules: ``studies/<id>.yaml`` -> typed, validated models, and enrolment.

A study lists its visits (baseline, 1, 3, 6, 12 months ...), each with an offset from the
baseline date and the questionnaires (patient) and clinician forms due at it. Files are
parsed and validated like the questionnaires (``file:line: where: what``). A questionnaire
id a study names that is not loaded, or that belongs to the other audience, is a warning:
the visit is planned without it, so a study can name instruments still being written.
"""
from __future__ import annotations

import calendar
import datetime as dt
import logging
from pathlib import Path
from typing import Annotated, Any

from flask import current_app
from pydantic import Field

from .definitions import (
    ID_PATTERN,
    DefinitionError,
    DefinitionErrors,
    Questionnaire,
    Strict,
    Text,
    _line_for,
    _where,
    parse_model,
    read_text,
)

__all__ = ["Study", "VisitPlan", "Offset", "load_study_text", "load_study_file", "load_studies", "enroll",
           "due_date", "studies", "study_of", "missing_visits"]

log = logging.getLogger(__name__)


class Offset(Strict):
    """Time from the baseline date: months are calendar months (31 Jan + 1 month = 28/29 Feb)."""

    months: Annotated[int, Field(ge=0, le=240)] = 0
    days: Annotated[int, Field(ge=0, le=7300)] = 0


class VisitPlan(Strict):
    key: Annotated[str, Field(pattern=ID_PATTERN, max_length=40)]
    label: Text
    offset: Offset
    # Days either side of the due date within which the visit counts as on time.
    window_days: Annotated[int, Field(ge=0, le=365)] | None = None
    questionnaires: list[Annotated[str, Field(pattern=ID_PATTERN)]] = []
    clinician_forms: list[Annotated[str, Field(pattern=ID_PATTERN)]] = []


class Study(Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    title: Text
    description: Text | None = None
    visits: Annotated[list[VisitPlan], Field(min_length=1)]

    source_file: str = Field(default="", exclude=True)

    def visit(self, key: str) -> VisitPlan | None:
        return next((v for v in self.visits if v.key == key), None)


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(baseline: dt.date, offset: Offset) -> dt.date:
    return _add_months(baseline, offset.months) + dt.timedelta(days=offset.days)


def _cross_checks(study: Study, file: str, lines: dict) -> list[DefinitionError]:
    errors: list[DefinitionError] = []
    seen: dict[str, int] = {}
    previous: tuple[int, int] | None = None
    for index, visit in enumerate(study.visits):
        path = ("visits", index)
        if visit.key in seen:
            errors.append(DefinitionError(file, _line_for(path + ("key",), lines), _where(path + ("key",)),
                                          f"visit key '{visit.key}' is also used by visits[{seen[visit.key]}]"))
        seen.setdefault(visit.key, index)
        # Compare on a common scale: a month as 30 days is enough to catch a schedule out of order.
        order = (visit.offset.months * 30 + visit.offset.days, index)
        if previous is not None and order[0] < previous[0]:
            errors.append(DefinitionError(file, _line_for(path + ("offset",), lines), _where(path + ("offset",)),
                                          f"visit '{visit.key}' comes before visits[{previous[1]}] in time: list visits in order"))
        previous = order
        for field in ("questionnaires", "clinician_forms"):
            ids = getattr(visit, field)
            for dup in sorted({i for i in ids if ids.count(i) > 1}):
                errors.append(DefinitionError(file, _line_for(path + (field,), lines), _where(path + (field,)),
                                              f"'{dup}' is listed more than once"))
    return errors


def _check_against(study: Study, file: str, lines: dict,
                   questionnaires: dict[str, Questionnaire]) -> tuple[Study, list[DefinitionError]]:
    """Drop ids that are not loaded or belong to the other audience; one warning per id, at its first line."""
    problems: dict[str, tuple[tuple, str, list[str]]] = {}
    visits = []
    wanted = {"questionnaires": "patient", "clinician_forms": "clinician"}
    for index, visit in enumerate(study.visits):
        kept: dict[str, list[str]] = {}
        for field, audience in wanted.items():
            kept[field] = []
            for pos, qid in enumerate(getattr(visit, field)):
                q = questionnaires.get(qid)
                if q is None:
                    message = f"questionnaire '{qid}' is not loaded: skipped"
                elif q.audience != audience:
                    message = f"'{qid}' is a {q.audience} questionnaire, not one for {field}: skipped"
                else:
                    kept[field].append(qid)
                    continue
                path, _msg, keys = problems.setdefault(f"{field}:{qid}", (("visits", index, field, pos), message, []))
                keys.append(visit.key)
        visits.append(visit.model_copy(update=kept))
    warnings = [
        DefinitionError(file, _line_for(path, lines), _where(path), f"{message} (visits {', '.join(keys)})")
        for path, message, keys in problems.values()
    ]
    return study.model_copy(update={"visits": visits}), warnings


def load_study_text(text: str, file: str = "<string>", questionnaires: dict[str, Questionnaire] | None = None
                    ) -> tuple[Study, list[DefinitionError]]:
    """A validated study and its warnings; DefinitionErrors when the file is invalid."""
    study, _data, lines = parse_model(text, file, Study, "study")
    errors = _cross_checks(study, file, lines)
    if errors:
        raise DefinitionErrors(errors)
    study = study.model_copy(update={"source_file": file})
    if questionnaires is None:
        return study, []
    return _check_against(study, file, lines, questionnaires)


def load_study_file(path: str | Path, questionnaires: dict[str, Questionnaire] | None = None
                    ) -> tuple[Study, list[DefinitionError]]:
    return load_study_text(read_text(Path(path)), str(path), questionnaires)


def load_studies(folder: str | Path, questionnaires: dict[str, Questionnaire] | None = None
                 ) -> tuple[dict[str, Study], list[DefinitionError]]:
    """Every study in a folder (none if it does not exist) and the warnings; DefinitionErrors for any bad file."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}, []
    found: dict[str, Study] = {}
    errors: list[DefinitionError] = []
    warnings: list[DefinitionError] = []
    for file in sorted(list(folder.glob("*.yaml")) + list(folder.glob("*.yml"))):
        try:
            study, file_warnings = load_study_file(file, questionnaires)
        except DefinitionErrors as exc:
            errors.extend(exc.errors)
            continue
        if study.id in found:
            errors.append(DefinitionError(str(file), 1, "id", f"study id '{study.id}' is also used by {found[study.id].source_file}"))
            continue
        found[study.id] = study
        warnings.extend(file_warnings)
    if errors:
        raise DefinitionErrors(errors)
    return found, warnings


# --------------------------------------------------------------------------- enrolment


def enroll(store: Any, patient_id: str, study: Study, baseline: dt.date, actor: str) -> list[dict[str, Any]]:
    """Create the study's visits for a patient with their due dates, in one transaction: the whole
    schedule or nothing. Visits that exist are left alone, so enrolling again completes a schedule."""
    plans = [
        # The schedule a visit came from, so summaries and exports can name the study.
        dict(key=plan.key, label=plan.label.model_dump(), questionnaires=plan.questionnaires,
             clinician_forms=plan.clinician_forms, due=due_date(baseline, plan.offset).isoformat(),
             study=study.id, window_days=plan.window_days)
        for plan in study.visits
    ]
    return store.add_visits(patient_id, actor, plans)


def missing_visits(study: Study, visits: list[dict[str, Any]]) -> list[str]:
    """Keys of the study's planned visits that the patient does not have yet."""
    have = {v["key"] for v in visits}
    return [plan.key for plan in study.visits if plan.key not in have]


def studies() -> dict[str, Study]:
    return current_app.extensions.get("pro_app.studies", {})


def study_of(visits: list[dict[str, Any]]) -> str | None:
    """The study a patient is enrolled in, read from its visits."""
    return next((v["study"] for v in visits if v.get("study")), None)
