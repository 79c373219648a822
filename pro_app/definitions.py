"""Questionnaire definitions: YAML files -> typed, validated models.

Every instrument is one YAML file in ``questionnaires/``. Loading it goes
through three steps, each of which reports problems as ``file:line: where: what``:

1. YAML parsing (syntax errors, duplicate keys), remembering the line of every key;
2. the pydantic models below (unknown keys, wrong types, missing Swedish or English text);
3. cross-reference checks that need the whole file (duplicate ids, skip logic that
   points at an item that does not exist or comes later, unknown option sets or scorer).

The same models give editors a JSON Schema (``pro-app schema``).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, TypeVar, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "DefinitionError",
    "DefinitionErrors",
    "Questionnaire",
    "Item",
    "Option",
    "NoneOption",
    "CLINIC_SETTINGS",
    "Condition",
    "load_file",
    "load_directory",
    "validate_paths",
    "json_schema",
    "LANGUAGES",
]

ModelT = TypeVar("ModelT", bound=BaseModel)
LANGUAGES = ("sv", "en")
LANGUAGE_NAMES = {"sv": "Swedish", "en": "English"}
ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]*$"
# A questionnaire id names the columns of the exports (`haq.HAQ_DI`, `haq_HAQ_DI`), so it has no dot.
QUESTIONNAIRE_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class DefinitionError:
    """One problem in one questionnaire file, pointing at the line to fix."""

    file: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.where}: {self.message}"


class DefinitionErrors(Exception):
    """All problems found in one or more questionnaire files."""

    def __init__(self, errors: list[DefinitionError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


# --------------------------------------------------------------------------- models


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Text(Strict):
    """A text shown to a person, in every supported language."""

    sv: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]

    def get(self, lang: str) -> str:
        return self.sv if lang == "sv" else self.en


class Option(Strict):
    """One response option. The code is what is stored, never the label."""

    code: int | str
    text: Text


class Anchors(Strict):
    """Texts at the two ends of a scale (VAS, NRS)."""

    min: Text
    max: Text


Scalar = Union[bool, int, float, str]


class Condition(Strict):
    """Skip logic: the item or page is shown only when this holds.

    Exactly one form per condition: ``{item, equals}``, ``{item, in}``, ``{item, not_in}``,
    ``{item, gte}``, ``{item, lte}``, ``{item, answered}``, ``{all: [...]}``, ``{any: [...]}``.
    """

    item: Annotated[str, Field(pattern=ID_PATTERN)] | None = None
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gte: float | None = None
    lte: float | None = None
    answered: bool | None = None
    all: list["Condition"] | None = None
    any: list["Condition"] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "Condition":
        tests = [k for k in ("equals", "in_", "not_in", "gte", "lte", "answered") if getattr(self, k) is not None]
        groups = [k for k in ("all", "any") if getattr(self, k) is not None]
        if groups:
            if self.item is not None or tests or len(groups) > 1:
                raise ValueError("a condition is either {all: [...]}, {any: [...]} or one test on one item")
            return self
        if self.item is None:
            raise ValueError("a condition needs 'item' (or 'all'/'any')")
        if len(tests) != 1:
            names = [t.rstrip("_") for t in tests] or ["none"]
            raise ValueError(
                "a condition needs exactly one test of equals, in, not_in, gte, lte, answered; got "
                + ", ".join(names)
            )
        return self

    def referenced_items(self) -> Iterator[str]:
        if self.item is not None:
            yield self.item
        for sub in (self.all or []) + (self.any or []):
            yield from sub.referenced_items()

    def holds(self, answers: dict[str, Any]) -> bool:
        if self.all is not None:
            return all(c.holds(answers) for c in self.all)
        if self.any is not None:
            return any(c.holds(answers) for c in self.any)
        value = answers.get(self.item)
        if self.answered is not None:
            return (value not in (None, "", [])) == self.answered
        if value in (None, "", []):
            return False
        values = value if isinstance(value, list) else [value]
        if self.equals is not None:
            return any(_same(v, self.equals) for v in values)
        if self.in_ is not None:
            return any(_same(v, w) for v in values for w in self.in_)
        if self.not_in is not None:
            return not any(_same(v, w) for v in values for w in self.not_in)
        try:
            number = float(values[0])
        except (TypeError, ValueError):
            return False
        if self.gte is not None:
            return number >= self.gte
        return number <= self.lte  # type: ignore[operator]


def _same(a: Any, b: Any) -> bool:
    return a == b or str(a) == str(b)


class ItemBase(Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    text: Text
    help: Text | None = None
    required: bool = False
    show_if: Condition | None = None

    def answer_ids(self) -> list[str]:
        """The keys this item stores answers under (a grid stores one per row)."""
        return [self.id]


class WithOptions(ItemBase):
    # A list of options, or the name of an entry in the file's option_sets.
    options: list[Option] | Annotated[str, Field(pattern=ID_PATTERN)]

    def option_list(self, questionnaire: "Questionnaire") -> list[Option]:
        if isinstance(self.options, str):
            return questionnaire.option_sets[self.options]
        return self.options


# Clinic settings a single-choice item may take its preselected answer from, and the codes each can be.
CLINIC_SETTINGS: dict[str, tuple[str, ...]] = {"enzyme_unit": ("ukat_L", "U_L")}


class SingleChoice(WithOptions):
    type: Literal["single"]
    # Preselect the option the clinic set (e.g. the lab's enzyme unit, PRO_APP_ENZYME_UNIT) when unanswered.
    default_from: Literal["enzyme_unit"] | None = None


class NoneOption(Strict):
    """The explicit "none of these" answer of a checkbox question: stored as its code, alone.

    Ticking it says "none apply"; leaving every box untouched leaves the question unanswered.
    """

    code: int | str = "none"
    text: Text


class MultipleChoice(WithOptions):
    type: Literal["multiple"]
    none_option: NoneOption | None = None

    def option_list(self, questionnaire: "Questionnaire") -> list[Option]:
        """The options, then the none option (if any) as the last choice."""
        options = super().option_list(questionnaire)
        if self.none_option is None:
            return options
        return [*options, Option(code=self.none_option.code, text=self.none_option.text)]

    def listed_options(self, questionnaire: "Questionnaire") -> list[Option]:
        """The options without the none option."""
        return super().option_list(questionnaire)


class YesNo(ItemBase):
    """Stored as 1 (yes) or 0 (no)."""

    type: Literal["yesno"]


class Numeric(ItemBase):
    type: Literal["numeric"]
    min: float
    max: float
    unit: str | None = None
    decimals: Annotated[int, Field(ge=0, le=4)] = 0


class RatingScale(ItemBase):
    """A 0-10 numeric rating scale: one large button per number."""

    type: Literal["nrs"]
    min: int = 0
    max: int = 10
    anchors: Anchors


class VisualAnalogueScale(ItemBase):
    """A 100 mm line, anchors at both ends, no ticks or numbers; stored 0.0-100.0 mm."""

    type: Literal["vas"]
    anchors: Anchors


class FreeText(ItemBase):
    type: Literal["text"]
    max_length: Annotated[int, Field(ge=1, le=10000)] = 500
    multiline: bool = False


class DateItem(ItemBase):
    type: Literal["date"]


class GridRow(Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    text: Text


class Grid(WithOptions):
    """Several rows sharing one set of options (SF-36, HAQ); each row is stored under its own id."""

    type: Literal["grid"]
    rows: Annotated[list[GridRow], Field(min_length=1)]

    def answer_ids(self) -> list[str]:
        return [row.id for row in self.rows]


Item = Annotated[
    Union[SingleChoice, MultipleChoice, YesNo, Numeric, RatingScale, VisualAnalogueScale, FreeText, DateItem, Grid],
    Field(discriminator="type"),
]
ITEM_TYPES = ("single", "multiple", "yesno", "numeric", "nrs", "vas", "text", "date", "grid")


class Page(Strict):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    title: Text | None = None
    intro: Text | None = None
    show_if: Condition | None = None
    items: Annotated[list[Item], Field(min_length=1)]


class DeclarativeScale(Strict):
    """A scale scored from the YAML alone: sum or mean, reverse coding, 0-100 rescaling."""

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    label: Text
    method: Literal["sum", "mean"]
    items: Annotated[list[str], Field(min_length=1)]
    reverse: list[str] = []
    min_answered: Annotated[int, Field(ge=1)] | None = None  # default: every item
    # Sum/mean of answered items scaled up to all items ("prorated"), as many manuals do.
    prorate: bool = False
    rescale: bool = False  # linear transformation to 0-100 from the items' possible range
    higher_is_better: bool
    decimals: Annotated[int, Field(ge=0, le=4)] = 1


class Scoring(Strict):
    """Which scorer plugin scores this questionnaire, and its settings."""

    scorer: Annotated[str, Field(pattern=ID_PATTERN)]
    options: dict[str, Any] = {}
    scales: list[DeclarativeScale] = []


class Questionnaire(Strict):
    id: Annotated[str, Field(pattern=QUESTIONNAIRE_ID_PATTERN)]
    version: Annotated[str, Field(min_length=1)]
    title: Text
    short_title: Text | None = None
    # How the patient's tablet names the questionnaire, said to the patient ("Din helhetsbedömning"), where
    # the title is the clinic's name for it ("Patientens helhetsbedömning"). None: the title.
    patient_title: Text | None = None
    instructions: Text | None = None
    source: Annotated[str, Field(min_length=1)]
    # License status of each language version, and who holds it where it is licensed.
    license: Text
    audience: Literal["patient", "clinician"]
    # Why the instrument's content or scoring is not yet verified against its published source;
    # shown wherever its scores are (staff pages, the printed summary, exports). None: verified.
    provisional: Text | None = None
    option_sets: dict[str, list[Option]] = {}
    pages: Annotated[list[Page], Field(min_length=1)]
    scoring: Scoring

    # --- derived, not part of the YAML
    definition_hash: str = Field(default="", exclude=True)
    source_file: str = Field(default="", exclude=True)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) else value

    def items(self) -> list[Any]:
        return [item for page in self.pages for item in page.items]

    def name_for_patient(self, lang: str) -> str:
        """The questionnaire as the tablet lists it."""
        return (self.patient_title or self.title).get(lang)

    def heading_for_patient(self, lang: str) -> str:
        """The short name the tablet puts before a page's title ("HAQ: Påklädning")."""
        return (self.patient_title or self.short_title or self.title).get(lang)

    def item(self, item_id: str) -> Any:
        for item in self.items():
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def answer_ids(self) -> list[str]:
        return [aid for item in self.items() for aid in item.answer_ids()]

    def item_for_answer(self, answer_id: str) -> Any:
        """The item (a grid for grid rows) that stores ``answer_id``."""
        for item in self.items():
            if answer_id in item.answer_ids():
                return item
        raise KeyError(answer_id)

    def answer_text(self, answer_id: str, lang: str) -> str:
        item = self.item_for_answer(answer_id)
        if isinstance(item, Grid):
            row = next(r for r in item.rows if r.id == answer_id)
            return row.text.get(lang)
        return item.text.get(lang)

    def options_for(self, answer_id: str) -> list[Option] | None:
        item = self.item_for_answer(answer_id)
        if isinstance(item, WithOptions):
            return item.option_list(self)
        if isinstance(item, YesNo):
            return YESNO_OPTIONS
        return None

    def _shown(self, answers: dict[str, Any]) -> tuple[list[Page], dict[str, list[Any]], dict[str, Any]]:
        """Skip logic in one pass down the questionnaire (conditions only look back): the pages shown,
        the items shown on each, and the answers that count.

        FHIR's enableWhen semantics (SDC; LHC-Forms): a condition reads only the answers that count,
        so the answer of a hidden item is absent to every later condition, and an item whose enabling
        item is hidden is itself hidden, whatever answer it still holds.
        """
        pages: list[Page] = []
        items: dict[str, list[Any]] = {}
        counted: dict[str, Any] = {}
        for page in self.pages:
            if page.show_if is not None and not page.show_if.holds(counted):
                continue
            pages.append(page)
            shown = items[page.id] = []
            for item in page.items:
                if item.show_if is not None and not item.show_if.holds(counted):
                    continue
                shown.append(item)
                counted.update((aid, answers[aid]) for aid in item.answer_ids() if aid in answers)
        return pages, items, counted

    def shown_answers(self, answers: dict[str, Any]) -> dict[str, Any]:
        """The answers that count: those of the items skip logic shows, in definition order.

        The one gate every reader of answers goes through (the tablet's pages and review, scoring,
        criteria, summaries, reports, exports). A hidden item's answer stays in the stored response
        while it is being filled in (shown again, it reappears) and in the audit trail, nowhere else.
        """
        return self._shown(answers)[2]

    def visible_pages(self, answers: dict[str, Any]) -> list[Page]:
        return self._shown(answers)[0]

    def visible_items(self, page: Page, answers: dict[str, Any]) -> list[Any]:
        """The items of ``page`` (a page of this questionnaire, or several pages' items in one) shown now."""
        shown = {item.id for items in self._shown(answers)[1].values() for item in items}
        return [item for item in page.items if item.id in shown]

    def visible_answer_ids(self, answers: dict[str, Any]) -> list[str]:
        pages, items, _counted = self._shown(answers)
        return [aid for page in pages for item in items[page.id] for aid in item.answer_ids()]


YESNO_OPTIONS = [
    Option(code=1, text=Text(sv="Ja", en="Yes")),
    Option(code=0, text=Text(sv="Nej", en="No")),
]


# --------------------------------------------------------------------------- YAML with lines


Path_ = tuple[Union[str, int], ...]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps YAML 1.2-ish booleans: only true/false, not yes/no/on/off."""


# 'yes'/'no' as booleans would silently turn option codes and texts into True/False.
_LineLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _parse_yaml(text: str, file: str) -> tuple[Any, dict[Path_, int], list[DefinitionError]]:
    """Parse YAML into plain data and a map from each path to its 1-based line."""
    lines: dict[Path_, int] = {}
    errors: list[DefinitionError] = []
    try:
        # The reader checks every character when the loader is made: a stray control character fails here.
        loader = _LineLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        return None, lines, [DefinitionError(file, line, "YAML", f"character {exc.character:#06x} is not allowed ({exc.reason})")]
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        return None, lines, [DefinitionError(file, line, "YAML", f"{problem}{context}")]
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        return None, lines, [DefinitionError(file, 1, "YAML", str(exc))]
    finally:
        loader.dispose()
    if node is None:
        return None, {(): 1}, [DefinitionError(file, 1, "file", "the file is empty")]

    def build(n: yaml.Node, path: Path_) -> Any:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = loader.construct_object(key_node, deep=True)
                if key == "<<":
                    errors.append(
                        DefinitionError(file, key_node.start_mark.line + 1, _where(path), "YAML merge keys are not supported")
                    )
                    continue
                if key in result:
                    errors.append(
                        DefinitionError(
                            file, key_node.start_mark.line + 1, _where(path + (key,)),
                            f"duplicate key '{key}' (first on line {lines[path + (key,)]})",
                        )
                    )
                    continue
                lines[path + (key,)] = key_node.start_mark.line + 1
                result[key] = build(value_node, path + (key,))
            return result
        if isinstance(n, yaml.SequenceNode):
            return [build(child, path + (i,)) for i, child in enumerate(n.value)]
        return loader.construct_object(n, deep=True)

    try:
        data = build(node, ())
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        return None, lines, [DefinitionError(file, mark.line + 1 if mark else 1, "YAML", exc.problem or str(exc))]
    return data, lines, errors


def _where(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "file"


def _line_for(path: Path_, lines: dict[Path_, int]) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


# --------------------------------------------------------------------------- messages


def _friendly(err: dict[str, Any], path: Path_) -> str:
    kind = err["type"]
    last = path[-1] if path else None
    if kind == "missing":
        if last in LANGUAGES:
            return f"{LANGUAGE_NAMES[last]} text ('{last}') is missing"
        return f"required key '{last}' is missing"
    if kind == "extra_forbidden":
        return f"unknown key '{last}'"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown item type '{ctx.get('tag')}' (known types: {', '.join(ITEM_TYPES)})"
    if kind == "union_tag_not_found":
        return f"an item needs 'type' (one of: {', '.join(ITEM_TYPES)})"
    if kind == "string_pattern_mismatch":
        if err.get("ctx", {}).get("pattern") == QUESTIONNAIRE_ID_PATTERN:
            return f"'{err.get('input')}' is not a valid questionnaire id (start with a letter; letters, digits, _ - only)"
        return f"'{err.get('input')}' is not a valid id (start with a letter; letters, digits, _ . - only)"
    if kind == "string_too_short" and last in LANGUAGES:
        return f"{LANGUAGE_NAMES[last]} text ('{last}') is empty"
    if kind == "literal_error":
        return f"{err['msg'].lower()}, got {err.get('input')!r}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg[:1].lower() + msg[1:]


def _clean_loc(loc: tuple[Any, ...]) -> Path_:
    """Drop pydantic's union member names (an item's type tag, 'list[Option]', 'str') from an error location."""
    out: list[Any] = []
    for k, part in enumerate(loc):
        after_item = k >= 2 and loc[k - 2] == "items" and isinstance(loc[k - 1], int)
        if isinstance(part, str) and ((after_item and part in ITEM_TYPES) or "[" in part
                                      or part in ("str", "int", "float", "bool", "function-after")):
            continue
        out.append("in" if part == "in_" else part)
    return tuple(out)


def _pydantic_errors(exc: ValidationError, file: str, lines: dict[Path_, int]) -> list[DefinitionError]:
    seen: set[tuple[Path_, str]] = set()
    out: list[DefinitionError] = []
    for err in exc.errors():
        path = _clean_loc(tuple(err["loc"]))
        message = _friendly(err, path)
        # A value that fails every member of a union yields one error per member; keep one.
        if (path, message) in seen or any(p == path for p, _ in seen) and err["type"] in ("string_type", "list_type", "int_type"):
            continue
        seen.add((path, message))
        where_path = path[:-1] if err["type"] in ("missing", "extra_forbidden") and path else path
        if err["type"] == "union_tag_invalid":
            path = where_path = path + ("type",)
        out.append(DefinitionError(file, _line_for(path, lines), _where(where_path), message))
    return out


# --------------------------------------------------------------------------- cross references


def _cross_checks(q: Questionnaire, file: str, lines: dict[Path_, int], known_scorers: set[str] | None) -> list[DefinitionError]:
    errors: list[DefinitionError] = []

    def err(path: Path_, message: str) -> None:
        errors.append(DefinitionError(file, _line_for(path, lines), _where(path), message))

    seen_pages: dict[str, Path_] = {}
    seen_ids: dict[str, Path_] = {}
    earlier: set[str] = set()
    answer_types: dict[str, Any] = {}

    for name, options in q.option_sets.items():
        _check_options(options, ("option_sets", name), err)

    def check_condition(cond: Condition, path: Path_, own_ids: set[str]) -> None:
        for ref in cond.referenced_items():
            if ref in own_ids:
                err(path, f"skip logic refers to the item itself ('{ref}')")
            elif ref not in earlier:
                later = ref in set(q.answer_ids())
                err(
                    path,
                    f"skip logic refers to item '{ref}', which comes later in the questionnaire"
                    if later
                    else f"skip logic refers to item '{ref}', which does not exist",
                )

    for p_index, page in enumerate(q.pages):
        ppath: Path_ = ("pages", p_index)
        if page.id in seen_pages:
            err(ppath + ("id",), f"duplicate page id '{page.id}'")
        seen_pages[page.id] = ppath
        if page.show_if:
            check_condition(page.show_if, ppath + ("show_if",), set())
        for i_index, item in enumerate(page.items):
            ipath: Path_ = ppath + ("items", i_index)
            ids = item.answer_ids() if not isinstance(item, Grid) else [item.id, *item.answer_ids()]
            for k, aid in enumerate(ids):
                at = ipath + ("id",) if k == 0 else ipath + ("rows", k - 1, "id")
                if aid in seen_ids:
                    err(at, f"duplicate item id '{aid}' (first on line {_line_for(seen_ids[aid], lines)})")
                else:
                    seen_ids[aid] = at
            if item.show_if:
                check_condition(item.show_if, ipath + ("show_if",), set(ids))
            if isinstance(item, (Numeric, RatingScale)) and item.min >= item.max:
                err(ipath + ("max",), f"min ({item.min:g}) must be below max ({item.max:g})")
            if isinstance(item, RatingScale) and (item.min < 0 or item.max > 10):
                err(ipath + ("min",), "a numeric rating scale runs within 0-10")
            if isinstance(item, WithOptions):
                if isinstance(item.options, str):
                    if item.options not in q.option_sets:
                        known = ", ".join(q.option_sets) or "none defined"
                        err(ipath + ("options",), f"unknown option set '{item.options}' (known: {known})")
                else:
                    _check_options(item.options, ipath + ("options",), err)
                if not isinstance(item.options, str) or item.options in q.option_sets:
                    codes = {str(o.code) for o in WithOptions.option_list(item, q)}
                    if isinstance(item, MultipleChoice) and item.none_option is not None \
                            and str(item.none_option.code) in codes:
                        err(ipath + ("none_option", "code"),
                            f"the none option's code {item.none_option.code!r} is also the code of an option")
                    if isinstance(item, SingleChoice) and item.default_from is not None:
                        absent = [c for c in CLINIC_SETTINGS[item.default_from] if c not in codes]
                        if absent:
                            err(ipath + ("default_from",), f"the setting '{item.default_from}' can be "
                                f"{', '.join(absent)}, which is not an option code of this item")
            for aid in item.answer_ids():
                earlier.add(aid)
                answer_types[aid] = item

    scoring = q.scoring
    if known_scorers is not None and scoring.scorer not in known_scorers:
        err(("scoring", "scorer"), f"unknown scorer '{scoring.scorer}' (known: {', '.join(sorted(known_scorers))})")
    if scoring.scorer == "declarative" and not scoring.scales:
        err(("scoring",), "the declarative scorer needs at least one scale under 'scales'")
    scale_ids: set[str] = set()
    for s_index, scale in enumerate(scoring.scales):
        spath: Path_ = ("scoring", "scales", s_index)
        if scale.id in scale_ids:
            err(spath + ("id",), f"duplicate scale id '{scale.id}'")
        scale_ids.add(scale.id)
        for k, ref in enumerate(scale.items):
            item = answer_types.get(ref)
            if item is None:
                err(spath + ("items", k), f"scale uses item '{ref}', which does not exist")
            elif not _numeric_range(item, q):
                err(spath + ("items", k), f"item '{ref}' ({item.type}) has no numeric codes to score")
        for k, ref in enumerate(scale.reverse):
            if ref not in scale.items:
                err(spath + ("reverse", k), f"reverse-coded item '{ref}' is not among the scale's items")
        if scale.min_answered is not None and scale.min_answered > len(scale.items):
            err(spath + ("min_answered",), f"min_answered ({scale.min_answered}) exceeds the number of items ({len(scale.items)})")
    return errors


def _check_options(options: list[Option], path: Path_, err: Any) -> None:
    if not options:
        err(path, "at least one option is needed")
    codes: set[str] = set()
    for k, option in enumerate(options):
        key = str(option.code)
        if key in codes:
            err(path + (k, "code"), f"duplicate option code {option.code!r}")
        codes.add(key)


def _numeric_range(item: Any, q: Questionnaire) -> tuple[float, float] | None:
    """The lowest and highest numeric value an item can store, if it is numeric."""
    if isinstance(item, (Numeric, RatingScale)):
        return float(item.min), float(item.max)
    if isinstance(item, VisualAnalogueScale):
        return 0.0, 100.0
    if isinstance(item, YesNo):
        return 0.0, 1.0
    if isinstance(item, (SingleChoice, Grid)):
        codes = [o.code for o in item.option_list(q)] if not isinstance(item.options, str) or item.options in q.option_sets else []
        if codes and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in codes):
            return float(min(codes)), float(max(codes))
    return None


numeric_range = _numeric_range


# --------------------------------------------------------------------------- public API


def definition_hash(data: Any) -> str:
    """A hash of the parsed definition: comments and formatting do not change it."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _known_scorers() -> set[str]:
    from .scoring import available_scorers

    return set(available_scorers())


def parse_model(text: str, file: str, model: type[ModelT], what: str) -> tuple[ModelT, Any, dict[Path_, int]]:
    """YAML text -> a validated model, its raw data and line map; DefinitionErrors with file:line otherwise."""
    data, lines, errors = _parse_yaml(text, file)
    if data is not None and not isinstance(data, dict):
        errors.append(DefinitionError(file, 1, "file", f"a {what} file must be a mapping (key: value) at the top"))
    if errors:
        raise DefinitionErrors(errors)
    try:
        return model.model_validate(data), data, lines
    except ValidationError as exc:
        raise DefinitionErrors(_pydantic_errors(exc, file, lines)) from None


def load_text(text: str, file: str = "<string>", known_scorers: set[str] | None = None) -> Questionnaire:
    q, data, lines = parse_model(text, file, Questionnaire, "questionnaire")
    errors = _cross_checks(q, file, lines, known_scorers if known_scorers is not None else _known_scorers())
    if errors:
        raise DefinitionErrors(errors)
    return q.model_copy(update={"definition_hash": definition_hash(data), "source_file": file})


def read_text(path: Path) -> str:
    """A definition file's text, or DefinitionErrors saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionErrors([DefinitionError(str(path), 1, "file", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise DefinitionErrors([DefinitionError(str(path), 1, "file", f"cannot read: {exc.strerror}")]) from None


def load_file(path: str | Path, known_scorers: set[str] | None = None) -> Questionnaire:
    return load_text(read_text(Path(path)), str(path), known_scorers)


def _yaml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(list(p.glob("*.yaml")) + list(p.glob("*.yml"))))
        else:
            files.append(p)
    return files


def validate_paths(paths: list[str | Path]) -> tuple[dict[str, Questionnaire], list[DefinitionError]]:
    """Load every file; return the valid questionnaires and all errors (ids unique across files)."""
    questionnaires: dict[str, Questionnaire] = {}
    errors: list[DefinitionError] = []
    for file in _yaml_files([Path(p) for p in paths]):
        try:
            q = load_file(file)
        except DefinitionErrors as exc:
            errors.extend(exc.errors)
            continue
        if q.id in questionnaires:
            errors.append(
                DefinitionError(str(file), 1, "id", f"questionnaire id '{q.id}' is also used by {questionnaires[q.id].source_file}")
            )
            continue
        questionnaires[q.id] = q
    return questionnaires, errors


def load_directory(path: str | Path) -> dict[str, Questionnaire]:
    """All questionnaires in a folder, or DefinitionErrors naming every bad file and line."""
    questionnaires, errors = validate_paths([path])
    if errors:
        raise DefinitionErrors(errors)
    return questionnaires


def json_schema() -> dict[str, Any]:
    """JSON Schema of a questionnaire file, for editors."""
    schema = Questionnaire.model_json_schema(by_alias=True)
    schema["properties"].pop("definition_hash", None)
    schema["properties"].pop("source_file", None)
    # Editors (yaml-language-server) pick the dialect from $schema; the title names the file type.
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "pro-app questionnaire"}
