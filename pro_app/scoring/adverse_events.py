"""Tolerability: adverse events recorded in fixed slots, counted by seriousness, grade and relation."""
from __future__ import annotations

from typing import Any

from . import Scale, is_answered, scorer

__all__ = ["SLOTS", "RELATED_CODES", "score_adverse_events", "recorded_events"]

SLOTS = 5
SEVERE_GRADE = 3  # CTCAE-like grades: 1 mild, 2 moderate, 3 severe, 4 life-threatening
# Relation codes counted as treatment-related: possible (3), probable (4), definite (5).
RELATED_CODES = (3, 4, 5)


@scorer("adverse_events")
def score_adverse_events(questionnaire: Any, answers: dict[str, Any]) -> list[Scale]:
    """Counts of the adverse events recorded at this visit.

    Source: grading after the NCI Common Terminology Criteria for Adverse Events (CTCAE v5.0,
    grades 1-4 used here; grade 5, death, is reported as a serious event) and causality
    categories after the WHO-UMC system (unrelated, unlikely, possible, probable, definite).
    An event counts when its slot is shown (``AE_any`` yes, then ``AEk_another`` yes) and has a
    description. The engine has no repeating groups, so a visit holds at most five events.
    """
    events = _events(answers)
    n_slots = SLOTS

    def count(scale_id: str, en: str, sv: str, n: int) -> Scale:
        return Scale(id=scale_id, label={"sv": sv, "en": en}, value=float(n), min=0.0, max=float(n_slots),
                     higher_is_better=False, answered=len(events), items=n_slots, decimals=0,
                     detail=scale_id not in ("AE_count", "AE_serious"))

    if not is_answered(answers.get("AE_any")):
        return [Scale(id="AE_count", label={"sv": "Antal biverkningar", "en": "Adverse events"}, value=None,
                      min=0.0, max=float(n_slots), higher_is_better=False, answered=0, items=1, missing=["AE_any"],
                      reason={"en": "Whether any adverse event occurred was not answered.",
                              "sv": "Frågan om någon biverkning inträffat besvarades inte."}, decimals=0)]
    return [
        count("AE_count", "Adverse events", "Antal biverkningar", len(events)),
        count("AE_serious", "Serious adverse events", "Allvarliga biverkningar (SAE)",
              sum(1 for e in events if str(e.get("serious")) == "1")),
        count("AE_severe", "Severe or life-threatening (grade 3-4)", "Svåra eller livshotande (grad 3-4)",
              sum(1 for e in events if _int(e.get("severity")) >= SEVERE_GRADE)),
        count("AE_related", "Possibly, probably or definitely related to treatment",
              "Möjligen, troligen eller säkert relaterade till behandlingen",
              sum(1 for e in events if _int(e.get("relation")) in RELATED_CODES)),
    ]


def recorded_events(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of one response as the scorer counts them: date, description, severity, relation,
    serious and action (taken with the study drug), each as answered."""
    return _events(answers)


def _events(answers: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    if str(answers.get("AE_any")) != "1":
        return events
    for k in range(1, SLOTS + 1):
        if k > 1 and str(answers.get(f"AE{k - 1}_another")) != "1":
            break
        fields = {f: answers.get(f"AE{k}_{f}") for f in ("date", "description", "severity", "relation", "serious", "action")}
        if is_answered(fields["description"]):
            events.append(fields)
    return events


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
