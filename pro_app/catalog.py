"""The loaded questionnaires and the store, as the app holds them for its requests."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from .definitions import Questionnaire
from .storage import Store

__all__ = ["Catalog", "catalog"]


@dataclass
class Catalog:
    questionnaires: dict[str, Questionnaire]
    store: Store
    # Stored definitions by hash: immutable, so each is read and validated once per process.
    _snapshots: dict[str, Questionnaire | None] = field(default_factory=dict, repr=False)

    def get(self, questionnaire_id: str) -> Questionnaire | None:
        return self.questionnaires.get(questionnaire_id)

    def for_audience(self, audience: str) -> list[Questionnaire]:
        return [q for q in self.questionnaires.values() if q.audience == audience]

    def for_response(self, response: dict[str, Any]) -> Questionnaire | None:
        """The definition a response was answered against, even after the YAML has changed."""
        current = self.questionnaires.get(response["questionnaire"])
        if current is not None and current.definition_hash == response["definition_hash"]:
            return current
        digest = response["definition_hash"]
        if digest not in self._snapshots:
            snapshot = self.store.definition_snapshot(digest)
            self._snapshots[digest] = None if snapshot is None else Questionnaire.model_validate(
                snapshot["definition"]).model_copy(update={"definition_hash": digest,
                                                           "source_file": f"(stored {snapshot['hash'][:19]})"})
        return self._snapshots[digest] or current


def catalog() -> Catalog:
    return current_app.extensions["pro_app"]
