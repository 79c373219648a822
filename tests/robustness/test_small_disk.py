"""A data folder on a real 2 MB filesystem that fills up (issue 15.1 and 15.10).

Where the machine allows it (root, ``mount -t tmpfs``) the data folder is a real 2 MB tmpfs
filled to the last byte; elsewhere every write call of the store is made to fail with ENOSPC
after writing part of its data, as a full disk does. The test runs either way, never skips.

What must hold: a save on the full disk is answered 503 with the answers kept on the page; the
audit trail loses no acknowledged change (a torn entry is cut, never glued to the next one);
staff can still log in and unlock a tablet (the space kept in reserve); once space is freed,
saving works again and every audit line parses.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess

import pytest

from helpers import hand_over, login, page_fields
from pro_app import create_app
from pro_app.storage import files
from pro_app.storage.tinydb import RESERVE_BYTES
from pro_app.auth import hash_password

NURSE = ("anna", "correct horse battery")


class SmallDisk:
    def __init__(self, path, mounted: bool):
        self.path = path
        self.mounted = mounted
        self.patch = pytest.MonkeyPatch()

    def fill(self) -> None:
        if self.mounted:
            fd = os.open(self.path / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                for size in (1 << 16, 1 << 12, 1 << 8, 1):
                    try:
                        while True:
                            os.write(fd, b"x" * size)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC
            finally:
                os.close(fd)
            return
        real_open = open
        disk = self
        self.room = 0  # bytes left; deleting the store's reserve gives its space back, as on a real disk
        self.reserve_seen = True

        def room() -> int:
            if disk.reserve_seen and not (disk.path / "data" / "reserve").exists():
                disk.reserve_seen = False
                disk.room += RESERVE_BYTES
            return disk.room

        class Torn:
            """A file on a full disk: a write stores what fits, then fails."""

            def __init__(self, fh):
                self.fh = fh

            def write(self, data):
                fits = min(len(data), room())
                self.fh.write(data[:fits])
                disk.room -= fits
                if fits < len(data):
                    self.fh.flush()
                    raise OSError(errno.ENOSPC, "No space left on device")
                return len(data)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.fh.__exit__(*exc)

            def __getattr__(self, name):
                return getattr(self.fh, name)

        def full_open(file, mode="r", *args, **kwargs):
            fh = real_open(file, mode, *args, **kwargs)
            return Torn(fh) if any(m in mode for m in "wax+") else fh

        class Room:
            f_frsize = 1

            @property
            def f_bavail(self):
                return room()

        self.patch.setattr(files, "open", full_open, raising=False)
        self.patch.setattr(files.os, "statvfs", lambda path: Room())

    def free(self) -> None:
        if self.mounted:
            (self.path / "filler").unlink()
        self.patch.undo()


@pytest.fixture
def small_disk(tmp_path):
    path = tmp_path / "disk"
    path.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(path)], capture_output=True).returncode == 0
    print(f"data folder on {'a real 2 MB tmpfs' if mounted else 'injected ENOSPC at each write call'}")
    disk = SmallDisk(path, mounted)
    yield disk
    disk.patch.undo()
    if mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _vas(page, value: str) -> dict:
    return {**page_fields(page.text), "shown": "PtGA", "action": "next", "a__PtGA": value,
            "m__PtGA__touched": "1", "m__PtGA__line_px": "800", "m__PtGA__px_per_mm": "8"}


def _audit_lines(root) -> list[dict]:
    """Every line of every audit file (the global one, each patient's), each one whole JSON entry, in order."""
    lines = [json.loads(line) for path in [root / "audit.jsonl", *root.glob("patients/*/audit.jsonl")]
             for line in path.read_text(encoding="utf-8").splitlines()]
    return sorted(lines, key=lambda e: e["seq"])


def test_full_disk_loses_no_audited_change_and_staff_can_still_unlock(small_disk, monkeypatch):
    root = small_disk.path / "data"
    monkeypatch.setenv("PRO_APP_DATA_DIR", str(root))
    app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False})
    store = app.extensions["pro_app"].store
    store.create_user(*NURSE[:1], hash_password(NURSE[1]), "nurse", "test")
    patient = store.create_patient("DISK-1", "test")
    visit = store.add_visit(patient["id"], "test", key="baseline", label={"sv": "B", "en": "B"},
                            questionnaires=["patient_global"])
    tablet = app.test_client()
    login(tablet, *NURSE)
    hand_over(tablet, patient["id"], visit["id"])
    tablet.get("/tablet/q/patient_global")
    assert tablet.post("/tablet/q/patient_global/p/0", data=_vas(tablet.get("/tablet/q/patient_global/p/0"),
                                                                 "30.0")).status_code == 302

    small_disk.fill()
    page = tablet.get("/tablet/q/patient_global/p/0")
    failed = tablet.post("/tablet/q/patient_global/p/0", data=_vas(page, "61.5"))
    assert failed.status_code == 503 and "disken är full" in failed.text
    assert 'value="61.5"' in failed.text  # still on the page, ready to send again
    (response,) = store.list_responses(patient["id"])
    assert response["answers"] == {"PtGA": 30.0}

    # Staff still get in on the full disk: a login on another device, and the tablet's unlock.
    other = app.test_client()
    assert login(other, *NURSE).status_code == 302 and other.get("/staff/").status_code == 200
    locked = tablet.get("/tablet/locked")
    unlocked = tablet.post("/tablet/locked", data={**page_fields(locked.text), "username": NURSE[0],
                                                   "password": NURSE[1]})
    assert unlocked.status_code == 302 and f"/staff/patients/{patient['id']}" in unlocked.location
    # Data still is not written into the space kept for logins.
    assert other.post("/staff/", data={**page_fields(other.get("/staff/").text), "study_code": "DISK-2"}
                      ).status_code == 503

    small_disk.free()
    hand_over(tablet, patient["id"], visit["id"])
    saved = tablet.post("/tablet/q/patient_global/p/0", data=_vas(tablet.get("/tablet/q/patient_global/p/0"),
                                                                  "61.5"))
    assert saved.status_code == 302
    assert store.list_responses(patient["id"])[0]["answers"] == {"PtGA": 61.5}
    # The audit trail has the stored change: no torn line swallowed it, and every line is one entry.
    lines = _audit_lines(root)
    changes = [e["details"]["answers"]["PtGA"]["to"] for e in lines if e["action"] == "update"]
    assert changes[-1] == 61.5
    assert [e["action"] for e in lines if e["action"] in ("login", "unlock")][-2:] == ["login", "unlock"]
    assert store.find_patient("DISK-2") is None
    assert (root / "reserve").exists(), "the reserve is set aside again once there is room"
