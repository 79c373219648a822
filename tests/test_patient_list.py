"""The staff patient list (issue 11): pages of 50 and a search by study code, on both backends, reading only one page."""
from __future__ import annotations

import re

import pytest

from helpers import csrf_token
from pro_app.storage import TinyDBStore, files

CODES = re.compile(r'/staff/patients/[0-9a-f]+">([^<]+)</a>')


@pytest.fixture
def registry(store):
    """120 patients, registered out of order; two whose codes differ only where a LIKE wildcard would match."""
    for n in reversed(range(120)):
        store.create_patient(f"P-{n:03d}", "test")
    store.create_patient("A_B", "test")
    store.create_patient("AXB", "test")
    return store


def _search(client, term: str, page: int | None = None):
    token = csrf_token(client.get("/staff/").text)
    data = {"csrf_token": token, "q": term, **({"page": str(page)} if page else {})}
    return client.post("/staff/patients/search", data=data)


def test_the_list_shows_one_page_of_50_in_study_code_order(registry, nurse_client):
    first = nurse_client.get("/staff/").text
    assert CODES.findall(first) == ["AXB", "A_B"] + [f"P-{n:03d}" for n in range(48)]
    assert "Patienter 1–50 av 122" in first and "Sida 1 av 3" in first
    assert 'href="/staff/?page=2" rel="next"' in first and 'rel="prev"' not in first
    last = nurse_client.get("/staff/?page=3").text
    assert CODES.findall(last) == [f"P-{n:03d}" for n in range(98, 120)]
    assert 'href="/staff/?page=2" rel="prev"' in last and 'rel="next"' not in last
    assert CODES.findall(nurse_client.get("/staff/?page=99").text) == CODES.findall(last)  # past the end: the last page
    assert CODES.findall(nurse_client.get("/staff/?page=nonsense").text) == CODES.findall(first)


def test_search_finds_any_part_of_the_code_in_any_case_and_keeps_it_out_of_urls(registry, nurse_client):
    found = _search(nurse_client, " p-01")
    assert found.status_code == 200 and found.location is None  # the page itself: no redirect to a URL with the code
    assert CODES.findall(found.text) == [f"P-{n:03d}" for n in range(10, 20)]
    assert "Patienter 1–10 av 10" in found.text and 'value="p-01"' in found.text
    assert "p-01" not in "".join(re.findall(r'(?:href|action)="([^"]*)"', found.text))
    # A LIKE wildcard in the search is a character like any other.
    assert CODES.findall(_search(nurse_client, "a_b").text) == ["A_B"]
    assert "Ingen patient har en studiekod som innehåller" in _search(nurse_client, "zzz").text
    # Pages of a search are asked for by posting the search again.
    many = _search(nurse_client, "P-", page=2).text
    assert CODES.findall(many) == [f"P-{n:03d}" for n in range(50, 100)]
    assert 'form="patient-search" name="page" value="3"' in many and "Sida 2 av 3" in many


def test_a_search_without_its_token_is_refused(registry, nurse_client):
    assert nurse_client.post("/staff/patients/search", data={"q": "P-0"}).status_code == 400


@pytest.mark.backends("tinydb")
def test_a_page_of_the_list_and_a_patient_read_no_other_patients_file(registry, nurse_client, monkeypatch):
    """TinyDB: the register (parsed once per process, then only its new lines) gives the page; no patient file is read."""
    assert isinstance(registry, TinyDBStore)
    nurse_client.get("/staff/")  # the register parsed once
    parsed = []
    real = files.parse_json
    monkeypatch.setattr(files, "parse_json", lambda path, raw: parsed.append(path.name) or real(path, raw))
    assert "P-050" in nurse_client.get("/staff/?page=2").text
    assert "patient.json" not in parsed and "patients.jsonl" not in parsed
    patient = registry.find_patient("P-007")
    fresh = TinyDBStore(registry.root)  # a process that has read nothing yet
    parsed.clear()
    assert fresh.get_patient(patient["id"])["study_code"] == "P-007"
    assert parsed == ["patient.json"]  # one small file, not an index of every patient
