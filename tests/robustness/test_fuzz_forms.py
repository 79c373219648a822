"""Random posts to every form (tablet pages, review, unlock, login, staff): never a 500, always a message
in the user's language, and nothing but strict JSON in the data folder."""
from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pro_app import create_app
from pro_app.storage import TinyDBStore
from pro_app.auth import hash_password
from pro_app.definitions import VisualAnalogueScale

from helpers import as_staff, as_tablet
from helpers import page_fields as hidden_fields

MESSAGE_MARKERS = ('role="alert"', 'class="lead"', 'class="field-error"', 'class="flash')
EXAMPLES = int(os.environ.get("PRO_APP_FUZZ_EXAMPLES", 120))
WEIRD = st.sampled_from([
    "", " ", "0", "-1", "1", "2", "99", "100", "100.0", "100.05", "1e309", "-0", "nan", "NaN", "inf", "-inf", "Infinity",
    "1,5", "12,34,5", "0x10", "٣", "²", "true", "null", "None", "[]", "{}", "2024-02-30", "2024-13-01", "0000-00-00",
    "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "\x00", "\ufeff", "a" * 5000, "é" * 301,
])
VALUE = WEIRD | st.text(max_size=40)
ACTION = st.sampled_from(["next", "back", "autosave", "lock", "lang-en", "lang-sv", "lang-xx", "submit", "", "lang-"]) | st.text(max_size=10)


def strict(text: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRO_APP_DATA_DIR", str(data))
        app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})
    store = app.extensions["pro_app"].store
    store.create_user("anna", hash_password("correct horse battery"), "nurse", "test")
    questionnaires = [q for q in app.extensions["pro_app"].questionnaires.values() if q.audience == "patient"]
    return app, store, questionnaires


def page_fields(q, n: int) -> list[str]:
    names = ["csrf_token", "shown", "action"]
    if n < len(q.pages):
        for item in q.pages[n].items:
            names += [f"a__{aid}" for aid in item.answer_ids()]
            if isinstance(item, VisualAnalogueScale):
                names += [f"m__{item.id}__{k}" for k in ("touched", "line_px", "px_per_mm", "calibrated")]
    return names


@st.composite
def posts(draw, questionnaires):
    target = draw(st.sampled_from(["page", "page", "page", "review", "unlock", "finish", "login", "language",
                                   "dashboard", "visit", "handoff", "logout"]))
    q = draw(st.sampled_from(questionnaires))
    n = draw(st.integers(0, len(q.pages)))
    known = {
        "page": page_fields(q, n), "review": ["action"], "unlock": ["username", "password"], "finish": [],
        "login": ["username", "password"], "language": ["lang", "next"], "dashboard": ["study_code"],
        "visit": ["key", "questionnaires"], "handoff": ["language"], "logout": [],
    }[target]
    # Mostly the form's own fields (so its checks are reached), sometimes fields it never asked for.
    names = [name for name in known if draw(st.integers(0, 3)) > 0]
    names += draw(st.lists(st.text(min_size=1, max_size=8), max_size=3, unique=True))
    data: dict[str, object] = {}
    for name in names:
        if name == "action":
            data[name] = draw(ACTION)
        elif name == "shown":
            real = [f[3:] for f in known if f.startswith("a__")]
            data[name] = " ".join(real) if draw(st.booleans()) else \
                " ".join(draw(st.lists(st.sampled_from(q.answer_ids() + ["x", "PtGA"]), max_size=6)))
        elif name == "csrf_token":
            continue
        else:
            data[name] = draw(st.lists(VALUE, min_size=2, max_size=3)) if draw(st.booleans()) and name != "lang" else draw(VALUE)
    with_token = draw(st.integers(0, 9)) > 0  # mostly valid tokens, so the forms themselves are exercised
    return target, q, n, data, with_token


def _bind_tablet(client, store, questionnaires) -> tuple[dict, str]:
    # A new patient each time keeps every file small, however many examples run.
    patient = store.create_patient(f"FUZZ-{time.time_ns()}", "test")
    visit = store.add_visit(patient["id"], "test", key=f"v{time.time_ns()}", label={"sv": "v", "en": "v"},
                            questionnaires=[q.id for q in questionnaires])
    as_tablet(client, store, patient["id"], visit["id"])
    return patient, visit["id"]


def _bind_staff(client, store) -> None:
    as_staff(client, store)


@given(data=st.data())
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_posts_never_crash_and_always_answer_in_the_users_language(site, data):
    app, store, questionnaires = site
    target, q, n, form, with_token = data.draw(posts(questionnaires))
    client = app.test_client()
    patient, visit_id = _bind_tablet(client, store, questionnaires)
    if target in ("page", "review", "finish", "unlock"):
        client.get(f"/tablet/q/{q.id}")  # the response exists, as once the patient opened the questionnaire
        url = {"page": f"/tablet/q/{q.id}/p/{n}", "review": f"/tablet/q/{q.id}/review", "finish": "/tablet/finish",
               "unlock": "/tablet/locked"}[target]
        source = client.get(url if target != "finish" else "/tablet/")
    else:
        if target in ("dashboard", "visit", "handoff", "logout"):
            _bind_staff(client, store)
        url = {"login": "/login", "language": "/language", "dashboard": "/staff/", "logout": "/logout",
               "visit": f"/staff/patients/{patient['id']}",
               "handoff": f"/staff/patients/{patient['id']}/visits/{visit_id}/tablet"}[target]
        source = client.get({"language": "/login", "logout": "/staff/", "handoff": f"/staff/patients/{patient['id']}"}
                            .get(target, url))
    if with_token and 'name="csrf_token"' in source.text:
        form.update(hidden_fields(source.text))

    result = client.post(url, data=form)

    event(f"{target} -> {result.status_code}")  # pytest --hypothesis-show-statistics shows what was reached
    assert result.status_code < 500, (target, form, result.status_code)
    if result.mimetype == "text/html" and result.status_code != 302:
        with client.session_transaction() as s:
            lang = s.get("lang", "sv")
        assert f'<html lang="{lang}">' in result.text, (target, form)
        if result.status_code >= 400:
            assert any(m in result.text for m in MESSAGE_MARKERS), (target, form, result.text[:500])
    for path in (store.root / "patients" / patient["id"]).glob("*.json"):
        strict(path.read_text(encoding="utf-8"))
    for line in (store.root / "patients.jsonl").read_text(encoding="utf-8").splitlines():
        strict(line)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
def test_vas_metadata_that_is_not_a_finite_number_is_not_stored(tablet, store, demo_visit, value):
    """Python wrote NaN and Infinity into the patient's file: not JSON for an export or any other tool."""
    tablet.get("/tablet/q/patient_global")
    page = tablet.get("/tablet/q/patient_global/p/0")
    result = tablet.post("/tablet/q/patient_global/p/0", data={
        **hidden_fields(page.text), "shown": "PtGA", "action": "next", "a__PtGA": "40",
        "m__PtGA__touched": "1", "m__PtGA__line_px": value, "m__PtGA__px_per_mm": value})
    assert result.status_code == 302
    (response,) = store.list_responses(demo_visit[0]["id"])
    meta = response["item_meta"]["PtGA"]
    assert meta["line_px"] is None and meta["px_per_mm"] is None and meta["touched"] is True
    if isinstance(store, TinyDBStore):  # and the file on disk is strict JSON (PostgreSQL's jsonb holds no NaN at all)
        text = (store.root / "patients" / demo_visit[0]["id"] / f"response-{response['id']}.json").read_text("utf-8")
        assert strict(text)["response"]["1"]["item_meta"]["PtGA"] == meta
