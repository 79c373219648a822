"""Demo data: staff accounts and a patient with a pending visit, so the tablet flow can be tried at once."""
from __future__ import annotations

import datetime as dt

from flask import Flask

from .auth import hash_password
from .studies import enroll

__all__ = ["seed_demo", "DEMO_USERS", "DEMO_PATIENT"]

DEMO_USERS = {
    "nurse": ("demo-nurse", "nurse"),
    "doctor": ("demo-doctor", "physician"),
    "admin": ("demo-admin", "admin"),
}
DEMO_PATIENT = "DEMO-001"
DEMO_STUDY = "anakinra"


def seed_demo(app: Flask) -> list[str]:
    """Create what is missing (idempotent); return lines that tell how to log in."""
    catalog = app.extensions["pro_app"]
    store = catalog.store
    for username, (password, role) in DEMO_USERS.items():
        if store.get_user(username) is None:
            store.create_user(username, hash_password(password), role, "demo")
    study = app.extensions.get("pro_app.studies", {}).get(DEMO_STUDY)
    patient = store.find_patient(DEMO_PATIENT) or store.create_patient(
        DEMO_PATIENT, "demo", study=study.id if study else "demo")
    if not store.list_visits(patient["id"]) and study is not None:
        # Baseline today: the demo patient's first visit is due now, the others follow the study's schedule.
        enroll(store, patient["id"], study, dt.date.today(), "demo")
    if not store.list_visits(patient["id"]):
        patient_forms = [q.id for q in catalog.for_audience("patient")]
        clinician_forms = [q.id for q in catalog.for_audience("clinician")]
        store.add_visit(patient["id"], "demo", key="baseline", label={"sv": "Baslinje", "en": "Baseline"},
                        questionnaires=sorted(patient_forms, key=_order), clinician_forms=clinician_forms)
    lines = [f"Demo patient {DEMO_PATIENT} has a pending baseline visit."]
    lines += [f"Staff login: {u} / {p} ({r})" for u, (p, r) in DEMO_USERS.items()]
    return lines


def _order(qid: str) -> tuple[int, str]:
    # The usual order in clinic: global assessment first, then the longer forms.
    preferred = ["patient_global", "haq", "map", "sf36"]
    return (preferred.index(qid) if qid in preferred else len(preferred), qid)
