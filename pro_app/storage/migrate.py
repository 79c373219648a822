"""Bring a data folder written by an older version to today's layout, once, on start.

Layout 1 (up to issue 13) kept every patient in ``index.json`` and each patient's visits and
responses in one file ``patients/<id>.json``; sessions, the login throttle and drafts in one file
each. Layout 2 is described in ``tinydb.py``.

The migration is safe to interrupt and to run from several processes at once:

* it runs under ``migrate.lock`` (processes starting together wait for the first one);
* it only reads the old files and writes new ones, and the ``layout`` file, written last after
  everything is on disk (one ``sync``), is what says it is done: an interrupted migration is
  simply run again from the start, overwriting what it had written;
* only then are the old files moved into ``layout-1/`` in the data folder (``index.json`` last,
  so its presence says the move is unfinished). Delete that folder once the clinic is satisfied;
  copy it back (and remove ``layout``) to return to an older version.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .common import now
from .files import DIR_MODE, LogAppend, commit, dump_json, exclusive, private, read_lines

__all__ = ["LAYOUT", "migrate"]

LAYOUT = 2
LEGACY_FILES = ("sessions.json", "throttle.json", "drafts.json")  # moved aside; index.json goes last
LEGACY_LOCKS = ("index.json.lock", "users.json.lock", "audit.jsonl.lock", "sessions.json.lock",
                "throttle.json.lock", "drafts.json.lock")


def _layout(root: Path) -> int:
    try:
        return int((root / "layout").read_text(encoding="utf-8").strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _done(root: Path) -> bool:
    return _layout(root) >= LAYOUT and not (root / "index.json").exists()


def migrate(root: Path, tmp: Path) -> None:
    """Make ``root`` a layout-2 folder (nothing to do, and no lock taken, when it is one)."""
    if _done(root):
        return
    with exclusive(root / "migrate.lock", timeout=None):
        if _layout(root) < LAYOUT:
            if _has_layout_1(root):
                counts = _from_layout_1(root, tmp)
                _sync(root)  # everything written is on disk before the layout file says so
                if not any(e.get("action") == "migrate" and e.get("id") == f"layout-{LAYOUT}"
                           for e in read_lines(root / "audit.jsonl")):  # once, also when run again
                    with LogAppend(root / "audit.jsonl") as log:
                        log.append([{"at": now(), "actor": "system", "action": "migrate", "entity": "data-folder",
                                     "id": f"layout-{LAYOUT}", "details": counts}])
            commit(tmp, {root / "layout": LAYOUT})
        _retire_layout_1(root)


def _has_layout_1(root: Path) -> bool:
    if (root / "index.json").exists() or any((root / name).exists() for name in LEGACY_FILES):
        return True
    return any(_legacy_patient_files(root))


def _legacy_patient_files(root: Path) -> list[Path]:
    try:
        return [p for p in (root / "patients").glob("*.json") if p.is_file()]
    except OSError:
        return []


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return json.loads(text) if text.strip() else {}


def _table(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A TinyDB table's documents in the order they were inserted."""
    table = data.get(name) or {}
    return [table[k] for k in sorted(table, key=lambda k: int(k) if k.isdigit() else 0)]


def _put(path: Path, tmp: Path, raw: bytes) -> None:
    """Written whole and renamed into place; made durable by the ``sync`` before the layout file."""
    staged = tmp / f"migrate.{path.name}.tmp"
    with open(staged, "wb", opener=private) as fh:
        fh.write(raw)
    os.replace(staged, path)


def _sync(root: Path) -> None:
    """Flush the data folder's filesystem (``syncfs``; ``sync`` where there is none)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


def _from_layout_1(root: Path, tmp: Path) -> dict[str, int]:
    for folder in (root, root / "patients", root / "definitions"):
        for stale in folder.glob(".*.tmp"):  # a layout-1 writer's leftovers: none is running now
            stale.unlink(missing_ok=True)
    index = _read(root / "index.json")
    patients = _table(index, "patients")
    responses_total = 0
    for patient in patients:
        pid = patient["id"]
        folder = root / "patients" / pid
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)
        old = _read(root / "patients" / f"{pid}.json")
        by_visit: dict[str, OrderedDict[str, str]] = {}
        for response in _table(old, "responses"):
            _put(folder / f"response-{response['id']}.json", tmp, dump_json({"response": {"1": response}}))
            by_visit.setdefault(response["visit"], OrderedDict()).setdefault(response["questionnaire"], response["id"])
            responses_total += 1
        for visit_id, named in by_visit.items():
            index_table = {str(n): {"questionnaire": q, "id": rid} for n, (q, rid) in enumerate(named.items(), 1)}
            _put(folder / f"visit-{visit_id}.json", tmp, dump_json({"responses": index_table}))
        _put(folder / "patient.json", tmp, dump_json({"patient": {"1": patient}, "visits": old.get("visits") or {}}))
    _put(root / "patients.jsonl", tmp, b"".join(dump_json(p) + b"\n" for p in patients))

    for sid_digest, record in (_read(root / "sessions.json")).items():
        _put(root / "sessions" / f"{sid_digest}.json", tmp, dump_json(record))
    for key, times in (_read(root / "throttle.json")).items():
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        _put(root / "throttle" / f"{digest}.json", tmp, dump_json({"at": times}))
    for name, draft in (_read(root / "drafts.json")).items():
        _put(root / "drafts" / f"{name}.json", tmp, dump_json(draft))
    for name in ("users.json", "audit.jsonl", "secret_key"):
        if (root / name).exists():
            os.chmod(root / name, 0o600)
    return {"patients": len(patients), "responses": responses_total}


def _retire_layout_1(root: Path) -> None:
    """Move the old files aside (index.json last: while it is there, the move is unfinished)."""
    if not (root / "index.json").exists() and not any((root / n).exists() for n in LEGACY_FILES) \
            and not _legacy_patient_files(root):
        return
    backup = root / "layout-1"
    (backup / "patients").mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for path in _legacy_patient_files(root):
        os.replace(path, backup / "patients" / path.name)
    for lock in (root / "patients").glob("*.json.lock"):
        lock.unlink(missing_ok=True)
    for name in LEGACY_FILES:
        if (root / name).exists():
            os.replace(root / name, backup / name)
    for name in LEGACY_LOCKS:
        (root / name).unlink(missing_ok=True)
    if (root / "index.json").exists():
        os.replace(root / "index.json", backup / "index.json")
    # The copy kept aside holds answers and password hashes: private, whatever mode the old files had.
    for folder, _dirs, names in os.walk(backup):
        os.chmod(folder, DIR_MODE)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o600)
    _sync(root)
