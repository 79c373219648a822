"""Helpers for tests that talk HTTP to the app."""
from __future__ import annotations

import http.client
import re
import threading
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from werkzeug.serving import make_server

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
    # Confirmed: a visit that is done or not due today asks the nurse first (tests hand over any visit).
    return client.post(f"/staff/patients/{patient_id}/visits/{visit_id}/tablet",
                       data={"csrf_token": csrf_token(page.text), "language": lang, "confirmed": "1"})


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


class LiveServer:
    """The app on a real loopback HTTP server (threaded werkzeug) on a free port."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def store(self):
        return self.app.extensions["pro_app"].store

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()


class Browser:
    """A browser as far as a server can tell: its cookie, one request at a time per instance."""

    def __init__(self, port: int, cookie: str = ""):
        self.port = port
        self.cookie = cookie

    def request(self, method: str, path: str, data=None, headers: dict | None = None, body: bytes | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        if data is not None:
            body = urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            conn.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("pro_app_session="):
                pair = value.split(";", 1)[0]
                self.cookie = "" if pair.endswith("=") else pair
        location = response.getheader("Location")
        response.text = text
        response.location = urlsplit(location).path if location else None
        return response

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data=None, **kwargs):
        return self.request("POST", path, data=data, **kwargs)

    def login(self, username: str, password: str):
        return self.post("/login", {**page_fields(self.get("/login").text), "username": username,
                                    "password": password})

    def hand_over(self, patient_id: str, visit_id: str, lang: str = "sv"):
        page = self.get(f"/staff/patients/{patient_id}")
        return self.post(f"/staff/patients/{patient_id}/visits/{visit_id}/tablet",
                         {**page_fields(page.text), "language": lang, "confirmed": "1"})
