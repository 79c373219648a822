"""Helpers for tests that talk HTTP to the app."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|type="hidden" name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def login(client, username: str, password: str):
    page = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf_token(page.text), "username": username, "password": password})


def hand_over(client, patient_id: str, visit_id: str, lang: str = "sv"):
    page = client.get(f"/staff/patients/{patient_id}")
    return client.post(f"/staff/patients/{patient_id}/visits/{visit_id}/tablet",
                       data={"csrf_token": csrf_token(page.text), "language": lang})


HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>')
NAME = re.compile(r'name="([^"]+)"')
VALUE = re.compile(r'value="([^"]*)"')
PAGE_FIELDS = ("csrf_token", "response", "rev", "seq")


def page_fields(html: str) -> dict[str, str]:
    """The hidden fields a page posts back as it is: CSRF token, the response it belongs to, its stamp."""
    fields = {}
    for tag in HIDDEN.findall(html):
        name, value = NAME.search(tag), VALUE.search(tag)
        if name and value and name.group(1) in PAGE_FIELDS:
            fields[name.group(1)] = value.group(1)
    assert "csrf_token" in fields, "no CSRF token on the page"
    return fields


def as_tablet(client, store, patient_id: str, visit_id: str, by: str = "anna") -> str:
    """Make ``client`` a tablet handed over for the visit, as a nurse's hand-off would (a session in the store)."""
    sid = store.open_session(kind="tablet", patient=patient_id, visit=visit_id, by=by, locked=False)
    with client.session_transaction() as s:
        s.clear()
        s.update({"sid": sid, "kind": "tablet"})
    return sid


def as_staff(client, store, user: str = "anna", role: str = "nurse") -> str:
    """Make ``client`` a logged-in staff member (a session in the store)."""
    sid = store.open_session(kind="staff", user=user, role=role)
    with client.session_transaction() as s:
        s.clear()
        s.update({"sid": sid, "kind": "staff"})
    return sid


def age_session(client, store, seconds: float) -> None:
    """Pretend the client's session was last used ``seconds`` ago (the store decides idle expiry)."""
    import time

    with client.session_transaction() as s:
        sid = s["sid"]
    store.update_session(sid, seen=time.time() - seconds)
