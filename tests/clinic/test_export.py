"""Exports: CSV wide and long for R/SPSS/Stata, the CLI and the download (FHIR itself: tests/exports/test_fhir.py)."""
from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from pro_app.cli import main
from pro_app.export import export_text

from .conftest import ROOT, answer
from exports.fhir_checks import check_bundle


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
    for column in ("patient_global_PtGA", "patient_global_PtGA_score", "test_wellbeing_WB1", "test_wellbeing_WB_total",
                   "test_exam_EX_ck", "test_exam_EX_strength", "test_exam_status", "test_wellbeing_language"):
        assert column in header
    assert header.index("test_exam_EX_neck") < header.index("test_exam_EX_strength")  # items, then scores
    rows = _csv(text)
    assert [(r["study_code"], r["visit"]) for r in rows] == [("P-001", "baseline"), ("P-001", "m1"), ("P-002", "extra")]
    baseline, m1, extra = rows
    assert baseline["study"] == "test_study" and baseline["visit_due"] == "2025-01-31"
    assert baseline["patient_global_PtGA"] == "52.3" and baseline["patient_global_PtGA_score"] == "52.3"
    assert baseline["test_wellbeing_WB_total"] == "2.5" and baseline["test_wellbeing_WB3"] == ""
    assert baseline["test_wellbeing_language"] == "en"
    assert baseline["test_exam_EX_ck"] == "1234.5" and baseline["test_exam_EX_strength"] == "15"
    assert baseline["test_exam_completed_at"][:4].isdigit() and "T" in baseline["test_exam_completed_at"]
    assert m1["patient_global_status"] == "in_progress" and m1["test_exam_status"] == ""
    assert extra["test_wellbeing_WB_total"] == ""  # 1 of 3 answered: not computable, left empty, never 0


def test_long_csv_has_one_row_per_item_and_score(app, store, enrolled):
    _dataset(app, store, enrolled)
    rows = _csv(export_text(app.extensions["pro_app"], "csv-long"))
    assert list(rows[0]) == ["study_code", "study", "visit", "visit_due", "questionnaire", "version", "status",
                             "language", "completed_at", "kind", "name", "value"]
    exam = [(r["kind"], r["name"], r["value"]) for r in rows if r["questionnaire"] == "test_exam"]
    assert exam == [("item", "EX_neck", "8"), ("item", "EX_hip", "7"), ("item", "EX_ck", "1234.5"),
                    ("item", "EX_rash", "1"), ("scale", "EX_strength", "15")]
    assert sum(1 for r in rows if r["study_code"] == "P-002") == 2  # WB1 and the (empty) score


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
    check_bundle(json.loads(fhir.data))  # the R4 4.0.1 JSON schema and fhir.resources 6.4's R4 models
    assert admin.get("/staff/export/xml").status_code == 404
    assert nurse.get("/staff/export").status_code == 403
    assert nurse.get("/staff/export/csv").status_code == 403


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
