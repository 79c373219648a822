"""A writer killed at any point of any write: the store stays readable and keeps every acknowledged change.

The writer is a forked child (no interpreter start-up per run, so many runs stay fast)
that counts the storage's file operations (open, each write, fsync, rename) and
SIGKILLs itself at the N-th one, halfway through a chunk when N falls on a write. It
reports each operation before it starts ("try") and once the store returned ("ok"):
everything reported "ok" was acknowledged to the user and must survive.
"""
from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path
from typing import Any

import pytest

from pro_app import storage
from pro_app.storage import files
from pro_app.config import questionnaire_dir
from pro_app.definitions import load_file
from pro_app.storage import TinyDBStore

PTGA = load_file(questionnaire_dir() / "patient_global.yaml")


class Killed(Exception):
    pass


def _arm(kill_at: int) -> list[int]:
    """Make the storage module's file operations count, and die at operation ``kill_at``."""
    count = [0]

    def tick() -> bool:
        count[0] += 1
        return count[0] == kill_at

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    real_open, real_replace = open, os.replace

    class File:
        def __init__(self, fh):
            self.fh = fh
            self.writes = 0

        def write(self, data):
            # json.dump writes many small chunks: a kill point at the first and then every 25th.
            self.writes += 1
            if self.writes % 25 == 1 and tick():
                self.fh.write(data[: len(data) // 2])  # a torn write: half of this chunk reaches the disk
                self.fh.flush()
                die()
            return self.fh.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.fh.__exit__(*exc)

        def __getattr__(self, name):
            return getattr(self.fh, name)

    def hooked_open(*args, **kwargs):
        if tick():
            die()
        return File(real_open(*args, **kwargs))

    def hooked(real):
        def call(*args, **kwargs):
            if tick():
                die()
            result = real(*args, **kwargs)
            if tick():  # the operation happened, the next one did not
                die()
            return result
        return call

    files.open = hooked_open  # the module's own name shadows the builtin
    files.os.replace = hooked(real_replace)
    # A killed process loses nothing the kernel already has, so fsync only counts here: it
    # matters for power loss, which a test cannot cause, and skipping it keeps many runs fast.
    files.os.fsync = hooked(lambda fd: None)
    return count


def _operations(store: Store, rng: random.Random, report) -> None:
    """A random mix of every kind of write the app makes, each reported before and after."""
    patients: list[str] = []
    visits: list[tuple[str, str]] = []
    responses: list[tuple[str, str]] = []
    for step in range(14):
        choices = ["patient", "user"] + (["visit"] * 2 if patients else []) + (["start"] * 2 if visits else []) \
            + (["answer"] * 3 + ["complete"] if responses else []) + (["visit_date"] if visits else [])
        kind = rng.choice(choices)
        if kind == "patient":
            code = f"C-{step}"
            report("try", kind, code)
            patients.append(store.create_patient(code, "test")["id"])
            report("ok", kind, code, patients[-1])
        elif kind == "user":
            name = f"user{step}"
            report("try", kind, name)
            store.create_user(name, "hash", "nurse", "test")
            report("ok", kind, name)
        elif kind == "visit":
            pid = rng.choice(patients)
            report("try", kind, pid)
            visit = store.add_visit(pid, "test", key=f"v{step}", label={"sv": "v", "en": "v"}, questionnaires=[PTGA.id])
            visits.append((pid, visit["id"]))
            report("ok", kind, pid, visit["id"])
        elif kind == "visit_date":
            pid, vid = rng.choice(visits)
            date = f"2025-01-{step + 1:02d}"
            report("try", kind, pid, vid, date)
            store.update_visit(pid, vid, "test", date=date)
            report("ok", kind, pid, vid, date)
        elif kind == "start":
            pid, vid = rng.choice(visits)
            report("try", kind, pid, vid)
            response = store.start_response(pid, vid, PTGA, "test", "sv")
            if (pid, response["id"]) not in responses:
                responses.append((pid, response["id"]))
            report("ok", kind, pid, vid, response["id"])
        elif kind == "answer":
            pid, rid = rng.choice(responses)
            value = float(step)
            report("try", kind, pid, rid, value)
            try:
                store.save_answers(pid, rid, "test", {"PtGA": value})
            except storage.AlreadyCompleted:
                report("ok", "refused", pid, rid)
                continue
            report("ok", kind, pid, rid, value)
        elif kind == "complete":
            pid, rid = rng.choice(responses)
            report("try", kind, pid, rid)
            store.complete_response(pid, rid, "test")
            report("ok", kind, pid, rid)


def _run_killed(root: Path, seed: int, kill_at: int) -> tuple[list[list[Any]], bool, int]:
    """Fork a writer that dies at file operation ``kill_at``; its reports, whether it died, its count."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            store = TinyDBStore(root)
            count = _arm(kill_at)

            def report(*fields):
                os.write(write_end, (json.dumps(fields) + "\n").encode())

            _operations(store, random.Random(seed), report)
            report("done", count[0])
        except BaseException:  # pragma: no cover - shown by the parent's assertions
            import traceback

            os.write(write_end, (json.dumps(["error", traceback.format_exc()]) + "\n").encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as fh:
        chunks.append(fh.read())
    _, status = os.waitpid(pid, 0)
    reports = [json.loads(line) for line in b"".join(chunks).decode().splitlines() if line.strip()]
    errors = [r for r in reports if r[0] == "error"]
    assert not errors, errors[0][1]
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    total = next((r[1] for r in reports if r[0] == "done"), -1)
    return reports, killed, total


def _check(root: Path, reports: list[list[Any]]) -> None:
    # Every data file still parses as JSON: no torn file replaced a good one.
    for path in [*root.glob("users.json"), *root.glob("patients/*/*.json"), *root.glob("definitions/*.json"),
                 *root.glob("sessions/*.json")]:
        json.loads(path.read_text(encoding="utf-8"))
    register = root / "patients.jsonl"
    for line in (register.read_bytes() if register.exists() else b"").splitlines(keepends=True):
        if line.endswith(b"\n"):  # whole lines parse; a torn last one is cut by the next registration
            json.loads(line)
    store = TinyDBStore(root)
    store.audit_entries()  # a torn last audit line is skipped, never an error
    in_flight = reports[-1] if reports and reports[-1][0] == "try" else None
    answers: dict[str, float] = {}
    completed: set[str] = set()
    for status, kind, *args in (r for r in reports if r[0] == "ok"):
        if kind == "patient":
            assert store.find_patient(args[0])["id"] == args[1]
        elif kind == "user":
            assert store.get_user(args[0]) is not None
        elif kind == "visit":
            store.get_visit(args[0], args[1])
        elif kind == "visit_date":
            pid, vid, date = args
            stored = store.get_visit(pid, vid)["date"]
            later = [r[4] for r in reports if r[:2] == ["try", "visit_date"] and r[3] == vid]
            assert stored == date or stored in later
        elif kind == "start":
            store.get_response(args[0], args[2])
        elif kind == "answer":
            answers[args[1]] = args[2]
        elif kind == "complete":
            completed.add(args[1])
    for rid, value in answers.items():
        pid = next(r[2] for r in reports if r[:2] == ["ok", "start"] and r[4] == rid)
        stored = store.get_response(pid, rid)
        # The acknowledged value, or the one the writer was in the middle of saving when it died.
        pending = in_flight[4] if in_flight and in_flight[1] == "answer" and in_flight[3] == rid else None
        assert stored["answers"].get("PtGA") in (value, pending), (stored["answers"], value, pending)
    for rid in completed:
        pid = next(r[2] for r in reports if r[:2] == ["ok", "start"] and r[4] == rid)
        assert store.get_response(pid, rid)["status"] == "completed"
    # The store keeps working: the dead writer's locks died with it.
    extra = store.create_patient("after-crash", "test")
    store.add_visit(extra["id"], "test", key="after", label={"sv": "x", "en": "x"}, questionnaires=[])
    store.create_user("after-crash", "hash", "nurse", "test")


def test_writer_killed_at_every_file_operation_of_one_run(tmp_path):
    """Every kill point of one fixed sequence of writes, from the first open to the last rename."""
    _, killed, total = _run_killed(tmp_path / "dry", seed=7, kill_at=0)
    assert not killed and total > 100, total
    for kill_at in range(1, total + 1):
        root = tmp_path / f"k{kill_at}"
        reports, killed, _ = _run_killed(root, seed=7, kill_at=kill_at)
        assert killed, f"the writer was not killed at operation {kill_at}"
        _check(root, reports)


@pytest.mark.parametrize("seed", range(8))
def test_writer_killed_at_random_points_of_random_writes(tmp_path, seed):
    rng = random.Random(seed)
    _, _, total = _run_killed(tmp_path / "dry", seed=seed, kill_at=0)
    for run in range(3):
        root = tmp_path / f"run{run}"
        reports, killed, _ = _run_killed(root, seed=seed, kill_at=rng.randint(1, total))
        assert killed
        _check(root, reports)
