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
