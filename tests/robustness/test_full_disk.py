"""A full disk or a read-only data folder: the user is told in their language, and nothing saved is lost.

Tests run as root in CI, and root writes through chmod, so the failures are simulated
where the store touches the disk: the atomic rename (ENOSPC) or opening a file for
writing (EROFS).
"""
from __future__ import annotations

import builtins
import errno

import pytest

from pro_app import storage
from pro_app.storage import files

from helpers import csrf_token, page_fields

pytestmark = pytest.mark.backends("tinydb")  # file-level faults of the data folder; PostgreSQL's own: test_postgres_faults.py

SV_FAILED = "Svaren kunde inte sparas just nu"
EN_FAILED = "The answers could not be saved right now"


def disk_full(monkeypatch):
    def replace(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", replace)


def read_only(monkeypatch):
    real_open = builtins.open

    def opener(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wax+"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(files, "open", opener, raising=False)


FAILURES = {"full disk": disk_full, "read-only folder": read_only}


def vas_page(client, lang="sv"):
    page = client.get("/tablet/q/patient_global/p/0")
    assert page.status_code == 200
    return page


def post_vas(client, page, value, action="next"):
    return client.post("/tablet/q/patient_global/p/0", data={
        **page_fields(page.text), "shown": "PtGA", "action": action,
        "a__PtGA": value, "m__PtGA__touched": "1", "m__PtGA__line_px": "800", "m__PtGA__px_per_mm": "8",
    })


def stored_answers(store, demo_visit):
    patient, _visit = demo_visit
    (response,) = store.list_responses(patient["id"])
    return response


@pytest.fixture
def answered(tablet, store, demo_visit):
    """The patient has marked 30 mm and pressed Next: that answer is saved."""
    tablet.get("/tablet/q/patient_global")
    assert post_vas(tablet, vas_page(tablet), "30.0").status_code == 302
    assert stored_answers(store, demo_visit)["answers"] == {"PtGA": 30.0}
    return tablet


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_failed_page_save_says_so_and_keeps_the_posted_answer_on_the_page(answered, store, demo_visit, monkeypatch,
                                                                         failure):
    page = vas_page(answered)
    FAILURES[failure](monkeypatch)
    result = post_vas(answered, page, "61.5")
    assert result.status_code == 503
    assert SV_FAILED in result.text and 'role="alert"' in result.text
    # The patient's new mark is still on the page, ready to send again...
    assert 'value="61.5"' in result.text and 'name="csrf_token"' in result.text
    monkeypatch.undo()
    # ...and what was saved before is untouched.
    assert stored_answers(store, demo_visit)["answers"] == {"PtGA": 30.0}
    again = post_vas(answered, vas_page(answered), "61.5")
    assert again.status_code == 302
    assert stored_answers(store, demo_visit)["answers"] == {"PtGA": 61.5}


def test_a_store_that_cannot_even_be_read_after_the_failed_save_still_keeps_the_answer_on_the_page(
        answered, store, monkeypatch):
    """PostgreSQL restarting after a crash refuses the save and then every read for a while:
    the page that says "not saved" is drawn without the store (test_postgres_faults.py does this
    for real, where it depends on timing; here it always happens)."""
    page = vas_page(answered)
    disk_full(monkeypatch)

    def unreadable(*args, **kwargs):
        raise storage.StorageError("the database is starting up")

    real_save = store.save_answers

    def save_then_lose_reads(*args, **kwargs):
        try:
            return real_save(*args, **kwargs)
        finally:
            monkeypatch.setattr(type(store), "get_visit", unreadable)

    monkeypatch.setattr(store, "save_answers", save_then_lose_reads)
    result = post_vas(answered, page, "61.5")
    assert result.status_code == 503
    assert SV_FAILED in result.text and 'value="61.5"' in result.text


def test_failed_autosave_answers_not_saved(answered, monkeypatch):
    page = vas_page(answered)
    disk_full(monkeypatch)
    result = post_vas(answered, page, "70.0", action="autosave")
    assert result.status_code == 503 and result.get_json()["saved"] is False


def test_failed_submit_keeps_the_response_open_and_says_so_in_english(answered, store, demo_visit, monkeypatch):
    answered.post("/language", data={**page_fields(vas_page(answered).text), "lang": "en"})
    review = answered.get("/tablet/q/patient_global/review")
    assert review.status_code == 200
    read_only(monkeypatch)
    result = answered.post("/tablet/q/patient_global/review", data={**page_fields(review.text),
                                                                    "action": "submit"})
    assert result.status_code == 503 and EN_FAILED in result.text
    monkeypatch.undo()
    response = stored_answers(store, demo_visit)
    assert response["status"] == "in_progress" and response["answers"] == {"PtGA": 30.0}
    done = answered.post("/tablet/q/patient_global/review", data={**page_fields(review.text),
                                                                  "action": "submit"})
    assert done.status_code == 302 and stored_answers(store, demo_visit)["status"] == "completed"


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_staff_write_on_a_broken_disk_is_a_clear_error(nurse_client, store, monkeypatch, failure):
    page = nurse_client.get("/staff/")
    FAILURES[failure](monkeypatch)
    result = nurse_client.post("/staff/", data={**page_fields(page.text), "study_code": "DISK-1"})
    assert result.status_code == 503 and SV_FAILED in result.text
    monkeypatch.undo()
    assert store.find_patient("DISK-1") is None
    assert store.get_user("anna") is not None


def test_data_folder_that_cannot_be_created_stops_start_up_with_a_message(tmp_path, monkeypatch):
    from pro_app import create_app

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(storage.StorageError) as exc:
        create_app({"TESTING": True, "DATA_DIR": str(blocker / "data")})
    assert "cannot create data folder" in str(exc.value)
