"""The staff patient page: the visit to start today comes first, and starting the wrong one asks first."""
from __future__ import annotations

import datetime as dt

from helpers import page_fields
from pro_app.staff import visit_rows, visit_to_start
from pro_app.studies import enroll

from .conftest import answer


def _enrolled(app, store, baseline: dt.date):
    study = app.extensions["pro_app.studies"]["test_study"]
    patient = store.create_patient("V-1", "test", study="test_study")
    enroll(store, patient["id"], study, baseline, "test")
    return patient, {v["key"]: v for v in store.list_visits(patient["id"])}


def _visit(rows, key):
    return next(r for r in rows if r.visit["key"] == key)


def test_the_visit_to_start_is_the_one_due_now_else_the_next(app, store):
    today = dt.date(2025, 6, 2)
    patient, visits = _enrolled(app, store, dt.date(2025, 5, 2))  # 1 month due today, baseline missed
    rows = visit_rows(store.list_visits(patient["id"]), [], today)
    assert [(r.visit["key"], r.state) for r in rows] == [("baseline", "overdue"), ("m1", "due"), ("m3", "not_yet_due")]
    assert visit_to_start(rows, today).visit["key"] == "m1"  # the nearest of the two open ones
    assert _visit(rows, "m3").needs_confirmation and not _visit(rows, "m1").needs_confirmation
    # The month's questionnaires filled in: the tablet part of that visit is done; the baseline is next nearest.
    for qid in ("patient_global", "test_wellbeing"):
        answer(app, patient["id"], visits["m1"]["id"], qid, {}, actor="patient:tablet(x)")
    rows = visit_rows(store.list_visits(patient["id"]), store.list_responses(patient["id"]), today)
    assert _visit(rows, "m1").patient_done and _visit(rows, "m1").needs_confirmation
    assert visit_to_start(rows, today).visit["key"] == "baseline"
    # Before anything is due, the next visit due is the one to start.
    early = visit_rows(store.list_visits(patient["id"]), [], dt.date(2025, 4, 1))
    assert visit_to_start(early, dt.date(2025, 4, 1)).visit["key"] == "baseline"


def test_the_patient_page_shows_the_visit_due_today_first(app, store, nurse):
    today = dt.date.today()
    patient, visits = _enrolled(app, store, today)
    page = nurse.get(f"/staff/patients/{patient['id']}").text
    due = page.split('class="card due-visit"')[1].split("</section>")[0]
    assert "Aktuellt besök" in due and 'data-visit="baseline"' in due and 'data-visit="m1"' not in due
    assert "button primary" in due and "Starta på den här surfplattan" in due
    assert "data-calibration-status" in due  # the tablet's calibration, said where the visit starts
    assert page.index('class="card due-visit"') < page.index('data-visit="m1"')
    others = page.split("Övriga besök")[1]
    assert 'data-visit="m1"' in others and 'data-visit="m3"' in others and "button primary" not in others


def test_starting_a_visit_not_yet_due_or_already_done_asks_first(app, store, nurse):
    today = dt.date.today()
    patient, visits = _enrolled(app, store, today)
    url = f"/staff/patients/{patient['id']}/visits/{visits['m3']['id']}/tablet"
    fields = page_fields(nurse.get(f"/staff/patients/{patient['id']}").text)
    asked = nurse.post(url, data={**fields, "language": "en"})
    assert asked.status_code == 200 and "Starta 3 månader på den här surfplattan?" in asked.text
    assert "Svar som ges i dag räknas till det besöket" in asked.text
    assert "Starta Baslinje i stället" in asked.text  # the visit due today, one press away
    assert 'name="confirmed" value="1"' in asked.text and 'name="language" value="en"' in asked.text
    assert store.list_responses(patient["id"]) == []
    started = nurse.post(url, data={**page_fields(asked.text), "language": "en", "confirmed": "1"})
    assert started.status_code == 302 and started.location.endswith("/tablet/")


def test_a_completed_visit_asks_too(app, store, nurse):
    patient, visits = _enrolled(app, store, dt.date.today())
    for qid in ("patient_global", "test_wellbeing"):
        answer(app, patient["id"], visits["baseline"]["id"], qid, {}, actor="patient:tablet(x)")
    fields = page_fields(nurse.get(f"/staff/patients/{patient['id']}").text)
    asked = nurse.post(f"/staff/patients/{patient['id']}/visits/{visits['baseline']['id']}/tablet",
                       data={**fields, "language": "sv"})
    assert asked.status_code == 200 and "redan ifyllda" in asked.text
    # Nothing else is due today: no other visit is offered instead (the next one is a month away).
    assert "i stället" not in asked.text


def test_staff_see_roles_and_studies_by_name(app, store, nurse):
    patient, _visits = _enrolled(app, store, dt.date.today())
    page = nurse.get("/staff/").text
    assert "(sjuksköterska)" in page and "(nurse)" not in page
    assert "Teststudie" in page and ">test_study<" not in page
    calibrate = nurse.get("/staff/calibrate").text
    assert "px/mm" not in calibrate and "0,1 mm" in calibrate and "0.1 mm" not in calibrate
