"""The embedded backend: TinyDB files in one data folder, laid out so no write grows with the data.

Layout of the data folder (``PRO_APP_DATA_DIR``, layout 2; ``migrate.py`` brings older folders here)::

    patients.jsonl                  the patient register: one line per patient, only ever appended
    patients/<id>/patient.json      TinyDB: the patient and their visits
    patients/<id>/visit-<id>.json   TinyDB: which response answers each questionnaire of one visit
    patients/<id>/response-<id>.json  TinyDB: one response (answers, page, stamp, status)
    patients/<id>/audit.jsonl       the audit trail of this patient's changes, only ever appended
    audit.jsonl                     the audit trail of everything else: logins, users, exports
    users.json                      TinyDB: staff accounts
    definitions/<hash>.json         every questionnaire definition a response was answered against
    sessions/<digest>.json          one server-side session (staff login, tablet) per file
    throttle/<digest>.json          failed logins of one user name or client, shared by every process
    drafts/<digest>.json            a clinician form posted after the session expired, until restored
    tmp/                            files being written, renamed into place when whole
    reserve                         space kept free for sessions and logins when the disk fills up
    layout                          the layout version of this folder

Why it is built this way:

* TinyDB rewrites a whole file on every write, so a file holds only what one change needs: a page
  save rewrites its response's file (a few KB), whatever the patient's history; adding a visit
  rewrites the patient's file; registering a patient appends one line to the register. Nothing
  rewrites an index of every patient or every response.
* Every change of a patient's data happens under that patient's lock (``flock`` on the patient's
  folder); users, the register, the global audit trail and each session have their own. A waiting
  writer sleeps in the kernel (no polling). Readers never lock: files are replaced atomically.
* The audit entries of a change are appended to the audit file beside the data, under the same
  lock, before the data is renamed into place (write-ahead; see ``files.commit``): a crash leaves an
  audited change that was not stored, never a stored change without its entry; a failed data write
  is followed by a ``not-stored`` entry. ``audit_entries()`` merges every audit file in order.
* A file version is parsed once per process (``files.ReadCache``); records handed out are copies.
* Every save of answers carries a stamp (the revision the page was shown at, and the page's own
  send counter); a save older than the one stored is refused (``StaleWrite``).
* Files are created 0600 and folders 0700: the data folder holds health data and password hashes.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from . import files
from .common import (Answered, NotFound, PatientPage, Stamp, StorageError, answers_saved, audit_entry, audit_order,
                     disk_full, hex_id, new_id, now, planned_visits, response_completed)
from .common import digest as _digest
from .files import DIR_MODE, FILE_MODE, LockTimeout, exclusive
from .migrate import LAYOUT, migrate

__all__ = ["TinyDBStore"]

# Space kept for sessions, logins and their audit entries when the disk fills up (see README, operations).
RESERVE_BYTES = 256 * 1024
SESSION_RECORDS_KEPT = 24 * 3600  # ended or idle sessions are pruned after a day
DRAFTS_KEPT = 12 * 3600
PRUNE_EVERY = 60.0  # seconds between sweeps of old sessions, throttle counts and drafts (per process)
# Audited events that keep staff working on a full disk: they may use the reserve.
ESSENTIAL_EVENTS = frozenset({"login", "logout", "unlock", "handoff", "lock"})
FOLDERS = ("patients", "definitions", "sessions", "throttle", "drafts", "tmp")


def _copy(value: Any) -> Any:
    """A copy of stored JSON that shares nothing with the read cache."""
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


def _documents(data: dict[str, Any], table: str) -> list[tuple[str, dict[str, Any]]]:
    """A TinyDB table's documents (doc id, document) in the order they were inserted, from parsed JSON."""
    docs = data.get(table) or {}
    return [(n, docs[n]) for n in sorted(docs, key=lambda k: int(k) if k.isdigit() else 0)]


class _Snapshot(Storage):
    """TinyDB storage over data already read (lock-free reads): never written."""

    def __init__(self, data: dict[str, Any] | None):
        self.data = data

    def read(self) -> dict[str, Any] | None:
        return self.data

    def write(self, data: dict[str, Any]) -> None:  # pragma: no cover - readers never write
        raise RuntimeError("a snapshot is read-only")


class _Change:
    """The files one change reads and writes, under the lock that guards them, and its audit entries.

    ``db(path)`` is a TinyDB over one file: read once (a copy, so a failed change leaves no trace),
    written only when the change commits.
    """

    def __init__(self, store: "TinyDBStore"):
        self.store = store
        self.data: dict[Path, dict[str, Any] | None] = {}
        self.dirty: dict[Path, None] = {}  # in the order written: renamed into place in that order
        self.entries: list[dict[str, Any]] = []

    def db(self, path: Path) -> TinyDB:
        return TinyDB(self, path, storage=_ChangeStorage)

    def log(self, actor: str, action: str, entity: str, entity_id: str, patient_id: str | None = None,
            **details: Any) -> None:
        self.entries.append(audit_entry(actor, action, entity, entity_id, patient_id, details))

    def read(self, path: Path) -> dict[str, Any] | None:
        if path not in self.data:
            current = self.store._cache.read(path)
            # TinyDB changes tables and documents in place, never deeper: copy down to the documents.
            self.data[path] = None if current is None else {
                name: {doc_id: dict(doc) for doc_id, doc in table.items()} for name, table in current.items()}
        return self.data[path]

    def write(self, path: Path, data: dict[str, Any]) -> None:
        self.data[path] = data
        self.dirty[path] = None


class _ChangeStorage(Storage):
    def __init__(self, change: _Change, path: Path):
        self.change = change
        self.path = path

    def read(self) -> dict[str, Any] | None:
        return self.change.read(self.path)

    def write(self, data: dict[str, Any]) -> None:
        self.change.write(self.path, data)

    def close(self) -> None:
        pass


class TinyDBStore:
    """Patients, visits, responses, users, sessions and the audit trail in one data folder."""

    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir)
        self.tmp = self.root / "tmp"
        try:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            os.chmod(self.root, DIR_MODE)
            for name in FOLDERS:
                (self.root / name).mkdir(mode=DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create data folder {self.root}: {exc.strerror}") from exc
        self._cache = files.ReadCache()
        self._register = files.Register(self.root / "patients.jsonl", key=lambda p: p["study_code"])
        self._definitions: set[str] = set()
        self._pruned: dict[str, float] = {}
        self._prune_mutex = threading.Lock()
        try:
            migrate(self.root, self.tmp)
        except (OSError, LockTimeout) as exc:
            raise StorageError(f"cannot bring the data folder to layout {LAYOUT}: {exc}") from exc
        self._tighten_modes()
        files.remove_orphaned_temporaries(self.tmp)
        self._keep_reserve()

    def _tighten_modes(self) -> None:
        """Files written by an older version (0644) become 0600 (patients' folders: by the migration)."""
        for folder in (self.root, *(self.root / name for name in FOLDERS if name != "patients")):
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if entry.stat().st_mode & 0o077:
                                os.chmod(entry.path, DIR_MODE)
                        elif entry.is_file(follow_symlinks=False) and entry.stat().st_mode & 0o077:
                            os.chmod(entry.path, FILE_MODE)
                    except OSError:
                        pass

    # ------------------------------------------------------------------ a full disk

    def _keep_reserve(self) -> None:
        """Hold some space so that staff can still log in and unlock tablets on a full disk."""
        path = self.root / "reserve"
        try:
            if path.exists() and path.stat().st_size >= RESERVE_BYTES:
                return
            if os.statvfs(self.root).f_bavail * os.statvfs(self.root).f_frsize < 4 * RESERVE_BYTES:
                return  # too little room to set it aside now: data writes check for this
            tmp = self.root / ".reserve.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)  # blocks set aside without writing them
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError:
            pass

    def _check_room(self) -> None:
        """Data writes never take the space held for logins: with the reserve spent, wait for room."""
        if (self.root / "reserve").exists():
            return
        try:
            stat = os.statvfs(self.root)
        except OSError:
            return
        if stat.f_bavail * stat.f_frsize < 2 * RESERVE_BYTES:
            raise StorageError("the disk is full (the space kept for logins is in use)")
        self._keep_reserve()

    def _essential_write(self, write: Callable[[], Any]) -> Any:
        """A session or login write: on a full disk, spend the reserve once and try again."""
        try:
            return write()
        except StorageError as exc:
            reserve = self.root / "reserve"
            if not disk_full(exc) or not reserve.exists():
                raise
            reserve.unlink()
        return write()

    # ------------------------------------------------------------------ plumbing

    def _patient_folder(self, patient_id: str) -> Path:
        return self.root / "patients" / hex_id(patient_id, "patient")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except LockTimeout as exc:
            raise StorageError("the data folder is busy (lock timeout)") from exc
        except OSError as exc:
            raise StorageError(f"cannot write to the data folder: {exc.strerror or exc}") from exc

    def _patient_change(self, patient_id: str) -> Any:
        """A change of one patient's data: under the lock of their folder, audited in their audit file."""
        folder = self._patient_folder(patient_id)
        if not folder.is_dir():
            raise NotFound("patient")
        return self._change(folder, folder / "audit.jsonl")

    @contextmanager
    def _change(self, lock: Path, audit: Path) -> Iterator[_Change]:
        """One change under ``lock``: its files read once and written once, atomically, on success.

        Logged entries reach ``audit`` before the data is renamed into place (write-ahead), so no
        stored change is ever unaudited; if the data write then fails, a ``not-stored`` entry follows.
        Nothing is written if the body raises.
        """
        self._check_room()
        with self._errors(), exclusive(lock):
            change = _Change(self)
            yield change
            writes = {path: change.data[path] for path in change.dirty}
            try:
                files.commit(self.tmp, writes, self._cache, audit, change.entries)
            except OSError as exc:
                if getattr(exc, "audit_written", False):
                    try:
                        files.LogAppend(audit).append([
                            audit_entry("system", "not-stored", e["entity"], e["id"], e.get("patient"),
                                         {"action": e["action"]})
                            for e in change.entries])
                    except OSError:
                        pass  # the disk is failing; the error raised is what the user needs
                raise

    def _read(self, path: Path) -> TinyDB:
        """Lock-free: files are replaced atomically, so a reader sees a whole version."""
        return TinyDB(self._cache.read(path), storage=_Snapshot)

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            data = self._cache.read(path)
        except ValueError:
            return None  # never unreadable for good: this state can start afresh
        return data if isinstance(data, dict) else None

    def audit(self, actor: str, action: str, entity: str, entity_id: str, patient_id: str | None = None, **details: Any) -> None:
        """Append one entry to the audit trail (for events that change no data: logins, prints, exports)."""
        entry = audit_entry(actor, action, entity, entity_id, patient_id, details)

        def write() -> None:
            with self._errors(), files.LogAppend(self.root / "audit.jsonl") as log:
                log.append([entry])

        if action in ESSENTIAL_EVENTS:
            self._essential_write(write)
        else:
            write()

    def audit_entries(self) -> list[dict[str, Any]]:
        """The whole audit trail in the order it was written: the global file and every patient's, merged."""
        entries = files.read_lines(self.root / "audit.jsonl")
        with os.scandir(self.root / "patients") as folders:
            for folder in folders:
                if folder.is_dir(follow_symlinks=False):
                    entries += files.read_lines(Path(folder.path) / "audit.jsonl")
        entries.sort(key=audit_order)
        return entries

    # ------------------------------------------------------------------ patients

    def create_patient(self, study_code: str, actor: str, study: str | None = None) -> dict[str, Any]:
        """Register a patient: their folder is written first, the register's line last (the commit)."""
        study_code = study_code.strip()
        if not study_code:
            raise ValueError("empty study code")
        patient = {"id": new_id(), "study_code": study_code, "study": study, "created_at": now(), "created_by": actor}
        folder = self.root / "patients" / patient["id"]
        self._check_room()
        with self._errors(), files.LogAppend(self._register.path) as register:
            if study_code in self._register.records():
                raise ValueError("study code already registered")
            files.make_folder(folder)
            change = _Change(self)
            change.db(folder / "patient.json").table("patient").insert(patient)
            change.log(actor, "create", "patient", patient["id"], patient["id"], study_code=study_code, study=study)
            files.commit(self.tmp, {folder / "patient.json": change.data[folder / "patient.json"]}, self._cache,
                         folder / "audit.jsonl", change.entries)
            try:
                register.write_lines(files.dump_json(patient) + b"\n")
                register.durable()
            except OSError:
                try:
                    files.LogAppend(folder / "audit.jsonl").append([audit_entry(
                        "system", "not-stored", "patient", patient["id"], patient["id"], {"action": "create"})])
                except OSError:
                    pass
                raise
        return dict(patient)

    def list_patients(self) -> list[dict[str, Any]]:
        records = self._register.records()
        return [dict(records[code]) for code in self._register.sorted_keys()]

    def patients_page(self, search: str = "", offset: int = 0, limit: int = 50) -> PatientPage:
        """One page of patients by study code, those whose code contains ``search`` (any case).

        The register is parsed once per process (then only its new lines) and its sorted codes are
        kept until it changes, so a page reads no patient's file and sorts nothing.
        """
        records = self._register.records()
        codes = self._register.sorted_keys()
        needle = search.strip().casefold()
        if needle:
            codes = [code for code in codes if needle in code.casefold()]
        offset = max(0, offset)
        return PatientPage([dict(records[code]) for code in codes[offset:offset + max(0, limit)]], len(codes))

    def get_patient(self, patient_id: str) -> dict[str, Any]:
        found = self._read(self._patient_folder(patient_id) / "patient.json").table("patient").get(doc_id=1)
        if found is None:
            raise NotFound("patient")
        return dict(found)

    def find_patient(self, study_code: str) -> dict[str, Any] | None:
        found = self._register.records().get(study_code.strip())
        return dict(found) if found else None

    # ------------------------------------------------------------------ visits

    def add_visit(self, patient_id: str, actor: str, *, key: str, label: dict[str, str], questionnaires: list[str],
                  due: str | None = None, clinician_forms: list[str] | None = None, **fields: Any) -> dict[str, Any]:
        created = self.add_visits(patient_id, actor, [dict(key=key, label=label, questionnaires=questionnaires,
                                                          due=due, clinician_forms=clinician_forms, **fields)],
                                  skip_existing=False)
        return created[0]

    def add_visits(self, patient_id: str, actor: str, plans: list[dict[str, Any]],
                   skip_existing: bool = True) -> list[dict[str, Any]]:
        """Create several visits in one transaction: all of them are stored, or none (a whole study schedule).

        Each plan has ``key``, ``label``, ``questionnaires`` and optionally ``due``, ``clinician_forms`` and
        further fields (``study``, ``window_days``). A key that exists is skipped (or, with
        ``skip_existing=False``, refused with ValueError).
        """
        self.get_patient(patient_id)
        folder = self._patient_folder(patient_id)
        created = []
        with self._patient_change(patient_id) as change:
            table = change.db(folder / "patient.json").table("visits")
            existing = {v["key"] for v in table.all()}
            for visit, details in planned_visits(patient_id, actor, plans, existing, skip_existing):
                table.insert(visit)
                change.log(actor, "create", "visit", visit["id"], patient_id, **details)
                created.append(visit)
        return _copy(created)

    def update_visit(self, patient_id: str, visit_id: str, actor: str, **fields: Any) -> dict[str, Any]:
        folder = self._patient_folder(patient_id)
        with self._patient_change(patient_id) as change:
            table = change.db(folder / "patient.json").table("visits")
            if not table.contains(Query().id == visit_id):
                raise NotFound("visit")
            table.update(fields, Query().id == visit_id)
            visit = _copy(dict(table.get(Query().id == visit_id)))
            change.log(actor, "update", "visit", visit_id, patient_id, **fields)
        return visit

    def list_visits(self, patient_id: str) -> list[dict[str, Any]]:
        visits = self._read(self._patient_folder(patient_id) / "patient.json").table("visits").all()
        return sorted((_copy(dict(v)) for v in visits), key=lambda v: (v.get("due") or "", v["created_at"]))

    def get_visit(self, patient_id: str, visit_id: str) -> dict[str, Any]:
        found = self._read(self._patient_folder(patient_id) / "patient.json").table("visits").get(
            Query().id == visit_id)
        if found is None:
            raise NotFound("visit")
        return _copy(dict(found))

    # ------------------------------------------------------------------ responses

    def _response_file(self, patient_id: str, response_id: str) -> Path:
        return self._patient_folder(patient_id) / f"response-{hex_id(response_id, 'response')}.json"

    def _visit_file(self, patient_id: str, visit_id: str) -> Path:
        return self._patient_folder(patient_id) / f"visit-{hex_id(visit_id, 'visit')}.json"

    def save_definition(self, questionnaire: Any) -> None:
        """Keep the exact definition a response was answered against, once per hash."""
        name = questionnaire.definition_hash.split(":")[-1] + ".json"
        if name in self._definitions:
            return
        path = self.root / "definitions" / name
        if not path.exists():
            self._check_room()
            data = {"id": questionnaire.id, "version": questionnaire.version, "hash": questionnaire.definition_hash,
                    "definition": questionnaire.model_dump(mode="json", by_alias=True)}
            with self._errors():
                files.commit(self.tmp, {path: data})  # the same bytes whoever writes them: no lock needed
        self._definitions.add(name)

    def start_response(self, patient_id: str, visit_id: str, questionnaire: Any, actor: str,
                       language: str) -> dict[str, Any]:
        """The response of this visit to this questionnaire, created once: never a duplicate.

        The visit's file names the response before the response's own file exists (both renamed in
        that order), so a crash between them leaves a name whose file is made on the next start.
        """
        self.save_definition(questionnaire)
        folder = self._patient_folder(patient_id)
        visit_file = self._visit_file(patient_id, visit_id)
        q = Query()
        with self._patient_change(patient_id) as change:
            if not change.db(folder / "patient.json").table("visits").contains(q.id == visit_id):
                raise NotFound("visit")
            index = change.db(visit_file).table("responses")
            named = index.get(q.questionnaire == questionnaire.id)
            if named is not None:
                existing = change.db(self._response_file(patient_id, named["id"])).table("response").get(doc_id=1)
                if existing is not None:
                    return _copy(dict(existing))
                response_id = named["id"]
            else:
                response_id = new_id()
                index.insert({"questionnaire": questionnaire.id, "id": response_id})
            response = {
                "id": response_id, "patient": patient_id, "visit": visit_id,
                "questionnaire": questionnaire.id, "version": questionnaire.version,
                "definition_hash": questionnaire.definition_hash,
                "status": "in_progress", "answers": {}, "item_meta": {}, "page": 0,
                "language": language, "started_at": now(), "updated_at": now(), "completed_at": None,
                "started_by": actor, "revision": 0, "stamp": [0, 0],
            }
            change.db(self._response_file(patient_id, response_id)).table("response").insert(response)
            change.log(actor, "create", "response", response["id"], patient_id,
                       questionnaire=questionnaire.id, version=questionnaire.version, hash=questionnaire.definition_hash)
        return _copy(response)

    def save_answers(self, patient_id: str, response_id: str, actor: str, answers: dict[str, Any],
                     item_meta: dict[str, Any] | None = None, page: int | None = None,
                     language: str | None = None, allow_completed: bool = False,
                     stamp: Stamp | None = None) -> dict[str, Any]:
        """Merge one page of answers into a response; ``None`` clears an answer.

        Every save raises the response's ``revision``. A save with a ``stamp`` is refused with
        ``StaleWrite`` unless the stamp is newer than the one stored: an autosave that arrives after
        the page's Next, or a page shown before another save, never overwrites newer answers.
        A save without a stamp (the server's own) makes every page shown before it stale.
        """
        path = self._response_file(patient_id, response_id)
        with self._patient_change(patient_id) as change:
            responses = change.db(path).table("response")
            current = responses.get(doc_id=1)
            if current is None:
                raise NotFound("response")
            update, changes = answers_saved(current, answers, item_meta, page, language, allow_completed, stamp)
            responses.update(update, doc_ids=[1])
            result = _copy(dict(responses.get(doc_id=1)))
            if changes:
                change.log(actor, "update", "response", response_id, patient_id, answers=changes)
        return result

    def complete_response(self, patient_id: str, response_id: str, actor: str, *,
                          expected_revision: int | None = None, drop: list[str] | tuple[str, ...] = ()
                          ) -> tuple[dict[str, Any], bool]:
        """Mark a response complete. Returns it and whether this call completed it (a double submit does not).

        ``expected_revision``: the revision the person checked (the review page); if the answers changed
        since, ``StaleWrite``. ``drop``: answers that skip logic hides, cleared in the same transaction.
        """
        path = self._response_file(patient_id, response_id)
        with self._patient_change(patient_id) as change:
            responses = change.db(path).table("response")
            current = responses.get(doc_id=1)
            if current is None:
                raise NotFound("response")
            if current["status"] == "completed":
                return _copy(dict(current)), False
            update, dropped = response_completed(current, actor, expected_revision, drop)
            responses.update(update, doc_ids=[1])
            result = _copy(dict(responses.get(doc_id=1)))
            if dropped:
                change.log(actor, "update", "response", response_id, patient_id, answers=dropped)
            change.log(actor, "complete", "response", response_id, patient_id, questionnaire=result["questionnaire"])
        return result, True

    def get_response(self, patient_id: str, response_id: str) -> dict[str, Any]:
        found = self._read(self._response_file(patient_id, response_id)).table("response").get(doc_id=1)
        if found is None:
            raise NotFound("response")
        return _copy(dict(found))

    def list_responses(self, patient_id: str, visit_id: str | None = None) -> list[dict[str, Any]]:
        """The patient's responses (of one visit), oldest first: reads only the files it returns."""
        folder = self._patient_folder(patient_id)
        if visit_id is None:
            try:
                with os.scandir(folder) as entries:
                    paths = [Path(e.path) for e in entries if e.name.startswith("response-") and e.name.endswith(".json")]
            except FileNotFoundError:
                paths = []
        else:
            try:
                index = self._read(self._visit_file(patient_id, visit_id)).table("responses").all()
            except NotFound:
                return []
            paths = [self._response_file(patient_id, named["id"]) for named in index]
        found = (self._read(path).table("response").get(doc_id=1) for path in paths)
        return sorted((_copy(dict(r)) for r in found if r is not None), key=lambda r: r["started_at"])

    def response_count(self) -> int:
        """How many responses are stored (their files counted, none read)."""
        count = 0
        with os.scandir(self.root / "patients") as folders:
            for folder in folders:
                if folder.is_dir(follow_symlinks=False):
                    with os.scandir(folder.path) as entries:
                        count += sum(1 for e in entries if e.name.startswith("response-") and e.name.endswith(".json"))
        return count

    def answered(self) -> Iterator[Answered]:
        """Every response with its patient and visit, one at a time: read past the cache, so an export
        of the whole registry neither fills this process's memory nor pushes out what the tablets use."""
        records = self._register.records()
        for code in self._register.sorted_keys():
            patient = dict(records[code])
            folder = self._patient_folder(patient["id"])
            patient_file = files.read_json(folder / "patient.json") or {}
            visits = sorted((v for _n, v in _documents(patient_file, "visits")),
                            key=lambda v: (v.get("due") or "", v["created_at"]))
            for visit in visits:
                index = files.read_json(self._visit_file(patient["id"], visit["id"])) or {}
                found = []
                for _n, named in _documents(index, "responses"):
                    stored = files.read_json(self._response_file(patient["id"], named["id"])) or {}
                    found += [r for n, r in _documents(stored, "response") if n == "1"]
                for response in sorted(found, key=lambda r: r["started_at"]):
                    yield Answered(patient, visit, response)

    def definition_snapshot(self, definition_hash: str) -> dict[str, Any] | None:
        path = self.root / "definitions" / (definition_hash.split(":")[-1] + ".json")
        return _copy(self._cache.read(path))

    def definition_snapshots(self) -> list[dict[str, Any]]:
        """Every stored definition (``{id, version, hash, definition}``): what version checks compare against."""
        found = (self._cache.read(path) for path in sorted((self.root / "definitions").glob("*.json")))
        return [_copy(snapshot) for snapshot in found if snapshot]

    # ------------------------------------------------------------------ staff users

    def _users_change(self) -> Any:
        return self._change(self.root / "users.lock", self.root / "audit.jsonl")

    def create_user(self, username: str, password_hash: str, role: str, actor: str, display_name: str = "") -> dict[str, Any]:
        user = {"id": new_id(), "username": username, "password_hash": password_hash, "role": role,
                "display_name": display_name or username, "active": True, "created_at": now()}
        with self._users_change() as change:
            table = change.db(self.root / "users.json").table("users")
            if table.contains(Query().username == username):
                raise ValueError("username already exists")
            table.insert(user)
            change.log(actor, "create", "user", user["id"], username=username, role=role)
        return user

    def update_user(self, username: str, actor: str, **fields: Any) -> None:
        with self._users_change() as change:
            table = change.db(self.root / "users.json").table("users")
            if not table.contains(Query().username == username):
                raise NotFound("user")
            table.update(fields, Query().username == username)
            change.log(actor, "update", "user", username,
                       **{k: ("***" if k == "password_hash" else v) for k, v in fields.items()})

    def get_user(self, username: str) -> dict[str, Any] | None:
        found = self._read(self.root / "users.json").table("users").get(Query().username == username)
        return _copy(dict(found)) if found else None

    def list_users(self) -> list[dict[str, Any]]:
        return [_copy(dict(u)) for u in self._read(self.root / "users.json").table("users").all()]

    # ------------------------------------------------------------------ small records: one file per key

    def _record_path(self, folder: str, digest: str) -> Path:
        return self.root / folder / f"{digest}.json"

    @contextmanager
    def _record_locks(self, folder: str, digests: list[str]) -> Iterator[None]:
        """The locks of some records of ``folder``: 16 lock files, each shared by the keys that start alike."""
        stripes = sorted({d[0] for d in digests})  # always taken in the same order: no deadlock
        with self._errors():
            held = []
            try:
                for stripe in stripes:
                    lock = exclusive(self.root / folder / f".lock-{stripe}")
                    lock.__enter__()
                    held.append(lock)
                yield
            finally:
                for lock in reversed(held):
                    lock.__exit__(None, None, None)

    def _write_records(self, folder: str, records: dict[str, dict[str, Any]]) -> None:
        with self._errors():
            files.commit(self.tmp, {self._record_path(folder, d): r for d, r in records.items()}, self._cache)

    def _remove_record(self, folder: str, digest: str) -> None:
        path = self._record_path(folder, digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        self._cache.drop(path)
        files.fsync_dir(path.parent)

    def _prune(self, folder: str, older_than: float) -> None:
        """Remove the records of ``folder`` not written for ``older_than`` seconds (at most once a minute)."""
        at = time.time()
        with self._prune_mutex:
            if at - self._pruned.get(folder, 0.0) < PRUNE_EVERY:
                return
            self._pruned[folder] = at
        try:
            with os.scandir(self.root / folder) as entries:
                stale = [e.name[:-5] for e in entries
                         if e.name.endswith(".json") and at - e.stat().st_mtime > older_than]
        except OSError:
            return
        for digest in stale:
            try:
                with self._record_locks(folder, [digest]):
                    path = self._record_path(folder, digest)
                    if at - path.stat().st_mtime > older_than:
                        self._remove_record(folder, digest)
            except (OSError, StorageError):
                continue

    # ------------------------------------------------------------------ sessions

    def open_session(self, **record: Any) -> str:
        """Start a server-side session (a staff login, a handed-over tablet); returns its secret id.

        The cookie carries only the id; the store keeps a digest of it as the file's name, so the
        folder does not hold working session ids.
        """
        sid = secrets.token_urlsafe(32)
        at = time.time()
        self._prune("sessions", SESSION_RECORDS_KEPT)
        self._essential_write(lambda: self._write_records(
            "sessions", {_digest(sid): {**record, "started": at, "seen": at, "ended": None}}))
        return sid

    def session(self, sid: str | None) -> dict[str, Any] | None:
        """The session's record, or None if there is none (ended sessions keep their record, with ``ended``)."""
        if not sid or not isinstance(sid, str):
            return None
        found = self._read_json(self._record_path("sessions", _digest(sid)))
        return _copy(found) if found else None

    def _change_session(self, sid: str, edit: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        digest = _digest(sid)

        def write() -> dict[str, Any] | None:
            with self._record_locks("sessions", [digest]):
                record = self._read_json(self._record_path("sessions", digest))
                if record is None or record.get("ended"):
                    return None
                record = _copy(record)
                if edit(record):
                    self._write_records("sessions", {digest: record})
                return _copy(record)

        return self._essential_write(write)

    def update_session(self, sid: str, **fields: Any) -> dict[str, Any] | None:
        """Change a live session (``seen``, a tablet's ``locked``); an ended one stays ended."""
        return self._change_session(sid, lambda record: record.update(fields) or True)

    def end_session(self, sid: str | None, reason: str) -> None:
        """Revoke a session for good: its cookie is worth nothing from now on, replayed or not."""
        if sid:
            self._change_session(sid, lambda record: record.update(ended=time.time(), end_reason=reason) or True)

    # ------------------------------------------------------------------ login throttle

    def login_failures(self, keys: list[str], window: float) -> dict[str, int]:
        """Failed logins within the last ``window`` seconds, per key (``user:<name>``, ``client:<address>``)."""
        cutoff = time.time() - window
        counts = {}
        for key in keys:
            found = self._read_json(self._record_path("throttle", _digest(key))) or {}
            counts[key] = sum(1 for at in found.get("at", []) if at > cutoff)
        return counts

    def record_login_failure(self, keys: list[str], window: float) -> None:
        at = time.time()
        digests = {_digest(key): key for key in keys}
        self._prune("throttle", window)

        def write() -> None:
            with self._record_locks("throttle", list(digests)):
                records = {}
                for digest in digests:
                    found = self._read_json(self._record_path("throttle", digest)) or {}
                    records[digest] = {"at": [t for t in found.get("at", []) if t > at - window] + [at]}
                self._write_records("throttle", records)

        self._essential_write(write)

    def clear_login_failures(self, keys: list[str]) -> None:
        digests = [d for d in map(_digest, keys) if self._record_path("throttle", d).exists()]
        if digests:
            with self._record_locks("throttle", digests), self._errors():
                for digest in digests:
                    self._remove_record("throttle", digest)

    # ------------------------------------------------------------------ drafts

    def put_draft(self, owner: str, key: str, fields: list[tuple[str, str]]) -> None:
        """Keep a form someone posted but could not save (their session had expired) until they are back."""
        digest = _digest(f"{owner}\n{key}")
        self._prune("drafts", DRAFTS_KEPT)
        with self._record_locks("drafts", [digest]):
            self._write_records("drafts", {digest: {"at": time.time(), "fields": [list(f) for f in fields]}})

    def take_draft(self, owner: str, key: str) -> list[tuple[str, str]] | None:
        """The draft ``owner`` left at ``key`` (removed from the store), or None."""
        digest = _digest(f"{owner}\n{key}")
        if not self._record_path("drafts", digest).exists():
            return None
        with self._record_locks("drafts", [digest]), self._errors():
            found = self._read_json(self._record_path("drafts", digest))
            self._remove_record("drafts", digest)
        if found is None or time.time() - found["at"] > DRAFTS_KEPT:
            return None
        return [(str(k), str(v)) for k, v in found["fields"]]

    # ------------------------------------------------------------------ the session signing key

    def secret_key(self) -> str:
        """The key that signs session cookies: generated once and kept in the data folder for every process.

        Several processes may start at once on an empty folder, and one may crash mid-write: the key is
        written to a temporary file, fsynced and renamed into place under a lock, so every process reads
        the same whole key; an empty file (an older version's crash) counts as missing.
        """
        path = self.root / "secret_key"
        key = _read_key(path)
        if key:
            return key
        with self._errors(), exclusive(self.root / "secret_key.lock"):
            key = _read_key(path)
            if not key:
                tmp = self.tmp / f"secret_key.{new_id()}.tmp"
                try:
                    with open(tmp, "x", encoding="ascii", opener=files.private) as fh:
                        fh.write(secrets.token_hex(32))
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, path)  # over an empty file too
                    files.fsync_dir(self.root)
                finally:
                    tmp.unlink(missing_ok=True)
                key = _read_key(path)
        return key

    # ------------------------------------------------------------------ moving data between stores

    def is_empty(self) -> bool:
        """No patient and no staff account: a store that ``pro-app db copy`` may fill."""
        return not self._register.records() and not self.list_users()

    def audit_batches(self) -> Iterator[list[dict[str, Any]]]:
        """The audit trail one file at a time (the global file, then each patient's): each entry keeps its ``seq``."""
        yield files.read_lines(self.root / "audit.jsonl")
        with os.scandir(self.root / "patients") as folders:
            names = sorted(f.name for f in folders if f.is_dir(follow_symlinks=False))
        for name in names:
            yield files.read_lines(self.root / "patients" / name / "audit.jsonl")

    def import_users(self, users: Iterable[dict[str, Any]]) -> None:
        with self._users_change() as change:
            table = change.db(self.root / "users.json").table("users")
            for user in users:
                if table.contains(Query().username == user["username"]):
                    raise ValueError(f"user {user['username']} already exists")
                table.insert(_copy(user))

    def import_definitions(self, snapshots: Iterable[dict[str, Any]]) -> None:
        with self._errors():
            for snapshot in snapshots:
                path = self.root / "definitions" / (str(snapshot["hash"]).split(":")[-1] + ".json")
                if not path.exists():
                    files.commit(self.tmp, {path: snapshot})

    def import_patient(self, patient: dict[str, Any], visits: list[dict[str, Any]],
                       responses: list[dict[str, Any]]) -> None:
        """A patient with their visits and responses exactly as another store holds them (ids, times, stamps)."""
        folder = self._patient_folder(patient["id"])
        self._check_room()
        with self._errors(), files.LogAppend(self._register.path) as register:
            if patient["study_code"] in self._register.records() or folder.exists():
                raise ValueError(f"patient {patient['study_code']} already exists")
            files.make_folder(folder)
            writes: dict[Path, Any] = {}
            by_visit: dict[str, dict[str, Any]] = {}
            for n, response in enumerate(sorted(responses, key=lambda r: r["started_at"]), 1):
                writes[self._response_file(patient["id"], response["id"])] = {"response": {"1": response}}
                named = by_visit.setdefault(response["visit"], {})
                named[str(len(named) + 1)] = {"questionnaire": response["questionnaire"], "id": response["id"]}
            for visit_id, named in by_visit.items():
                writes[self._visit_file(patient["id"], visit_id)] = {"responses": named}
            writes[folder / "patient.json"] = {"patient": {"1": patient},
                                               "visits": {str(n): v for n, v in enumerate(visits, 1)}}
            files.commit(self.tmp, writes, self._cache)
            register.write_lines(files.dump_json(patient) + b"\n")
            register.durable()

    def import_audit(self, entries: list[dict[str, Any]]) -> None:
        """Entries as they are (``seq`` kept): a patient's in their audit file, the others in the global one."""
        by_file: dict[Path, list[dict[str, Any]]] = {}
        for entry in entries:
            folder = self.root / "patients" / str(entry.get("patient") or "-")
            target = folder / "audit.jsonl" if entry.get("patient") and folder.is_dir() else self.root / "audit.jsonl"
            by_file.setdefault(target, []).append(entry)
        with self._errors():
            for path, batch in by_file.items():
                text = b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
                                + b"\n" for e in sorted(batch, key=audit_order))
                with files.LogAppend(path) as log:
                    log.write_lines(text)
                    log.durable()

    def close(self) -> None:
        """Nothing to let go of: every file is closed after each read and write."""


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""
