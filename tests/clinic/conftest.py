"""Fixtures for the clinic workflow: an app with test questionnaires and a study, staff of each role."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import csrf_token
from helpers import login as _login
from pro_app import create_app
from pro_app.auth import hash_password

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PASSWORD = "correct horse battery"


def login(client, username: str, password: str = PASSWORD):
    return _login(client, username, password)


def post_form(client, url: str, data: dict, page_url: str | None = None):
    """POST as a browser would: with the CSRF token of the page the form is on."""
    page = client.get(page_url or url)
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


@pytest.fixture
def clinic_dirs(tmp_path, monkeypatch, database) -> dict[str, Path]:
    data = tmp_path / "data"
    questionnaires = tmp_path / "questionnaires"
    questionnaires.mkdir()
    for source in list((ROOT / "questionnaires").glob("*.yaml")) + list((HERE / "questionnaires").glob("*.yaml")):
        shutil.copy(source, questionnaires / source.name)
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(data))
    return {"data": data, "questionnaires": questionnaires, "studies": HERE / "studies"}


@pytest.fixture
def app(clinic_dirs):
    return create_app({
        "DATA_DIR": str(clinic_dirs["data"]),
        "QUESTIONNAIRE_DIR": str(clinic_dirs["questionnaires"]),
        "STUDIES_DIR": str(clinic_dirs["studies"]),
        "SESSION_COOKIE_SECURE": False,
        "TESTING": True,
    })


@pytest.fixture
def store(app):
    return app.extensions["pro_app"].store


@pytest.fixture
def staff(store):
    for name, role in (("nina", "nurse"), ("petra", "physician"), ("adam", "admin")):
        store.create_user(name, hash_password(PASSWORD), role, "test")
    return {"nurse": "nina", "physician": "petra", "admin": "adam"}


def client_for(app, username: str):
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.text
    return client


@pytest.fixture
def nurse(app, staff):
    return client_for(app, staff["nurse"])


@pytest.fixture
def physician(app, staff):
    return client_for(app, staff["physician"])


@pytest.fixture
def admin(app, staff):
    return client_for(app, staff["admin"])


@pytest.fixture
def enrolled(app, store):
    """Patient P-001 enrolled in the test study (baseline 31 Jan 2025); returns (patient, visits)."""
    import datetime as dt

    from pro_app.studies import enroll

    study = app.extensions["pro_app.studies"]["test_study"]
    patient = store.create_patient("P-001", "test", study="test_study")
    enroll(store, patient["id"], study, dt.date(2025, 1, 31), "test")
    return patient, store.list_visits(patient["id"])


def answer(app, patient_id: str, visit_id: str, qid: str, answers: dict, actor: str = "staff:nina",
           language: str = "sv", complete: bool = True) -> dict:
    """Store a response as the tablet or the staff form would."""
    cat = app.extensions["pro_app"]
    response = cat.store.start_response(patient_id, visit_id, cat.get(qid), actor, language)
    cat.store.save_answers(patient_id, response["id"], actor, answers, language=language)
    if complete:
        response, _new = cat.store.complete_response(patient_id, response["id"], actor)
    return response
