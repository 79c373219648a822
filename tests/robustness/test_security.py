"""Security over HTTP: CSRF and role checks on every route the app has (new routes are covered when they
appear), no guessing another patient's data, staff idle expiry, headers, cookie flags, nothing in logs."""
from __future__ import annotations

import logging
import re
import time

import pytest

from pro_app import create_app

from helpers import age_session, as_staff as _as_staff, as_tablet as _as_tablet, csrf_token, hand_over, login, page_fields

PLACEHOLDER = re.compile(r"<(?:(\w+):)?(\w+)>")


@pytest.fixture
def world(app, store, nurse):
    """Two patients with a visit each; patient B is the one nobody should reach from A's tablet."""
    ids = {}
    for code in ("A-1", "B-2"):
        patient = store.create_patient(code, "test")
        visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"},
                                questionnaires=["patient_global"])
        ids[code] = (patient["id"], visit["id"])
    return ids


def url_for_rule(rule, patient_id: str, visit_id: str) -> str:
    values = {"patient_id": patient_id, "visit_id": visit_id, "qid": "patient_global", "n": "0",
              "response_id": "0" * 32, "filename": "app.css"}

    def fill(match):
        return values.get(match.group(2), "x")

    return PLACEHOLDER.sub(fill, rule.rule)


def routes(app, method: str, prefix: str = ""):
    return [r for r in app.url_map.iter_rules()
            if method in r.methods and r.endpoint != "static" and r.endpoint.startswith(prefix)]


def as_tablet(client, store, world, code="A-1"):
    _as_tablet(client, store, *world[code])


def as_staff(client, store, role="nurse", seen=None):
    _as_staff(client, store, role=role)
    if seen is not None:
        age_session(client, store, time.time() - seen)


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token(app, client, store, world):
    posts = routes(app, "POST")
    assert len(posts) >= 8, [r.rule for r in posts]
    for who in ("anonymous", "staff", "tablet"):
        for rule in posts:
            if who == "staff":
                as_staff(client, store)
            elif who == "tablet":
                as_tablet(client, store, world)
            else:
                with client.session_transaction() as s:
                    s.clear()
            url = url_for_rule(rule, *world["A-1"])
            for data in ({}, {"csrf_token": "forged"}):
                result = client.post(url, data=data)
                if rule.endpoint.startswith("patient.") and rule.endpoint != "patient.locked" and who != "tablet":
                    # Without a live tablet session the lock screen comes first, before any CSRF check.
                    assert result.status_code == 303 and result.location.endswith("/tablet/locked"), (who, rule.rule)
                    continue
                assert result.status_code == 400, (who, rule.rule, data, result.status_code)


def test_every_staff_route_needs_a_staff_login_and_refuses_a_tablet(app, client, store, world):
    staff_routes = routes(app, "GET", "staff.") + routes(app, "POST", "staff.")
    assert staff_routes
    page = client.get("/login")  # a session with a CSRF token, so the role check itself is reached
    token = csrf_token(page.text)
    with client.session_transaction() as s:
        csrf_session = s["csrf_token"]
    for rule in staff_routes:
        url = url_for_rule(rule, *world["A-1"])
        for method in {"GET", "POST"} & rule.methods:
            with client.session_transaction() as s:
                for key in ("sid", "kind"):
                    s.pop(key, None)
            result = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert result.status_code == 302 and "/login" in result.location, (rule.rule, method, result.status_code)
            as_tablet(client, store, world)
            with client.session_transaction() as s:
                s["csrf_token"] = csrf_session
            result = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert result.status_code == 403, (rule.rule, method, result.status_code)


def test_a_tablet_reaches_only_its_own_visit(app, client, store, world):
    as_tablet(client, store, world, "A-1")
    other_patient, other_visit = world["B-2"]
    # Tablet URLs carry no ids at all; a questionnaire outside the visit is not found.
    assert all("<patient" not in r.rule and "<visit" not in r.rule for r in routes(app, "GET", "patient."))
    assert client.get("/tablet/q/sf36").status_code == 404
    assert client.get("/tablet/q/nosuch/p/0").status_code == 404
    assert client.get(f"/staff/patients/{other_patient}").status_code == 403
    home = client.get("/tablet/")
    assert "B-2" not in home.text and other_patient not in home.text


def test_staff_urls_with_guessed_or_mismatched_ids_are_not_found(client, nurse_client, store, world):
    a_patient, a_visit = world["A-1"]
    b_patient, b_visit = world["B-2"]
    for guess in ("0" * 32, "1", "../index", "A-1", "%2e%2e%2findex", "ABCDEF", "'", "x" * 500):
        assert nurse_client.get(f"/staff/patients/{guess}").status_code == 404, guess
    page = nurse_client.get(f"/staff/patients/{a_patient}")
    # B's visit under A's id: the store looks only in A's file.
    result = nurse_client.post(f"/staff/patients/{a_patient}/visits/{b_visit}/tablet",
                               data={**page_fields(page.text), "language": "sv"})
    assert result.status_code == 404
    with nurse_client.session_transaction() as s:
        assert "tablet" not in s


def test_idle_staff_session_expires(client, nurse, store, world):
    as_staff(client, store, seen=time.time() - 16 * 60)
    result = client.get("/staff/")
    assert result.status_code == 302 and "/login" in result.location
    with client.session_transaction() as s:
        assert "user" not in s
    assert "Du loggades ut efter en stund utan aktivitet." in client.get(result.location).text  # why, in Swedish
    as_staff(client, store, seen=time.time() - 14 * 60)
    assert client.get("/staff/").status_code == 200


PAGES = ["/login", "/staff/", "/tablet/", "/tablet/q/patient_global/p/0", "/tablet/q/patient_global/review",
         "/tablet/locked", "/nosuch"]


def test_security_headers_on_every_kind_of_page(client, nurse, store, world):
    for url in PAGES:
        if url.startswith("/tablet/") and url != "/tablet/locked":
            as_tablet(client, store, world)
        elif url == "/staff/":
            as_staff(client, store)
        result = client.get(url)
        headers = result.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"] and "frame-ancestors 'none'" in \
            headers["Content-Security-Policy"] and "'unsafe-inline'" not in headers["Content-Security-Policy"], url
        assert headers["X-Frame-Options"] == "DENY", url
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "no-referrer", url
        assert "no-store" in headers["Cache-Control"], url


def test_default_session_cookie_is_secure_httponly_and_samesite(data_dir, monkeypatch):
    monkeypatch.delenv("PRO_APP_SECURE_COOKIES", raising=False)
    app = create_app({"TESTING": True})
    result = app.test_client().get("/login")  # the CSRF token puts something in the session
    cookie = result.headers["Set-Cookie"]
    assert cookie.startswith("pro_app_session=")
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "secure" in flags and "httponly" in flags and flags["samesite"].lower() == "samesite=lax"


def test_a_full_visit_leaves_no_patient_data_in_logs_or_urls(client, store, nurse, caplog):
    caplog.set_level(logging.DEBUG)
    urls: list[str] = []

    def visit(response, url):
        urls.append(url)
        if response.location:
            urls.append(response.location)
        return response

    code = "SECRET-7731"
    login(client, "anna", "correct horse battery")
    page = visit(client.get("/staff/"), "/staff/")
    created = visit(client.post("/staff/", data={**page_fields(page.text), "study_code": code}), "/staff/")
    patient = store.find_patient(code)
    page = visit(client.get(created.location), created.location)
    visit(client.post(created.location, data={**page_fields(page.text), "key": "week-12-visit",
                                              "questionnaires": ["patient_global"]}), created.location)
    (visit_record,) = store.list_visits(patient["id"])
    visit(hand_over(client, patient["id"], visit_record["id"]), "handoff")
    visit(client.get("/tablet/q/patient_global"), "/tablet/q/patient_global")
    page = visit(client.get("/tablet/q/patient_global/p/0"), "/tablet/q/patient_global/p/0")
    visit(client.post("/tablet/q/patient_global/p/0", data={
        **page_fields(page.text), "shown": "PtGA", "action": "next", "a__PtGA": "63.7",
        "m__PtGA__touched": "1"}), "/tablet/q/patient_global/p/0")
    review = visit(client.get("/tablet/q/patient_global/review"), "/tablet/q/patient_global/review")
    visit(client.post("/tablet/q/patient_global/review", data={**page_fields(review.text)}), "review")
    assert store.list_responses(patient["id"])[0]["status"] == "completed"
    locked = visit(client.get("/tablet/locked"), "/tablet/locked")
    visit(client.post("/tablet/locked", data={**page_fields(locked.text), "username": "anna",
                                              "password": "wrong password"}), "/tablet/locked")

    logged = caplog.text
    for secret in (code, "63.7", "correct horse battery", "wrong password"):
        assert secret not in logged, secret
        assert not any(secret in u for u in urls), (secret, urls)


def test_behind_a_trusted_proxy_the_login_throttle_counts_each_tablet(data_dir, monkeypatch):
    from pro_app.auth import hash_password

    monkeypatch.setenv("PRO_APP_TRUSTED_PROXY", "1")
    app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})
    app.extensions["pro_app"].store.create_user("anna", hash_password("correct horse battery"), "nurse", "test")
    client = app.test_client()
    for _ in range(5):
        page = client.get("/login")
        client.post("/login", data={**page_fields(page.text), "username": "anna", "password": "wrong"},
                    headers={"X-Forwarded-For": "198.51.100.7"})
    page = client.get("/login")
    from_other_tablet = client.post("/login", headers={"X-Forwarded-For": "198.51.100.8"}, data={
        **page_fields(page.text), "username": "anna", "password": "correct horse battery"})
    assert from_other_tablet.status_code == 302  # another address is not throttled
    page = client.get("/login")
    throttled = client.post("/login", headers={"X-Forwarded-For": "198.51.100.7"}, data={
        **page_fields(page.text), "username": "anna", "password": "correct horse battery"})
    assert throttled.status_code == 429
