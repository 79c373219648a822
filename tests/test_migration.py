"""A data folder written by the store before issue 13 (layout 1) is brought to layout 2 on start:
every patient, visit, response, user, session, throttle count, draft and audit entry survives, also
when the migration is killed half-way and started again, and when several processes start at once.

The folder in ``fixtures/layout-1`` was written through the old store itself
(``fixtures/make_layout_1.py`` run on commit dcc0ba3); the expectations below are read from its
files directly, never through the code under test.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT
from pro_app.config import questionnaire_dir
from pro_app.definitions import load_file
from pro_app.storage import Stamp, StaleWrite, TinyDBStore, files, migrate

FIXTURE = Path(__file__).parent / "fixtures" / "layout-1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


def _table(path: Path, name: str) -> list[dict]:
    if not path.exists():
        return []
    table = json.loads(path.read_text()).get(name, {})
    return [table[k] for k in sorted(table, key=int)]


@pytest.fixture
def old_folder(tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(FIXTURE / "data", root)
    drafts = json.loads((root / "drafts.json").read_text())
    for draft in drafts.values():
        draft["at"] = time.time()  # kept for 12 hours: make the fixture's draft a fresh one
    (root / "drafts.json").write_text(json.dumps(drafts))
    return root


def _old_data(root: Path) -> dict:
    """What layout 1 holds, read straight from its files (from the folder kept aside once migrated)."""
    source = root / "layout-1" if (root / "layout-1" / "index.json").exists() else root
    patients = _table(source / "index.json", "patients")
    return {
        "patients": patients,
        "visits": {p["id"]: _table(source / "patients" / f"{p['id']}.json", "visits") for p in patients},
        "responses": {p["id"]: _table(source / "patients" / f"{p['id']}.json", "responses") for p in patients},
        "users": _table(root / "users.json", "users"),
        "audit": [json.loads(line) for line in (root / "audit.jsonl").read_text().splitlines()
                  if json.loads(line).get("action") != "migrate"],
    }


def check_migrated(root: Path, old: dict) -> Store:
    store = TinyDBStore(root)
    assert (root / "layout").read_text().strip() == "2" and not (root / "index.json").exists()
    assert (root / "layout-1" / "index.json").exists(), "the old files are kept aside"
    assert [p["study_code"] for p in store.list_patients()] == sorted(p["study_code"] for p in old["patients"])
    for patient in old["patients"]:
        assert store.get_patient(patient["id"]) == patient
        assert store.find_patient(patient["study_code"]) == patient
        visits = sorted(old["visits"][patient["id"]], key=lambda v: v["id"])
        assert sorted(store.list_visits(patient["id"]), key=lambda v: v["id"]) == visits
        responses = old["responses"][patient["id"]]
        assert sorted(store.list_responses(patient["id"]), key=lambda r: r["id"]) == sorted(responses,
                                                                                            key=lambda r: r["id"])
        for visit in visits:
            assert {r["id"] for r in store.list_responses(patient["id"], visit["id"])} == {
                r["id"] for r in responses if r["visit"] == visit["id"]}
        for response in responses:
            assert store.get_response(patient["id"], response["id"]) == response
    assert store.list_users() == old["users"]
    live = store.session(EXPECTED["live_session"])
    assert live is not None and live["kind"] == "tablet" and not live["ended"]
    assert store.session(EXPECTED["ended_session"])["end_reason"] == "logout"
    assert store.login_failures(["user:mallory", "client:10.0.0.9", "user:anna"], 10 ** 9) == {
        "user:mallory": 1, "client:10.0.0.9": 1, "user:anna": 0}
    audit = store.audit_entries()
    assert [e for e in audit if e["action"] != "migrate"][:len(old["audit"])] == old["audit"]
    assert [e["action"] for e in audit].count("migrate") == 1
    return store


def test_a_layout_1_folder_is_migrated_on_start_and_keeps_working(old_folder):
    old = _old_data(old_folder)
    store = check_migrated(old_folder, old)
    assert store.take_draft(EXPECTED["draft"]["owner"], EXPECTED["draft"]["key"]) == [("a__PGA", "55")]
    # The migrated data is used as it was: no duplicate response, stamps still order saves, codes stay unique.
    a = old["patients"][0]
    baseline = old["visits"][a["id"]][0]
    haq = load_file(questionnaire_dir() / "haq.yaml")
    again = store.start_response(a["id"], baseline["id"], haq, "patient:tablet", "sv")
    assert again["id"] == EXPECTED["responses"]["in_progress"]
    with pytest.raises(StaleWrite):
        store.save_answers(a["id"], again["id"], "patient:tablet", {"haq1a": 3}, stamp=Stamp(0, 1))
    saved = store.save_answers(a["id"], again["id"], "patient:tablet", {"haq1a": 3},
                               stamp=Stamp(again["revision"], 2))
    assert saved["answers"] == {"haq1a": 3, "haq1b": 0}
    with pytest.raises(ValueError):
        store.create_patient("MIG-001", "staff:anna")
    c = store.find_patient("MIG-003")
    store.add_visit(c["id"], "staff:anna", key="v1", label={"sv": "v1", "en": "v1"}, questionnaires=[])
    assert [v["key"] for v in TinyDBStore(old_folder).list_visits(c["id"])] == ["v1"]
    # Every file of the new layout is private, the folders kept aside too.
    for folder, _dirs, names in os.walk(old_folder):
        assert os.stat(folder).st_mode & 0o077 == 0, folder
        for name in names:
            assert os.stat(os.path.join(folder, name)).st_mode & 0o077 == 0, name


def _migrate_until(root: Path, kill_at: int) -> tuple[bool, int]:
    """Fork a process that opens the store (migrating) and SIGKILLs itself at file operation ``kill_at``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            os.close(read_end)
            count = [0]

            def tick() -> None:
                count[0] += 1
                if count[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

            real_open, real_replace = open, os.replace

            def hooked_open(*args, **kwargs):
                tick()
                return real_open(*args, **kwargs)

            def hooked_replace(*args, **kwargs):
                tick()
                real_replace(*args, **kwargs)
                tick()

            migrate.open = files.open = hooked_open  # the modules' own names shadow the builtin
            os.replace = hooked_replace
            TinyDBStore(root)
            os.write(write_end, str(count[0]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        total = fh.read()
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status), int(total or 0)


def test_a_migration_killed_at_any_file_operation_is_finished_by_the_next_start(tmp_path, old_folder):
    old = _old_data(old_folder)
    killed, total = _migrate_until(shutil.copytree(old_folder, tmp_path / "dry"), kill_at=0)
    assert not killed and total > 20, total
    for kill_at in range(1, total + 1):
        root = shutil.copytree(old_folder, tmp_path / f"k{kill_at}")
        killed, _ = _migrate_until(root, kill_at)
        assert killed, kill_at
        check_migrated(root, old)


START = """
import sys, time
from pro_app.storage import TinyDBStore
while time.time() < float(sys.argv[2]):
    pass
store = TinyDBStore(sys.argv[1])
print(len(store.list_patients()))
"""


def test_several_processes_starting_at_once_migrate_once(old_folder):
    old = _old_data(old_folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    at = time.time() + 1.5
    starts = [subprocess.Popen([sys.executable, "-c", START, str(old_folder), str(at)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in starts]
    assert all(p.returncode == 0 for p in starts), [err[-800:] for _out, err in results]
    assert [out.strip() for out, _err in results] == [str(len(old["patients"]))] * 3
    check_migrated(old_folder, old)
