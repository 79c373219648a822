"""MYOACT: the organ-system activity VAS of the Myositis Disease Activity Assessment Tool."""
from __future__ import annotations

from typing import Any

from . import Scale, as_exact, is_answered, not_computable, scorer

__all__ = ["EXTRAMUSCULAR_SYSTEMS", "score_myoact"]

# The six extramuscular organ systems whose VAS make the MYOACT extramuscular score.
EXTRAMUSCULAR_SYSTEMS = ("constitutional", "cutaneous", "skeletal", "gastrointestinal", "pulmonary", "cardiac")
MUSCLE = "muscle"
GLOBAL = "extramuscular_global"


@scorer("myoact")
def score_myoact(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """Each organ-system VAS (0-100 mm), the extramuscular global VAS and the MYOACT score.

    Source: Isenberg DA, Allen E, Farewell V, et al. International consensus outcome measures
    for patients with idiopathic inflammatory myopathies. Rheumatology 2004;43:49-54; Rider LG
    et al. Arthritis Care Res 2011;63 Suppl 11:S118-57 (MDAAT 2005: MYOACT organ-system VAS and
    the physician's extramuscular global activity, the IMACS core set measure).

    ``MYOACT_extramuscular`` is the sum of the six extramuscular system VAS divided by the most
    they could score, over the systems assessed (a system left unmarked was not assessed), as
    the proposed MYOACT scoring describes; 0-1. It needs at least one assessed system. An
    unmarked extramuscular global VAS is missing, never 0.
    """
    title = questionnaire.title
    scales: list[Scale] = []
    for system in (*EXTRAMUSCULAR_SYSTEMS, MUSCLE, GLOBAL):
        item_id = f"MYOACT_{system}" if system != GLOBAL else GLOBAL
        try:
            item = questionnaire.item(item_id)
        except KeyError:
            continue  # MYOACT versions without the muscle system
        raw = answers.get(item_id)
        value = as_exact(raw) if is_answered(raw) else None
        scales.append(Scale(
            id=item_id, label=item.text.model_dump() if system != GLOBAL else _global_label(), value=value,
            min=0.0, max=100.0, higher_is_better=False, answered=int(value is not None), items=1,
            missing=[] if value is not None else [item_id], unit="mm",
            reason=None if value is not None else not_computable(
                "The scale was not marked (not assessed).", "Skalan markerades inte (ej bedömd)."),
        ))
    systems = [f"MYOACT_{s}" for s in EXTRAMUSCULAR_SYSTEMS]
    assessed = [s for s in systems if is_answered(answers.get(s))]
    value = sum(as_exact(answers[s]) for s in assessed) / (100 * len(assessed)) if assessed else None
    scales.append(Scale(
        id="MYOACT_extramuscular",
        label={"sv": f"{title.sv}: extramuskulär summa / max", "en": f"{title.en}: extramuscular sum / maximum"},
        value=value, min=0.0, max=1.0, higher_is_better=False, answered=len(assessed), items=len(systems),
        missing=[s for s in systems if s not in assessed], decimals=3,
        reason=None if assessed else not_computable(
            "No extramuscular organ system was assessed.", "Inget extramuskulärt organsystem bedömdes."),
    ))
    return scales


def _global_label() -> dict[str, str]:
    return {"sv": "Extramuskulär global aktivitet", "en": "Extramuscular global activity"}
