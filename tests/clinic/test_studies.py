"""Study schedules: loading and validating studies/*.yaml, and enrolling a patient by baseline date."""
from __future__ import annotations

import datetime as dt

import pytest

from pro_app.definitions import DefinitionErrors, load_directory
from pro_app.studies import Offset, due_date, enroll, load_studies, load_study_text

from .conftest import ROOT, post_form


def test_the_anakinra_study_loads_with_its_five_visits():
    studies, _warnings = load_studies(ROOT / "studies")
    study = studies["anakinra"]
    assert [v.key for v in study.visits] == ["baseline", "m1", "m3", "m6", "m12"]
    assert [v.offset.months for v in study.visits] == [0, 1, 3, 6, 12]
    assert study.visit("m3").questionnaires == ["patient_global", "haq", "map", "sf36"]
    assert study.visit("m12").clinician_forms == ["physician_global", "mmt8", "myoact", "enzymes", "mfi2", "adverse_events"]


def test_unknown_questionnaires_are_skipped_with_one_warning_each():
    questionnaires = load_directory(ROOT / "questionnaires")
    studies, warnings = load_studies(ROOT / "studies", questionnaires)
    visit = studies["anakinra"].visit("baseline")
    assert all(q in questionnaires for q in visit.questionnaires + visit.clinician_forms)
    assert "patient_global" in visit.questionnaires
    missing = {"haq", "map", "sf36", "physician_global", "mmt8", "myoact", "enzymes", "mfi2", "adverse_events"} - set(questionnaires)
    texts = [str(w) for w in warnings]
    for qid in missing:
        hits = [t for t in texts if f"'{qid}' is not loaded" in t]
        assert len(hits) == 1, texts
        assert hits[0].startswith(str(ROOT / "studies" / "anakinra.yaml") + ":")
        assert "(visits baseline, m1, m3, m6, m12)" in hits[0]


def test_a_questionnaire_listed_for_the_wrong_audience_is_skipped(app):
    questionnaires = app.extensions["pro_app"].questionnaires
    text = ("id: s\ntitle: {sv: S, en: S}\nvisits:\n  - key: v0\n    label: {sv: a, en: a}\n    offset: {days: 0}\n"
            "    questionnaires: [test_exam, test_wellbeing]\n")
    study, warnings = load_study_text(text, "s.yaml", questionnaires)
    assert study.visits[0].questionnaires == ["test_wellbeing"]
    assert [str(w) for w in warnings] == [
        "s.yaml:7: visits[0].questionnaires[0]: 'test_exam' is a clinician questionnaire, not one for questionnaires: skipped (visits v0)"
    ]


@pytest.mark.parametrize("body, expected", [
    ("    offset: {weeks: 2}\n", "s.yaml:6: visits[0].offset: unknown key 'weeks'"),
    ("    offset: {days: 0}\n    label: {sv: b, en: b}\n", "s.yaml:7: visits[0].label: duplicate key 'label' (first on line 5)"),
    ("    offset: {months: -1}\n", "s.yaml:6: visits[0].offset.months: input should be greater than or equal to 0"),
])
def test_invalid_study_files_name_file_and_line(body, expected):
    text = "id: s\ntitle: {sv: S, en: S}\nvisits:\n  - key: v0\n    label: {sv: a, en: a}\n" + body
    with pytest.raises(DefinitionErrors) as exc:
        load_study_text(text, "s.yaml")
    assert expected in [str(e) for e in exc.value.errors]


def test_visits_out_of_order_and_duplicate_keys_are_errors():
    text = ("id: s\ntitle: {sv: S, en: S}\nvisits:\n"
            "  - {key: m3, label: {sv: a, en: a}, offset: {months: 3}}\n"
            "  - {key: m1, label: {sv: b, en: b}, offset: {months: 1}}\n"
            "  - {key: m3, label: {sv: c, en: c}, offset: {months: 6}}\n")
    with pytest.raises(DefinitionErrors) as exc:
        load_study_text(text, "s.yaml")
    messages = [str(e) for e in exc.value.errors]
    assert "s.yaml:5: visits[1].offset: visit 'm1' comes before visits[0] in time: list visits in order" in messages
    assert "s.yaml:6: visits[2].key: visit key 'm3' is also used by visits[0]" in messages


def test_due_dates_use_calendar_months():
    assert due_date(dt.date(2025, 1, 31), Offset(months=1)) == dt.date(2025, 2, 28)
    assert due_date(dt.date(2024, 1, 31), Offset(months=1)) == dt.date(2024, 2, 29)
    assert due_date(dt.date(2025, 3, 15), Offset(months=12)) == dt.date(2026, 3, 15)
    assert due_date(dt.date(2025, 3, 15), Offset(days=10)) == dt.date(2025, 3, 25)


def test_enrolling_creates_the_scheduled_visits_once(app, store):
    study = app.extensions["pro_app.studies"]["test_study"]
    patient = store.create_patient("P-9", "test")
    created = enroll(store, patient["id"], study, dt.date(2025, 1, 31), "test")
    assert [(v["key"], v["due"]) for v in created] == [("baseline", "2025-01-31"), ("m1", "2025-02-28"), ("m3", "2025-04-30")]
    baseline = store.list_visits(patient["id"])[0]
    # 'not_installed' and 'exam_not_installed' are not loaded: the visit is planned without them.
    assert baseline["questionnaires"] == ["patient_global", "test_wellbeing"]
    assert baseline["clinician_forms"] == ["test_exam"]
    assert baseline["label"] == {"sv": "Baslinje", "en": "Baseline"} and baseline["study"] == "test_study"
    assert enroll(store, patient["id"], study, dt.date(2025, 1, 31), "test") == []
    assert len(store.list_visits(patient["id"])) == 3


def test_a_nurse_registers_and_enrols_a_patient_in_one_step(nurse, store):
    response = post_form(nurse, "/staff/", {"study_code": "AK-01", "study": "test_study", "baseline": "2025-03-01"})
    assert response.status_code == 302
    patient = store.find_patient("AK-01")
    assert patient["study"] == "test_study"
    assert [v["due"] for v in store.list_visits(patient["id"])] == ["2025-03-01", "2025-04-01", "2025-06-01"]
    page = nurse.get(response.location)
    assert "1 månad" in page.text and "1 apr. 2025" in page.text


def test_an_existing_patient_is_enrolled_from_the_patient_page(nurse, store):
    patient = store.create_patient("AK-02", "test")
    url = f"/staff/patients/{patient['id']}"
    assert "enroll-form" in nurse.get(url).text
    response = post_form(nurse, f"{url}/enroll", {"study": "test_study", "baseline": "2025-05-10"}, page_url=url)
    assert response.status_code == 302
    assert [v["key"] for v in store.list_visits(patient["id"])] == ["baseline", "m1", "m3"]
    assert "enroll-form" not in nurse.get(url).text
