"""The demo seeds a patient enrolled in the anakinra study when that study is present."""
from __future__ import annotations

import pytest

from pro_app import create_app
from pro_app.demo import DEMO_PATIENT, seed_demo

from .conftest import ROOT


@pytest.fixture
def demo_app(clinic_dirs):
    return create_app({"DATA_DIR": str(clinic_dirs["data"]), "QUESTIONNAIRE_DIR": str(clinic_dirs["questionnaires"]),
                       "STUDIES_DIR": str(ROOT / "studies"), "SESSION_COOKIE_SECURE": False, "TESTING": True})


def test_the_demo_patient_follows_the_anakinra_schedule(demo_app):
    seed_demo(demo_app)
    seed_demo(demo_app)  # idempotent
    store = demo_app.extensions["pro_app"].store
    patient = store.find_patient(DEMO_PATIENT)
    visits = store.list_visits(patient["id"])
    assert [v["key"] for v in visits] == ["baseline", "m1", "m3", "m6", "m12"]
    assert patient["study"] == "anakinra" and "patient_global" in visits[0]["questionnaires"]
