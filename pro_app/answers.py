"""Answers in: check and normalise a set of answers against a questionnaire.

Used wherever answers enter the app from outside the tablet form: the ``score``
command, imports, tests. Each problem is an ``AnswerError`` naming the item.
"""
from __future__ import annotations

import datetime as dt
import math
import re
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

__all__ = ["AnswerError", "AnswerErrors", "normalise_answers", "normalise_value", "parse_number", "clean_text"]

# A number as people write it: ASCII digits, one decimal point or comma, no exponent, no "1_0", no "٣".
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Control characters (but tab and newline) and bidirectional overrides: invisible, and they can make
# stored text read differently from what was typed (Trojan Source, CVE-2021-42574).
INVISIBLE = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), 0x061C,
                           0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def parse_number(value: Any) -> float:
    """A finite number from a JSON number or a decimal written with ASCII digits; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a number expected")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().replace(",", ".")
        if not NUMBER.fullmatch(text):
            raise ValueError(f"{value!r} is not a number")
        number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a number")
    return number


def clean_text(value: Any) -> str:
    """Free text without control characters (tab and newline stay) and without bidirectional overrides."""
    return str(value).replace("\r\n", "\n").replace("\r", "\n").translate(INVISIBLE)


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
        if len({str(c) for c in chosen}) != len(chosen):  # a set of known codes: each at most once
            raise ValueError("an option is given more than once")
        if item.none_option is not None and item.none_option.code in chosen and len(chosen) > 1:
            raise ValueError("'none of these' cannot be combined with other answers")
        return chosen
    if options is not None:
        if isinstance(value, (list, dict)):
            raise ValueError("one option code expected")
        return _code_lookup([o.code for o in options], value)
    if isinstance(item, (Numeric, RatingScale, VisualAnalogueScale)):
        number = parse_number(value)
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
        text = clean_text(value)
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
