"""Serum muscle enzymes: each value as measured and as a multiple of the lab's upper limit."""
from __future__ import annotations

from typing import Any

from . import Scale, is_answered, not_computable, scorer

__all__ = ["ENZYMES", "score_enzymes"]

# Item prefix -> label; each enzyme has items <prefix>, <prefix>_ULN and <prefix>_unit.
ENZYMES: dict[str, dict[str, str]] = {
    "CK": {"sv": "CK (kreatinkinas)", "en": "CK (creatine kinase)"},
    "aldolase": {"sv": "Aldolas", "en": "Aldolase"},
    "LD": {"sv": "LD (laktatdehydrogenas)", "en": "LD (lactate dehydrogenase)"},
    "ALT": {"sv": "ALAT", "en": "ALT"},
    "AST": {"sv": "ASAT", "en": "AST"},
}
# A ratio to the upper limit has no natural ceiling; this only bounds charts.


@scorer("enzymes")
def score_enzymes(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """For each enzyme measured: the value (in the unit recorded) and value / upper limit of normal.

    Source: IMACS core set measure of laboratory activity, serum muscle enzymes (Miller FW et al.
    Rheumatology 2001;40:1262-73); the 2016 ACR/EULAR criteria use the most abnormal enzyme,
    judged against its upper limit of normal (Aggarwal R et al. Arthritis Rheumatol 2017;69:898-910).
    CK is reported even when missing (with a reason); the optional enzymes only when measured.
    ``enzyme_most_abnormal`` is the highest value / ULN among the enzymes measured.
    """
    scales: list[Scale] = []
    ratios: dict[str, float] = {}
    for prefix, label in ENZYMES.items():
        raw = answers.get(prefix)
        if not is_answered(raw) and prefix != "CK":
            continue
        unit = answers.get(f"{prefix}_unit")
        uln = answers.get(f"{prefix}_ULN")
        value = float(raw) if is_answered(raw) else None
        scales.append(Scale(
            id=prefix, label=label, value=value, min=0.0, max=float(_item_max(questionnaire, prefix)),
            higher_is_better=False, answered=int(value is not None), items=1,
            missing=[] if value is not None else [prefix], unit=str(unit) if is_answered(unit) else None, decimals=2,
            reason=None if value is not None else not_computable("No value was recorded.", "Inget värde registrerades."),
            extra={"uln": float(uln) if is_answered(uln) else None},
        ))
        ratio: float | None = None
        reason = None
        if value is None:
            reason = not_computable("No value was recorded.", "Inget värde registrerades.")
        elif not is_answered(uln) or float(uln) <= 0:
            reason = not_computable("The lab's upper limit of normal was not recorded.",
                                    "Laboratoriets övre referensgräns registrerades inte.")
        else:
            ratio = round(value / float(uln), 2)
            ratios[prefix] = ratio
        scales.append(Scale(
            id=f"{prefix}_xULN",
            label={"sv": f"{label['sv']} / övre referensgräns", "en": f"{label['en']} / upper limit of normal"},
            value=ratio, min=0.0, max=_ratio_max(questionnaire, prefix), higher_is_better=False,
            answered=int(ratio is not None), items=2, missing=[i for i in (prefix, f"{prefix}_ULN") if not is_answered(answers.get(i))],
            reason=reason, unit="xULN", decimals=2,
        ))
    worst = max(ratios, key=lambda k: ratios[k]) if ratios else None
    scales.append(Scale(
        id="enzyme_most_abnormal",
        label={"sv": "Mest avvikande muskelenzym / övre referensgräns", "en": "Most abnormal muscle enzyme / upper limit of normal"},
        value=ratios[worst] if worst else None, min=0.0,
        max=max(_ratio_max(questionnaire, p) for p in ENZYMES), higher_is_better=False,
        answered=len(ratios), items=len(ENZYMES), unit="xULN", decimals=2,
        reason=None if worst else not_computable("No enzyme with both a value and an upper limit of normal.",
                                                 "Inget enzym med både värde och övre referensgräns."),
        extra={"enzyme": worst},
    ))
    return scales


def _ratio_max(questionnaire: Any, prefix: str) -> float:
    """The largest value / ULN the form allows: its highest value over its smallest positive ULN (0.01)."""
    return _item_max(questionnaire, prefix) / 0.01


def _item_max(questionnaire: Any, item_id: str) -> float:
    try:
        return float(questionnaire.item(item_id).max)
    except (KeyError, AttributeError):
        return 0.0
