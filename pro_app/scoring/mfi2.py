"""Functional Index-2 (FI-2): muscle endurance as repetitions per task, as % of each task's maximum."""
from __future__ import annotations

from typing import Any

from . import Scale, as_exact, is_answered, not_computable, scorer

__all__ = ["TASKS", "score_mfi2"]

# Task -> tested on both sides? (head lift is one task; the others right and left)
TASKS: dict[str, bool] = {
    "shoulder_flexion": True,
    "shoulder_abduction": True,
    "head_lift": False,
    "hip_flexion": True,
    "step_test": True,
    "heel_lift": True,
    "toe_lift": True,
}


def task_items(sides: list[str]) -> list[str]:
    return [f"FI2_{task}" + (f"_{side}" if bilateral else "")
            for task, bilateral in TASKS.items() for side in (sides if bilateral else [""])]


@scorer("mfi2")
def score_mfi2(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """Each task (per side) as % of its maximum repetitions, and the total as % of the summed maxima.

    Source: Alexanderson H, Broman L, Tollbäck A, Josefson A, Lundberg IE, Stenström CH.
    Functional index-2: validity and reliability of a disease-specific measure of impairment in
    patients with polymyositis and dermatomyositis. Arthritis Rheum 2006;55:114-22. Each task is
    scored as the number of correctly performed repetitions; the task's maximum is the item's
    ``max`` in the YAML, so the form and the score cannot disagree.

    The total is repetitions summed over the tasks of the sides tested (option ``sides``,
    default both: R and L) divided by their summed maxima; it needs every one of those tasks.
    """
    sides = [str(s) for s in questionnaire.scoring.options.get("sides", ["R", "L"])]
    scales: list[Scale] = []
    all_ids = task_items(["R", "L"])
    for item_id in all_ids:
        item = questionnaire.item(item_id)
        raw = answers.get(item_id)
        reps = as_exact(raw) if is_answered(raw) else None
        scales.append(Scale(
            id=item_id, label=item.text.model_dump(),
            value=None if reps is None else reps / as_exact(item.max) * 100, min=0.0, max=100.0,
            higher_is_better=True, answered=int(reps is not None), items=1, missing=[] if reps is not None else [item_id],
            unit="%", extra={"repetitions": None if reps is None else float(reps), "max_repetitions": item.max},
            reason=None if reps is not None else not_computable("The task was not performed or not recorded.",
                                                                "Uppgiften utfördes inte eller registrerades inte."),
        ))
    total_ids = task_items(sides)
    missing = [i for i in total_ids if not is_answered(answers.get(i))]
    maxima = sum(as_exact(questionnaire.item(i).max) for i in total_ids)
    value = None
    reason = None
    if missing:
        names = {lang: "; ".join(questionnaire.answer_text(i, lang) for i in missing) for lang in ("en", "sv")}
        reason = not_computable(f"{len(missing)} task(s) not recorded: {names['en']}.",
                                f"{len(missing)} uppgift(er) ej registrerade: {names['sv']}.")
    else:
        value = sum(as_exact(answers[i]) for i in total_ids) / maxima * 100
    scales.append(Scale(
        id="FI2_total", label={"sv": "FI-2 totalt, % av max", "en": "FI-2 total, % of maximum"},
        value=value, min=0.0, max=100.0, higher_is_better=True, answered=len(total_ids) - len(missing),
        items=len(total_ids), missing=missing, reason=reason, unit="%",
        extra={"sides": sides, "max_repetitions": float(maxima)},
    ))
    return scales
