"""Exports: CSV wide and long for R/SPSS/Stata, and FHIR R4 resources that validate."""
from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from pro_app.cli import main
from pro_app.export import export_text

from .conftest import ROOT, answer


def _dataset(app, store, enrolled):
    patient, visits = enrolled
    answer(app, patient["id"], visits[0]["id"], "patient_global", {"PtGA": 52.3}, actor="patient:tablet(x)")
    answer(app, patient["id"], visits[0]["id"], "test_wellbeing", {"WB1": 2, "WB2": 3}, language="en")
    answer(app, patient["id"], visits[0]["id"], "test_exam", {"EX_neck": 8, "EX_hip": 7, "EX_ck": 1234.5, "EX_rash": 1})
    answer(app, patient["id"], visits[1]["id"], "patient_global", {"PtGA": 31.5}, complete=False)
    other = store.create_patient("P-002", "test")
    extra = store.add_visit(other["id"], "test", key="extra", label={"sv": "Extra", "en": "Extra"},
                            questionnaires=["test_wellbeing"], due="2025-06-01")
    answer(app, other["id"], extra["id"], "test_wellbeing", {"WB1": 4})
    return patient, visits


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_wide_csv_has_one_row_per_patient_and_visit(app, store, enrolled):
    _dataset(app, store, enrolled)
    text = export_text(app.extensions["pro_app"], "csv")
    assert not text.startswith("\ufeff") and "\r" not in text
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["study_code", "study", "visit", "visit_due"]
    for column in ("patient_global.PtGA", "patient_global.PtGA_score", "test_wellbeing.WB1", "test_wellbeing.WB_total",
                   "test_exam.EX_ck", "test_exam.EX_strength", "test_exam.status", "test_wellbeing.language"):
        assert column in header
    assert header.index("test_exam.EX_neck") < header.index("test_exam.EX_strength")  # items, then scores
    rows = _csv(text)
    assert [(r["study_code"], r["visit"]) for r in rows] == [("P-001", "baseline"), ("P-001", "m1"), ("P-002", "extra")]
    baseline, m1, extra = rows
    assert baseline["study"] == "test_study" and baseline["visit_due"] == "2025-01-31"
    assert baseline["patient_global.PtGA"] == "52.3" and baseline["patient_global.PtGA_score"] == "52.3"
    assert baseline["test_wellbeing.WB_total"] == "2.5" and baseline["test_wellbeing.WB3"] == ""
    assert baseline["test_wellbeing.language"] == "en"
    assert baseline["test_exam.EX_ck"] == "1234.5" and baseline["test_exam.EX_strength"] == "15"
    assert baseline["test_exam.completed_at"][:4].isdigit() and "T" in baseline["test_exam.completed_at"]
    assert m1["patient_global.status"] == "in_progress" and m1["test_exam.status"] == ""
    assert extra["test_wellbeing.WB_total"] == ""  # 1 of 3 answered: not computable, left empty, never 0


def test_long_csv_has_one_row_per_item_and_score(app, store, enrolled):
    _dataset(app, store, enrolled)
    rows = _csv(export_text(app.extensions["pro_app"], "csv-long"))
    assert list(rows[0]) == ["study_code", "study", "visit", "visit_due", "questionnaire", "version", "status",
                             "language", "completed_at", "kind", "name", "value"]
    exam = [(r["kind"], r["name"], r["value"]) for r in rows if r["questionnaire"] == "test_exam"]
    assert exam == [("item", "EX_neck", "8"), ("item", "EX_hip", "7"), ("item", "EX_ck", "1234.5"),
                    ("item", "EX_rash", "1"), ("scale", "EX_strength", "15")]
    assert sum(1 for r in rows if r["study_code"] == "P-002") == 2  # WB1 and the (empty) score


def test_fhir_bundle_validates_as_r4_resources(app, store, enrolled):
    _dataset(app, store, enrolled)
    bundle = json.loads(export_text(app.extensions["pro_app"], "fhir", lang="en"))
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("QuestionnaireResponse") == 5
    questionnaires = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        model = {"Questionnaire": FhirQuestionnaire, "QuestionnaireResponse": QuestionnaireResponse,
                 "Observation": Observation}[resource["resourceType"]]
        model.model_validate(resource)
        if resource["resourceType"] == "Questionnaire":
            questionnaires[resource["url"] + "|" + resource["version"]] = resource
    exam = next(e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "QuestionnaireResponse" and "test_exam" in e["resource"]["questionnaire"])
    assert exam["questionnaire"] in questionnaires  # every response points at a Questionnaire in the bundle
    assert exam["subject"]["identifier"]["value"] == "P-001"
    answers = {i["linkId"]: i["answer"][0] for page in exam["item"] for i in page["item"]}
    assert answers["EX_ck"] == {"valueDecimal": 1234.5}
    assert answers["EX_rash"]["valueCoding"]["code"] == "1" and answers["EX_rash"]["valueCoding"]["display"] == "Yes"
    strength = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
                    and e["resource"]["code"]["coding"][0]["code"] == "EX_strength")
    assert strength["valueQuantity"]["value"] == 15
    in_progress = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"
                   and e["resource"]["status"] == "in-progress"]
    assert len(in_progress) == 1


def test_the_cli_writes_each_format(app, store, enrolled, clinic_dirs, tmp_path, monkeypatch):
    _dataset(app, store, enrolled)
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(clinic_dirs["questionnaires"]))
    runner = CliRunner()
    for fmt in ("csv", "csv-long", "fhir"):
        out = tmp_path / f"export.{fmt}"
        result = runner.invoke(main, ["export", "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_text(encoding="utf-8") == export_text(app.extensions["pro_app"], fmt)
    assert any(e["actor"] == "cli" and e["action"] == "export" for e in store.audit_entries())


def test_administrators_download_exports_and_others_may_not(app, store, enrolled, admin, nurse):
    _dataset(app, store, enrolled)
    assert "data-export=\"fhir\"" in admin.get("/staff/export").text
    response = admin.get("/staff/export/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed  # written to the client as it is read, never built whole in the worker
    assert response.data.decode("utf-8") == export_text(app.extensions["pro_app"], "csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert _csv(response.data.decode("utf-8"))[0]["study_code"] == "P-001"
    fhir = admin.get("/staff/export/fhir")
    Bundle.model_validate(json.loads(fhir.data))
    assert admin.get("/staff/export/xml").status_code == 404
    assert nurse.get("/staff/export").status_code == 403
    assert nurse.get("/staff/export/csv").status_code == 403


def test_fhir_questionnaires_carry_skip_logic_as_enable_when():
    from pro_app.definitions import load_directory, load_file
    from pro_app.fhir import fhir_questionnaire

    q = load_file(ROOT / "tests" / "fixtures" / "all_types.yaml")
    resource = fhir_questionnaire(q, "en")
    FhirQuestionnaire.model_validate(resource)
    cigarettes = next(i for page in resource["item"] for i in page["item"] if i["linkId"] == "cigarettes")
    assert cigarettes["enableWhen"] == [{"question": "smoker", "operator": "=",
                                        "answerCoding": {"system": "urn:pro-app:questionnaire:all_types", "code": "1"}}]
    # Every shipped questionnaire, skip logic included, is a valid R4(B) Questionnaire.
    for shipped in load_directory(ROOT / "questionnaires").values():
        FhirQuestionnaire.model_validate(fhir_questionnaire(shipped, "sv"))


def test_the_cli_shows_progress_on_a_terminal(app, store, enrolled, clinic_dirs, tmp_path):
    """On a terminal, ``pro-app export`` shows a bar counting responses; in a pipe or a log it prints none."""
    import os
    import pty
    import subprocess
    import sys

    _dataset(app, store, enrolled)
    env = {**os.environ, "PRO_APP_QUESTIONNAIRES": str(clinic_dirs["questionnaires"]),
           "PRO_APP_DATA_DIR": str(clinic_dirs["data"]), "PYTHONPATH": str(ROOT)}
    main_fd, terminal = pty.openpty()
    out = tmp_path / "export.json"
    run = subprocess.run([sys.executable, "-m", "pro_app", "export", "--format", "fhir", "--out", str(out)],
                         env=env, stderr=terminal, stdout=subprocess.DEVNULL, timeout=120)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(main_fd)
    assert run.returncode == 0, shown
    text = shown.decode("utf-8", "replace")
    assert "export fhir" in text and "100%" in text and "5/5" in text and "responses" in text
    piped = subprocess.run([sys.executable, "-m", "pro_app", "export", "--format", "csv", "--out", str(out)],
                           env=env, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "%" not in piped.stderr and piped.stderr.strip() == f"wrote {out}"


def test_fhir_marks_the_none_option_exclusive_and_provisional_instruments_as_drafts(app, store, enrolled):
    from pro_app.definitions import load_directory
    from pro_app.fhir import OPTION_EXCLUSIVE, fhir_questionnaire

    shipped = load_directory(ROOT / "questionnaires")
    haq = fhir_questionnaire(shipped["haq"], "sv")
    aids = next(i for page in haq["item"] for i in page["item"] if i["linkId"] == "aids1")
    assert aids["answerOption"][-1]["valueCoding"]["code"] == "none"
    assert aids["answerOption"][-1]["valueCoding"]["display"] == "Inga hjälpmedel"
    assert aids["answerOption"][-1]["extension"] == [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]
    assert all("extension" not in o for o in aids["answerOption"][:-1])
    assert haq["status"] == "active" and "purpose" not in haq
    map_q = fhir_questionnaire(shipped["map"], "en")
    assert map_q["status"] == "draft" and "reconstruction" in map_q["purpose"]
    FhirQuestionnaire.model_validate(map_q)
    # An observation of a provisional instrument carries the reason; an enzyme has no upper bound.
    patient, visits = enrolled
    answer(app, patient["id"], visits[0]["id"], "mfi2", {"FI2_head_lift": 30})
    answer(app, patient["id"], visits[0]["id"], "enzymes", {"CK": 4.2, "CK_unit": "ukat_L", "CK_ULN": 3.5})
    bundle = json.loads(export_text(app.extensions["pro_app"], "fhir", lang="en"))
    Bundle.model_validate(bundle)
    observations = {e["resource"]["code"]["coding"][0]["code"]: e["resource"] for e in bundle["entry"]
                    if e["resource"]["resourceType"] == "Observation"}
    assert "maxima" in observations["FI2_head_lift"]["note"][0]["text"]
    assert "note" not in observations["CK"]
    assert observations["CK"]["referenceRange"][0] == {"low": {"value": 0.0}, "text": "lower is better"}
    assert observations["CK"]["valueQuantity"] == {"value": 4.2, "unit": "µkat/L"}
