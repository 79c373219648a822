"""Scoring plugins: a registry from scorer name to function.

A questionnaire names its scorer in ``scoring.scorer``. Built-in scorers register
themselves with ``@scorer("name")``; third-party packages add theirs through the
``pro_app.scorers`` entry point group, whose entries point at a scorer function.

A scorer takes the questionnaire and the stored answers (answer id -> code or value)
and returns a list of ``Scale`` results. A scale that cannot be computed has
``value=None`` and a ``reason`` in both languages: never a guessed number.

Numbers are exact. A scorer computes with ``fractions.Fraction`` and hands the Fraction to
``Scale``, which keeps it in ``exact`` and its unrounded float in ``value``; ``decimals`` only
says how many decimals to show. Response criteria decide on ``exact``, never on a rounded
number. A stored answer is a decimal number as typed (or as the VAS rounds it, to 0.1 mm):
``as_exact`` reads a float by its shortest decimal form, so 41.84 is exactly 41.84.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import cache
from fractions import Fraction
from importlib.metadata import entry_points
from typing import Any, Callable

__all__ = ["Scale", "Scorer", "SCORERS", "scorer", "available_scorers", "get_scorer", "score", "not_computable",
           "too_few_answered", "single_item_scale", "UNMARKED", "answered", "as_exact", "is_answered", "display_number"]


def as_exact(value: Any) -> Fraction:
    """A number as an exact fraction; a float is read by its shortest decimal form (0.1 is 1/10)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise TypeError("a truth value is not a number")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        return Fraction(value)
    return Fraction(str(value).strip().replace(",", "."))

ENTRY_POINT_GROUP = "pro_app.scorers"


@dataclass
class Scale:
    """One named score of one questionnaire response."""

    id: str
    label: dict[str, str]  # {"sv": ..., "en": ...}
    value: float | None  # unrounded; a scorer may pass a Fraction, kept in ``exact``
    min: float
    max: float | None  # None: no upper bound (a serum enzyme)
    higher_is_better: bool
    answered: int  # items answered that count towards this scale
    items: int  # items the scale is built from
    missing: list[str] = field(default_factory=list)  # answer ids left unanswered
    reason: dict[str, str] | None = None  # why value is None, in both languages
    unit: str | None = None
    decimals: int = 1  # for display only: criteria use ``exact``
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the HAQ-DI without aids
    exact: Fraction | None = field(default=None, compare=False)  # the value as an exact fraction
    # A component of a main score (a subscale, a task, one organ system): the one-page summary leaves it
    # to the full report. A plugin's scales are main scores unless it says so.
    detail: bool = False

    def __post_init__(self) -> None:
        if self.value is None:
            self.exact = None
            return
        if isinstance(self.value, Fraction):
            self.exact = self.value
        elif self.exact is None or float(self.exact) != self.value:
            # No exact value, or one left over from a copy whose value was changed (dataclasses.replace).
            self.exact = as_exact(self.value)
        self.value = float(self.exact)

    @property
    def computable(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``value`` unrounded, ``exact`` as "numerator/denominator" text, ``display`` rounded."""
        out = asdict(self)
        out["exact"] = None if self.exact is None else f"{self.exact.numerator}/{self.exact.denominator}"
        out["display"] = None if self.exact is None else display_number(self.exact, self.decimals)
        return _json_safe(out)


def display_number(value: Fraction | float, decimals: int) -> str:
    """A number rounded half away from zero to ``decimals`` places, with a decimal point (for JSON and logs)."""
    scaled = as_exact(value) * 10 ** decimals
    whole = math.floor(abs(scaled) + Fraction(1, 2))
    text = f"{whole:0{decimals + 1}d}"
    text = f"{text[:-decimals]}.{text[-decimals:]}" if decimals else text
    return ("-" if scaled < 0 and whole else "") + text


def _json_safe(value: Any) -> Any:
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


Scorer = Callable[[Any, dict[str, Any]], list[Scale]]
SCORERS: dict[str, Scorer] = {}


def scorer(name: str) -> Callable[[Scorer], Scorer]:
    def register(fn: Scorer) -> Scorer:
        SCORERS[name] = fn
        return fn

    return register


def _load_builtins() -> None:
    # Importing the modules runs their @scorer decorators.
    from . import declarative, vas  # noqa: F401

    for module in ("haq", "sf36", "map", "clinician"):
        try:
            __import__(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module}":
                raise


@cache  # once per process (a test clears it to install a plugin)
def _load_entry_points() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        SCORERS.setdefault(ep.name, ep.load())


def available_scorers() -> list[str]:
    _load_builtins()
    _load_entry_points()
    return sorted(SCORERS)


def get_scorer(name: str) -> Scorer:
    available_scorers()
    return SCORERS[name]


def score(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """Score one response with the scorer its questionnaire names, from the answers that count.

    A scorer sees only the answers of items skip logic shows (``Questionnaire.shown_answers``): a
    hidden item's answer changes no score. A hidden item was not shown, so it is never listed as a
    missing item either; only shown and unanswered items are.
    """
    counted = questionnaire.shown_answers(answers)
    scales = get_scorer(questionnaire.scoring.scorer)(questionnaire, counted)
    hidden = set(questionnaire.answer_ids()) - set(questionnaire.visible_answer_ids(counted))
    for s in scales:
        if hidden.intersection(s.missing):  # ``missing`` may also name scales (SF-36's summaries)
            s.missing = [aid for aid in s.missing if aid not in hidden]
    return scales


def is_answered(value: Any) -> bool:
    """An empty list is not an answer: a checkbox question left untouched (or stored so by pro-app
    before 'none of these' was an explicit option) says nothing either way."""
    return value not in (None, "", [])


def answered(answers: dict[str, Any], ids: list[str]) -> list[str]:
    return [i for i in ids if is_answered(answers.get(i))]


def not_computable(en: str, sv: str) -> dict[str, str]:
    return {"en": en, "sv": sv}


def single_item_scale(id: str, label: dict[str, str], value: float | Fraction | None, item_id: str, *, min: float,
                      max: float | None, higher_is_better: bool, reason: dict[str, str], unit: str | None = None,
                      decimals: int = 1, extra: dict[str, Any] | None = None, detail: bool = False) -> Scale:
    """A scale that is one item (a VAS, a transition item): missing when that item is; ``reason`` says why."""
    return Scale(
        id=id, label=label, value=value, min=min, max=max, higher_is_better=higher_is_better,
        answered=0 if value is None else 1, items=1, missing=[] if value is not None else [item_id],
        reason=None if value is not None else reason, unit=unit, decimals=decimals, extra=extra or {},
        detail=detail,
    )


UNMARKED = {"en": "The scale was not marked.", "sv": "Skalan markerades inte."}


def too_few_answered(answered: int, items: int, needed: int) -> dict[str, str]:
    """The reason a scale with a minimum number of answered items has no value."""
    return not_computable(
        f"{answered} of {items} items answered; at least {needed} are needed.",
        f"{answered} av {items} frågor besvarade; minst {needed} behövs.",
    )
