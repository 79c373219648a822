"""The hot path (issue 13), counted rather than timed: what a tablet page parses and a page save writes.

Parses are counted at ``files.parse_json`` (every parse of a stored file goes through it) and
fsyncs and renames at ``os.fsync`` and ``os.replace``, over HTTP through the app. Timings live in
``python -m benchmarks``.
"""
from __future__ import annotations

import collections
import os

import pytest

from helpers import page_fields
from pro_app.config import questionnaire_dir
from pro_app.definitions import load_file
from pro_app.storage import TinyDBStore, files

PTGA = load_file(questionnaire_dir() / "patient_global.yaml")


class Counted:
    """Parses per file, fsyncs and the files renamed into place, while installed."""

    def __init__(self, monkeypatch):
        self.parses: collections.Counter = collections.Counter()
        self.fsyncs = 0
        self.replaced: list[str] = []
        real_parse, real_fsync, real_replace = files.parse_json, os.fsync, os.replace

        def parse(path, raw):
            self.parses[path.name] += 1
            return real_parse(path, raw)

        def fsync(fd):
            self.fsyncs += 1
            return real_fsync(fd)

        def replace(src, dst):
            self.replaced.append(os.path.basename(dst))
            return real_replace(src, dst)

        monkeypatch.setattr(files, "parse_json", parse)
        monkeypatch.setattr(files.os, "fsync", fsync)
        monkeypatch.setattr(files.os, "replace", replace)

    def reset(self) -> None:
        self.parses.clear()
        self.fsyncs = 0
        self.replaced.clear()


def _vas(page, value: str) -> dict:
    return {**page_fields(page.text), "shown": "PtGA", "action": "next", "a__PtGA": value,
            "m__PtGA__touched": "1", "m__PtGA__line_px": "800", "m__PtGA__px_per_mm": "8"}


@pytest.mark.backends("tinydb")
def test_a_tablet_page_parses_each_file_once_and_a_save_writes_one_small_file(tablet, store, demo_visit, monkeypatch):
    patient, visit = demo_visit
    # Years of history: forty earlier visits, each with its answered questionnaire.
    for n in range(40):
        old = store.add_visit(patient["id"], "test", key=f"old-{n}", label={"sv": "x", "en": "x"},
                              questionnaires=[PTGA.id])
        response = store.start_response(patient["id"], old["id"], PTGA, "test", "sv")
        store.save_answers(patient["id"], response["id"], "test", {"PtGA": float(n)})
        store.complete_response(patient["id"], response["id"], "test")
    tablet.get("/tablet/q/patient_global")
    counted = Counted(monkeypatch)
    monkeypatch.setattr(store, "_cache", files.ReadCache())  # a worker that has read nothing of this patient yet

    page = tablet.get("/tablet/q/patient_global/p/0")
    assert page.status_code == 200
    assert counted.parses and max(counted.parses.values()) == 1, counted.parses  # each file parsed once
    assert not any(name.startswith("response-") and name != _response_file(store, patient, visit)
                   for name in counted.parses), "a page reads no other response of the patient"
    counted.reset()
    assert tablet.get("/tablet/q/patient_global/p/0").status_code == 200
    assert not counted.parses, "nothing changed: nothing parsed again"

    page = tablet.get("/tablet/q/patient_global/p/0")
    counted.reset()
    saved = tablet.post("/tablet/q/patient_global/p/0", data=_vas(page, "61.5"))
    assert saved.status_code == 302
    assert max(counted.parses.values(), default=0) <= 1, counted.parses
    # The save rewrote the response's own file only, and fsynced three times: the audit entry, the file, its folder.
    assert counted.replaced == [_response_file(store, patient, visit)]
    assert counted.fsyncs == 3
    size = (store.root / "patients" / patient["id"] / counted.replaced[0]).stat().st_size
    assert size < 2000, size
    assert store.list_responses(patient["id"], visit["id"])[0]["answers"] == {"PtGA": 61.5}


def _response_file(store, patient, visit) -> str:
    (response,) = store.list_responses(patient["id"], visit["id"])
    return f"response-{response['id']}.json"


@pytest.mark.backends("tinydb")
def test_registering_a_patient_and_adding_a_visit_rewrite_no_index_of_every_patient(store, monkeypatch):
    for n in range(30):
        store.create_patient(f"REG-{n}", "test")
    register = store.root / "patients.jsonl"
    before = register.read_bytes()
    counted = Counted(monkeypatch)
    patient = store.create_patient("REG-new", "test")
    assert counted.replaced == ["patient.json"]  # the new patient's own file; the register is appended to
    assert register.read_bytes().startswith(before) and register.read_bytes().count(b"\n") == 31
    counted.reset()
    store.add_visit(patient["id"], "test", key="v1", label={"sv": "v", "en": "v"}, questionnaires=[PTGA.id])
    assert counted.replaced == ["patient.json"] and counted.fsyncs == 3
    assert store.find_patient("REG-new")["id"] == patient["id"]


def test_the_read_cache_is_never_stale_while_another_process_writes(tmp_path):
    """Two processes take turns saving values of the same length into one response and reading it back.

    Same size, the same clock tick, and a freed inode number reused: what a cache keyed by inode, size
    and mtime could mistake for the file it parsed. Each side must always read the other's last save.
    """
    store = TinyDBStore(tmp_path / "data")
    patient = store.create_patient("CACHE-1", "test")
    visit = store.add_visit(patient["id"], "test", key="v", label={"sv": "v", "en": "v"}, questionnaires=[PTGA.id])
    response = store.start_response(patient["id"], visit["id"], PTGA, "test", "sv")
    rounds = 150
    child_reads, parent_writes = os.pipe()
    parent_reads, child_writes = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other process: its own store, its own cache
        code = 1
        try:
            other = TinyDBStore(store.root)
            other.get_response(patient["id"], response["id"])
            for n in range(rounds):
                expected = os.read(child_reads, 16).decode().strip()
                got = other.get_response(patient["id"], response["id"])["answers"]["PtGA"]
                if f"{got:.1f}" != expected:
                    os.write(child_writes, f"stale:{got}:{expected}"[:16].ljust(16).encode())
                    break
                value = f"{10 + (n * 37) % 89:.1f}"
                other.save_answers(patient["id"], response["id"], "other", {"PtGA": float(value)})
                os.write(child_writes, value.ljust(16).encode())
            else:
                code = 0
        finally:
            os._exit(code)
    try:
        for n in range(rounds):
            value = f"{10 + (n * 53) % 89:.1f}"
            store.save_answers(patient["id"], response["id"], "parent", {"PtGA": float(value)})
            os.write(parent_writes, value.ljust(16).encode())
            reply = os.read(parent_reads, 16).decode().strip()
            assert not reply.startswith("stale"), reply
            assert f"{store.get_response(patient['id'], response['id'])['answers']['PtGA']:.1f}" == reply, n
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
