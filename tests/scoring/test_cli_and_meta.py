"""The `pro-app score` command end to end, and meta-tests on questionnaires/."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pro_app.cli import main
from pro_app.definitions import validate_paths
from pro_app.scoring import available_scorers
from scoring_helpers import QUESTIONNAIRE_DIR


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(QUESTIONNAIRE_DIR))

    def invoke(qid: str, answers: dict) -> tuple[int, str, str]:
        path = tmp_path / "answers.json"
        path.write_text(json.dumps(answers), encoding="utf-8")
        result = CliRunner().invoke(main, ["score", qid, str(path)])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_score_haq_prints_json(run):
    answers = {f"haq{c}{x}": 1 for c, xs in zip(range(1, 9), ["ab", "ab", "abc", "ab", "abc", "ab", "abc", "abc"]) for x in xs}
    answers["aids1"] = ["cane"]
    code, out, _ = run("haq", answers)
    assert code == 0
    result = json.loads(out)
    assert result["questionnaire"] == "haq" and result["definition_hash"].startswith("sha256:")
    scales = {s["id"]: s for s in result["scales"]}
    assert scales["HAQ_DI"]["value"] == 1.125  # walking 1 -> 2 by the cane: 9/8 (ARAMIS 2009)
    assert scales["HAQ_DI"]["exact"] == "9/8" and scales["HAQ_DI"]["display"] == "1.125"
    assert scales["HAQ_DI_no_aids"]["value"] == 1.0
    assert scales["HAQ_pain"]["value"] is None and scales["HAQ_pain"]["reason"]["sv"]


def test_score_sf36_prints_json(run):
    code, out, _ = run("sf36", {"q2": 3, "q7": 1, "q8": 1})
    assert code == 0
    scales = {s["id"]: s for s in json.loads(out)["scales"]}
    assert scales["HT"]["value"] == 50.0
    assert scales["BP"]["value"] == 100.0
    assert scales["PCS"]["value"] is None


def test_score_json_keeps_the_value_unrounded_beside_its_display(run):
    # 13/6 (Bruce & Fries 2003: mean of six categories 3, 2, 2, 2, 2, 2) is shown as 2.167 but kept whole.
    answers = {f"haq{c}{x}": 2 for c, xs in zip(range(1, 7), ["ab", "ab", "abc", "ab", "abc", "ab"]) for x in xs}
    answers["haq1a"] = 3
    code, out, _ = run("haq", answers)
    haq_di = {s["id"]: s for s in json.loads(out)["scales"]}["HAQ_DI"]
    assert (haq_di["value"], haq_di["exact"], haq_di["display"]) == (13 / 6, "13/6", "2.167")


def test_unknown_item_is_an_error(run):
    code, _, err = run("haq", {"haq9z": 1})
    assert code == 1
    assert "haq9z" in err and "unknown item" in err


def test_out_of_range_code_is_an_error(run):
    code, _, err = run("sf36", {"q7": 7})
    assert code == 1
    assert "q7" in err and "not one of" in err


def test_vas_out_of_range_is_an_error(run):
    code, _, err = run("haq", {"haq_pain": 101})
    assert code == 1
    assert "haq_pain" in err and "outside 0-100" in err


def test_unknown_questionnaire_is_an_error(run):
    code, _, err = run("nope", {})
    assert code == 1
    assert "unknown questionnaire 'nope'" in err


def test_every_questionnaire_validates():
    questionnaires, errors = validate_paths([QUESTIONNAIRE_DIR])
    assert errors == []
    assert {"haq", "sf36", "map", "fss"} <= set(questionnaires)


def test_every_named_scorer_exists():
    questionnaires, _ = validate_paths([QUESTIONNAIRE_DIR])
    known = set(available_scorers())
    for q in questionnaires.values():
        assert q.scoring.scorer in known, q.id


def test_every_questionnaire_states_source_and_license_in_both_languages():
    questionnaires, _ = validate_paths([QUESTIONNAIRE_DIR])
    for q in questionnaires.values():
        assert q.source.strip()
        assert q.license.sv.strip() and q.license.en.strip()
