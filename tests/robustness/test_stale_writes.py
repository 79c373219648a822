"""Answers land in the right response, newest first: an autosave overtaken by Next never wins (issue 15.11),
and a page from an earlier patient's session is refused with nothing shown or stored (15.12).

Over HTTP against a real loopback server. The race of 15.11 is forced with a delayed lock holder:
another writer holds the patient's file lock while the autosave and Next requests queue up behind it.
"""
from __future__ import annotations

import threading
import time

import pytest

from helpers import Browser, LiveServer, page_fields
from pro_app import create_app
from pro_app.auth import hash_password
from pro_app.storage import TinyDBStore
from pro_app.storage.files import exclusive

NURSE = ("anna", "correct horse battery")


@pytest.fixture
def live(data_dir):
    app = create_app({"SESSION_COOKIE_SECURE": False})
    app.extensions["pro_app"].store.create_user(NURSE[0], hash_password(NURSE[1]), "nurse", "test")
    with LiveServer(app) as server:
        yield server


def _visit(store, code: str):
    patient = store.create_patient(code, "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"},
                            questionnaires=["patient_global"])
    return patient, visit


def _tablet(live, patient, visit) -> Browser:
    tablet = Browser(live.port)
    assert tablet.login(*NURSE).status == 302
    assert tablet.hand_over(patient["id"], visit["id"]).location == "/tablet/"
    return tablet


def _vas(value: float, action: str, seq: int, fields: dict) -> dict:
    return {**fields, "seq": str(seq), "shown": "PtGA", "action": action, "a__PtGA": f"{value:.1f}",
            "m__PtGA__touched": "1", "m__PtGA__line_px": "800.0", "m__PtGA__px_per_mm": "8.0"}


def _hold_patient_lock(store, patient_id: str, seconds: float, held: threading.Event) -> None:
    # Another writer of the same patient's data (a second tablet of the same patient, a nurse's form):
    # the patient's folder lock on TinyDB, the response's row lock in another server's transaction on PostgreSQL.
    if isinstance(store, TinyDBStore):
        with exclusive(store.root / "patients" / patient_id):
            held.set()
            time.sleep(seconds)
        return
    import psycopg

    with psycopg.connect(store.url) as conn, conn.transaction():
        conn.execute("SELECT id FROM responses WHERE patient_id = %s FOR UPDATE", (patient_id,))
        held.set()
        time.sleep(seconds)


def test_an_autosave_overtaken_by_next_never_overwrites_the_newer_answer(live):
    store = live.store
    patient, visit = _visit(store, "RACE-1")
    tablet = _tablet(live, patient, visit)
    tablet.get("/tablet/q/patient_global")
    for trial in range(6):
        page = tablet.get("/tablet/q/patient_global/p/0")
        fields = page_fields(page.text)
        older, newer = 20.0 + trial, 80.0 + trial
        held = threading.Event()
        holder = threading.Thread(target=_hold_patient_lock, args=(store, patient["id"], 0.3, held))
        holder.start()
        assert held.wait(30), "the other writer never took its lock"
        results = {}
        # What the page script sends: the autosave (seq 2) after a change, Next (seq 3) 20 ms later.
        autosave = threading.Thread(target=lambda: results.update(
            autosave=Browser(live.port, tablet.cookie).post("/tablet/q/patient_global/p/0",
                                                            _vas(older, "autosave", 2, fields))))
        autosave.start()
        time.sleep(0.02)
        results["next"] = Browser(live.port, tablet.cookie).post("/tablet/q/patient_global/p/0",
                                                                 _vas(newer, "next", 3, fields))
        autosave.join()
        holder.join()
        assert results["next"].status == 302 and results["next"].location.endswith("/review")
        assert results["autosave"].status in (200, 409)  # saved first, or refused as older
        (response,) = store.list_responses(patient["id"])
        assert response["answers"]["PtGA"] == newer, (trial, response["answers"])
        assert response["page"] == 1, "the resume page went back"
        changes = [e["details"]["answers"]["PtGA"] for e in store.audit_entries()
                   if e["action"] == "update" and e["id"] == response["id"]]
        assert changes[-1]["to"] == newer
    review = tablet.get("/tablet/q/patient_global/review")
    assert tablet.post("/tablet/q/patient_global/review", {**page_fields(review.text), "action": "submit"}).status == 302
    (response,) = store.list_responses(patient["id"])
    assert response["status"] == "completed" and response["answers"]["PtGA"] == 85.0


def test_the_store_refuses_a_save_older_than_the_one_it_holds(store, demo_visit):
    from pro_app.config import questionnaire_dir
    from pro_app.definitions import load_file
    from pro_app.storage import Stamp, StaleWrite

    patient, visit = demo_visit
    q = load_file(questionnaire_dir() / "patient_global.yaml")
    r = store.start_response(patient["id"], visit["id"], q, "test", "sv")
    store.save_answers(patient["id"], r["id"], "test", {"PtGA": 80.0}, stamp=Stamp(0, 3))
    for stale in (Stamp(0, 2), Stamp(0, 3), Stamp(-1, 9), Stamp(5, 1)):  # older, the same, unstamped, forged
        with pytest.raises(StaleWrite):
            store.save_answers(patient["id"], r["id"], "test", {"PtGA": 20.0}, stamp=stale)
    assert store.get_response(patient["id"], r["id"])["answers"] == {"PtGA": 80.0}
    saved = store.save_answers(patient["id"], r["id"], "test", {"PtGA": 81.0}, stamp=Stamp(1, 1))
    with pytest.raises(StaleWrite):  # the review page shown at revision 1 no longer shows what is stored
        store.complete_response(patient["id"], r["id"], "test", expected_revision=1)
    done, newly = store.complete_response(patient["id"], r["id"], "test", expected_revision=saved["revision"])
    assert newly and done["answers"] == {"PtGA": 81.0}


def test_a_page_of_the_previous_patient_is_refused_and_shows_nothing(live):
    """The stale tab of patient A posts after the tablet was unlocked and handed to patient B."""
    store = live.store
    a_patient, a_visit = _visit(store, "TAB-A")
    b_patient, b_visit = _visit(store, "TAB-B")
    tablet = _tablet(live, a_patient, a_visit)
    tablet.get("/tablet/q/patient_global")
    a_page = tablet.get("/tablet/q/patient_global/p/0")
    stale_fields = page_fields(a_page.text)
    # The nurse unlocks the tablet and hands it to B, who opens the same questionnaire.
    locked = tablet.get("/tablet/locked")
    tablet.post("/tablet/locked", {**page_fields(locked.text), "username": NURSE[0], "password": NURSE[1]})
    assert tablet.hand_over(b_patient["id"], b_visit["id"]).location == "/tablet/"
    tablet.get("/tablet/q/patient_global")
    b_page = tablet.get("/tablet/q/patient_global/p/0")
    assert b_page.status == 200

    # A's tab posts: with its old token (stale), and with B's token but A's page (as after a reload of the token).
    for fields in (stale_fields, {**stale_fields, "csrf_token": page_fields(b_page.text)["csrf_token"]}):
        for action in ("next", "autosave"):
            result = tablet.post("/tablet/q/patient_global/p/0", _vas(87.0, action, 5, fields))
            assert result.status == 409, (action, result.status)
            assert "87" not in result.text and 'name="a__PtGA"' not in result.text
            if action == "next":
                assert "Inget från den sparades" in result.text  # said in the patient's language
    (b_response,) = store.list_responses(b_patient["id"])
    assert b_response["answers"] == {}
    assert store.list_responses(a_patient["id"])[0]["answers"] == {}
    assert 'value="87' not in tablet.get("/tablet/q/patient_global/p/0").text
