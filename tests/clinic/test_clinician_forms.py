"""Clinician forms on the staff side: one page at a time or all on one screen; staff only, never the tablet."""
from __future__ import annotations

from helpers import page_fields

from .conftest import client_for, csrf_token


def _form_url(patient, visit, qid="test_exam", suffix=""):
    return f"/staff/patients/{patient['id']}/visits/{visit['id']}/forms/{qid}{suffix}"


def test_a_nurse_fills_a_clinician_form_page_by_page(nurse, store, enrolled):
    patient, visits = enrolled
    baseline = visits[0]
    start = nurse.get(_form_url(patient, baseline))
    assert start.status_code == 302 and start.location.endswith("/p/0")
    page = nurse.get(start.location)
    assert 'name="a__EX_neck"' in page.text and 'name="a__EX_ck"' not in page.text
    response = nurse.post(start.location, data={**page_fields(page.text), "shown": "EX_neck EX_hip",
                                                "a__EX_neck": "9", "a__EX_hip": "", "action": "next"})
    assert response.status_code == 302 and response.location.endswith("/p/1")
    page = nurse.get(response.location)
    response = nurse.post(response.location, data={**page_fields(page.text), "shown": "EX_ck EX_rash",
                                                   "a__EX_ck": "15,25", "a__EX_rash": "0", "action": "complete"})
    assert response.status_code == 422  # two decimals where one is allowed, in the nurse's language
    assert "högst 1 decimal" in response.text
    response = nurse.post(_form_url(patient, baseline, suffix="/p/1"),
                          data={**page_fields(response.text), "shown": "EX_ck EX_rash", "a__EX_ck": "15,2",
                                "a__EX_rash": "0", "action": "complete"})
    assert response.status_code == 302
    (stored,) = store.list_responses(patient["id"], baseline["id"])
    assert stored["status"] == "completed" and stored["completed_by"] == "staff:nina"
    assert stored["answers"] == {"EX_neck": 9, "EX_ck": 15.2, "EX_rash": 0}


def test_all_pages_on_one_screen(physician, store, enrolled):
    patient, visits = enrolled
    url = _form_url(patient, visits[1], suffix="/all")
    page = physician.get(url)
    assert page.status_code == 200
    for name in ("a__EX_neck", "a__EX_hip", "a__EX_ck", "a__EX_rash"):
        assert f'name="{name}"' in page.text
    response = physician.post(url, data={**page_fields(page.text), "shown": "EX_neck EX_hip EX_ck EX_rash",
                                         "a__EX_neck": "10", "a__EX_hip": "8", "a__EX_ck": "3", "a__EX_rash": "1",
                                         "action": "complete"})
    assert response.status_code == 302
    (stored,) = store.list_responses(patient["id"], visits[1]["id"])
    assert stored["status"] == "completed" and stored["answers"]["EX_hip"] == 8


def test_staff_may_correct_a_completed_form_and_the_audit_trail_keeps_both(nurse, store, enrolled):
    patient, visits = enrolled
    url = _form_url(patient, visits[0], suffix="/all")
    page = nurse.get(url)
    data = {**page_fields(page.text), "shown": "EX_neck EX_hip EX_ck EX_rash", "a__EX_neck": "5",
            "a__EX_hip": "5", "a__EX_ck": "1", "a__EX_rash": "0", "action": "complete"}
    assert nurse.post(url, data=data).status_code == 302
    # The same page sent again is older than what it stored: refused, the stored answers shown.
    stale = nurse.post(url, data={**data, "a__EX_neck": "6", "action": "save"})
    assert stale.status_code == 409 and "någon annan" in stale.text
    data.update(page_fields(nurse.get(url).text))
    assert nurse.post(url, data={**data, "a__EX_neck": "6", "action": "save"}).status_code == 302
    (stored,) = store.list_responses(patient["id"], visits[0]["id"])
    assert stored["status"] == "completed" and stored["answers"]["EX_neck"] == 6
    changes = [e["details"]["answers"]["EX_neck"] for e in store.audit_entries()
               if e["entity"] == "response" and e["action"] == "update" and "EX_neck" in e.get("details", {}).get("answers", {})]
    assert changes[-1] == {"from": 5, "to": 6}


def test_only_clinician_forms_of_the_visit_and_only_for_nurses_and_physicians(app, staff, nurse, enrolled):
    patient, visits = enrolled
    # A patient questionnaire is not a clinician form.
    assert nurse.get(_form_url(patient, visits[0], "test_wellbeing", "/all")).status_code == 404
    assert nurse.get(_form_url(patient, visits[0], "no_such_form", "/all")).status_code == 404
    admin = client_for(app, staff["admin"])
    assert admin.get(_form_url(patient, visits[0], suffix="/all")).status_code == 403
