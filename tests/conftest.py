"""Shared fixtures: a fresh data folder per test, an app, a client, a logged-in nurse, a handed-over tablet."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import hand_over, login
from pro_app import create_app
from pro_app.auth import hash_password


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(path))
    return path


@pytest.fixture
def app(data_dir):
    return create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})


@pytest.fixture
def store(app):
    return app.extensions["pro_app"].store


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def nurse(app, store):
    store.create_user("anna", hash_password("correct horse battery"), "nurse", "test")
    return {"username": "anna", "password": "correct horse battery"}


@pytest.fixture
def nurse_client(client, nurse):
    response = login(client, nurse["username"], nurse["password"])
    assert response.status_code == 302
    return client


@pytest.fixture
def demo_visit(store):
    patient = store.create_patient("P-001", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "Baslinje", "en": "Baseline"},
                            questionnaires=["patient_global"])
    return patient, visit


@pytest.fixture
def tablet(nurse_client, demo_visit):
    patient, visit = demo_visit
    response = hand_over(nurse_client, patient["id"], visit["id"])
    assert response.status_code == 302 and response.location.endswith("/tablet/")
    return nurse_client
