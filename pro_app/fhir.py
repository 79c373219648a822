"""HL7 FHIR R4 export of every patient's answers and scores.

A Bundle (type collection) of one Questionnaire per instrument, one QuestionnaireResponse per
response, and one Observation per score derived from it. The responses come from
``export.records`` (scored, one at a time); streaming keeps one patient in memory at a time.
"""
from __future__ import annotations

import itertools
import json
import uuid
from typing import Any, Callable, Iterable, Iterator

from .catalog import Catalog
from .definitions import Questionnaire
from .export import CHUNK, ResponseRecord, _by_patient, _spooled, records
from .scoring import Scale

__all__ = ["fhir_questionnaire", "fhir_questionnaire_response", "fhir_bundle", "export_text", "export_chunks",
           "FORMATS", "CANONICAL"]

FORMATS = ("fhir",)
CANONICAL = "urn:pro-app:questionnaire:"
STUDY_CODE_SYSTEM = "urn:pro-app:study-code"
VISIT_EXTENSION = "urn:pro-app:fhir:visit"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"



def _fhir_id(text: str) -> str:
    # FHIR ids allow letters, digits, '-' and '.' only (at most 64).
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text)[:64]


def _url(q: Questionnaire) -> str:
    return CANONICAL + q.id


def _coding(q: Questionnaire, option: Any, lang: str) -> dict[str, Any]:
    return {"system": _url(q), "code": str(option.code), "display": option.text.get(lang)}


def _item_type(item: Any) -> str:
    return {
        "single": "choice", "yesno": "choice", "multiple": "choice", "nrs": "integer", "vas": "decimal",
        "date": "date", "grid": "group",
    }.get(item.type) or (
        ("decimal" if item.decimals else "integer") if item.type == "numeric"
        else ("text" if getattr(item, "multiline", False) else "string")
    )


def _question(q: Questionnaire, answer_id: str, item: Any, lang: str) -> dict[str, Any]:
    kind = "choice" if item.type == "grid" else _item_type(item)
    out: dict[str, Any] = {"linkId": answer_id, "text": q.answer_text(answer_id, lang), "type": kind}
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
    return out


def _answer_value(q: Questionnaire, item_id: str, value: Any) -> dict[str, Any]:
    item = q.item_for_answer(item_id)
    if q.options_for(item_id) is not None:
        return {"answerCoding": {"system": _url(q), "code": str(value)}}
    if item.type in ("nrs",) or (item.type == "numeric" and not item.decimals):
        return {"answerInteger": int(value)}
    if item.type in ("numeric", "vas"):
        return {"answerDecimal": float(value)}
    if item.type == "date":
        return {"answerDate": str(value)}
    return {"answerString": str(value)}


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
            return [{"question": c.item, "operator": "!=", **_answer_value(q, c.item, v)} for v in c.not_in], "all"
        operator, bound = (">=", c.gte) if c.gte is not None else ("<=", c.lte)
        return [{"question": c.item, "operator": operator, "answerDecimal": float(bound)}], "all"

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


def fhir_questionnaire(q: Questionnaire, lang: str = "sv") -> dict[str, Any]:
    """The instrument as a FHIR R4 Questionnaire: one group per page, grids as groups of rows.

    Skip logic becomes enableWhen where FHIR can express it (a test, or one all/any of tests);
    deeper nesting is left out and evaluated by pro-app when answering.
    """

    def with_skip_logic(out: dict[str, Any], cond: Any) -> dict[str, Any]:
        if cond is not None and (rule := _enable_when(q, cond)):
            out.update(rule)
        return out

    pages = []
    for page in q.pages:
        items = []
        for item in page.items:
            if item.type == "grid":
                entry = {"linkId": item.id, "text": item.text.get(lang), "type": "group",
                         "item": [_question(q, row.id, item, lang) for row in item.rows]}
            else:
                entry = _question(q, item.id, item, lang)
            items.append(with_skip_logic(entry, item.show_if))
        group: dict[str, Any] = {"linkId": f"page-{page.id}", "type": "group", "item": items}
        if page.title:
            group["text"] = page.title.get(lang)
        pages.append(with_skip_logic(group, page.show_if))
    provisional = {"purpose": q.provisional.get(lang)} if q.provisional else {}
    return {
        "resourceType": "Questionnaire", "id": _fhir_id(q.id), "url": _url(q), "version": q.version,
        "title": q.title.get(lang), "status": "draft" if q.provisional else "active", **provisional,
        "language": lang, "subjectType": ["Patient"],
        "description": q.source, "copyright": q.license.get(lang),
        "identifier": [{"system": "urn:pro-app:definition-hash", "value": q.definition_hash}] if q.definition_hash else [],
        "item": pages,
    }


def _answers(q: Questionnaire, answer_id: str, item: Any, value: Any, lang: str) -> list[dict[str, Any]]:
    values = value if isinstance(value, list) else [value]
    options = q.options_for(answer_id)
    if options is not None:
        by_code = {str(o.code): o for o in options}
        return [{"valueCoding": _coding(q, by_code[str(v)], lang)} for v in values if str(v) in by_code]
    kind = _item_type(item)
    key = {"integer": "valueInteger", "decimal": "valueDecimal", "date": "valueDate"}.get(kind, "valueString")
    cast = {"valueInteger": int, "valueDecimal": float}.get(key, str)
    return [{key: cast(v)} for v in values]


def fhir_questionnaire_response(rec: ResponseRecord, lang: str = "sv") -> dict[str, Any]:
    q, r = rec.questionnaire, rec.response
    pages = []
    for page in q.pages:
        items = []
        for item in page.items:
            if item.type == "grid":
                rows = [{"linkId": row.id, "text": row.text.get(lang), "answer": _answers(q, row.id, item, r["answers"][row.id], lang)}
                        for row in item.rows if row.id in r["answers"]]
                if rows:
                    items.append({"linkId": item.id, "text": item.text.get(lang), "item": rows})
            elif item.id in r["answers"]:
                items.append({"linkId": item.id, "text": item.text.get(lang),
                              "answer": _answers(q, item.id, item, r["answers"][item.id], lang)})
        if items:
            pages.append({"linkId": f"page-{page.id}", "item": items})
    resource = {
        "resourceType": "QuestionnaireResponse", "id": _fhir_id(r["id"]),
        "identifier": {"system": "urn:pro-app:response", "value": r["id"]},
        "questionnaire": f"{_url(q)}|{r['version']}",
        "status": "completed" if r["status"] == "completed" else "in-progress",
        "subject": {"identifier": {"system": STUDY_CODE_SYSTEM, "value": rec.study_code}},
        "authored": r.get("completed_at") or r.get("updated_at") or r["started_at"],
        "language": r.get("language") or lang,
        "extension": [{"url": VISIT_EXTENSION, "valueString": rec.visit}],
        "item": pages,
    }
    return resource


def _observation(rec: ResponseRecord, s: Scale, response_url: str, lang: str) -> dict[str, Any]:
    label = s.label.get(lang) or s.id
    obs: dict[str, Any] = {
        "resourceType": "Observation", "status": "final" if rec.response["status"] == "completed" else "preliminary",
        "code": {"coding": [{"system": _url(rec.questionnaire) + ":scale", "code": s.id, "display": label}], "text": label},
        "subject": {"identifier": {"system": STUDY_CODE_SYSTEM, "value": rec.study_code}},
        "effectiveDateTime": rec.response.get("completed_at") or rec.response["started_at"],
        "derivedFrom": [{"reference": response_url}],
        "referenceRange": [{"low": {"value": s.min}, "high": {"value": s.max},
                            "text": "higher is better" if s.higher_is_better else "lower is better"}],
    }
    if s.max is None:
        del obs["referenceRange"][0]["high"]
    if s.value is None:
        obs["dataAbsentReason"] = {"text": (s.reason or {}).get(lang) or "not computable"}
    else:
        obs["valueQuantity"] = {"value": s.value, **({"unit": s.unit} if s.unit else {})}
    if rec.questionnaire.provisional:
        obs["note"] = [{"text": rec.questionnaire.provisional.get(lang)}]
    return obs


def _questionnaire_entries(cat: Catalog, used: dict[tuple[str, str], Questionnaire], lang: str) -> list[dict[str, Any]]:
    """One Questionnaire entry per instrument and version: those answered (``used``) and those loaded now."""
    used = dict(used)
    for q in cat.questionnaires.values():
        used.setdefault((q.id, q.definition_hash), q)
    entries = []
    seen_versions: set[tuple[str, str]] = set()
    for (qid, _hash), q in sorted(used.items(), key=lambda kv: (kv[0][0], kv[1].version)):
        if (qid, q.version) in seen_versions:
            continue
        seen_versions.add((qid, q.version))
        full_url = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{_url(q)}|{q.version}')}"
        entries.append({"fullUrl": full_url, "resource": fhir_questionnaire(q, lang)})
    return entries


def _record_entries(rec: ResponseRecord, lang: str) -> list[dict[str, Any]]:
    """A response's QuestionnaireResponse entry and one Observation entry per score."""
    response_url = f"urn:uuid:{uuid.UUID(hex=rec.response['id'])}"
    entries = [{"fullUrl": response_url, "resource": fhir_questionnaire_response(rec, lang)}]
    for s in rec.scales:
        # Derived from the response and scale: the same data exports to the same bundle.
        observation_url = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{response_url}#{s.id}')}"
        entries.append({"fullUrl": observation_url, "resource": _observation(rec, s, response_url, lang)})
    return entries


def fhir_bundle(cat: Catalog, lang: str = "sv") -> dict[str, Any]:
    recs = list(records(cat))
    used: dict[tuple[str, str], Questionnaire] = {}
    for rec in recs:
        used.setdefault((rec.questionnaire.id, rec.questionnaire.definition_hash), rec.questionnaire)
    entries = _questionnaire_entries(cat, used, lang)
    for rec in recs:
        entries += _record_entries(rec, lang)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def export_text(cat: Catalog, fmt: str, lang: str = "sv") -> str:
    """The whole FHIR export as text."""
    return json.dumps(fhir_bundle(cat, lang), ensure_ascii=False, indent=2)


def export_chunks(cat: Catalog, fmt: str, lang: str, progress: Callable[[int], Any] | None,
                  spool: Any) -> Iterator[str]:
    """The bundle in pieces: entries wait in ``spool`` while the Questionnaires they use are gathered."""
    used: dict[tuple[str, str], Questionnaire] = {}
    for one in _by_patient(cat, progress):
        for rec in records(one):
            used.setdefault((rec.questionnaire.id, rec.questionnaire.definition_hash), rec.questionnaire)
            for entry in _record_entries(rec, lang):
                spool.write(json.dumps(entry, ensure_ascii=False) + "\n")
    entries = itertools.chain(_questionnaire_entries(cat, used, lang), _spooled(spool))
    yield from _bundle_chunks(entries)


def _bundle_chunks(entries: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A Bundle as ``json.dumps(bundle, indent=2)`` writes it, one entry at a time."""
    head = '{\n  "resourceType": "Bundle",\n  "type": "collection",\n  "entry": ['
    first = True
    pending = []
    size = 0
    for entry in entries:
        text = json.dumps(entry, ensure_ascii=False, indent=2).replace("\n", "\n    ")
        pending.append(("\n    " if first else ",\n    ") + text)
        size += len(text)
        first = False
        if size >= CHUNK:
            yield (head if head else "") + "".join(pending)
            head, pending, size = "", [], 0
    yield (head or "") + "".join(pending) + ("]\n}" if first else "\n  ]\n}")
