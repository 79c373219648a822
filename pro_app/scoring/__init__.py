"""Scoring plugins: a registry from scorer name to function.

A questionnaire names its scorer in ``scoring.scorer``. Built-in scorers register
themselves with ``@scorer("name")``; third-party packages add theirs through the
``pro_app.scorers`` entry point group, whose entries point at a scorer function.

A scorer takes the questionnaire and the stored answers (answer id -> code or value)
and returns a list of ``Scale`` results. A scale that cannot be computed has
``value=None`` and a ``reason`` in both languages: never a guessed number.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable

__all__ = ["Scale", "Scorer", "SCORERS", "scorer", "available_scorers", "get_scorer", "score", "not_computable", "too_few_answered", "single_item_scale", "UNMARKED", "answered"]

ENTRY_POINT_GROUP = "pro_app.scorers"


@dataclass
class Scale:
    """One named score of one questionnaire response."""

    id: str
    label: dict[str, str]  # {"sv": ..., "en": ...}
    value: float | None
    min: float
    max: float
    higher_is_better: bool
    answered: int  # items answered that count towards this scale
    items: int  # items the scale is built from
    missing: list[str] = field(default_factory=list)  # answer ids left unanswered
    reason: dict[str, str] | None = None  # why value is None, in both languages
    unit: str | None = None
    decimals: int = 1
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the HAQ-DI without aids

    @property
    def computable(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Scorer = Callable[[Any, dict[str, Any]], list[Scale]]
SCORERS: dict[str, Scorer] = {}
_entry_points_loaded = False


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


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
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
    """Score one response with the scorer its questionnaire names."""
    return get_scorer(questionnaire.scoring.scorer)(questionnaire, answers)


def is_answered(value: Any) -> bool:
    return value not in (None, "", [])


def answered(answers: dict[str, Any], ids: list[str]) -> list[str]:
    return [i for i in ids if is_answered(answers.get(i))]


def not_computable(en: str, sv: str) -> dict[str, str]:
    return {"en": en, "sv": sv}


def single_item_scale(id: str, label: dict[str, str], value: float | None, item_id: str, *, min: float, max: float,
                      higher_is_better: bool, reason: dict[str, str], unit: str | None = None, decimals: int = 1,
                      extra: dict[str, Any] | None = None) -> Scale:
    """A scale that is one item (a VAS, a transition item): missing when that item is; ``reason`` says why."""
    return Scale(
        id=id, label=label, value=value, min=min, max=max, higher_is_better=higher_is_better,
        answered=0 if value is None else 1, items=1, missing=[] if value is not None else [item_id],
        reason=None if value is not None else reason, unit=unit, decimals=decimals, extra=extra or {},
    )


UNMARKED = {"en": "The scale was not marked.", "sv": "Skalan markerades inte."}


def too_few_answered(answered: int, items: int, needed: int) -> dict[str, str]:
    """The reason a scale with a minimum number of answered items has no value."""
    return not_computable(
        f"{answered} of {items} items answered; at least {needed} are needed.",
        f"{answered} av {items} frågor besvarade; minst {needed} behövs.",
    )
