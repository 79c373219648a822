"""The wide CSV's codebook: variable names Stata, SPSS and R accept, and what each column holds.

Names. A column ``<questionnaire>.<item or scale>`` (and ``outcome.<name>``, ``<questionnaire>.status``...)
is named by one rule, a function of the original name alone, so the same column has the same name in
every export:

1. letters are folded to ASCII (``ä`` -> ``a``), every character but a letter, digit or ``_``
   becomes ``_`` (``haq.HAQ_DI`` -> ``haq_HAQ_DI``);
2. a name that does not start with a letter gets a leading ``v``; one that is a reserved word in
   Stata, SPSS or R gets a trailing ``_``;
3. a name longer than 32 characters (Stata's limit; SPSS allows 64) is cut to 27 and ends with
   ``_`` and 4 hex digits of the SHA-1 of the original name: short, and still unique.

If two original names still meet under one name (ignoring case: SPSS does), each of them gets the
hash ending of rule 3. The codebook's ``original`` column keeps every column's original name (the
long CSV's ``questionnaire`` + ``.`` + ``name``).

Missing values, the same in every column of an item:

* empty: not answered (the item was shown, or the form not reached or not given at that visit);
* ``-99`` (``NOT_SHOWN``): not shown, skip logic hid the item (in a text column the text ``-99``);
* "none of these" of a checkbox question is an answer, not a missing value: its own code
  (``none``) with its own label.

A score that cannot be computed is empty (the summary and the long CSV say why).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable

from .definitions import (
    DateItem,
    FreeText,
    MultipleChoice,
    Numeric,
    Questionnaire,
    RatingScale,
    VisualAnalogueScale,
)
from .scoring import Scale

__all__ = ["NOT_SHOWN", "NOT_SHOWN_LABEL", "CodebookRow", "CODEBOOK_COLUMNS", "variable_name", "variable_names",
           "Codebook", "stata_labels", "spss_labels"]

NOT_SHOWN = "-99"
NOT_SHOWN_LABEL = {"sv": "Visades inte (hoppades över)", "en": "Not shown (skip logic)"}
MAX_LENGTH = 32
# Reserved words: Stata (help reswords), SPSS (ALL, AND, BY, EQ, GE, GT, LE, LT, NE, NOT, OR, TO, WITH)
# and R (?Reserved); compared ignoring case, as SPSS does.
RESERVED = {
    "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long", "_n", "_pi", "_pred",
    "_rc", "_skip", "strl", "using", "with", "all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or",
    "to", "else", "repeat", "while", "function", "for", "next", "break", "true", "false", "null", "inf", "nan", "na",
    "na_integer_", "na_real_", "na_complex_", "na_character_",
}


def _hashed(base: str, original: str) -> str:
    return f"{base[:MAX_LENGTH - 5]}_{hashlib.sha1(original.encode('utf-8')).hexdigest()[:4]}"


def variable_name(original: str) -> str:
    """The name of one column, by the rule in the module docstring (without the collision step)."""
    ascii_text = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9_]", "_", ascii_text)
    if not name[:1].isalpha():
        name = "v" + name
    if name.lower() in RESERVED:
        name += "_"
    return _hashed(name, original) if len(name) > MAX_LENGTH else name


def variable_names(originals: Iterable[str]) -> dict[str, str]:
    """Original column name -> variable name, unique ignoring case."""
    names = {o: variable_name(o) for o in originals}
    taken: dict[str, list[str]] = {}
    for original, name in names.items():
        taken.setdefault(name.lower(), []).append(original)
    for group in taken.values():
        if len(group) > 1:
            for original in group:
                names[original] = _hashed(names[original], original)
    return names


@dataclass
class CodebookRow:
    """One column of the wide CSV."""

    name: str
    original: str
    questionnaire: str = ""
    version: str = ""  # the versions answered, ';'-joined
    item: str = ""
    kind: str = ""  # id, visit, response, item, score, outcome
    text_sv: str = ""
    text_en: str = ""
    type: str = "string"  # string, integer, decimal, date, datetime, categorical, multiple
    codes: str = ""  # '|'-joined codes of a categorical or multiple column
    labels_sv: str = ""  # '|'-joined labels, in the order of codes
    labels_en: str = ""
    unit: str = ""
    min: str = ""
    max: str = ""
    missing: str = ""  # the not-shown code (-99) where skip logic can hide the item; empty means not answered

    def as_cells(self) -> dict[str, str]:
        return asdict(self)


CODEBOOK_COLUMNS = [f.name for f in fields(CodebookRow)]

BASE = {
    "study_code": ("id", {"sv": "Studiekod", "en": "Study code"}, "string"),
    "study": ("visit", {"sv": "Studie", "en": "Study"}, "string"),
    "visit": ("visit", {"sv": "Besök", "en": "Visit"}, "string"),
    "visit_due": ("visit", {"sv": "Besökets datum", "en": "Visit due date"}, "date"),
}
META = {
    "status": ({"sv": "Status", "en": "Status"}, "categorical_text"),
    "version": ({"sv": "Version av formuläret", "en": "Questionnaire version"}, "string"),
    "language": ({"sv": "Språk", "en": "Language"}, "categorical_text"),
    "completed_at": ({"sv": "Skickat (tid)", "en": "Completed at"}, "datetime"),
    "provisional": ({"sv": "Varför innehållet är preliminärt", "en": "Why the content is provisional"}, "string"),
}
META_CODES = {
    "status": [("in_progress", {"sv": "Påbörjat", "en": "In progress"}),
               ("completed", {"sv": "Klart", "en": "Completed"})],
    "language": [("sv", {"sv": "Svenska", "en": "Swedish"}), ("en", {"sv": "Engelska", "en": "English"})],
}
OUTCOME = {
    "imacs_met": ({"sv": "IMACS förbättring uppfylld", "en": "IMACS improvement met"}, "categorical"),
    "imacs_missing": ({"sv": "IMACS: mått som saknas", "en": "IMACS: measures missing"}, "string"),
    "acr_eular_total": ({"sv": "ACR/EULAR total förbättring", "en": "ACR/EULAR total improvement score"}, "decimal"),
    "acr_eular_total_min": ({"sv": "ACR/EULAR total, lägsta möjliga", "en": "ACR/EULAR total, lowest possible"},
                            "decimal"),
    "acr_eular_total_max": ({"sv": "ACR/EULAR total, högsta möjliga", "en": "ACR/EULAR total, highest possible"},
                            "decimal"),
    "acr_eular_category": ({"sv": "ACR/EULAR förbättringskategori", "en": "ACR/EULAR improvement category"},
                           "categorical"),
    "enzyme": ({"sv": "Muskelenzym som följs", "en": "Muscle enzyme followed"}, "string"),
}
MEASURE_PARTS = {
    "improvement_pct": ({"sv": "förändring i % av baslinjen (IMACS)", "en": "change in % of baseline (IMACS)"},
                        "decimal"),
    "acr_eular_pct": ({"sv": "förändring i % av skalan (ACR/EULAR)", "en": "change in % of range (ACR/EULAR)"},
                      "decimal"),
    "acr_eular_points": ({"sv": "ACR/EULAR-poäng", "en": "ACR/EULAR points"}, "decimal"),
}
YES_NO = [("1", {"sv": "Ja", "en": "Yes"}), ("0", {"sv": "Nej", "en": "No"})]


def _number(x: Any) -> str:
    if x is None:
        return ""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def _codes(row: CodebookRow, codes: list[tuple[str, dict[str, str]]]) -> None:
    for code, _label in codes:
        if "|" in code or code == NOT_SHOWN:
            raise ValueError(f"{row.original}: the code {code!r} cannot be listed in the codebook")
    row.codes = "|".join(c for c, _ in codes)
    row.labels_sv = "|".join(label["sv"].replace("|", "/") for _, label in codes)
    row.labels_en = "|".join(label["en"].replace("|", "/") for _, label in codes)


def _item_row(row: CodebookRow, q: Questionnaire, aid: str) -> None:
    item = q.item_for_answer(aid)
    row.kind, row.item = "item", aid
    row.text_sv, row.text_en = q.answer_text(aid, "sv"), q.answer_text(aid, "en")
    row.missing = NOT_SHOWN if item.show_if is not None or _on_a_conditional_page(q, item) else ""
    options = q.options_for(aid)
    if options is not None:
        codes = [(str(o.code), {"sv": o.text.get("sv"), "en": o.text.get("en")}) for o in options]
        _codes(row, codes)
        whole = all(isinstance(o.code, int) and not isinstance(o.code, bool) for o in options)
        row.type = "multiple" if isinstance(item, MultipleChoice) else "categorical" if whole else "categorical_text"
    elif isinstance(item, VisualAnalogueScale):
        row.type, row.unit, row.min, row.max = "decimal", "mm", "0", "100"
    elif isinstance(item, RatingScale):
        row.type, row.min, row.max = "integer", _number(item.min), _number(item.max)
    elif isinstance(item, Numeric):
        row.type = "integer" if item.decimals == 0 else "decimal"
        row.min, row.max, row.unit = _number(item.min), _number(item.max), item.unit or ""
    elif isinstance(item, DateItem):
        row.type = "date"
    elif isinstance(item, FreeText):
        row.type = "string"
    if row.missing and row.min and float(row.min) <= float(NOT_SHOWN) <= float(row.max):
        raise ValueError(f"{row.original}: the range {row.min}-{row.max} holds the not-shown code {NOT_SHOWN}")


def _on_a_conditional_page(q: Questionnaire, item: Any) -> bool:
    return any(page.show_if is not None and item in page.items for page in q.pages)


def _scale_row(row: CodebookRow, scale: Scale) -> None:
    row.kind, row.item, row.type = "score", scale.id, "decimal"
    row.text_sv, row.text_en = scale.label.get("sv", scale.id), scale.label.get("en", scale.id)
    row.min, row.max, row.unit = _number(scale.min), _number(scale.max), scale.unit or ""


class Codebook:
    """Gathers, response by response, what the wide CSV's columns hold; ``rows(header)`` describes them.

    Holds one definition per questionnaire version answered and one scale per column, never a response.
    """

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Questionnaire]] = {}  # questionnaire -> version -> definition
        self.scales: dict[str, Scale] = {}  # original column -> the first scale seen there
        self.answered: dict[str, set[str]] = {}  # questionnaire -> the versions its responses were given in

    def add(self, q: Questionnaire, current: Questionnaire | None, scales: dict[str, Scale]) -> None:
        versions = self.definitions.setdefault(q.id, {})
        versions.setdefault(q.version, q)
        self.answered.setdefault(q.id, set()).add(q.version)
        if current is not None:
            versions.setdefault(current.version, current)
        for column, scale in scales.items():
            self.scales.setdefault(column, scale)

    def _newest_with(self, qid: str, aid: str) -> Questionnaire | None:
        versions = self.definitions.get(qid, {})
        for _version, q in sorted(versions.items(), key=lambda kv: _version_key(kv[0]), reverse=True):
            if aid in q.answer_ids():
                return q
        return None

    def rows(self, header: list[str]) -> list[CodebookRow]:
        names = variable_names(header)
        out = []
        for original in header:
            row = CodebookRow(name=names[original], original=original)
            if original in BASE:
                row.kind, label, row.type = BASE[original]
                row.text_sv, row.text_en = label["sv"], label["en"]
            elif original.startswith("outcome."):
                self._outcome_row(row, original.removeprefix("outcome."))
            else:
                qid, rest = original.split(".", 1)
                row.questionnaire = qid
                row.version = ";".join(sorted(self.answered.get(qid, ()), key=_version_key))
                q = self._newest_with(qid, rest)
                if original in self.scales:
                    _scale_row(row, self.scales[original])
                elif q is not None:
                    _item_row(row, q, rest)
                elif rest in META:
                    label, row.type = META[rest]
                    row.kind, row.item = "response", rest
                    row.text_sv, row.text_en = label["sv"], label["en"]
                    if rest in META_CODES:
                        _codes(row, META_CODES[rest])
            out.append(row)
        return out

    @staticmethod
    def _outcome_row(row: CodebookRow, name: str) -> None:
        from .outcomes import MEASURE_LABELS, TIS_CATEGORY_LABELS

        row.kind, row.questionnaire, row.item = "outcome", "outcome", name
        if name in OUTCOME:
            label, row.type = OUTCOME[name]
        else:
            measure, part = next((m, p) for p in MEASURE_PARTS for m in MEASURE_LABELS if name == f"{m}_{p}")
            what, row.type = MEASURE_PARTS[part]
            label = {lang: f"{MEASURE_LABELS[measure][lang]}: {what[lang]}" for lang in ("sv", "en")}
            row.unit = "%" if part.endswith("pct") else ""
        row.text_sv, row.text_en = label["sv"], label["en"]
        if name == "imacs_met":
            _codes(row, YES_NO)
        elif name == "acr_eular_category":
            _codes(row, [(k, {"sv": v["sv"], "en": v["en"]}) for k, v in TIS_CATEGORY_LABELS.items()])
            row.type = "categorical_text"


def _version_key(version: str) -> tuple[Any, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-]", version))


# --------------------------------------------------------------------------- value labels


def _stata_text(text: str) -> str:
    # Compound double quotes take any text but a line break or a backtick-quote end.
    return '`"' + text.replace("\n", " ").replace('"\'', '" \'') + '"\''


def stata_labels(rows: list[CodebookRow], lang: str = "sv") -> str:
    """A Stata do-file: variable labels, value labels and ``-99`` as ``.a`` (not shown), from the codebook."""
    lines = [
        "* Variable and value labels for pro-app's wide CSV (generated from its codebook; pro-app export).",
        "* Load the CSV first:  import delimited using \"export.csv\", varnames(1) encoding(\"utf-8\") case(preserve) clear",
        f"* Missing values: empty = not answered; .a = not shown (skip logic; {NOT_SHOWN} in the CSV).",
        "version 14",
    ]
    for row in rows:
        label = (row.text_sv if lang == "sv" else row.text_en) or row.original
        lines.append(f"capture label variable {row.name} {_stata_text(label[:80])}")
        numeric_codes = row.type == "categorical"
        if not (numeric_codes or row.missing):
            continue
        lines.append(f"capture confirm numeric variable {row.name}")
        lines.append("if !_rc {")
        if row.missing:
            lines.append(f"    mvdecode {row.name}, mv({NOT_SHOWN}=.a)")
        parts = []
        if numeric_codes:
            labels = (row.labels_sv if lang == "sv" else row.labels_en).split("|")
            parts += [f"{code} {_stata_text(text)}" for code, text in zip(row.codes.split("|"), labels)]
        if row.missing:
            parts.append(f".a {_stata_text(NOT_SHOWN_LABEL[lang])}")
        lines.append(f"    label define {row.name} {' '.join(parts)}, replace")
        lines.append(f"    label values {row.name} {row.name}")
        lines.append("}")
    return "\n".join(lines) + "\n"


def _spss_text(text: str) -> str:
    return "'" + text.replace("\n", " ").replace("'", "''") + "'"


SPSS_FORMATS = {"integer": "F8.0", "categorical": "F8.0", "decimal": "F16.4", "date": "SDATE10"}


def spss_labels(rows: list[CodebookRow], lang: str = "sv") -> str:
    """SPSS syntax: read the wide CSV with the codebook's types, then variable labels, value labels
    and missing values (``-99``: not shown), from the codebook."""
    variables = "\n".join(f"  {row.name} {SPSS_FORMATS.get(row.type, 'A2000' if row.kind == 'item' else 'A255')}"
                          for row in rows)
    out = [
        "* Variable and value labels for pro-app's wide CSV (generated from its codebook; pro-app export).",
        f"* Missing values: empty = not answered (system-missing); {NOT_SHOWN} = not shown (skip logic), user-missing.",
        "* Change FILE to where the CSV is.",
        "GET DATA /TYPE=TXT /FILE='export.csv' /ENCODING='UTF8' /DELCASE=LINE /DELIMITERS=','",
        "  /QUALIFIER='\"' /ARRANGEMENT=DELIMITED /FIRSTCASE=2 /VARIABLES=",
        variables + ".",
        "VARIABLE LABELS",
        "\n".join(f"  {'/' if i else ''}{row.name} {_spss_text((row.text_sv if lang == 'sv' else row.text_en) or row.original)}"
                  for i, row in enumerate(rows)) + ".",
    ]
    labelled = [row for row in rows if row.codes or row.missing]
    if labelled:
        out.append("VALUE LABELS")
        blocks = []
        for row in labelled:
            numeric = row.type in SPSS_FORMATS
            quote = (lambda c: c) if numeric else _spss_text
            labels = (row.labels_sv if lang == "sv" else row.labels_en).split("|") if row.codes else []
            pairs = [f"{quote(c)} {_spss_text(t)}" for c, t in zip(row.codes.split("|"), labels)] if row.codes else []
            if row.missing:
                pairs.append(f"{quote(NOT_SHOWN)} {_spss_text(NOT_SHOWN_LABEL[lang])}")
            blocks.append(f"{row.name} " + " ".join(pairs))
        out.append("  " + "\n  /".join(blocks) + ".")
    for row in rows:
        if row.missing:
            value = NOT_SHOWN if row.type in SPSS_FORMATS else _spss_text(NOT_SHOWN)
            out.append(f"MISSING VALUES {row.name} ({value}).")
    out.append("EXECUTE.")
    return "\n".join(out) + "\n"
