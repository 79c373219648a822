"""Issue 9, point 6, end to end: adverse events answered "no" after event 2 was filled in.

Over HTTP on the clinician form (where the adverse event form is filled in), then the score, the
`pro-app score` command and every export format: event 2's answers count nowhere, come back if the
physician says "yes" again, and once the form is completed they are in the audit trail only.
"""
from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from helpers import page_fields
from pro_app.cli import main
from pro_app.export import export_text
from pro_app.scoring import score

EVENT1 = {"AE1_date": "2025-02-03", "AE1_description": "Huvudvärk", "AE1_severity": "3", "AE1_relation": "4",
          "AE1_serious": "0", "AE1_action": "1", "AE1_another": "1"}
EVENT2 = {"AE2_date": "2025-02-10", "AE2_description": "Illamående", "AE2_severity": "4", "AE2_relation": "5",
          "AE2_serious": "1", "AE2_action": "4", "AE2_another": "0"}


def _post(client, url, fields, action):
    page = client.get(url)
    assert page.status_code == 200, url
    shown = page.text.split('name="shown" value="')[1].split('"')[0]
    return client.post(url, data={**page_fields(page.text), "shown": shown, "action": action,
                                  **{f"a__{k}": v for k, v in fields.items()}})


def test_adverse_events_hidden_behind_a_no_count_nowhere(app, physician, store, monkeypatch, clinic_dirs):
    patient = store.create_patient("P-AE", "test")
    visit = store.add_visit(patient["id"], "test", key="m1", label={"sv": "M1", "en": "M1"}, questionnaires=[],
                            clinician_forms=["adverse_events"], due="2025-03-01")
    base = f"/staff/patients/{patient['id']}/visits/{visit['id']}/forms/adverse_events"
    assert _post(physician, f"{base}/p/0", {"AE_any": "1"}, "next").location.endswith("/p/1")
    assert _post(physician, f"{base}/p/1", EVENT1, "next").location.endswith("/p/2")
    assert _post(physician, f"{base}/p/2", EVENT2, "save").status_code == 302
    cat = app.extensions["pro_app"]
    q = cat.get("adverse_events")

    # The physician changes their mind: no adverse event. Event 1's "another: yes" is still stored.
    _post(physician, f"{base}/p/0", {"AE_any": "0"}, "save")
    (response,) = store.list_responses(patient["id"], visit["id"])
    assert response["answers"]["AE1_another"] == 1 and response["answers"]["AE2_description"] == "Illamående"
    assert [p.id for p in q.visible_pages(response["answers"])] == ["any"]
    assert physician.get(f"{base}/p/2").location.endswith("/p/0")  # event 2's page is gone, as in LHC-Forms
    assert "a__AE2_description" not in physician.get(f"{base}/all").text
    assert {s.id: s.value for s in score(q, response["answers"])}["AE_serious"] == 0

    # Every export of the in-progress form: AE_any only.
    long = list(csv.DictReader(io.StringIO(export_text(cat, "csv-long"))))
    assert [(r["name"], r["value"]) for r in long if r["kind"] == "item"] == [("AE_any", "0")]
    wide = list(csv.DictReader(io.StringIO(export_text(cat, "csv"))))
    assert not any(v == "Illamående" or v == "Huvudvärk" for row in wide for v in row.values())
    bundle = export_text(cat, "fhir")
    assert "Illamående" not in bundle and "Huvudvärk" not in bundle

    # `pro-app score` on the stored answers as they are: the same numbers as the app.
    answers_file = clinic_dirs["data"].parent / "ae.json"
    answers_file.write_text(json.dumps(response["answers"]), encoding="utf-8")
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(clinic_dirs["questionnaires"]))
    result = CliRunner().invoke(main, ["score", "adverse_events", str(answers_file)])
    assert result.exit_code == 0, result.output
    assert {s["id"]: s["value"] for s in json.loads(result.output)["scales"]} == {
        "AE_count": 0, "AE_serious": 0, "AE_severe": 0, "AE_related": 0}

    # "Yes" again: both events come back as they were typed.
    _post(physician, f"{base}/p/0", {"AE_any": "1"}, "save")
    assert 'value="Illamående"' in physician.get(f"{base}/p/2").text
    (response,) = store.list_responses(patient["id"], visit["id"])
    assert {s.id: s.value for s in score(q, response["answers"])}["AE_serious"] == 1

    # "No" and complete: the hidden answers leave the response, and the audit trail keeps them.
    _post(physician, f"{base}/p/0", {"AE_any": "0"}, "complete")
    (response,) = store.list_responses(patient["id"], visit["id"])
    assert response["status"] == "completed" and response["answers"] == {"AE_any": 0}
    dropped = [e["details"]["answers"] for e in store.audit_entries()
               if e["entity"] == "response" and "AE2_description" in (e.get("details") or {}).get("answers", {})]
    assert dropped[-1]["AE2_description"] == {"from": "Illamående", "to": None}
