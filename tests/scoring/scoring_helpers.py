"""Small helpers shared by the scorer tests (not fixtures: plain functions)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pro_app.scoring import Scale, score

QUESTIONNAIRE_DIR = Path(__file__).resolve().parents[2] / "questionnaires"


def by_id(questionnaire: Any, answers: dict[str, Any]) -> dict[str, Scale]:
    return {s.id: s for s in score(questionnaire, answers)}


def assert_not_computable(scale: Scale) -> None:
    assert scale.value is None
    assert scale.reason is not None
    assert scale.reason["en"] and scale.reason["sv"]
