"""The loaded questionnaires and the store, as the app holds them for its requests."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from .definitions import Questionnaire
from .storage import Store

__all__ = ["Catalog", "catalog"]


@dataclass
class Catalog:
    questionnaires: dict[str, Questionnaire]
    store: Store

    def get(self, questionnaire_id: str) -> Questionnaire | None:
        return self.questionnaires.get(questionnaire_id)

    def for_audience(self, audience: str) -> list[Questionnaire]:
        return [q for q in self.questionnaires.values() if q.audience == audience]

    def for_response(self, response: dict[str, Any]) -> Questionnaire | None:
        """The definition a response was answered against, even after the YAML has changed."""
        current = self.questionnaires.get(response["questionnaire"])
        if current is not None and current.definition_hash == response["definition_hash"]:
            return current
        snapshot = self.store.definition_snapshot(response["definition_hash"])
        if snapshot is None:
            return current
        return Questionnaire.model_validate(snapshot["definition"]).model_copy(
            update={"definition_hash": response["definition_hash"], "source_file": f"(stored {snapshot['hash'][:19]})"}
        )


def catalog() -> Catalog:
    return current_app.extensions["pro_app"]
