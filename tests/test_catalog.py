"""A later edit of a questionnaire never silently reinterprets old answers."""
from __future__ import annotations

from pro_app.catalog import Catalog
from pro_app.config import questionnaire_dir
from pro_app.definitions import load_text
from pro_app.storage import open_store


def test_old_response_is_read_with_the_definition_it_was_answered_against(tmp_path, database):
    store = open_store(database or tmp_path)
    text = (questionnaire_dir() / "patient_global.yaml").read_text(encoding="utf-8")
    old = load_text(text, "patient_global.yaml")
    patient = store.create_patient("C-1", "test")
    visit = store.add_visit(patient["id"], "test", key="v", label={"sv": "v", "en": "v"}, questionnaires=[old.id])
    response = store.start_response(patient["id"], visit["id"], old, "test", "sv")

    edited = load_text(text.replace("Extremt aktiv", "Maximal aktivitet"), "patient_global.yaml")
    assert edited.definition_hash != old.definition_hash
    catalog = Catalog({edited.id: edited}, store)
    used = catalog.for_response(response)
    assert used.definition_hash == old.definition_hash
    assert used.item("PtGA").anchors.max.sv == "Extremt aktiv"

    # A response started after the edit uses the new definition.
    visit2 = store.add_visit(patient["id"], "test", key="v2", label={"sv": "v", "en": "v"}, questionnaires=[old.id])
    new_response = store.start_response(patient["id"], visit2["id"], edited, "test", "sv")
    assert catalog.for_response(new_response) is edited
