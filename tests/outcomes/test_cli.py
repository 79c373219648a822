"""``pro-app outcomes STUDY_CODE`` over a temporary data folder, through click's CliRunner.

The HAQ questionnaire is written by another developer; these tests use a small stand-in with
the agreed ids (questionnaire ``haq``, scale ``HAQ_DI``, 0-3) so they do not depend on it.
"""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from pro_app.cli import main
from pro_app.config import questionnaire_dir
from pro_app.definitions import load_directory
from pro_app.catalog import Catalog
from pro_app.outcomes import patient_outcomes
from pro_app.scoring.mfi2 import task_items
from pro_app.scoring.mmt8 import MUSCLE_GROUPS
from pro_app.storage import open_store

FORMS = ["patient_global", "physician_global", "mmt8", "myoact", "enzymes", "mfi2"]

HAQ_STANDIN = """
id: haq
version: "test"
title: {sv: HAQ (testversion), en: HAQ (test stand-in)}
source: test stand-in with the agreed ids
license: {sv: test, en: test}
audience: patient
option_sets:
  difficulty:
    - {code: 0, text: {sv: Utan svårighet, en: Without any difficulty}}
    - {code: 1, text: {sv: Med viss svårighet, en: With some difficulty}}
    - {code: 2, text: {sv: Med stor svårighet, en: With much difficulty}}
    - {code: 3, text: {sv: Kan inte, en: Unable to do}}
pages:
  - id: p
    items:
      - {id: h1, type: single, options: difficulty, text: {sv: Fråga 1, en: Question 1}}
      - {id: h2, type: single, options: difficulty, text: {sv: Fråga 2, en: Question 2}}
scoring:
  scorer: declarative
  scales:
    - {id: HAQ_DI, label: {sv: HAQ-DI, en: HAQ-DI}, method: mean, items: [h1, h2], higher_is_better: false, decimals: 3}
"""


@pytest.fixture
def qdir(tmp_path, monkeypatch):
    folder = tmp_path / "questionnaires"
    folder.mkdir()
    for qid in FORMS:
        shutil.copy(questionnaire_dir() / f"{qid}.yaml", folder)
    (folder / "haq.yaml").write_text(HAQ_STANDIN, encoding="utf-8")
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(folder))
    return folder


@pytest.fixture
def data_dir(database, tmp_path, monkeypatch):
    """The store the command reads: PRO_APP_DATABASE_URL on PostgreSQL, else this data folder."""
    folder = tmp_path / "data"
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(folder))
    return database or folder


def mmt(grade: int) -> dict[str, int]:
    answers = {"MMT_neck_flexors": grade}
    answers.update({f"MMT_{g}_{s}": grade for g in MUSCLE_GROUPS for s in ("R", "L")})
    return answers


def fi2(reps: int) -> dict[str, int]:
    return {i: reps for i in task_items(["R", "L"])}


def record(store, questionnaires, patient_id, visit_id, qid, answers, complete=True):
    response = store.start_response(patient_id, visit_id, questionnaires[qid], "nurse", "sv")
    store.save_answers(patient_id, response["id"], "nurse", answers)
    if complete:
        store.complete_response(patient_id, response["id"], "nurse")


def seed(data_dir, qdir, *, m3_haq=True, m3_enzymes=None):
    store = open_store(data_dir)
    questionnaires = load_directory(qdir)
    patient = store.create_patient("ANA-01", "nurse", study="anakinra")
    visits = {}
    for key, due in (("baseline", "2024-01-10"), ("m3", "2024-04-10"), ("m6", "2024-07-10")):
        visits[key] = store.add_visit(patient["id"], "nurse", key=key, label={"sv": key, "en": key}, due=due,
                                      questionnaires=["patient_global", "haq"],
                                      clinician_forms=["physician_global", "mmt8", "myoact", "enzymes", "mfi2"])
    pid = patient["id"]
    base = visits["baseline"]["id"]
    record(store, questionnaires, pid, base, "patient_global", {"PtGA": 60})
    record(store, questionnaires, pid, base, "haq", {"h1": 2, "h2": 1})  # HAQ-DI 1.5
    record(store, questionnaires, pid, base, "physician_global", {"PhGA": 60})
    record(store, questionnaires, pid, base, "mmt8", mmt(7))  # 56 / 80
    record(store, questionnaires, pid, base, "myoact", {"MYOACT_cutaneous": 30, "extramuscular_global": 30})
    record(store, questionnaires, pid, base, "enzymes", {"sample_date": "2024-01-10", "CK": 20.0, "CK_unit": "ukat_L", "CK_ULN": 3.5})
    record(store, questionnaires, pid, base, "mfi2", fi2(30))

    m3 = visits["m3"]["id"]
    record(store, questionnaires, pid, m3, "patient_global", {"PtGA": 30})  # 50 % better; absolute 30 % -> 7.5
    if m3_haq:
        record(store, questionnaires, pid, m3, "haq", {"h1": 1, "h2": 1})  # 1.0: relative 33 %, absolute 16.7 % -> 7.5
    record(store, questionnaires, pid, m3, "physician_global", {"PhGA": 30})  # relative 50 %; absolute 30 % -> 17.5
    record(store, questionnaires, pid, m3, "mmt8", mmt(8))  # 64: relative 14.3 %; absolute 10 % -> 10
    record(store, questionnaires, pid, m3, "myoact", {"MYOACT_cutaneous": 10, "extramuscular_global": 30})  # unchanged -> 0
    record(store, questionnaires, pid, m3, "enzymes", m3_enzymes or {"sample_date": "2024-04-10", "CK": 10.0, "CK_unit": "ukat_L", "CK_ULN": 3.5})  # 50 % -> 7.5
    record(store, questionnaires, pid, m3, "mfi2", fi2(45))
    # m6: only the patient's global, and the MMT-8 started but not completed
    record(store, questionnaires, pid, visits["m6"]["id"], "patient_global", {"PtGA": 20})
    record(store, questionnaires, pid, visits["m6"]["id"], "mmt8", mmt(9), complete=False)
    return store, questionnaires, pid


def test_outcomes_prints_every_later_visit_against_baseline(data_dir, qdir):
    seed(data_dir, qdir)
    result = CliRunner().invoke(main, ["outcomes", "ANA-01"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["study_code"] == "ANA-01"
    assert [v["visit"] for v in data["visits"]] == ["m3", "m6"]

    m3 = data["visits"][0]
    assert m3["baseline_visit"] == "baseline"
    # IMACS (relative change): PtGA 50 %, HAQ 33.3 %, PhGA 50 %, CK 50 % improved; MMT 14.3 %; none worse.
    assert m3["imacs"]["met"] is True
    assert sorted(d["measure"] for d in m3["imacs"]["improved"]) == ["HAQ", "PhGA", "PtGA", "enzyme"]
    # ACR/EULAR: 17.5 + 7.5 + 10 + 7.5 + 7.5 + 0 = 50 -> moderate.
    assert m3["acr_eular"]["total"] == 50.0 and m3["acr_eular"]["category"] == "moderate"
    fi2_total = next(c for c in m3["functional_index"] if c["scale"] == "FI2_total")
    assert (fi2_total["baseline"], fi2_total["follow_up"], fi2_total["change"], fi2_total["change_pct"]) == (50.0, 75.0, 25.0, 50.0)
    assert fi2_total["improved"] is True
    enzyme = next(c for c in m3["core_set"] if c["measure"] == "enzyme")
    assert m3["enzyme"] == "CK" and enzyme["enzyme"] == "CK"
    assert enzyme["label"] == {"en": "Most abnormal muscle enzyme: CK (creatine kinase)",
                               "sv": "Mest avvikande muskelenzym: CK (kreatinkinas)"}
    assert (enzyme["baseline"], enzyme["follow_up"], enzyme["unit"], enzyme["note"]) == (20.0, 10.0, "µkat/L", None)
    assert enzyme["relative_exact"] == "50/1"  # exact fractions beside the floats in the JSON
    ptga = next(c for c in m3["scales"] if c["scale"] == "PtGA")
    assert (ptga["change"], ptga["change_pct"], ptga["improved"]) == (-30.0, -50.0, True)

    m6 = data["visits"][1]
    assert m6["imacs"]["met"] is None and m6["acr_eular"]["total"] is None
    missing = {m["measure"]: m["reason"] for m in m6["imacs"]["missing"]}
    assert set(missing) == {"PhGA", "HAQ", "MMT", "extramuscular", "enzyme"}
    assert "the form (MMT-8) is not completed" in missing["MMT"]["en"]
    assert "formuläret (MMT-8) är inte färdigifyllt" in missing["MMT"]["sv"]
    assert "no completed form (HAQ (test stand-in))" in missing["HAQ"]["en"]
    # A reader sees form titles, never a questionnaire's id.
    assert not any("'" in r["en"] or "mmt8" in r["en"] for r in missing.values())


def test_outcomes_one_missing_measure_is_named_and_does_not_hide_a_decided_result(data_dir, qdir):
    store, questionnaires, pid = seed(data_dir, qdir, m3_haq=False)
    m3 = patient_outcomes(Catalog(questionnaires, store), pid)[0]
    # PtGA, PhGA and CK improved by 50 %, nothing worsened: IMACS is met whatever the HAQ is.
    assert m3.imacs.met is True
    assert [m.measure for m in m3.imacs.missing] == ["HAQ"]
    assert "HAQ" in m3.imacs.note["en"] and "HAQ" in m3.imacs.note["sv"]
    # ACR/EULAR: 17.5 + 7.5 + 10 + 0 + 7.5 = 42.5 known; the HAQ (1.5 at baseline, 0-3 at
    # follow-up: -50 % to +50 % of the range) adds 0 to 10 points: 42.5-52.5, moderate either way.
    assert [m.measure for m in m3.acr_eular.missing] == ["HAQ"]
    assert m3.acr_eular.total is None
    assert (m3.acr_eular.total_min, m3.acr_eular.total_max) == (42.5, 52.5)
    assert m3.acr_eular.category == "moderate" and m3.acr_eular.note["en"]


def test_outcomes_convert_the_follow_up_enzyme_to_the_baseline_unit(data_dir, qdir):
    # CK 20 µkat/L (= 1200 U/L) at baseline, 600 U/L at follow-up: 50 % better, shown as 10 µkat/L.
    store, questionnaires, pid = seed(data_dir, qdir, m3_enzymes={"CK": 600, "CK_unit": "U_L", "CK_ULN": 210})
    m3 = patient_outcomes(Catalog(questionnaires, store), pid)[0]
    enzyme = next(c for c in m3.core_set if c.measure == "enzyme")
    assert (enzyme.baseline, enzyme.follow_up, enzyme.unit, enzyme.relative_improvement_pct) == (20.0, 10.0, "µkat/L", 50.0)
    assert "U/L" in enzyme.note["en"] and "60 U/L" in enzyme.note["sv"]
    assert m3.imacs.worsened == []


def test_outcomes_unknown_study_code_exits_1(data_dir, qdir):
    seed(data_dir, qdir)
    result = CliRunner().invoke(main, ["outcomes", "NOPE-99"])
    assert result.exit_code == 1
    assert "no patient with study code 'NOPE-99'" in result.output


def test_outcomes_without_haq_questionnaire_says_so(data_dir, qdir):
    seed(data_dir, qdir)
    (qdir / "haq.yaml").unlink()
    data = json.loads(CliRunner().invoke(main, ["outcomes", "ANA-01"]).output)
    missing = {m["measure"]: m["reason"]["en"] for m in data["visits"][0]["imacs"]["missing"]}
    assert "the form (HAQ disability index) is not installed" in missing["HAQ"]


def test_each_comparison_names_its_visit_date_and_baseline(data_dir, qdir):
    store, questionnaires, pid = seed(data_dir, qdir)
    m3, m6 = patient_outcomes(Catalog(questionnaires, store), pid)
    assert (m3.visit, m3.label, m3.date) == ("m3", {"sv": "m3", "en": "m3"}, "2024-04-10")  # the due date
    assert m3.baseline_visit == "baseline" and m3.baseline_label == {"sv": "baseline", "en": "baseline"}
    only = patient_outcomes(Catalog(questionnaires, store), pid, only_visit=store.list_visits(pid)[2]["id"])
    assert [c.visit for c in only] == ["m6"]
    assert patient_outcomes(Catalog(questionnaires, store), pid, only_visit=store.list_visits(pid)[0]["id"]) == []


def test_without_a_visit_called_baseline_the_first_visit_is_the_baseline(data_dir, qdir):
    store = open_store(data_dir)
    questionnaires = load_directory(qdir)
    pid = store.create_patient("ANA-02", "nurse")["id"]
    first = store.add_visit(pid, "nurse", key="screening", label={}, questionnaires=["patient_global"], due="2024-01-01")
    later = store.add_visit(pid, "nurse", key="w4", label={}, questionnaires=["patient_global"], due="2024-02-01")
    record(store, questionnaires, pid, first["id"], "patient_global", {"PtGA": 40})
    record(store, questionnaires, pid, later["id"], "patient_global", {"PtGA": 30})
    [w4] = patient_outcomes(Catalog(questionnaires, store), pid)
    assert (w4.visit, w4.baseline_visit, w4.label, w4.baseline_label) == ("w4", "screening", {}, None)
    assert next(c for c in w4.core_set if c.measure == "PtGA").relative_improvement_pct == 25.0


def test_responses_are_scored_with_the_definition_they_were_answered_against(data_dir, qdir):
    store, questionnaires, pid = seed(data_dir, qdir)
    # The HAQ stand-in is edited after the answers were given: its HAQ-DI now counts only h1.
    (qdir / "haq.yaml").write_text(HAQ_STANDIN.replace("items: [h1, h2]", "items: [h1]"), encoding="utf-8")
    m3 = patient_outcomes(Catalog(load_directory(qdir), store), pid)[0]
    haq = next(c for c in m3.core_set if c.measure == "HAQ")
    assert (haq.baseline, haq.follow_up) == (1.5, 1.0)  # means of h1 and h2, as when answered
