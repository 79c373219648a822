"""Answers in: check and normalise a set of answers against a questionnaire.

Used wherever answers enter the app from outside the tablet form: the ``score``
command, imports, tests. Each problem is an ``AnswerError`` naming the item.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .definitions import (
    DateItem,
    FreeText,
    MultipleChoice,
    Numeric,
    Questionnaire,
    RatingScale,
    VisualAnalogueScale,
)

__all__ = ["AnswerError", "AnswerErrors", "normalise_answers", "normalise_value"]


@dataclass(frozen=True)
class AnswerError:
    item: str
    message: str

    def __str__(self) -> str:
        return f"{self.item}: {self.message}"


class AnswerErrors(ValueError):
    def __init__(self, errors: list[AnswerError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def _code_lookup(codes: list[Any], value: Any) -> Any:
    for code in codes:
        if value == code or str(value) == str(code):
            return code
    raise ValueError(f"code {value!r} is not one of {', '.join(str(c) for c in codes)}")


def normalise_value(questionnaire: Questionnaire, answer_id: str, value: Any) -> Any:
    """The stored form of one answer, or ValueError with a message that names the problem."""
    if value is None or value == "":
        return None
    item = questionnaire.item_for_answer(answer_id)
    options = questionnaire.options_for(answer_id)
    if isinstance(item, MultipleChoice):
        values = value if isinstance(value, list) else [value]
        if not values:
            return None  # nothing ticked is no answer; "none of these" is the none option's code
        codes = [o.code for o in options or []]
        chosen = [_code_lookup(codes, v) for v in values]
        if item.none_option is not None and item.none_option.code in chosen and len(chosen) > 1:
            raise ValueError("'none of these' cannot be combined with other answers")
        return chosen
    if options is not None:
        if isinstance(value, (list, dict)):
            raise ValueError("one option code expected")
        return _code_lookup([o.code for o in options], value)
    if isinstance(item, (Numeric, RatingScale, VisualAnalogueScale)):
        if isinstance(value, bool):
            raise ValueError("a number expected")
        try:
            number = float(str(value).replace(",", "."))
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        lo, hi = (0.0, 100.0) if isinstance(item, VisualAnalogueScale) else (float(item.min), float(item.max))
        if not lo <= number <= hi:
            raise ValueError(f"{number:g} is outside {lo:g}-{hi:g}")
        if isinstance(item, RatingScale):
            if number != int(number):
                raise ValueError("a whole number expected")
            return int(number)
        if isinstance(item, VisualAnalogueScale):
            return round(number, 1)
        return int(number) if item.decimals == 0 and number == int(number) else round(number, item.decimals)
    if isinstance(item, DateItem):
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(item, FreeText):
        text = str(value)
        if len(text) > item.max_length:
            raise ValueError(f"longer than {item.max_length} characters")
        return text
    raise ValueError(f"cannot store an answer for a {item.type} item")  # pragma: no cover


def normalise_answers(questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    """Check every answer; return them in stored form or raise AnswerErrors listing every problem."""
    if not isinstance(answers, dict):
        raise AnswerErrors([AnswerError("answers", "expected an object mapping item id to answer")])
    known = set(questionnaire.answer_ids())
    out: dict[str, Any] = {}
    errors: list[AnswerError] = []
    for key, value in answers.items():
        if key not in known:
            errors.append(AnswerError(str(key), f"unknown item in questionnaire '{questionnaire.id}'"))
            continue
        try:
            normalised = normalise_value(questionnaire, key, value)
        except ValueError as exc:
            errors.append(AnswerError(key, str(exc)))
            continue
        if normalised is not None:
            out[key] = normalised
    if errors:
        raise AnswerErrors(errors)
    return out
