"""The scorer registry: built-ins, third-party scorers through the pro_app.scorers entry point group."""
from __future__ import annotations

import textwrap

import pytest

import pro_app.scoring as scoring
from pro_app.config import questionnaire_dir
from pro_app.definitions import DefinitionErrors, load_text

PATIENT_GLOBAL = (questionnaire_dir() / "patient_global.yaml").read_text(encoding="utf-8")


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    """An installed distribution (a dist-info folder on sys.path) declaring one scorer."""
    (tmp_path / "clinic_scorers.py").write_text(textwrap.dedent('''
        from pro_app.scoring import single_item_scale, UNMARKED

        def score_percent_of_line(questionnaire, answers):
            value = answers.get("PtGA")
            return [single_item_scale("PtGA_pct", {"en": "Percent", "sv": "Procent"}, value, "PtGA",
                                      min=0.0, max=100.0, higher_is_better=False, reason=UNMARKED)]
    '''), encoding="utf-8")
    info = tmp_path / "clinic_scorers-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: clinic-scorers\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[pro_app.scorers]\npercent_of_line = clinic_scorers:score_percent_of_line\n",
                                           encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    scoring._load_entry_points.cache_clear()
    yield
    scoring.SCORERS.pop("percent_of_line", None)
    scoring._load_entry_points.cache_clear()


def test_builtin_scorers_are_registered():
    assert {"vas", "declarative", "haq_di", "sf36", "map", "mmt8"} <= set(scoring.available_scorers())


def test_a_third_party_scorer_is_found_through_its_entry_point(plugin_package):
    assert "percent_of_line" in scoring.available_scorers()
    q = load_text(PATIENT_GLOBAL.replace("scorer: vas", "scorer: percent_of_line"), "pg.yaml")
    [scale] = scoring.score(q, {"PtGA": 12.5})
    assert (scale.id, scale.value) == ("PtGA_pct", 12.5)


def test_a_questionnaire_naming_an_unknown_scorer_is_rejected():
    with pytest.raises(DefinitionErrors) as exc:
        load_text(PATIENT_GLOBAL.replace("scorer: vas", "scorer: percent_of_line"), "pg.yaml")
    assert "unknown scorer 'percent_of_line'" in str(exc.value)


def test_vas_in_centimetres_where_the_clinic_wants_it():
    # IMACS reports global activity on a 10 cm line; 42.3 mm is 4.23 cm.
    q = load_text(PATIENT_GLOBAL.replace("scorer: vas", "scorer: vas\n  options: {unit: cm}"), "pg.yaml")
    [scale] = scoring.score(q, {"PtGA": 42.3})
    assert (scale.value, scale.min, scale.max, scale.unit) == (4.23, 0.0, 10.0, "cm")
    [edge] = scoring.score(q, {"PtGA": 100.0})
    assert edge.value == 10.0
