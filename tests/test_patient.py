"""The tablet flow over HTTP: pages, skip logic, review, resume, stale tokens, double submits, locking."""
from __future__ import annotations

import shutil

import pytest

from pro_app import create_app

from helpers import ROOT, csrf_token, hand_over, login, page_fields


@pytest.fixture
def engine_app(data_dir, tmp_path, monkeypatch):
    folder = tmp_path / "questionnaires"
    folder.mkdir()
    shutil.copy(ROOT / "questionnaires" / "patient_global.yaml", folder)
    shutil.copy(ROOT / "tests" / "fixtures" / "all_types.yaml", folder)
    monkeypatch.setenv("PRO_APP_QUESTIONNAIRES", str(folder))
    return create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})


@pytest.fixture
def engine(engine_app, nurse_factory):
    """A tablet handed over for a visit with the all-item-types questionnaire."""
    store = engine_app.extensions["pro_app"].store
    client = engine_app.test_client()
    nurse_factory(store)
    login(client, "anna", "correct horse battery")
    patient = store.create_patient("E-1", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"},
                            questionnaires=["all_types", "patient_global"])
    assert hand_over(client, patient["id"], visit["id"]).status_code == 302
    return client, store, patient


@pytest.fixture
def nurse_factory():
    from pro_app.auth import hash_password

    def make(store):
        store.create_user("anna", hash_password("correct horse battery"), "nurse", "test")

    return make


def post_page(client, qid, n, fields, action="next"):
    page = client.get(f"/tablet/q/{qid}/p/{n}")
    assert page.status_code == 200, page.status_code
    shown = page.text.split('name="shown" value="')[1].split('"')[0]
    data = {**page_fields(page.text), "shown": shown, "action": action, **fields}
    return client.post(f"/tablet/q/{qid}/p/{n}", data=data)


def engine_questionnaire(client):
    return client.application.extensions["pro_app"].questionnaires["all_types"]


def stored_answers_that_count(q, response):
    return q.shown_answers(response["answers"])


def response_of(store, patient, qid):
    return next(r for r in store.list_responses(patient["id"]) if r["questionnaire"] == qid)


def test_every_item_type_renders_in_both_languages(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    sv = [client.get(f"/tablet/q/all_types/p/{n}").text for n in range(3)]
    assert "Röker du?" in sv[0] and "Nästa" in sv[0] and 'lang="sv"' in sv[0]
    assert "Hur trött är du?" in sv[1] and 'role="slider"' in sv[1] and "Inte markerad" in sv[1]
    assert "klä på dig?" in sv[2] and "Utan svårighet" in sv[2]
    post_page(client, "all_types", 0, {}, action="lang-en")
    en = client.get("/tablet/q/all_types/p/1").text
    assert "How tired are you?" in en and "Next" in en and "Not marked" in en and 'lang="en"' in en


def test_skip_logic_shows_follow_up_on_the_same_page(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    first = client.get("/tablet/q/all_types/p/0").text
    assert "cigaretter" not in first
    again = post_page(client, "all_types", 0, {"a__smoker": "1"})
    assert again.status_code == 200 and "Hur många cigaretter per dag?" in again.text
    assert "En följdfråga har kommit fram nedan." in again.text
    moved = post_page(client, "all_types", 0, {"a__smoker": "1", "a__cigarettes": "12,5"})
    assert moved.status_code == 302 and moved.location.endswith("/tablet/q/all_types/p/1")
    assert response_of(store, patient, "all_types")["answers"] == {"smoker": 1, "cigarettes": 12.5}
    # Answering "no" hides the follow-up: its answer is kept but counts nowhere (not on the review page)...
    post_page(client, "all_types", 0, {"a__smoker": "0"})
    stored = response_of(store, patient, "all_types")
    assert stored["answers"] == {"smoker": 0, "cigarettes": 12.5}
    assert "cigarettes" not in stored_answers_that_count(engine_questionnaire(client), stored)
    assert "12,5" not in client.get("/tablet/q/all_types/review").text
    # ...and "yes" again shows it as the patient left it.
    back = post_page(client, "all_types", 0, {"a__smoker": "1"})
    assert back.status_code == 200 and "En följdfråga har kommit fram nedan." in back.text
    assert 'value="12,5"' in back.text or 'value="12.5"' in back.text


def test_bad_number_gets_a_message_in_swedish_and_keeps_other_answers(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    post_page(client, "all_types", 0, {"a__smoker": "1"})
    bad = post_page(client, "all_types", 0, {"a__smoker": "1", "a__cigarettes": "900"})
    assert bad.status_code == 422
    assert "Skriv ett tal från 0 till 80 st/dag, med högst 1 decimal(er)." in bad.text
    assert 'value="900"' in bad.text  # what was typed stays on the page
    assert response_of(store, patient, "all_types")["answers"] == {"smoker": 1}
    letters = post_page(client, "all_types", 0, {"a__smoker": "1", "a__cigarettes": "tolv"})
    assert letters.status_code == 422


def test_untouched_vas_is_unanswered_and_a_touched_one_stores_mm(engine):
    client, store, patient = engine
    client.get("/tablet/q/patient_global")
    post_page(client, "patient_global", 0, {"a__PtGA": ""})
    review = client.get("/tablet/q/patient_global/review").text
    assert 'data-unanswered="PtGA"' in review
    assert "PtGA" not in response_of(store, patient, "patient_global")["answers"]

    post_page(client, "patient_global", 0, {
        "a__PtGA": "63.2", "m__PtGA__touched": "1", "m__PtGA__line_px": "412.5",
        "m__PtGA__px_per_mm": "4.125", "m__PtGA__calibrated": "1",
    })
    stored = response_of(store, patient, "patient_global")
    assert stored["answers"] == {"PtGA": 63.2}
    assert stored["item_meta"]["PtGA"] == {"touched": True, "line_px": 412.5, "px_per_mm": 4.125, "calibrated": True}
    review = client.get("/tablet/q/patient_global/review").text
    assert 'data-unanswered="PtGA"' not in review
    assert "63.2" not in review and "63,2" not in review  # the patient never sees the number


def test_out_of_range_vas_is_rejected(engine):
    client, store, patient = engine
    client.get("/tablet/q/patient_global")
    bad = post_page(client, "patient_global", 0, {"a__PtGA": "130"})
    assert bad.status_code == 422
    assert "PtGA" not in response_of(store, patient, "patient_global")["answers"]


def test_required_item_blocks_submit_until_answered(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    review = client.get("/tablet/q/all_types/review")
    blocked = client.post("/tablet/q/all_types/review", data={**page_fields(review.text), "action": "submit"})
    assert blocked.status_code == 422 and "obligatoriska" in blocked.text
    assert response_of(store, patient, "all_types")["status"] == "in_progress"
    post_page(client, "all_types", 0, {"a__smoker": "0"})
    review = client.get("/tablet/q/all_types/review")
    done = client.post("/tablet/q/all_types/review", data={**page_fields(review.text), "action": "submit"})
    assert done.status_code == 302
    assert response_of(store, patient, "all_types")["status"] == "completed"


def test_double_submit_and_refresh_store_one_response(engine):
    client, store, patient = engine
    client.get("/tablet/q/patient_global")
    post_page(client, "patient_global", 0, {"a__PtGA": "40.0", "m__PtGA__touched": "1"})
    review = client.get("/tablet/q/patient_global/review")
    fields = page_fields(review.text)
    first = client.post("/tablet/q/patient_global/review", data={**fields, "action": "submit"})
    second = client.post("/tablet/q/patient_global/review", data={**fields, "action": "submit"})
    assert first.status_code == second.status_code == 302
    client.get("/tablet/q/patient_global")  # a refresh of the start link
    responses = [r for r in store.list_responses(patient["id"]) if r["questionnaire"] == "patient_global"]
    assert len(responses) == 1 and responses[0]["status"] == "completed"
    completes = [e for e in store.audit_entries() if e["action"] == "complete"]
    assert len(completes) == 1


def test_after_completion_pages_show_nothing_and_are_not_cached(engine):
    client, store, patient = engine
    client.get("/tablet/q/patient_global")
    post_page(client, "patient_global", 0, {"a__PtGA": "40.0"})
    review = client.get("/tablet/q/patient_global/review")
    client.post("/tablet/q/patient_global/review", data={**page_fields(review.text), "action": "submit"})
    back = client.get("/tablet/q/patient_global/p/0")
    assert back.status_code == 302 and back.location.endswith("/tablet/")
    assert client.get("/tablet/q/patient_global/review").status_code == 302
    home = client.get("/tablet/")
    assert "no-store" in home.headers["Cache-Control"]


def test_stale_csrf_token_keeps_the_answers_on_the_page(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    page = client.get("/tablet/q/all_types/p/1")
    shown = page.text.split('name="shown" value="')[1].split('"')[0]
    stale = client.post("/tablet/q/all_types/p/1", data={
        **page_fields(page.text), "csrf_token": "expired-token", "shown": shown, "action": "next", "a__pain": "7", "a__aids": ["walker"],
    })
    assert stale.status_code == 400
    assert "Dina svar finns kvar" in stale.text
    assert 'value="7" checked' in stale.text or 'checked type="radio" value="7"' in stale.text or (
        'id="a__pain-7"' in stale.text and "checked" in stale.text.split('id="a__pain-7"')[0][-200:] + stale.text.split('id="a__pain-7"')[1][:200])
    # Nothing is saved from a request whose token failed...
    assert response_of(store, patient, "all_types")["answers"] == {}
    # ...and the fresh token on the returned page works.
    again = client.post("/tablet/q/all_types/p/1", data={
        **page_fields(stale.text), "shown": shown, "action": "next", "a__pain": "7", "a__aids": ["walker"],
    })
    assert again.status_code == 302
    assert response_of(store, patient, "all_types")["answers"] == {"pain": 7, "aids": ["walker"]}


def test_resume_where_the_patient_stopped(engine, engine_app):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    post_page(client, "all_types", 0, {"a__smoker": "0"})
    post_page(client, "all_types", 1, {"a__pain": "3"})
    # The tablet sleeps; later the questionnaire is opened again.
    resumed = client.get("/tablet/q/all_types")
    assert resumed.location.endswith("/tablet/q/all_types/p/2")
    page1 = client.get("/tablet/q/all_types/p/1").text
    assert 'value="3" checked' in page1 or ("checked" in page1.split('id="a__pain-3"')[0][-120:] + page1.split('id="a__pain-3"')[1][:80])
    home = client.get("/tablet/").text
    assert "Fortsätt" in home


def test_untouched_checkboxes_stay_unanswered_and_none_is_its_own_answer(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    post_page(client, "all_types", 1, {"a__pain": "2"})
    assert "aids" not in response_of(store, patient, "all_types")["answers"]  # untouched: no answer
    review = client.get("/tablet/q/all_types/review").text
    assert 'data-unanswered="aids"' in review and 'data-unanswered="fatigue"' in review
    # The definition's explicit "none of these" answer is stored as its code, and shown as its text.
    post_page(client, "all_types", 1, {"a__pain": "2", "a__aids": ["none"]})
    assert response_of(store, patient, "all_types")["answers"]["aids"] == ["none"]
    review = client.get("/tablet/q/all_types/review").text
    assert 'data-unanswered="aids"' not in review and "Inga hjälpmedel" in review


def test_none_of_these_cannot_be_ticked_with_another_answer(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    page = post_page(client, "all_types", 1, {"a__pain": "2", "a__aids": ["cane", "none"]})
    assert page.status_code == 422
    assert "”Inga hjälpmedel” kan inte kombineras med andra svar." in page.text
    assert "aids" not in response_of(store, patient, "all_types")["answers"]


def test_autosave_keeps_a_half_filled_page(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    saved = post_page(client, "all_types", 2, {"a__dress": "2", "a__comment": "Trött i armarna"}, action="autosave")
    assert saved.status_code == 200 and saved.json["saved"] is True
    assert response_of(store, patient, "all_types")["answers"] == {"dress": 2, "comment": "Trött i armarna"}


def test_idle_tablet_saves_then_locks_and_needs_staff(engine, engine_app):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    locked = post_page(client, "all_types", 1, {"a__pain": "5"}, action="lock")
    assert locked.location.endswith("/tablet/locked")
    # The aids checkboxes were on the page and left untouched: not an answer.
    assert response_of(store, patient, "all_types")["answers"] == {"pain": 5}
    assert client.get("/tablet/q/all_types/p/1").location.endswith("/tablet/locked")
    screen = client.get("/tablet/locked").text
    assert "E-1" not in screen and "Hur ont" not in screen  # nothing of the patient on the lock screen
    wrong = client.post("/tablet/locked", data={**page_fields(screen), "username": "anna", "password": "nope"})
    assert wrong.status_code == 401
    unlocked = client.post("/tablet/locked", data={**page_fields(screen), "username": "anna",
                                                   "password": "correct horse battery"})
    assert unlocked.status_code == 302 and "/staff/patients/" in unlocked.location


def test_idle_timeout_locks_on_next_request(engine, engine_app):
    client, store, patient = engine
    engine_app.config["TABLET_IDLE_MINUTES"] = 0
    assert client.get("/tablet/").location.endswith("/tablet/locked")


def test_tablet_cannot_reach_staff_pages_or_other_questionnaires(engine):
    client, store, patient = engine
    other = store.create_patient("OTHER-2", "test")
    assert client.get("/staff/").status_code == 403
    assert client.get(f"/staff/patients/{other['id']}").status_code == 403
    assert client.get("/tablet/q/sf36").status_code == 404  # not due at this visit
    assert client.get("/tablet/q/nosuch").status_code == 404


def test_no_patient_data_in_urls(engine):
    client, store, patient = engine
    client.get("/tablet/q/all_types")
    r = post_page(client, "all_types", 0, {"a__smoker": "0"})
    for location in [r.location, "/tablet/q/all_types/p/1"]:
        assert patient["id"] not in location and "E-1" not in location


def test_still_here_keeps_the_tablet_and_the_idle_timer_locks_it(engine):
    client, store, patient = engine
    home = client.get("/tablet/")
    assert 'id="idle-warning"' in home.text and "Jag är kvar" in home.text
    fields = page_fields(home.text)
    assert client.post("/tablet/alive", data={"csrf_token": fields["csrf_token"]}).status_code == 204
    assert client.post("/tablet/alive").status_code == 400  # no token: refused like every form
    locked = client.post("/tablet/idle", data={"csrf_token": fields["csrf_token"]})
    assert locked.status_code == 302 and locked.location.endswith("/tablet/locked")
    assert client.get("/tablet/").location.endswith("/tablet/locked")
    assert client.post("/tablet/alive", data={"csrf_token": fields["csrf_token"]}).status_code == 303
    lock = [e for e in store.audit_entries() if e["action"] == "lock"]
    assert [e["details"]["reason"] for e in lock] == ["idle"]


def test_after_thank_you_the_server_locks_the_tablet_too(engine, engine_app):
    # Without the page's script (or with the tablet asleep), the next request after the delay finds it locked.
    import time

    client, store, patient = engine
    cat = engine_app.extensions["pro_app"]
    visit = store.list_visits(patient["id"])[0]
    for qid in ("all_types", "patient_global"):
        r = store.start_response(patient["id"], visit["id"], cat.get(qid), "test", "sv")
        store.complete_response(patient["id"], r["id"], "test")
    done = client.get("/tablet/")
    assert "Tack!" in done.text and 'data-lock-after="30"' in done.text
    assert client.get("/tablet/").status_code == 200  # within the delay: still the thank-you page
    with client.session_transaction() as s:
        sid = s["sid"]
    store.update_session(sid, done_at=time.time() - 31)
    assert client.get("/tablet/").location.endswith("/tablet/locked")
    assert [e["details"]["reason"] for e in store.audit_entries() if e["action"] == "lock"] == ["done"]
