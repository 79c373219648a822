"""Visual analogue scales scored as themselves: 0-100 mm (and 0-10 cm where wanted)."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..definitions import VisualAnalogueScale
from . import UNMARKED, Scale, as_exact, scorer, single_item_scale


@scorer("vas")
def score_vas(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """Each VAS item is one scale in mm from its left anchor (0) to its right anchor (100).

    Source: IMACS core set, patient/physician global activity on a 10 cm VAS
    (Miller FW et al., Rheumatology 2001;40:1262-73; Rider LG et al., Arthritis Care Res 2011;63 Suppl 11).
    Option ``unit: cm`` reports 0-10 cm instead. An untouched line is missing, never 0.
    Option ``higher_is_better`` (default false: more activity/pain is worse).
    """
    unit = questionnaire.scoring.options.get("unit", "mm")
    better_high = bool(questionnaire.scoring.options.get("higher_is_better", False))
    factor, top, decimals = (Fraction(1, 10), 10.0, 2) if unit == "cm" else (Fraction(1), 100.0, 1)
    items = [item for item in questionnaire.items() if isinstance(item, VisualAnalogueScale)]
    # A one-line instrument is named by its title, not by its question.
    title = questionnaire.short_title or questionnaire.title
    scales = []
    for item in items:
        raw = answers.get(item.id)
        value = None if raw in (None, "") else as_exact(raw) * factor
        label = (title if len(items) == 1 else item.text).model_dump()
        scales.append(single_item_scale(item.id, label, value, item.id, min=0.0, max=top, higher_is_better=better_high,
                                        reason=UNMARKED, unit=unit, decimals=decimals))
    return scales
