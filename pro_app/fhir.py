"""HL7 FHIR R4 (4.0.1) export of every patient's answers and scores, for hospital systems.

What a receiving system gets (docs/exports.md, "FHIR", says it for people):

* one ``Questionnaire`` per instrument and version (id ``haq-1.1``, ``url`` + ``version``), with
  what the tablet shows: instructions, page titles and intros (the HAQ's "Kan du" stem) and help
  texts as ``display`` items, numeric and VAS bounds (``minValue``/``maxValue``), units (SDC
  ``questionnaire-unit``, UCUM), a VAS as a slider with its anchors, skip logic as ``enableWhen``;
* a ``Patient`` per patient (the pseudonymous study code only), an ``Encounter`` per visit, a
  ``Practitioner`` (display name only) per staff member who answered a form;
* a ``QuestionnaireResponse`` per response (``questionnaire`` = ``url|version``, ``encounter``,
  ``author``/``source``: the patient on the tablet or the staff member who entered it);
* an ``Observation`` per score: LOINC where a code exists (sources in docs/exports.md), the local
  code beside it, UCUM units, category ``survey`` (``laboratory`` for serum enzymes), the scale's
  range in an extension (``referenceRange`` only for a lab's upper limit of normal).

No element is an empty array and an absent answer is no element; "none of these" is a coding.
Delivered as a ``transaction`` Bundle (PUT with ids: exporting twice updates, never duplicates)
or as bulk NDJSON, one file per resource type; ``since`` limits either to responses changed since.
The responses come from ``export.records`` (scored, hidden answers already left out), one
patient at a time, so memory stays bounded however many responses there are.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .catalog import Catalog
from .definitions import Grid, Questionnaire
from .export import CHUNK, ResponseRecord, _by_patient, _spooled, records
from .scoring import Scale

__all__ = ["fhir_questionnaire", "fhir_questionnaire_response", "fhir_bundle", "bundle_chunks", "write_ndjson",
           "ndjson_zip_chunks",
           "answers_from_response", "questionnaire_id", "canonical", "parse_since", "FORMATS", "CANONICAL",
           "RESOURCE_TYPES"]

FORMATS = ("fhir", "fhir-ndjson")
CANONICAL = "urn:pro-app:questionnaire:"
# Where the ids of a transaction's entries live until the receiving server names its own base (fullUrl only).
DEFAULT_BASE = "http://pro-app.invalid/fhir"
STUDY_CODE_SYSTEM = "urn:pro-app:study-code"
VISIT_SYSTEM = "urn:pro-app:visit"
RESPONSE_SYSTEM = "urn:pro-app:response"
DEFINITION_HASH_SYSTEM = "urn:pro-app:definition-hash"
# pro-app's own extensions (documented in docs/exports.md).
SCALE_RANGE = "urn:pro-app:fhir:StructureDefinition:scale-range"
HIGHER_IS_BETTER = "urn:pro-app:fhir:StructureDefinition:higher-is-better"
# Core and SDC extensions (FHIR R4 4.0.1 extension registry).
CORE = "http://hl7.org/fhir/StructureDefinition/"
OPTION_EXCLUSIVE = CORE + "questionnaire-optionExclusive"
MIN_VALUE = CORE + "minValue"
MAX_VALUE = CORE + "maxValue"
UNIT = CORE + "questionnaire-unit"
ITEM_CONTROL = CORE + "questionnaire-itemControl"
SLIDER_STEP = CORE + "questionnaire-sliderStepValue"
ENTRY_FORMAT = CORE + "entryFormat"
ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# Order of the NDJSON files and of a bundle's entries: what others refer to comes first.
RESOURCE_TYPES = ("Questionnaire", "Patient", "Practitioner", "Encounter", "QuestionnaireResponse", "Observation")

# Units as the tablet and summaries write them -> UCUM code (None: an annotation-only unit).
UCUM_CODES = {"mm": "mm", "cm": "cm", "%": "%", "U/L": "U/L", "µkat/L": "ukat/L", "reps": "{repetitions}",
              "kg": "kg", "s": "s"}
LAB_UNITS = {"U/L", "ukat/L"}
# LOINC codes, each from a published list (docs/exports.md names the source of every one).
QUESTIONNAIRE_LOINC = {"haq": ("71950-0", "Health Assessment Questionnaire [HAQ]")}
# Serum enzymes: the codes laboratories' catalogues publish for them (catalytic activity, so U/L and
# µkat/L alike); no display is given where the source did not print LOINC's own name.
SCALE_LOINC: dict[tuple[str, str], tuple[str, str | None]] = {
    ("haq", "HAQ_DI"): ("75874-8", "Total score [HAQ-DI]"),
    ("enzymes", "CK"): ("2157-6", None),
    ("enzymes", "aldolase"): ("1761-6", None),
    ("enzymes", "LD"): ("14804-9", None),
    ("enzymes", "AST"): ("1920-8", None),
    ("enzymes", "ALT"): ("1742-6", None),
}


def _fhir_id(text: str) -> str:
    # FHIR ids allow letters, digits, '-' and '.' only (at most 64).
    return "".join(c if c.isalnum() and c.isascii() or c in "-." else "-" for c in text)[:64]


def _url(q: Questionnaire) -> str:
    return CANONICAL + q.id


def questionnaire_id(q: Questionnaire) -> str:
    """The resource id of one version of an instrument: ``haq-1.1``."""
    return _fhir_id(f"{q.id}-{q.version}")


def canonical(q: Questionnaire, version: str | None = None) -> str:
    """The versioned canonical reference a response points at: ``urn:pro-app:questionnaire:haq|1.1``."""
    return f"{_url(q)}|{version or q.version}"


def _compact(value: Any) -> Any:
    """The resource without empty arrays, empty objects or None: FHIR JSON allows none of them."""
    if isinstance(value, dict):
        out = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [v for v in (_compact(v) for v in value) if v not in (None, [], {}, "")]
    return value


def _ucum(unit: str | None) -> dict[str, Any]:
    """A Quantity's or Coding's unit: UCUM system and code where the unit has one, its text always."""
    if not unit:
        return {}
    code = UCUM_CODES.get(unit)
    return {"unit": unit, "system": UCUM, "code": code} if code else {"unit": unit}


def _control(code: str) -> dict[str, Any]:
    return {"url": ITEM_CONTROL, "valueCodeableConcept": {"coding": [{"system": ITEM_CONTROL_SYSTEM, "code": code}]}}


def _coding(q: Questionnaire, option: Any, lang: str) -> dict[str, Any]:
    return {"system": _url(q), "code": str(option.code), "display": option.text.get(lang)}


def _item_type(item: Any) -> str:
    return {
        "single": "choice", "yesno": "choice", "multiple": "choice", "nrs": "integer", "vas": "decimal",
        "date": "date", "grid": "choice",
    }.get(item.type) or (
        ("decimal" if item.decimals else "integer") if item.type == "numeric"
        else ("text" if getattr(item, "multiline", False) else "string")
    )


def _number(kind: str, value: Any) -> dict[str, Any]:
    return {"valueInteger": int(value)} if kind == "integer" else {"valueDecimal": float(value)}


def _display(link_id: str, text: str, control: str | None = None) -> dict[str, Any]:
    return {"linkId": link_id, "text": text, "type": "display", "extension": [_control(control)] if control else None}


def _question(q: Questionnaire, answer_id: str, item: Any, lang: str) -> dict[str, Any]:
    """One question as the tablet asks it, with the constraints a renderer enforces."""
    kind = _item_type(item)
    out: dict[str, Any] = {"linkId": answer_id, "text": q.answer_text(answer_id, lang), "type": kind}
    extensions: list[dict[str, Any]] = []
    children: list[dict[str, Any]] = []
    if item.required:
        out["required"] = True
    if item.type == "multiple":
        out["repeats"] = True
    options = q.options_for(answer_id)
    if options is not None:
        out["answerOption"] = [{"valueCoding": _coding(q, o, lang)} for o in options]
        none = getattr(item, "none_option", None)
        if none is not None:  # "none of these" excludes every other answer
            out["answerOption"][-1]["extension"] = [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]
        # Every option in view, as on the tablet: radio buttons, or check boxes for several answers.
        extensions.append(_control("check-box" if item.type == "multiple" else "radio-button"))
    if item.type in ("numeric", "nrs", "vas"):
        low, high = (0, 100) if item.type == "vas" else (item.min, item.max)
        extensions += [{"url": MIN_VALUE, **_number(kind, low)}, {"url": MAX_VALUE, **_number(kind, high)}]
        unit = "mm" if item.type == "vas" else getattr(item, "unit", None)
        if unit:
            extensions.append({"url": UNIT, "valueCoding": {k: v for k, v in _ucum(unit).items() if k != "unit"}
                               | {"display": unit}})
    if item.type in ("vas", "nrs"):
        # The line's ends as the tablet labels them: SDC's lower/upper display items, and as the
        # entry format for renderers (LHC-Forms) that show neither a slider nor those labels.
        low_text, high_text = item.anchors.min.get(lang), item.anchors.max.get(lang)
        if item.type == "vas":
            extensions += [_control("slider"), {"url": SLIDER_STEP, "valueInteger": 1}]
        lo, hi = (0, 100) if item.type == "vas" else (item.min, item.max)
        extensions.append({"url": ENTRY_FORMAT, "valueString": f"{lo} = {low_text} … {hi} = {high_text}"})
        children += [_display(f"{answer_id}-lower", low_text, "lower"), _display(f"{answer_id}-upper", high_text, "upper")]
    if item.type == "text":
        out["maxLength"] = item.max_length
    if item.help is not None and not isinstance(item, Grid):
        children.append(_display(f"{answer_id}-help", item.help.get(lang), "help"))
    out["extension"] = extensions
    out["item"] = children
    return out


def _answer_value(q: Questionnaire, item_id: str, value: Any) -> dict[str, Any]:
    """An enableWhen answer[x] of the type of the question it tests."""
    item = q.item_for_answer(item_id)
    if q.options_for(item_id) is not None:
        return {"answerCoding": {"system": _url(q), "code": str(value)}}
    kind = _item_type(item)
    if kind == "integer":
        return {"answerInteger": int(value)}
    if kind == "decimal":
        return {"answerDecimal": float(value)}
    if kind == "date":
        return {"answerDate": str(value)}
    return {"answerString": str(value)}


def _bound(q: Questionnaire, item_id: str, operator: str, bound: float) -> dict[str, Any]:
    # An integer question compares with an integer: >= 2.5 is >= 3, <= 2.5 is <= 2.
    if _item_type(q.item_for_answer(item_id)) == "integer":
        return {"answerInteger": math.ceil(bound) if operator == ">=" else math.floor(bound)}
    return {"answerDecimal": float(bound)}


def _enable_when(q: Questionnaire, cond: Any) -> dict[str, Any] | None:
    """Skip logic as FHIR enableWhen and enableBehavior, where FHIR can say it (one level deep)."""

    def tests(c: Any) -> tuple[list[dict[str, Any]], str] | None:
        if c.all is not None or c.any is not None:
            return None
        if c.answered is not None:
            return [{"question": c.item, "operator": "exists", "answerBoolean": c.answered}], "all"
        if c.equals is not None:
            return [{"question": c.item, "operator": "=", **_answer_value(q, c.item, c.equals)}], "all"
        if c.in_ is not None:
            return [{"question": c.item, "operator": "=", **_answer_value(q, c.item, v)} for v in c.in_], "any"
        if c.not_in is not None:
            # FHIR's != holds for an unanswered question; pro-app's not_in needs an answer.
            return [{"question": c.item, "operator": "exists", "answerBoolean": True}] + [
                {"question": c.item, "operator": "!=", **_answer_value(q, c.item, v)} for v in c.not_in], "all"
        operator, bound = (">=", c.gte) if c.gte is not None else ("<=", c.lte)
        return [{"question": c.item, "operator": operator, **_bound(q, c.item, operator, bound)}], "all"

    groups = cond.all if cond.all is not None else cond.any if cond.any is not None else None
    if groups is None:
        found = tests(cond)
    else:
        behaviour = "all" if cond.all is not None else "any"
        parts = [tests(c) for c in groups]
        # Nested groups, or an 'in' inside 'all', need more than one enableBehavior: not expressible.
        if any(p is None or (len(p[0]) > 1 and p[1] != behaviour) for p in parts):
            return None
        found = ([w for p in parts for w in p[0]], behaviour)
    if found is None:
        return None
    when, behaviour = found
    return {"enableWhen": when, **({"enableBehavior": behaviour} if len(when) > 1 else {})}


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fhirpath(q: Questionnaire, cond: Any) -> str:
    """A condition as FHIRPath over the response being filled in (%resource), with pro-app's meaning:
    a test on an unanswered question is false (except ``answered: false``)."""
    if cond.all is not None or cond.any is not None:
        joined = " and " if cond.all is not None else " or "
        return "(" + joined.join(_fhirpath(q, c) for c in (cond.all or cond.any)) + ")"
    answers = f"%resource.repeat(item).where(linkId = {_literal(cond.item)}).answer"
    if cond.answered is not None:
        return f"{answers}.exists()" if cond.answered else f"{answers}.empty()"
    coded = q.options_for(cond.item) is not None
    value = f"{answers}.value" + (".code" if coded else "")

    def typed(v: Any) -> str:
        return _literal(str(v)) if coded else _literal(float(v) if isinstance(v, float) else v)

    if cond.equals is not None:
        return f"{value}.where($this = {typed(cond.equals)}).exists()"
    if cond.in_ is not None:
        return f"{value}.where({' or '.join(f'$this = {typed(v)}' for v in cond.in_)}).exists()"
    if cond.not_in is not None:
        return f"({answers}.exists() and {value}.where({' or '.join(f'$this = {typed(v)}' for v in cond.not_in)}).empty())"
    operator, bound = (">=", cond.gte) if cond.gte is not None else ("<=", cond.lte)
    return f"{value}.first() {operator} {_literal(float(bound))}"


def fhir_questionnaire(q: Questionnaire, lang: str = "sv") -> dict[str, Any]:
    """The instrument as a FHIR R4 Questionnaire, laid out as the tablet shows it.

    One group per page (its heading as the tablet's: the page title, else the questionnaire's short
    title), the instructions and the page's intro as display items before its questions, grids as
    groups of rows, help texts as help display items. Skip logic becomes enableWhen where FHIR can
    express it (a test, or one all/any of tests), else SDC's enableWhenExpression in FHIRPath.
    """

    def with_skip_logic(out: dict[str, Any], cond: Any) -> dict[str, Any]:
        if cond is None:
            return out
        if rule := _enable_when(q, cond):
            out.update(rule)
        else:  # nested all/any: SDC's enableWhenExpression in FHIRPath says it
            out.setdefault("extension", []).append({"url": ENABLE_WHEN_EXPRESSION, "valueExpression": {
                "language": "text/fhirpath", "expression": _fhirpath(q, cond)}})
        return out

    pages = []
    for n, page in enumerate(q.pages):
        items: list[dict[str, Any]] = []
        if n == 0 and q.instructions:
            items.append(_display("instructions", q.instructions.get(lang)))
        if page.intro:
            items.append(_display(f"page-{page.id}-intro", page.intro.get(lang)))
        for item in page.items:
            if item.type == "grid":
                rows = [_question(q, row.id, item, lang) for row in item.rows]
                if item.help is not None:
                    rows.insert(0, _display(f"{item.id}-help", item.help.get(lang), "help"))
                entry = {"linkId": item.id, "text": item.text.get(lang), "type": "group", "item": rows}
            else:
                entry = _question(q, item.id, item, lang)
            items.append(with_skip_logic(entry, item.show_if))
        heading = page.title or q.short_title or q.title
        pages.append(with_skip_logic({"linkId": f"page-{page.id}", "type": "group", "text": heading.get(lang),
                                      "item": items}, page.show_if))
    code = QUESTIONNAIRE_LOINC.get(q.id)
    return _compact({
        "resourceType": "Questionnaire", "id": questionnaire_id(q), "url": _url(q), "version": q.version,
        # A computable name (que-0: an upper-case letter, then letters, digits and '_'): PatientGlobal.
        "name": "Q" * (not q.id[:1].isalpha()) + "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", q.id) if p),
        "title": q.title.get(lang), "status": "draft" if q.provisional else "active",
        "purpose": q.provisional.get(lang) if q.provisional else None,
        "language": lang, "subjectType": ["Patient"],
        "description": q.source, "copyright": q.license.get(lang),
        "code": [{"system": LOINC, "code": code[0], "display": code[1]}] if code else None,
        "identifier": [{"system": DEFINITION_HASH_SYSTEM, "value": q.definition_hash}] if q.definition_hash else None,
        "item": pages,
    })


# --------------------------------------------------------------------------- who, where: Patient, Encounter, Practitioner


def _patient_id(rec: ResponseRecord) -> str:
    return _fhir_id(rec.response["patient"])


def _encounter_id(rec: ResponseRecord) -> str:
    return _fhir_id(rec.response["visit"])


def _patient(rec: ResponseRecord) -> dict[str, Any]:
    # Pseudonymous: the study code is all a receiving system learns of the person.
    return {"resourceType": "Patient", "id": _patient_id(rec),
            "identifier": [{"system": STUDY_CODE_SYSTEM, "value": rec.study_code}]}


def _encounter(recs: list[ResponseRecord], lang: str, labels: dict[str, str] | None) -> dict[str, Any]:
    """A visit as an ambulatory Encounter: finished when every response of the visit is completed."""
    first = recs[0]
    label = labels.get(lang) if labels else None
    done = all(r.response["status"] == "completed" for r in recs)
    started = min(r.response["started_at"] for r in recs)
    ended = max((r.response.get("completed_at") or "" for r in recs), default="") if done else None
    return _compact({
        "resourceType": "Encounter", "id": _encounter_id(first),
        "identifier": [{"system": VISIT_SYSTEM, "value": first.visit}],
        "status": "finished" if done else "in-progress",
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "type": [{"text": label}] if label else None,
        "subject": {"reference": f"Patient/{_patient_id(first)}"},
        "period": {"start": started, "end": ended or None},
    })


def _answered_by(actor: str | None) -> tuple[str, str | None]:
    """('patient', None), ('staff', username) or ('unknown', None) from a stored actor."""
    if not actor:
        return "unknown", None
    if actor.startswith("patient:"):
        return "patient", None
    if actor.startswith("staff:"):
        return "staff", actor.removeprefix("staff:")
    return "unknown", None


class _Staff:
    """Practitioners by username, looked up once per export; only their display name leaves pro-app."""

    def __init__(self, store: Any):
        self._store = store
        self._found: dict[str, dict[str, Any] | None] = {}

    def practitioner(self, username: str) -> dict[str, Any] | None:
        if username not in self._found:
            user = self._store.get_user(username)
            self._found[username] = None if user is None else {
                "resourceType": "Practitioner", "id": _fhir_id(user["id"]),
                "name": [{"text": user.get("display_name") or username}],
            }
        return self._found[username]


# --------------------------------------------------------------------------- responses and scores


def _answers(q: Questionnaire, answer_id: str, item: Any, value: Any, lang: str) -> list[dict[str, Any]]:
    values = value if isinstance(value, list) else [value]
    options = q.options_for(answer_id)
    if options is not None:
        by_code = {str(o.code): o for o in options}
        return [{"valueCoding": _coding(q, by_code[str(v)], lang)} for v in values if str(v) in by_code]
    kind = _item_type(item)
    key = {"integer": "valueInteger", "decimal": "valueDecimal", "date": "valueDate"}.get(kind, "valueString")
    cast = {"valueInteger": int, "valueDecimal": float}.get(key, str)
    return [{key: cast(v)} for v in values if v is not None and v != ""]


def fhir_questionnaire_response(rec: ResponseRecord, lang: str = "sv", author: dict[str, Any] | None = None
                                ) -> dict[str, Any]:
    """A response, its items grouped as the Questionnaire's; an unanswered item is no element."""
    q, r = rec.questionnaire, rec.response

    def answered(answer_id: str, item: Any) -> dict[str, Any] | None:
        value = r["answers"].get(answer_id)
        if value is None or value == [] or value == "":
            return None
        found = _answers(q, answer_id, item, value, lang)
        return {"linkId": answer_id, "text": q.answer_text(answer_id, lang), "answer": found} if found else None

    pages = []
    for page in q.pages:
        items = []
        for item in page.items:
            if item.type == "grid":
                rows = [a for row in item.rows if (a := answered(row.id, item))]
                if rows:
                    items.append({"linkId": item.id, "text": item.text.get(lang), "item": rows})
            elif found := answered(item.id, item):
                items.append(found)
        if items:
            heading = page.title or q.short_title or q.title
            pages.append({"linkId": f"page-{page.id}", "text": heading.get(lang), "item": items})
    patient = {"reference": f"Patient/{_patient_id(rec)}"}
    return _compact({
        "resourceType": "QuestionnaireResponse", "id": _fhir_id(r["id"]),
        "identifier": {"system": RESPONSE_SYSTEM, "value": r["id"]},
        "questionnaire": canonical(q, r["version"]),
        "status": "completed" if r["status"] == "completed" else "in-progress",
        "subject": patient,
        "encounter": {"reference": f"Encounter/{_encounter_id(rec)}"},
        "authored": r.get("completed_at") or r.get("updated_at") or r["started_at"],
        "author": author,  # who entered the answers: the patient on the tablet, or a named staff member
        # Whose answers they are: the patient's for a patient questionnaire (even typed in by staff),
        # the staff member's for a clinician form.
        "source": patient if q.audience == "patient" else author,
        "language": r.get("language") or lang,
        "item": pages,
    })


def _quantity(value: float, unit: str | None) -> dict[str, Any]:
    # A score without a unit is a score: UCUM's {score} annotation.
    return {"value": value, **(_ucum(unit) if unit else {"unit": "{score}", "system": UCUM, "code": "{score}"})}


def _observation(rec: ResponseRecord, s: Scale, response_id: str, lang: str) -> dict[str, Any]:
    label = s.label.get(lang) or s.id
    local = {"system": _url(rec.questionnaire) + ":scale", "code": s.id, "display": label}
    loinc = SCALE_LOINC.get((rec.questionnaire.id, s.id))
    ucum = UCUM_CODES.get(s.unit or "")
    category = "laboratory" if ucum in LAB_UNITS else "survey"
    scale_range: dict[str, Any] = {"low": _quantity(s.min, s.unit)}
    if s.max is not None:
        scale_range["high"] = _quantity(s.max, s.unit)
    uln = s.extra.get("uln") if isinstance(s.extra, dict) else None
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": _fhir_id(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{response_id}#{s.id}"))),
        "status": "final" if rec.response["status"] == "completed" else "preliminary",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category,
                                  "display": "Laboratory" if category == "laboratory" else "Survey"}]}],
        "code": {"coding": ([{"system": LOINC, "code": loinc[0], "display": loinc[1]}] if loinc else []) + [local],
                 "text": label},
        "subject": {"reference": f"Patient/{_patient_id(rec)}"},
        "encounter": {"reference": f"Encounter/{_encounter_id(rec)}"},
        "effectiveDateTime": rec.response.get("completed_at") or rec.response["started_at"],
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{response_id}"}],
        # The scale's possible range: not a normal range, so not referenceRange (docs/exports.md).
        "extension": [{"url": SCALE_RANGE, "valueRange": scale_range},
                      {"url": HIGHER_IS_BETTER, "valueBoolean": s.higher_is_better}],
        # A lab's upper limit of normal is a reference range.
        "referenceRange": [{"high": _quantity(uln, s.unit), "text": "ULN"}] if uln is not None else None,
        "note": [{"text": rec.questionnaire.provisional.get(lang)}] if rec.questionnaire.provisional else None,
    }
    if s.value is None:
        obs["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown", "display": "Unknown"}],
                                   "text": (s.reason or {}).get(lang) or "not computable"}
    else:
        obs["valueQuantity"] = _quantity(s.value, s.unit)
    return _compact(obs)


# --------------------------------------------------------------------------- one patient's resources


def parse_since(text: str) -> str:
    """A date or date-time (ISO 8601; a date means its midnight UTC) as the store's UTC timestamps."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a date (YYYY-MM-DD) or an ISO 8601 date and time") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def _changed_since(rec: ResponseRecord, since: str | None) -> bool:
    r = rec.response
    return since is None or (r.get("updated_at") or r.get("completed_at") or r["started_at"]) >= since


def _patient_resources(one: Catalog, lang: str, staff: _Staff, seen_staff: set[str], since: str | None,
                       used: dict[tuple[str, str], Questionnaire]) -> Iterator[dict[str, Any]]:
    """One patient's resources: the Patient, new Practitioners, each visit's Encounter, responses, scores."""
    everything = list(records(one))
    recs = [rec for rec in everything if _changed_since(rec, since)]
    if not recs:
        return
    for rec in recs:
        used.setdefault((rec.questionnaire.id, rec.questionnaire.definition_hash), rec.questionnaire)
    yield _patient(recs[0])
    # A visit's Encounter is told from all its responses, so an incremental PUT never misstates it.
    changed_visits = {rec.response["visit"] for rec in recs}
    visits: dict[str, list[ResponseRecord]] = {}
    for rec in everything:
        if rec.response["visit"] in changed_visits:
            visits.setdefault(rec.response["visit"], []).append(rec)
    labels = {item.visit["id"]: item.visit.get("label") for item in one.store.answered()}
    authors: dict[str, dict[str, Any] | None] = {}
    for rec in recs:
        who, username = _answered_by(rec.response.get("completed_by") or rec.response.get("started_by"))
        author = None
        if who == "patient":
            author = {"reference": f"Patient/{_patient_id(rec)}"}
        elif who == "staff" and username and (practitioner := staff.practitioner(username)):
            if practitioner["id"] not in seen_staff:
                seen_staff.add(practitioner["id"])
                yield practitioner
            author = {"reference": f"Practitioner/{practitioner['id']}", "display": practitioner["name"][0]["text"]}
        authors[rec.response["id"]] = author
    for visit_id, visit_recs in visits.items():
        yield _encounter(visit_recs, lang, labels.get(visit_id))
    for rec in recs:
        response = fhir_questionnaire_response(rec, lang, authors[rec.response["id"]])
        yield response
        for s in rec.scales:
            yield _observation(rec, s, response["id"], lang)


def _questionnaires(cat: Catalog, used: dict[tuple[str, str], Questionnaire], lang: str) -> list[dict[str, Any]]:
    """One Questionnaire per instrument and version: those answered (``used``) and those loaded now."""
    used = dict(used)
    for q in cat.questionnaires.values():
        used.setdefault((q.id, q.definition_hash), q)
    out = []
    seen_versions: set[tuple[str, str]] = set()
    for (qid, _hash), q in sorted(used.items(), key=lambda kv: (kv[0][0], kv[1].version)):
        if (qid, q.version) in seen_versions:
            continue
        seen_versions.add((qid, q.version))
        out.append(fhir_questionnaire(q, lang))
    return out


def _resources(cat: Catalog, lang: str, progress: Callable[[int], Any] | None, since: str | None,
               used: dict[tuple[str, str], Questionnaire]) -> Iterator[dict[str, Any]]:
    """Every patient's resources, one patient at a time; ``used`` gathers the definitions answered."""
    staff = _Staff(cat.store)
    seen_staff: set[str] = set()
    for one in _by_patient(cat, progress):
        yield from _patient_resources(one, lang, staff, seen_staff, since, used)


# --------------------------------------------------------------------------- delivery


def _entry(resource: dict[str, Any], base: str) -> dict[str, Any]:
    path = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": f"{base}/{path}", "resource": resource, "request": {"method": "PUT", "url": path}}


def fhir_bundle(cat: Catalog, lang: str = "sv", since: str | None = None, base: str = DEFAULT_BASE) -> dict[str, Any]:
    """The whole export as one transaction Bundle (in memory: for tests and small registries)."""
    return json.loads("".join(bundle_chunks(cat, lang, since=since, base=base)))


def bundle_chunks(cat: Catalog, lang: str = "sv", progress: Callable[[int], Any] | None = None,
                  since: str | None = None, base: str = DEFAULT_BASE) -> Iterator[str]:
    """The transaction Bundle as pieces of text, written patient by patient in bounded memory.

    Entries wait in an unnamed temporary file (0600, gone when closed) while the Questionnaires
    they use are gathered; those come first, then the entries are copied out.
    """
    used: dict[tuple[str, str], Questionnaire] = {}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        for resource in _resources(cat, lang, progress, since, used):
            spool.write(json.dumps(_entry(resource, base), ensure_ascii=False) + "\n")
        questionnaires = (_entry(q, base) for q in _questionnaires(cat, used, lang))
        yield from _bundle_text(itertools.chain(questionnaires, _spooled(spool)))


def _bundle_text(entries: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A Bundle as ``json.dumps(bundle, indent=2)`` writes it, one entry at a time; no entry: no array."""
    head = '{\n  "resourceType": "Bundle",\n  "type": "transaction"'
    pending = []
    size = 0
    first = True
    for entry in entries:
        text = json.dumps(entry, ensure_ascii=False, indent=2).replace("\n", "\n    ")
        pending.append((',\n  "entry": [\n    ' if first else ",\n    ") + text)
        size += len(text)
        first = False
        if size >= CHUNK:
            yield head + "".join(pending)
            head, pending, size = "", [], 0
    yield head + "".join(pending) + ("\n}" if first else "\n  ]\n}")


def write_ndjson(cat: Catalog, folder: Path, lang: str = "sv", progress: Callable[[int], Any] | None = None,
                 since: str | None = None) -> dict[str, int]:
    """Bulk NDJSON (FHIR Bulk Data): one file per resource type, one resource per line.

    Files are written beside their final names and renamed at the end, so a folder never holds
    half an export that looks whole. Returns how many resources of each type were written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    used: dict[tuple[str, str], Questionnaire] = {}
    counts = {t: 0 for t in RESOURCE_TYPES}
    partial = {t: folder / f".{t}.ndjson.partial" for t in RESOURCE_TYPES}
    handles = {t: partial[t].open("w", encoding="utf-8", newline="\n") for t in RESOURCE_TYPES}
    try:
        def write(resource: dict[str, Any]) -> None:
            kind = resource["resourceType"]
            handles[kind].write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
            counts[kind] += 1

        for resource in _resources(cat, lang, progress, since, used):
            write(resource)
        for q in _questionnaires(cat, used, lang):
            write(q)
    except BaseException:
        for t in RESOURCE_TYPES:
            handles[t].close()
            partial[t].unlink(missing_ok=True)
        raise
    for t in RESOURCE_TYPES:
        handles[t].close()
        final = folder / f"{t}.ndjson"
        if counts[t]:
            partial[t].replace(final)
        else:  # no resource of this type: no file (an empty NDJSON file says nothing)
            partial[t].unlink()
            final.unlink(missing_ok=True)
    return {t: n for t, n in counts.items() if n}


def ndjson_zip_chunks(cat: Catalog, lang: str = "sv", since: str | None = None) -> Iterator[bytes]:
    """The NDJSON files as one zip archive (for a download), in pieces: the files and the archive are
    built in unnamed temporary places (0600/0700), never in memory, then copied out."""
    with tempfile.TemporaryDirectory(prefix="pro-app-ndjson-") as folder, tempfile.TemporaryFile() as archive:
        write_ndjson(cat, Path(folder), lang, since=since)
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
            for kind in RESOURCE_TYPES:
                path = Path(folder) / f"{kind}.ndjson"
                if path.exists():
                    zipped.write(path, path.name)
        archive.seek(0)
        while chunk := archive.read(CHUNK):
            yield chunk


# --------------------------------------------------------------------------- reading a response back


def answers_from_response(q: Questionnaire, response: dict[str, Any]) -> dict[str, Any]:
    """A QuestionnaireResponse (ours, or one a renderer such as LHC-Forms made) as pro-app's answers.

    Items are found by linkId at any depth; a choice gives its code (as the option's own type), a
    repeating choice a list of codes, a number its value. Unknown linkIds are ignored.
    """
    ids = set(q.answer_ids())
    out: dict[str, Any] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            link = item.get("linkId")
            values = []
            for answer in item.get("answer", []):
                if "valueCoding" in answer:
                    values.append(answer["valueCoding"].get("code"))
                else:
                    values.extend(v for k, v in answer.items() if k.startswith("value"))
                walk(answer.get("item", []))
            if link in ids and values:
                options = q.options_for(link)
                if options is not None:
                    by_code = {str(o.code): o.code for o in options}
                    values = [by_code.get(str(v), v) for v in values]
                multiple = q.item_for_answer(link).type == "multiple"
                out[link] = values if multiple else values[0]
            walk(item.get("item", []))

    walk(response.get("item", []))
    return out
