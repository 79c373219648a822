"""Faults that real processes meet: a stray write into a reused file descriptor (issue 15.2), an
enrolment cut short at the Nth fsync (15.13), three processes starting at once on an empty data
folder (15.14), a live writer in another PID namespace (15.15)."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import ROOT, page_fields
from pro_app.storage import files
from pro_app.config import questionnaire_dir, studies_dir
from pro_app.definitions import load_directory
from pro_app.storage import TinyDBStore
from pro_app.studies import enroll, load_study_file

QUESTIONNAIRES = load_directory(questionnaire_dir())
STUDY, _warnings = load_study_file(studies_dir() / "anakinra.yaml", QUESTIONNAIRES)


def test_a_stray_byte_written_into_the_stores_file_descriptor_is_caught_before_it_counts(tmp_path, monkeypatch):
    """What gunicorn's thread worker did: a NUL written to an fd number the store's open file had taken."""
    store = TinyDBStore(tmp_path / "data")
    patient = store.create_patient("FD-1", "test")
    real_fsync = os.fsync
    strays = {"left": 2}  # one into the audit trail's descriptor, one into a patient file's

    def fsync(fd):
        if strays["left"] and not os.path.isdir(f"/proc/self/fd/{fd}"):
            strays["left"] -= 1
            os.write(fd, b"\x00")
        return real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    store.add_visit(patient["id"], "test", key="v1", label={"sv": "v", "en": "v"}, questionnaires=[])
    monkeypatch.undo()
    assert strays["left"] == 0
    raw = (store.root / "patients" / patient["id"] / "audit.jsonl").read_bytes()
    assert b"\x00" not in raw and [json.loads(line)["action"] for line in raw.splitlines()] == ["create", "create"]
    assert b"\x00" not in (store.root / "patients" / patient["id"] / "patient.json").read_bytes()
    assert [v["key"] for v in store.list_visits(patient["id"])] == ["v1"]


def _enroll_until_fsync(root, patient_id: str, exit_at: int) -> int:
    """Fork a process that enrols the patient and exits at its ``exit_at``-th fsync; its exit status."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            count = [0]
            real_fsync = os.fsync

            def fsync(fd):
                count[0] += 1
                if count[0] == exit_at:
                    os._exit(3)
                return real_fsync(fd)

            os.fsync = fsync
            enroll(TinyDBStore(root), patient_id, STUDY, dt.date(2025, 1, 31), "staff:anna")
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status)


def test_an_enrolment_cut_short_at_any_fsync_leaves_the_whole_schedule_or_none(tmp_path):
    planned = {v.key for v in STUDY.visits}
    for exit_at in range(1, 12):
        root = tmp_path / f"n{exit_at}"
        patient = TinyDBStore(root).create_patient("ENR-1", "test")
        status = _enroll_until_fsync(root, patient["id"], exit_at)
        keys = {v["key"] for v in TinyDBStore(root).list_visits(patient["id"])}
        assert keys in (set(), planned), (exit_at, sorted(keys))
        if status == 0:
            break
    else:
        pytest.fail("the enrolment never finished")
    assert exit_at > 2, "the process never got to the enrolment's writes"


def test_an_enrolment_left_partial_is_finished_from_the_patient_page(client, nurse_client, store):
    from pro_app.studies import due_date

    patient = store.create_patient("ENR-2", "test")
    first = STUDY.visits[0]
    # What an older version could leave behind: one visit of the schedule.
    store.add_visit(patient["id"], "test", key=first.key, label=first.label.model_dump(), questionnaires=[],
                    due="2025-01-31", study=STUDY.id)
    page = nurse_client.get(f"/staff/patients/{patient['id']}")
    assert f'action="/staff/patients/{patient["id"]}/enroll"' in page.text
    done = nurse_client.post(f"/staff/patients/{patient['id']}/enroll", data={
        **page_fields(page.text), "study": STUDY.id, "baseline": "2025-01-31"})
    assert done.status_code == 302
    visits = store.list_visits(patient["id"])
    assert sorted(v["key"] for v in visits) == sorted(v.key for v in STUDY.visits)
    m12 = next(v for v in visits if v["key"] == STUDY.visits[-1].key)
    assert m12["due"] == due_date(dt.date(2025, 1, 31), STUDY.visits[-1].offset).isoformat()
    assert 'enroll"' not in nurse_client.get(f"/staff/patients/{patient['id']}").text


START = """
import sys, time
from pro_app.storage import open_store
store = open_store(sys.argv[1])
while time.time() < float(sys.argv[2]):
    pass
print(store.secret_key())
"""


def test_three_processes_starting_at_once_share_one_whole_secret_key(new_store_address):
    """On an empty data folder or database, whichever backend: one key, whole, for all three."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for trial in range(4):
        address = new_store_address()
        at = time.time() + 1.5
        starts = [subprocess.Popen([sys.executable, "-c", START, address, str(at)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        results = [p.communicate(timeout=60) for p in starts]
        assert all(p.returncode == 0 for p in starts), [err[-500:] for _out, err in results]
        keys = {out.strip() for out, _err in results}
        assert len(keys) == 1 and len(keys.pop()) == 64, (trial, results)
        if not address.startswith("postgresql://"):
            assert (Path(address) / "secret_key").stat().st_mode & 0o777 == 0o600


def test_an_empty_key_file_counts_as_missing_and_a_crash_mid_write_leaves_none(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("")  # what a crash between creating and writing the file used to leave
    key = TinyDBStore(data).secret_key()
    assert len(key) == 64 and TinyDBStore(data).secret_key() == key

    fresh = tmp_path / "fresh"
    store = TinyDBStore(fresh)
    pid = os.fork()
    if pid == 0:
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # dies as the key is being made durable
        try:
            store.secret_key()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert not (fresh / "secret_key").exists() or len((fresh / "secret_key").read_text()) == 64
    assert len(TinyDBStore(fresh).secret_key()) == 64


def test_start_up_leaves_the_temporary_file_of_a_writer_it_cannot_see(tmp_path):
    """A writer in another container or PID namespace: its process id means nothing here."""
    store = TinyDBStore(tmp_path / "data")
    patient = store.create_patient("NS-1", "test")
    invisible_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                   capture_output=True, text=True).stdout.strip()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer, whose pid is not visible from the starting process
        try:
            os.getpid = lambda: int(invisible_pid)
            real_fsync = os.fsync
            calls = [0]

            def slow_fsync(fd):
                calls[0] += 1
                if calls[0] == 2:  # the audit entry is written; the patient's temporary file now exists
                    os.write(write_end, b"w")
                    time.sleep(1.0)
                return real_fsync(fd)

            os.fsync = slow_fsync
            TinyDBStore(store.root).add_visit(patient["id"], "writer", key="v1", label={"sv": "v", "en": "v"},
                                        questionnaires=[])
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_end)
    os.read(read_end, 1)  # the writer holds the patient's lock and is writing its temporary file
    assert list((store.root / "tmp").glob("*.tmp"))
    TinyDBStore(store.root)  # a process starting up meanwhile
    _, status = os.waitpid(pid, 0)
    os.close(read_end)
    assert os.WEXITSTATUS(status) == 0, "the writer's save failed"
    assert [v["key"] for v in store.list_visits(patient["id"])] == ["v1"]
