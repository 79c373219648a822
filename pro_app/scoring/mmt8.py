"""MMT-8: manual muscle testing of eight muscle groups on the Kendall 0-10 scale."""
from __future__ import annotations

from typing import Any

from . import Scale, as_exact, is_answered, not_computable, scorer

__all__ = ["MUSCLE_GROUPS", "AXIAL", "score_mmt8"]

AXIAL = "neck_flexors"
# The seven muscle groups tested on both sides, in IMACS order.
MUSCLE_GROUPS = (
    "deltoid", "biceps", "gluteus_maximus", "gluteus_medius", "quadriceps", "wrist_extensors", "ankle_dorsiflexors",
)
GRADE_MAX = 10


def _item(group: str, side: str | None) -> str:
    return f"MMT_{group}" + (f"_{side}" if side else "")


@scorer("mmt8")
def score_mmt8(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """The unilateral total (0-80) and the bilateral total (0-150); higher is stronger.

    Source: Rider LG et al. Validation of manual muscle testing and a subset of eight muscles
    for adult and juvenile idiopathic inflammatory myopathies. Arthritis Care Res 2010;62:465-72
    (MMT-8: neck flexors plus deltoid, biceps, gluteus maximus, gluteus medius, quadriceps, wrist
    extensors and ankle dorsiflexors on one side, 0-80; tested bilaterally, 0-150).

    Missing grades are never filled in or prorated: a total with an untested muscle group is not
    computable and names the groups. Option ``side`` (R or L, default R) picks the side of the
    unilateral total; option ``substitute_other_side`` (default false) lets a group untested on
    that side take the other side's grade, which is reported under ``extra["substituted"]``.
    """
    options = questionnaire.scoring.options
    side = str(options.get("side", "R"))
    other = "L" if side == "R" else "R"
    substitute = bool(options.get("substitute_other_side", False))

    unilateral_ids = [_item(AXIAL, None)] + [_item(g, side) for g in MUSCLE_GROUPS]
    substituted: dict[str, str] = {}
    values: list[Any] = []
    missing: list[str] = []
    for item_id in unilateral_ids:
        if is_answered(answers.get(item_id)):
            values.append(as_exact(answers[item_id]))
            continue
        partner = item_id[: -len(side)] + other if item_id != _item(AXIAL, None) else None
        if substitute and partner and is_answered(answers.get(partner)):
            values.append(as_exact(answers[partner]))
            substituted[item_id] = partner
        else:
            missing.append(item_id)
    unilateral = _total(
        "MMT8_total",
        {"sv": f"MMT-8 totalpoäng ({'höger' if side == 'R' else 'vänster'} sida)",
         "en": f"MMT-8 total ({'right' if side == 'R' else 'left'} side)"},
        values, missing, len(unilateral_ids), questionnaire,
    )
    if substituted:
        unilateral.extra["substituted"] = substituted

    bilateral_ids = [_item(AXIAL, None)] + [_item(g, s) for g in MUSCLE_GROUPS for s in ("R", "L")]
    done = [i for i in bilateral_ids if is_answered(answers.get(i))]
    bilateral = _total(
        "MMT8_bilateral",
        {"sv": "MMT-8 totalpoäng (båda sidor)", "en": "MMT-8 total (both sides)"},
        [as_exact(answers[i]) for i in done], [i for i in bilateral_ids if i not in done], len(bilateral_ids),
        questionnaire,
    )
    return [unilateral, bilateral]


def _total(scale_id: str, label: dict[str, str], values: list[Any], missing: list[str], n_items: int,
           questionnaire: Any) -> Scale:
    value = None if missing else sum(values)
    reason = None
    if missing:
        names = {lang: "; ".join(questionnaire.answer_text(i, lang) for i in missing) for lang in ("en", "sv")}
        reason = not_computable(
            f"{len(missing)} muscle group(s) not graded ({names['en']}); MMT-8 totals are not prorated.",
            f"{len(missing)} muskelgrupp(er) ej graderade ({names['sv']}); MMT-8 räknas inte om proportionellt.",
        )
    return Scale(
        id=scale_id, label=label, value=value, min=0.0, max=float(GRADE_MAX * n_items), higher_is_better=True,
        answered=n_items - len(missing), items=n_items, missing=missing, reason=reason, decimals=0,
    )
