"""Durable storage: no lost or corrupted response under concurrent processes, crashes or double submits."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pro_app.config import questionnaire_dir
from pro_app.definitions import load_file
from pro_app.storage import AlreadyCompleted, NotFound, StorageError, TinyDBStore, open_store

WRITER = Path(__file__).with_name("storage_writer.py")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def q():
    return load_file(questionnaire_dir() / "patient_global.yaml")


@pytest.fixture
def address(database, tmp_path):
    """Where this test's store lives: a PostgreSQL database, or a TinyDB data folder."""
    return database or str(tmp_path / "data")


@pytest.fixture
def store(address):
    return open_store(address)


def _writer(address, patient_id, count, tag):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WRITER), str(address), patient_id, "-", str(count), tag],
                            stdout=subprocess.PIPE, text=True, env=env)


def test_response_is_created_once_and_completed_once(store, q):
    patient = store.create_patient("S-1", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"}, questionnaires=[q.id])
    first = store.start_response(patient["id"], visit["id"], q, "test", "sv")
    again = store.start_response(patient["id"], visit["id"], q, "test", "en")  # a refresh, a second tap
    assert first["id"] == again["id"]
    store.save_answers(patient["id"], first["id"], "test", {"PtGA": 12.5})
    done, newly = store.complete_response(patient["id"], first["id"], "test")
    assert newly and done["status"] == "completed"
    done_again, newly_again = store.complete_response(patient["id"], first["id"], "test")
    assert not newly_again and done_again["completed_at"] == done["completed_at"]
    assert len(store.list_responses(patient["id"])) == 1
    with pytest.raises(AlreadyCompleted):
        store.save_answers(patient["id"], first["id"], "test", {"PtGA": 99.0})
    assert store.get_response(patient["id"], first["id"])["answers"] == {"PtGA": 12.5}


def test_every_change_is_audited(store, q):
    patient = store.create_patient("S-2", "staff:anna")
    visit = store.add_visit(patient["id"], "staff:anna", key="baseline", label={"sv": "B", "en": "B"}, questionnaires=[q.id])
    r = store.start_response(patient["id"], visit["id"], q, "patient:tablet", "sv")
    store.save_answers(patient["id"], r["id"], "patient:tablet", {"PtGA": 10.0})
    store.save_answers(patient["id"], r["id"], "patient:tablet", {"PtGA": 20.0})
    store.complete_response(patient["id"], r["id"], "patient:tablet")
    entries = store.audit_entries()
    actions = [(e["actor"], e["action"], e["entity"]) for e in entries]
    assert actions == [
        ("staff:anna", "create", "patient"),
        ("staff:anna", "create", "visit"),
        ("patient:tablet", "create", "response"),
        ("patient:tablet", "update", "response"),
        ("patient:tablet", "update", "response"),
        ("patient:tablet", "complete", "response"),
    ]
    assert entries[4]["details"]["answers"] == {"PtGA": {"from": 10.0, "to": 20.0}}
    assert all(e["at"] for e in entries)
    assert entries[2]["details"]["hash"] == q.definition_hash


def test_response_records_definition_and_keeps_a_snapshot(store, q):
    patient = store.create_patient("S-3", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"}, questionnaires=[q.id])
    r = store.start_response(patient["id"], visit["id"], q, "test", "sv")
    assert (r["questionnaire"], r["version"], r["definition_hash"]) == (q.id, q.version, q.definition_hash)
    snapshot = store.definition_snapshot(q.definition_hash)
    assert snapshot["definition"]["pages"][0]["items"][0]["id"] == "PtGA"


@pytest.mark.backends("tinydb")
def test_one_folder_per_patient_and_one_file_per_response(store, q):
    a = store.create_patient("A", "test")
    b = store.create_patient("B", "test")
    visit = store.add_visit(a["id"], "test", key="v", label={"sv": "v", "en": "v"}, questionnaires=[q.id])
    store.add_visit(b["id"], "test", key="v", label={"sv": "v", "en": "v"}, questionnaires=[])
    response = store.start_response(a["id"], visit["id"], q, "test", "sv")
    folders = sorted(p.name for p in (store.root / "patients").iterdir())
    assert folders == sorted([a["id"], b["id"]])
    assert sorted(p.name for p in (store.root / "patients" / a["id"]).iterdir()) == sorted(
        ["patient.json", "audit.jsonl", f"visit-{visit['id']}.json", f"response-{response['id']}.json"])
    # The register: one line per patient, in the order registered.
    lines = (store.root / "patients.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [a["id"], b["id"]]
    # No study code in any file or folder name.
    names = [p.name for p in store.root.rglob("*")]
    assert not any("A" in name or "B" in name for name in names)


def test_threads_writing_at_once_lose_nothing(store, q):
    patient = store.create_patient("T-1", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"}, questionnaires=[q.id])
    response = store.start_response(patient["id"], visit["id"], q, "test", "sv")
    errors = []

    def add_visits(tag):
        try:
            for n in range(15):
                store.add_visit(patient["id"], "test", key=f"{tag}-{n}", label={"sv": "x", "en": "x"}, questionnaires=[])
                store.save_answers(patient["id"], response["id"], "test", {"PtGA": float(n)})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add_visits, args=(f"t{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.list_visits(patient["id"])) == 1 + 6 * 15


def test_processes_writing_at_once_lose_nothing(store, address):
    patients = [store.create_patient(f"MP-{i}", "test") for i in range(2)]
    # Four processes: two share each patient's file, so they contend for the same lock.
    writers = [_writer(address, patients[i % 2]["id"], 20, f"w{i}") for i in range(4)]
    acknowledged = []
    for w in writers:
        out, _ = w.communicate(timeout=120)
        assert w.returncode == 0
        acknowledged += out.split()
    assert len(acknowledged) == 80
    stored = {r["id"]: r for p in patients for r in store.list_responses(p["id"])}
    assert set(acknowledged) == set(stored)
    assert all(r["status"] == "completed" and "PtGA" in r["answers"] for r in stored.values())
    assert sum(len(store.list_visits(p["id"])) for p in patients) == 80


@pytest.mark.parametrize("seed", range(4))
def test_writer_killed_mid_write_leaves_every_acknowledged_response(store, address, seed):
    """kill -9 of a writer: mid-file-write on TinyDB, mid-transaction (its connection cut) on PostgreSQL."""
    patient = store.create_patient(f"K-{seed}", "test")
    writer = _writer(address, patient["id"], 10_000, f"k{seed}")
    acknowledged = []
    random.seed(seed)
    deadline = time.monotonic() + random.uniform(1.5, 3.0)
    while time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    writer.send_signal(signal.SIGKILL)
    rest, _ = writer.communicate(timeout=30)
    acknowledged += rest.split()  # printed before the kill: acknowledged too
    assert len(acknowledged) > 3, "the writer never got going"

    # Every file still parses as JSON (a torn write would not)...
    for path in Path(address).glob("patients/*/*.json") if isinstance(store, TinyDBStore) else ():
        json.loads(path.read_text())
    # ...and holds every response the writer was told was saved, each whole (a visit, a completed answer).
    stored = {r["id"]: r for r in store.list_responses(patient["id"])}
    assert set(acknowledged) <= set(stored)
    assert all(stored[rid]["status"] == "completed" and "PtGA" in stored[rid]["answers"] for rid in acknowledged)
    # The store keeps working after the crash: the lock died with the process.
    store.add_visit(patient["id"], "test", key="after-crash", label={"sv": "x", "en": "x"}, questionnaires=[])


@pytest.mark.backends("tinydb")
def test_full_disk_is_a_clear_error_and_loses_nothing(store, q, monkeypatch):
    # Simulated at the rename: tests run as root in CI, and root ignores a read-only folder.
    patient = store.create_patient("RO-1", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"}, questionnaires=[q.id])
    r = store.start_response(patient["id"], visit["id"], q, "test", "sv")
    store.save_answers(patient["id"], r["id"], "test", {"PtGA": 30.0})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pro_app.storage.files.os.replace", disk_full)
    with pytest.raises(StorageError) as exc:
        store.save_answers(patient["id"], r["id"], "test", {"PtGA": 60.0})
    assert "No space left on device" in str(exc.value)
    monkeypatch.undo()
    assert store.get_response(patient["id"], r["id"])["answers"] == {"PtGA": 30.0}
    assert not list((store.root / "tmp").iterdir()), "temporary file left behind"
    # The audit trail, written ahead of the data, says that the change was not stored.
    last_two = store.audit_entries()[-2:]
    assert [e["action"] for e in last_two] == ["update", "not-stored"]
    assert last_two[1]["details"] == {"action": "update"} and last_two[1]["id"] == r["id"]


@pytest.mark.backends("tinydb")
def test_temporary_files_of_dead_writers_are_removed_on_start(store):
    import fcntl

    orphan = store.root / "tmp" / "patient.json.deadbeef.tmp"  # its writer died: nobody holds it
    live = store.root / "tmp" / "patient.json.cafebabe.tmp"  # a writer (another process) holds it
    young = store.root / "tmp" / "patient.json.feedface.tmp"  # just created, not yet locked by its writer
    for path in (orphan, live, young):
        path.write_text("{half a wri")
    an_hour_ago = time.time() - 3600
    os.utime(orphan, (an_hour_ago, an_hour_ago))
    os.utime(live, (an_hour_ago, an_hour_ago))
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\n"
                               "f = open(sys.argv[1], 'rb'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True)\n"
                               "time.sleep(60)", str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        TinyDBStore(store.root)
    finally:
        holder.kill()
        holder.wait()
    assert not orphan.exists()
    assert live.exists() and young.exists()  # a live writer's file is left alone
    with open(live, "rb") as fh:  # and once its writer is gone, the next start removes it
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_change_for_an_unknown_patient_is_not_found_and_leaves_nothing(store, q):
    unknown = "0123456789abcdef0123456789abcdef"
    for change in (lambda: store.save_answers(unknown, unknown, "test", {"PtGA": 1.0}),
                   lambda: store.complete_response(unknown, unknown, "test"),
                   lambda: store.start_response(unknown, unknown, q, "test", "sv"),
                   lambda: store.update_visit(unknown, unknown, "test", date="2025-01-01"),
                   lambda: store.add_visit(unknown, "test", key="v", label={"sv": "v", "en": "v"}, questionnaires=[])):
        with pytest.raises(NotFound):
            change()
    assert store.list_patients() == [] and store.audit_entries() == []
    if isinstance(store, TinyDBStore):
        assert list((store.root / "patients").iterdir()) == []
