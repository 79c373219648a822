"""Serum muscle enzymes: each value with its unit, converted to U/L, and as a multiple of the lab's upper limit.

Units are data: each enzyme's unit is stored with its value (item ``<enzyme>_unit``, code
``ukat_L`` or ``U_L``; the form preselects the clinic's unit, ``PRO_APP_ENZYME_UNIT``). A value
is converted to U/L before any change is computed: 1 µkat/L = 60 U/L (1 U = 1 µmol/min,
1 kat = 1 mol/s; IFCC/SI). A value whose unit was not recorded keeps its number but cannot
be converted, and says so.

The "most abnormal" enzyme of a visit is the one with the highest value / upper limit of
normal (both in the unit the lab reported); ties go to the first in ``ENZYMES`` order.
The response criteria choose it at baseline and follow the same enzyme at later visits
(``pro_app.outcomes``).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from . import Scale, as_exact, is_answered, not_computable, scorer

__all__ = ["ENZYMES", "UNITS", "UNIT_CODES", "U_PER_UKAT", "to_u_per_l", "from_u_per_l", "unit_symbol",
           "enzyme_unit_code", "score_enzymes"]

# Item prefix -> label, in the order of the IMACS core set and the 2016 ACR/EULAR criteria
# (CK, aldolase, LD, AST, ALT); each enzyme has items <prefix>, <prefix>_ULN and <prefix>_unit.
ENZYMES: dict[str, dict[str, str]] = {
    "CK": {"sv": "CK (kreatinkinas)", "en": "CK (creatine kinase)"},
    "aldolase": {"sv": "Aldolas", "en": "Aldolase"},
    "LD": {"sv": "LD (laktatdehydrogenas)", "en": "LD (lactate dehydrogenase)"},
    "AST": {"sv": "ASAT", "en": "AST"},
    "ALT": {"sv": "ALAT", "en": "ALT"},
}
U_PER_UKAT = 60  # 1 µkat/L = 60 U/L
# Stored unit code -> (symbol shown to people, U/L per unit).
UNITS: dict[str, tuple[str, int]] = {"ukat_L": ("µkat/L", U_PER_UKAT), "U_L": ("U/L", 1)}
# What a person may write for a unit (configuration, imports) -> the stored code.
UNIT_CODES: dict[str, str] = {"µkat/l": "ukat_L", "ukat/l": "ukat_L", "ukat_l": "ukat_L", "µkat": "ukat_L",
                              "ukat": "ukat_L", "u/l": "U_L", "u_l": "U_L", "u": "U_L", "iu/l": "U_L"}


def enzyme_unit_code(text: str) -> str:
    """The stored code of a unit written as 'µkat/L', 'ukat/L' or 'U/L' (any case); ValueError otherwise."""
    code = UNIT_CODES.get(text.strip().lower())
    if code is None:
        raise ValueError(f"unknown enzyme unit {text!r} (use µkat/L or U/L)")
    return code


def unit_symbol(code: str | None) -> str | None:
    """'µkat/L' or 'U/L' for a stored unit code; never the code itself."""
    return UNITS[code][0] if code in UNITS else None


def to_u_per_l(value: Any, unit: str) -> Fraction:
    """A value in µkat/L or U/L (stored code) as U/L, exactly."""
    return as_exact(value) * UNITS[unit][1]


def from_u_per_l(value: Any, unit: str) -> Fraction:
    """A value in U/L expressed in the unit with stored code ``unit``, exactly."""
    return as_exact(value) / UNITS[unit][1]


NOT_RECORDED = not_computable("No value was recorded.", "Inget värde registrerades.")


@scorer("enzymes")
def score_enzymes(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """For each enzyme measured: the value in the unit recorded, and value / upper limit of normal.

    Source: IMACS core set measure of laboratory activity, serum muscle enzymes (Miller FW et al.
    Rheumatology 2001;40:1262-73); the 2016 ACR/EULAR criteria use the most abnormal enzyme,
    judged against its upper limit of normal (Aggarwal R et al. Arthritis Rheumatol 2017;69:898-910;
    Rider LG et al. Ann Rheum Dis 2017;76:782-91, Table 3: "most abnormal serum muscle enzyme
    level among creatine kinase, aldolase, [ALT, AST] and lactate dehydrogenase").
    CK is reported even when missing (with a reason); the optional enzymes only when measured.
    ``extra`` of each value holds the unit code, the upper limit and the value in U/L.
    ``enzyme_most_abnormal`` is the highest value / ULN among the enzymes measured, and names it.
    Neither a value nor a ratio has an upper bound (``max`` None).
    """
    scales: list[Scale] = []
    ratios: dict[str, Fraction] = {}
    for prefix, label in ENZYMES.items():
        raw = answers.get(prefix)
        if not is_answered(raw) and prefix != "CK":
            continue
        unit = str(answers.get(f"{prefix}_unit"))
        unit = unit if unit in UNITS else None  # not recorded ("None"): no unit
        raw_uln = answers.get(f"{prefix}_ULN")
        uln = as_exact(raw_uln) if is_answered(raw_uln) else None
        value = as_exact(raw) if is_answered(raw) else None
        scales.append(Scale(
            id=prefix, label=label, value=value, min=0.0, max=None,
            higher_is_better=False, answered=int(value is not None), items=1,
            missing=[i for i in (prefix, f"{prefix}_unit") if not is_answered(answers.get(i))] if value is not None
            else [prefix], unit=unit_symbol(unit), decimals=2,
            reason=None if value is not None else NOT_RECORDED,
            extra={
                "unit": unit,
                "uln": None if uln is None else float(uln),
                "value_U_L": None if value is None or unit is None else float(to_u_per_l(value, unit)),
                "uln_U_L": None if uln is None or unit is None else float(to_u_per_l(uln, unit)),
            },
        ))
        ratio: Fraction | None = None
        reason = None
        if value is None:
            reason = NOT_RECORDED
        elif uln is None or uln <= 0:
            reason = not_computable("The lab's upper limit of normal was not recorded.",
                                    "Laboratoriets övre referensgräns registrerades inte.")
        else:
            ratio = value / uln
            ratios[prefix] = ratio
        ratio_missing = [i for i in (prefix, f"{prefix}_ULN") if not is_answered(answers.get(i))]
        scales.append(Scale(
            id=f"{prefix}_xULN",
            label={"sv": f"{label['sv']}, multipel av övre referensgränsen",
                   "en": f"{label['en']}, multiple of the upper limit of normal"},
            value=ratio, min=0.0, max=None, higher_is_better=False,
            answered=2 - len(ratio_missing), items=2, missing=ratio_missing, reason=reason, decimals=2,
        ))
    worst = max(ratios, key=lambda k: ratios[k]) if ratios else None  # max keeps the first of equals
    scales.append(Scale(
        id="enzyme_most_abnormal",
        label={"sv": "Mest avvikande muskelenzym, multipel av övre referensgränsen",
               "en": "Most abnormal muscle enzyme, multiple of the upper limit of normal"},
        value=ratios[worst] if worst else None, min=0.0, max=None, higher_is_better=False,
        answered=len(ratios), items=len(ENZYMES), decimals=2,
        reason=None if worst else not_computable("No enzyme with both a value and an upper limit of normal.",
                                                 "Inget enzym med både värde och övre referensgräns."),
        extra={"enzyme": worst, "enzyme_label": ENZYMES[worst] if worst else None},
    ))
    return scales
