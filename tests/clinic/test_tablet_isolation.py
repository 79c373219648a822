"""A tablet session reaches no staff page and no other patient's data; every POST needs a valid CSRF token."""
from __future__ import annotations

import pytest

from helpers import age_session, page_fields

from .conftest import answer, client_for, csrf_token


@pytest.fixture
def two_patients(app, store, enrolled):
    patient, visits = enrolled
    other = store.create_patient("OTHER-777", "test")
    other_visit = store.add_visit(other["id"], "test", key="baseline", label={"sv": "B", "en": "B"},
                                  questionnaires=["patient_global", "test_wellbeing"], clinician_forms=["test_exam"])
    answer(app, other["id"], other_visit["id"], "test_wellbeing", {"WB1": 4, "WB2": 4, "WB3": 4})
    return {"patient": patient, "visit": visits[0], "other": other, "other_visit": other_visit}


def _hand_over(client, patient, visit):
    page = client.get(f"/staff/patients/{patient['id']}")
    response = client.post(f"/staff/patients/{patient['id']}/visits/{visit['id']}/tablet",
                           data={**page_fields(page.text), "language": "sv", "confirmed": "1"})
    assert response.status_code == 302 and response.location.endswith("/tablet/")
    return client


def _url_args(rule, ids) -> dict:
    values = {"patient_id": ids["other"]["id"], "visit_id": ids["other_visit"]["id"], "qid": "test_wellbeing",
              "n": 0, "fmt": "csv", "filename": "app.css"}
    return {arg: values[arg] for arg in rule.arguments}


def test_a_tablet_reaches_no_staff_page(app, nurse, two_patients):
    tablet = _hand_over(nurse, two_patients["patient"], two_patients["visit"])
    tried = 0
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("staff.") or "GET" not in rule.methods:
                continue
            for patient_key, visit_key in (("other", "other_visit"), ("patient", "visit")):
                ids = {**two_patients, "other": two_patients[patient_key], "other_visit": two_patients[visit_key]}
                url = url_for(rule.endpoint, **_url_args(rule, ids))
                response = tablet.get(url)
                assert response.status_code == 403, url
                assert "OTHER-777" not in response.text and "P-001" not in response.text
                tried += 1
    assert tried >= 10


def test_a_tablet_sees_only_its_own_visit(app, nurse, two_patients):
    tablet = _hand_over(nurse, two_patients["patient"], two_patients["visit"])
    home = tablet.get("/tablet/")
    assert home.status_code == 200 and "OTHER-777" not in home.text
    # Questionnaires outside the handed-over visit, and clinician forms, are not found.
    assert tablet.get("/tablet/q/test_exam").status_code == 404
    assert tablet.get("/tablet/q/no_such").status_code == 404
    # The other patient's completed answers are never shown: the tablet starts its own response.
    page = tablet.get("/tablet/q/test_wellbeing/p/0")
    assert page.status_code == 200 and "checked" not in page.text
    # Staff ids in tablet URLs mean nothing: there are none to try, and staff URLs are refused.
    assert tablet.get(f"/staff/patients/{two_patients['other']['id']}").status_code == 403
    assert tablet.get("/").location.endswith("/tablet/")


def test_done_or_idle_the_tablet_returns_to_the_lock_screen(app, nurse, store, two_patients):
    tablet = _hand_over(nurse, two_patients["patient"], two_patients["visit"])
    patient, visit = two_patients["patient"], two_patients["visit"]
    for qid, answers in (("patient_global", {"PtGA": 40.0}), ("test_wellbeing", {"WB1": 1, "WB2": 1, "WB3": 1})):
        tablet.get(f"/tablet/q/{qid}")
        (response,) = [r for r in store.list_responses(patient["id"], visit["id"]) if r["questionnaire"] == qid]
        store.save_answers(patient["id"], response["id"], "test", answers)
        review = tablet.get(f"/tablet/q/{qid}/review")
        assert tablet.post(f"/tablet/q/{qid}/review", data={**page_fields(review.text), "action": "submit"}).status_code == 302
    done = tablet.get("/tablet/")
    assert "tablet/finish" in done.text
    locked = tablet.post("/tablet/finish", data={**page_fields(done.text)})
    assert locked.location.endswith("/tablet/locked")
    assert tablet.get("/tablet/").location.endswith("/tablet/locked")
    assert tablet.get(f"/staff/patients/{patient['id']}").status_code == 403

    # Idle: a fresh hand-off left alone longer than TABLET_IDLE_MINUTES locks on the next request.
    staff = client_for(app, "nina")
    tablet2 = _hand_over(staff, two_patients["other"], two_patients["other_visit"])
    age_session(tablet2, store, app.config["TABLET_IDLE_MINUTES"] * 60 + 1)
    assert tablet2.get("/tablet/").location.endswith("/tablet/locked")
    assert tablet2.get("/tablet/").location.endswith("/tablet/locked")  # and it stays locked

    # Staff unlock: the session becomes a staff session for that patient.
    page = tablet2.get("/tablet/locked")
    unlocked = tablet2.post("/tablet/locked", data={**page_fields(page.text), "username": "nina",
                                                     "password": "correct horse battery"})
    assert unlocked.location.endswith(f"/staff/patients/{two_patients['other']['id']}")
    assert tablet2.get("/tablet/").location.endswith("/tablet/locked")


def test_every_post_route_rejects_a_missing_or_wrong_csrf_token(app, staff, store, two_patients):
    app.config["WTF_CSRF_ENABLED"] = True
    nurse = client_for(app, staff["nurse"])
    admin = client_for(app, staff["admin"])
    tablet = _hand_over(client_for(app, staff["nurse"]), two_patients["patient"], two_patients["visit"])
    tablet.get("/tablet/q/test_wellbeing")
    ids = {**two_patients, "other": two_patients["patient"], "other_visit": two_patients["visit"]}
    before = (len(store.audit_entries()), len(store.list_patients()))
    routes = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "POST" not in rule.methods:
                continue
            args = _url_args(rule, ids)
            if rule.endpoint.startswith("staff.clinician_form"):
                args["qid"] = "test_exam"
            routes.append((rule.endpoint, url_for(rule.endpoint, **args)))
    assert {"auth.login", "auth.logout", "language", "staff.dashboard", "staff.patient", "staff.enroll_patient",
            "staff.handoff", "staff.clinician_form", "patient.page", "patient.review", "patient.locked",
            "patient.finish"} <= {endpoint for endpoint, _url in routes}
    form = {"study_code": "NEW-1", "key": "x", "study": "test_study", "baseline": "2025-01-01", "language": "sv",
            "username": "nina", "password": "correct horse battery", "lang": "en", "action": "next",
            "shown": "WB1", "a__WB1": "2"}
    for endpoint, url in routes:
        client = tablet if endpoint.startswith("patient.") else admin if "export" in endpoint else nurse
        for token in (None, "not-the-token"):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            response = client.post(url, data=data)
            assert response.status_code == 400, (endpoint, token, response.status_code)
    assert (len(store.audit_entries()), len(store.list_patients())) == before
    # The same forms work with the right token (the test reaches the views).
    page = nurse.get("/staff/")
    assert nurse.post("/staff/", data={**page_fields(page.text), "study_code": "NEW-1"}).status_code == 302
