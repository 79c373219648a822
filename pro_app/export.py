"""CSV (wide and long) exports of every patient's answers and scores, and the choice of format (FHIR in fhir.py).

CSV is written for R, SPSS and Stata: UTF-8 without a byte order mark, a header row and
no index column, ISO 8601 dates and times, '.' as the decimal mark, an empty cell for a
missing value, and the codes of multiple-choice answers joined with ';'. A text cell that a
spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage return, and
not a plain number) starts with a ' instead (OWASP: CSV injection).

* wide: one row per patient and visit, its header the variable names of ``codebook.py`` (original
  names ``haq.HAQ_DI`` become ``haq_HAQ_DI``: names Stata, SPSS and R accept; the ``codebook``
  format maps them); an item skip logic hid holds ``-99`` (not shown), an unanswered one is empty;
  original columns ``<questionnaire>.<item>`` for answers and
  ``<questionnaire>.<scale>`` for scores (``<questionnaire>.<scale>_score`` when a scale
  shares its id with an item, as a single visual analogue scale does), plus
  ``<questionnaire>.status``, ``.version``, ``.language`` and ``.completed_at``;
  ``<questionnaire>.provisional`` (why an unverified instrument is provisional, empty otherwise);
  and ``outcome.*`` for the response criteria of each visit after baseline (IMACS improvement
  met 1/0, the measures it misses, ACR/EULAR total or its possible range, category, the enzyme
  followed, and per core set measure the change in % of baseline (IMACS), in % of the scale
  range (ACR/EULAR) and its ACR/EULAR points);
* long: one row per patient, visit, questionnaire and item or scale (and ``outcome`` rows,
  and a ``note`` row ``provisional`` for an unverified instrument);
* FHIR: see ``pro_app/fhir.py``.

Scores are computed now, from the raw answers and the definition each response was
answered against, as everywhere else. Scores and changes are written unrounded (a float's
shortest form); round them, if at all, in the analysis. A checkbox question answered "none
of these" holds the none option's code (``none``); an unanswered one is an empty cell.
"""
from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from .catalog import Catalog
from .codebook import CODEBOOK_COLUMNS, NOT_SHOWN, Codebook, spss_labels, stata_labels, variable_names
from .definitions import Questionnaire
from .scoring import Scale, score

__all__ = ["CODEBOOK_FORMATS", "ResponseRecord", "records", "wide_rows", "long_rows", "write_csv", "export_text",
           "export_chunks", "FORMATS"]

# The FHIR formats are written by pro_app/fhir.py; this module dispatches to it.
FORMATS = ("csv", "csv-long", "fhir")
CODEBOOK_FORMATS = ("codebook", "stata-labels", "spss-labels")  # the wide CSV's codebook and value labels
FORMATS = FORMATS + CODEBOOK_FORMATS
BASE_COLUMNS = ["study_code", "study", "visit", "visit_due"]
LONG_COLUMNS = BASE_COLUMNS + ["questionnaire", "version", "status", "language", "completed_at", "kind", "name", "value"]


@dataclass
class ResponseRecord:
    """One response with everything an export needs: who, which visit, what was answered, the scores."""

    study_code: str
    study: str | None
    visit: str
    visit_due: str | None
    response: dict[str, Any]
    questionnaire: Questionnaire
    scales: list[Scale]
    shown: frozenset[str] = frozenset()  # answer ids that skip logic shows (answered or not)


def records(cat: Catalog) -> Iterator[ResponseRecord]:
    """Every response, scored, one at a time (patients by study code, visits by due date).

    ``response["answers"]`` holds only the answers that count: a hidden item's answer (skip logic)
    is in no export, whatever the format (it stays in the stored response's audit trail).
    """
    for patient, visit, response in cat.store.answered():
        q = cat.for_response(response)
        if q is None:
            continue
        counted = q.shown_answers(response["answers"])
        yield ResponseRecord(
            study_code=patient["study_code"], study=visit.get("study") or patient.get("study"),
            visit=visit["key"], visit_due=visit.get("due"), response={**response, "answers": counted},
            questionnaire=q, scales=score(q, counted), shown=frozenset(q.visible_answer_ids(counted)),
        )


def cell(value: Any) -> str:
    """One value as R, SPSS and Stata read it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return ";".join(cell(v) for v in value)
    return str(value)


def outcome_cells(cat: Catalog) -> dict[tuple[str, str], dict[str, str]]:
    """Response criteria of every visit after baseline, keyed by (study code, visit key)."""
    from .outcomes import CORE_SET, patient_outcomes

    out: dict[tuple[str, str], dict[str, str]] = {}
    for patient in cat.store.list_patients():
        for comparison in patient_outcomes(cat, patient["id"]):
            tis = comparison.acr_eular
            cells = {
                "outcome.imacs_met": cell(comparison.imacs.met),
                "outcome.imacs_missing": cell([m.measure for m in comparison.imacs.missing]),
                "outcome.acr_eular_total": cell(tis.total),
                "outcome.acr_eular_total_min": cell(tis.total_min),
                "outcome.acr_eular_total_max": cell(tis.total_max),
                "outcome.acr_eular_category": tis.category or "",
                "outcome.enzyme": comparison.enzyme or "",
            }
            by_measure = {m.measure: m for m in comparison.core_set}
            points = {d.measure: d.points for d in tis.points}
            for measure in CORE_SET:
                change = by_measure.get(measure)
                cells[f"outcome.{measure}_improvement_pct"] = cell(change.relative_improvement_pct if change else None)
                cells[f"outcome.{measure}_acr_eular_pct"] = cell(change.absolute_improvement_pct if change else None)
                cells[f"outcome.{measure}_acr_eular_points"] = cell(points.get(measure))
            out[(patient["study_code"], comparison.visit)] = cells
    return out


def _outcome_columns() -> list[str]:
    from .outcomes import CORE_SET

    per_measure = [f"outcome.{m}_{what}" for m in CORE_SET
                   for what in ("improvement_pct", "acr_eular_pct", "acr_eular_points")]
    return (["outcome.imacs_met", "outcome.imacs_missing", "outcome.acr_eular_total", "outcome.acr_eular_total_min",
             "outcome.acr_eular_total_max", "outcome.acr_eular_category", "outcome.enzyme"] + per_measure)


def _scale_column(qid: str, scale_id: str, item_ids: set[str]) -> str:
    return f"{qid}.{scale_id}_score" if scale_id in item_ids else f"{qid}.{scale_id}"


# --------------------------------------------------------------------------- CSV


def _provisional(q: Questionnaire, lang: str) -> str:
    return q.provisional.get(lang) if q.provisional else ""


def wide_rows(cat: Catalog, lang: str = "sv", codebook: Codebook | None = None
              ) -> tuple[list[str], list[dict[str, str]]]:
    """Columns (original names) and rows of the wide table: one row per patient and visit.

    An item that skip logic hid holds ``NOT_SHOWN``; one shown and not answered, an empty cell.
    ``codebook`` gathers what the columns hold.
    """
    rows: dict[tuple[str, str], dict[str, str]] = {}
    columns: dict[str, list[str]] = {}  # questionnaire -> its columns, in definition order
    for rec in records(cat):
        q = cat.get(rec.questionnaire.id) or rec.questionnaire
        qid = rec.questionnaire.id
        item_ids = list(q.answer_ids())
        for aid in rec.questionnaire.answer_ids():
            if aid not in item_ids:
                item_ids.append(aid)
        meta = [f"{qid}.{m}" for m in ("status", "version", "language", "completed_at")]
        if rec.questionnaire.provisional:
            meta.append(f"{qid}.provisional")
        item_cols = [f"{qid}.{aid}" for aid in item_ids]
        scale_cols = [_scale_column(qid, s.id, set(item_ids)) for s in rec.scales]
        known = columns.setdefault(qid, [])
        for col in meta + item_cols + scale_cols:
            if col not in known:
                known.append(col)
        row = rows.setdefault((rec.study_code, rec.visit), {
            "study_code": rec.study_code, "study": rec.study or "", "visit": rec.visit, "visit_due": rec.visit_due or "",
        })
        r = rec.response
        row.update({meta[0]: r["status"], meta[1]: r["version"], meta[2]: r.get("language") or "",
                    meta[3]: r.get("completed_at") or ""})
        if rec.questionnaire.provisional:
            row[f"{qid}.provisional"] = _provisional(rec.questionnaire, lang)
        for aid in rec.questionnaire.answer_ids():
            if aid not in rec.shown:
                row[f"{qid}.{aid}"] = NOT_SHOWN
            elif aid in r["answers"]:
                row[f"{qid}.{aid}"] = cell(r["answers"][aid])
        for s in rec.scales:
            row[_scale_column(qid, s.id, set(item_ids))] = cell(s.value)
        if codebook is not None:
            codebook.add(rec.questionnaire, cat.get(qid), {_scale_column(qid, s.id, set(item_ids)): s for s in rec.scales})
    outcomes = outcome_cells(cat)
    for key, cells in outcomes.items():
        if key in rows:
            rows[key].update(cells)
    header = BASE_COLUMNS + [c for qid in sorted(columns) for c in columns[qid]]
    if outcomes:
        header += _outcome_columns()
    ordered = [rows[k] for k in sorted(rows, key=lambda k: (k[0], rows[k]["visit_due"], k[1]))]
    return header, ordered


def long_rows(cat: Catalog, lang: str = "sv") -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows of the long table: one row per item answer and per score."""
    out = []
    for rec in records(cat):
        r = rec.response
        base = {"study_code": rec.study_code, "study": rec.study or "", "visit": rec.visit,
                "visit_due": rec.visit_due or "", "questionnaire": rec.questionnaire.id, "version": r["version"],
                "status": r["status"], "language": r.get("language") or "", "completed_at": r.get("completed_at") or ""}
        for aid in rec.questionnaire.answer_ids():
            if aid in r["answers"]:
                out.append({**base, "kind": "item", "name": aid, "value": cell(r["answers"][aid])})
        for s in rec.scales:
            out.append({**base, "kind": "scale", "name": s.id, "value": cell(s.value)})
        if rec.questionnaire.provisional:
            out.append({**base, "kind": "note", "name": "provisional", "value": _provisional(rec.questionnaire, lang)})
    visits = {(row["study_code"], row["visit"]): row for row in out}
    for (study_code, visit), cells in outcome_cells(cat).items():
        if (study_code, visit) not in visits:
            continue
        first = visits[(study_code, visit)]
        base = {k: first[k] for k in BASE_COLUMNS} | {"questionnaire": "outcomes", "version": "", "status": "",
                                                     "language": "", "completed_at": ""}
        for name, value in cells.items():
            out.append({**base, "kind": "outcome", "name": name.removeprefix("outcome."), "value": value})
    return LONG_COLUMNS, out


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?")


def neutralise(value: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading ' (OWASP, CSV injection); numbers stay numbers."""
    if value.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_csv(header: list[str], rows: list[dict[str, str]], fh: Any, names: dict[str, str] | None = None) -> None:
    """Rows keyed by ``header``; the header row written as ``names`` gives them (the wide CSV's variable names)."""
    writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n", restval="", extrasaction="raise")
    writer.writerow({c: (names or {}).get(c, c) for c in header})
    writer.writerows({k: neutralise(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows)


def export_text(cat: Catalog, fmt: str, lang: str = "sv") -> str:
    """The whole export in one format, as text."""
    from . import fhir

    if fmt == "fhir":
        return "".join(fhir.bundle_chunks(cat, lang))
    if fmt in CODEBOOK_FORMATS:
        return "".join(export_chunks(cat, fmt, lang))
    header, rows = wide_rows(cat, lang) if fmt == "csv" else long_rows(cat, lang) if fmt == "csv-long" else (None, None)
    if header is None:
        raise ValueError(f"unknown export format '{fmt}' (known: {', '.join(FORMATS)})")
    buffer = io.StringIO()
    write_csv(header, rows, buffer, variable_names(header) if fmt == "csv" else None)
    return buffer.getvalue()


# --------------------------------------------------------------------------- streaming, patient by patient


class _OnePatient:
    """The store as the table functions above see it, narrowed to one patient's responses (already read)."""

    def __init__(self, store: Any, answered: list[Any]):
        self._store = store
        self._answered = answered
        self._patient = answered[0].patient

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_patients(self) -> list[dict[str, Any]]:
        return [self._patient]

    def answered(self) -> Iterator[Any]:
        return iter(self._answered)

    def list_responses(self, patient_id: str, visit_id: str | None = None) -> list[dict[str, Any]]:
        found = [a.response for a in self._answered if visit_id is None or a.visit["id"] == visit_id]
        return sorted(found, key=lambda r: r["started_at"])


def _by_patient(cat: Catalog, progress: Callable[[int], Any] | None) -> Iterator[Catalog]:
    """The catalog seen through each patient in turn: only one patient's responses are in memory at a time."""
    pending: list[Any] = []
    for item in cat.store.answered():
        if pending and item.patient["id"] != pending[0].patient["id"]:
            yield Catalog(cat.questionnaires, _OnePatient(cat.store, pending), cat._snapshots)  # type: ignore[arg-type]
            pending = []
        pending.append(item)
        if progress is not None:
            progress(1)
    if pending:
        yield Catalog(cat.questionnaires, _OnePatient(cat.store, pending), cat._snapshots)  # type: ignore[arg-type]


def _csv_chunks(header: list[str], rows: Iterable[dict[str, Any]], names: dict[str, str] | None = None
                ) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", restval="", extrasaction="raise")
    writer.writerow({c: (names or {}).get(c, c) for c in header})
    for row in rows:
        writer.writerow({k: neutralise(v) if isinstance(v, str) else v for k, v in row.items()})
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _wide_pass(cat: Catalog, lang: str, progress: Callable[[int], Any] | None, spool: Any,
               codebook: Codebook | None) -> list[str]:
    """The wide table's columns (original names), patient by patient; rows go to ``spool`` if given."""
    columns: dict[str, list[str]] = {}
    outcomes = False
    for one in _by_patient(cat, progress):
        header, rows = wide_rows(one, lang, codebook)
        for column in header[len(BASE_COLUMNS):]:
            if column.startswith("outcome."):
                outcomes = True
                continue
            known = columns.setdefault(column.split(".", 1)[0], [])
            if column not in known:
                known.append(column)
        if spool is not None:
            for row in rows:
                spool.write(json.dumps(row, ensure_ascii=False) + "\n")
    header = BASE_COLUMNS + [c for qid in sorted(columns) for c in columns[qid]]
    return header + _outcome_columns() if outcomes else header


def _spooled(spool: Any) -> Iterator[Any]:
    spool.seek(0)
    for line in spool:
        yield json.loads(line)


CHUNK = 64 * 1024


def export_chunks(cat: Catalog, fmt: str, lang: str = "sv",
                  progress: Callable[[int], Any] | None = None) -> Iterator[str]:
    """The export in one format as pieces of text, written response by response in bounded memory.

    The same text as ``export_text``. What comes first in a file but depends on every response (the
    wide table's columns, the bundle's Questionnaires) is gathered while the rows or entries wait in
    an unnamed temporary file (0600, gone when closed), which is then copied out. ``progress(n)`` is
    called as responses are read.
    """
    from . import fhir

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format '{fmt}' (known: {', '.join(FORMATS)})")
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        if fmt == "csv":
            header = _wide_pass(cat, lang, progress, spool, None)
            yield from _csv_chunks(header, _spooled(spool), variable_names(header))
        elif fmt in CODEBOOK_FORMATS:
            codebook = Codebook()
            rows = codebook.rows(_wide_pass(cat, lang, progress, None, codebook))
            if fmt == "codebook":
                yield from _csv_chunks(CODEBOOK_COLUMNS, (r.as_cells() for r in rows))
            else:
                yield (stata_labels if fmt == "stata-labels" else spss_labels)(rows, lang)
        elif fmt == "csv-long":
            def rows() -> Iterator[dict[str, Any]]:
                for one in _by_patient(cat, progress):
                    for row in long_rows(one, lang)[1]:
                        if row["kind"] == "outcome":  # the outcome rows follow every item and score row
                            spool.write(json.dumps(row, ensure_ascii=False) + "\n")
                        else:
                            yield row
                yield from _spooled(spool)

            yield from _csv_chunks(LONG_COLUMNS, rows())
        else:
            yield from fhir.bundle_chunks(cat, lang, progress)
