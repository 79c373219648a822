"""Editors help: each shipped questionnaire names the JSON Schema that `pro-app schema` writes."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from pro_app.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "questionnaires" / "questionnaire.schema.json"
MODELINE = "# yaml-language-server: $schema="
QUESTIONNAIRES = sorted((ROOT / "questionnaires").glob("*.yaml"))


def test_the_committed_schema_is_what_pro_app_schema_prints():
    printed = CliRunner().invoke(main, ["schema"]).output
    assert SCHEMA.read_text(encoding="utf-8") == printed, (
        "questionnaires/questionnaire.schema.json is stale: run "
        "`pro-app schema --out questionnaires/questionnaire.schema.json`")


@pytest.mark.parametrize("path", QUESTIONNAIRES + [ROOT / "docs" / "examples" / "hand_function.yaml"],
                         ids=lambda p: p.name)
def test_each_questionnaire_names_the_schema_and_a_tool_we_did_not_write_accepts_it(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{path.name} must start with {MODELINE}<path to the schema>"
    # yaml-language-server resolves a relative schema path against the YAML file's folder.
    assert (path.parent / first[len(MODELINE):]).resolve() == SCHEMA
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))  # YAML 1.2, as the app reads it
    jsonschema.validate(data, json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_the_schema_flags_what_an_editor_should_underline():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    data = YAML(typ="safe").load((ROOT / "questionnaires" / "patient_global.yaml").read_text(encoding="utf-8"))
    data["pages"][0]["items"][0]["colour"] = "red"  # an unknown key
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        jsonschema.validate(data, schema)
    data["pages"][0]["items"][0].pop("colour")
    data["pages"][0]["items"][0]["type"] = "slider"  # an unknown item type
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
