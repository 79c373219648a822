"""Sessions that end, a locked tablet that stays locked, a clinician form that survives the staff idle time
(issues 15.3, 15.5, 15.7). Over HTTP against a real loopback server, with cookies captured and replayed
as an attacker with the cookie jar would."""
from __future__ import annotations

import time

import pytest

from helpers import Browser, LiveServer, page_fields
from pro_app import create_app
from pro_app.auth import hash_password

NURSE = ("anna", "correct horse battery")


@pytest.fixture
def live(data_dir):
    app = create_app({"SESSION_COOKIE_SECURE": False})
    store = app.extensions["pro_app"].store
    store.create_user(NURSE[0], hash_password(NURSE[1]), "nurse", "test")
    store.create_user("petra", hash_password(NURSE[1]), "physician", "test")
    with LiveServer(app) as server:
        yield server


def _patient(store, code="S-1", questionnaires=("patient_global", "haq"), clinician_forms=()):
    patient = store.create_patient(code, "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"},
                            questionnaires=list(questionnaires), clinician_forms=list(clinician_forms))
    return patient, visit


def _nurse(live) -> Browser:
    browser = Browser(live.port)
    assert browser.login(*NURSE).status == 302
    return browser


def _on_the_vas_page(live):
    """A tablet handed over for a new patient's visit, showing the patient global VAS page."""
    patient, visit = _patient(live.store)
    tablet = _nurse(live)
    tablet.hand_over(patient["id"], visit["id"])
    tablet.get("/tablet/q/patient_global")
    return tablet, patient, tablet.get("/tablet/q/patient_global/p/0")


def _age(live, browser: Browser, seconds: float) -> None:
    """The session was last used ``seconds`` ago, as far as the server's store knows."""
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(live.app)
    sid = serializer.loads(browser.cookie.split("=", 1)[1])["sid"]
    live.store.update_session(sid, seen=time.time() - seconds)


def test_logout_hand_off_and_lock_revoke_the_old_session_for_replayed_cookies(live):
    store = live.store
    patient, visit = _patient(store)
    nurse = _nurse(live)
    before_logout = nurse.cookie
    page = nurse.get("/staff/")
    assert nurse.post("/logout", page_fields(page.text)).location == "/login"
    replay = Browser(live.port, before_logout)
    for url in ("/staff/", f"/staff/patients/{patient['id']}"):
        result = replay.get(url)
        assert result.status == 302 and result.location == "/login", url

    nurse = _nurse(live)
    before_handoff = nurse.cookie
    assert nurse.hand_over(patient["id"], visit["id"]).location == "/tablet/"
    assert Browser(live.port, before_handoff).get("/staff/").location == "/login"
    assert nurse.get("/staff/").status == 403  # the tablet itself reaches no staff page

    nurse.get("/tablet/q/patient_global")
    before_lock = nurse.cookie
    nurse.post("/tablet/finish", page_fields(nurse.get("/tablet/").text))
    replay = Browser(live.port, before_lock)
    assert replay.get("/tablet/").location == "/tablet/locked"
    assert replay.get("/tablet/q/patient_global/p/0").location == "/tablet/locked"
    assert replay.post("/tablet/q/patient_global/p/0", {"shown": "PtGA", "a__PtGA": "50"}).location == "/tablet/locked"
    assert store.list_responses(patient["id"])[0]["answers"] == {}


def test_a_locked_tablet_shows_and_writes_nothing_whatever_is_posted(live):
    store = live.store
    tablet, patient, page = _on_the_vas_page(live)
    tablet.post("/tablet/q/patient_global/p/0", {**page_fields(page.text), "shown": "PtGA", "action": "next",
                                                  "a__PtGA": "42.0", "m__PtGA__touched": "1"})
    tablet.post("/tablet/finish", page_fields(tablet.get("/tablet/").text))

    # Token-less posts, as probed: the page with answers, the review, another questionnaire, an unknown one.
    for url in ("/tablet/q/patient_global/p/0", "/tablet/q/patient_global/review", "/tablet/q/haq/p/0",
                "/tablet/q/nosuch/p/0"):
        result = tablet.post(url, {"shown": "PtGA", "action": "next"})
        assert result.status == 303 and result.location == "/tablet/locked", (url, result.status)
        assert "42" not in result.text and "Hur aktiv" not in result.text
    assert [r["questionnaire"] for r in store.list_responses(patient["id"])] == ["patient_global"]


def test_an_idle_tablet_locks_on_a_post_too_and_stores_nothing(live):
    store = live.store
    tablet, patient, page = _on_the_vas_page(live)
    _age(live, tablet, live.app.config["TABLET_IDLE_MINUTES"] * 60 + 5)
    result = tablet.post("/tablet/q/patient_global/p/0", {**page_fields(page.text), "shown": "PtGA",
                                                           "action": "next", "a__PtGA": "42.0"})
    assert result.status == 303 and result.location == "/tablet/locked"
    assert store.list_responses(patient["id"])[0]["answers"] == {}
    assert tablet.get("/tablet/q/patient_global/p/0").location == "/tablet/locked"
    autosave = tablet.post("/tablet/q/patient_global/p/0", {**page_fields(page.text), "action": "autosave"})
    assert autosave.status == 401


def test_a_live_tablet_posting_to_an_unknown_questionnaire_without_a_token_gets_404(live):
    patient, visit = _patient(live.store)
    tablet = _nurse(live)
    tablet.hand_over(patient["id"], visit["id"])
    for data in ({}, {"response": "0" * 32}):
        assert tablet.post("/tablet/q/nosuch/p/0", data).status == 404
        assert tablet.post("/tablet/q/nosuch/review", data).status == 404


def test_staff_idle_expiry_is_decided_by_the_server_and_a_clinician_form_is_kept_as_a_draft(live):
    store = live.store
    patient, visit = _patient(store, "S-2", questionnaires=(), clinician_forms=("physician_global",))
    doctor = Browser(live.port)
    assert doctor.login("petra", NURSE[1]).status == 302
    url = f"/staff/patients/{patient['id']}/visits/{visit['id']}/forms/physician_global/p/0"
    page = doctor.get(url)
    captured = doctor.cookie
    _age(live, doctor, live.app.config["STAFF_IDLE_MINUTES"] * 60 + 5)
    posted = doctor.post(url, {**page_fields(page.text), "shown": "PhGA", "action": "save", "a__PhGA": "63.5",
                               "m__PhGA__touched": "1"})
    assert posted.status == 302 and posted.location == "/login"
    assert store.list_responses(patient["id"])[0]["answers"] == {}
    # The expired session stays expired, whichever cookie comes back.
    assert Browser(live.port, captured).get("/staff/").location == "/login"
    login = doctor.get("/login?next=" + url)
    assert "Det du fyllde i finns kvar" in login.text
    back = doctor.post("/login?next=" + url, {**page_fields(login.text), "username": "petra", "password": NURSE[1]})
    assert back.location == url
    form = doctor.get(url)
    assert 'value="63.5"' in form.text and "är tillbaka i formuläret" in form.text
    saved = doctor.post(url, {**page_fields(form.text), "shown": "PhGA", "action": "save", "a__PhGA": "63.5",
                              "m__PhGA__touched": "1"})
    assert saved.status == 302
    assert store.list_responses(patient["id"])[0]["answers"] == {"PhGA": 63.5}
    assert 'value="63.5"' not in Browser(live.port, doctor.cookie).get("/staff/").text
    assert store.take_draft("petra", url) is None  # restored once, then gone
