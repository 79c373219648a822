"""The only module that touches TinyDB: durable, locked, partitioned storage.

Layout of the data folder (``PRO_APP_DATA_DIR``)::

    index.json              patients (pseudonymous study code -> patient id): small
    users.json              staff accounts
    patients/<id>.json      one TinyDB file per patient: visits and responses
    definitions/<hash>.json every questionnaire definition a response was answered against
    audit.jsonl             append-only audit trail: who, when, what

Why it is built this way:

* TinyDB rewrites a whole file on every write, so data is partitioned per patient:
  saving an answer costs the size of one patient's file, not of the whole clinic.
* Every write happens under a file lock (``filelock``, an OS-level lock), so several
  threads and several server processes can write at once without losing an update.
* A write goes to a temporary file that is fsynced and then atomically renamed over
  the old one: a crash mid-write leaves the previous state readable. Readers never
  lock: a rename is atomic, so they see either the old or the new file.
* Each transaction reads the file once and writes it once (TinyDB's
  CachingMiddleware), and writes nothing if it raises.
* The audit entry of a change is appended (and fsynced) before the change is written,
  so a crash between the two leaves an audited change that was not stored, never a
  stored change without its audit entry.
"""
from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

__all__ = [
    "Store",
    "StorageError",
    "NotFound",
    "AlreadyCompleted",
    "AtomicJSONStorage",
    "now",
]

LOCK_TIMEOUT = 30.0


class StorageError(Exception):
    """The data folder could not be written (full disk, read-only, lock timeout)."""


class NotFound(LookupError):
    pass


class AlreadyCompleted(Exception):
    """A completed response is final: its answers cannot change from the tablet."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex


def _audit_entry(actor: str, action: str, entity: str, entity_id: str, patient_id: str | None,
                 details: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": now(), "actor": actor, "action": action, "entity": entity, "id": entity_id}
    if patient_id:
        entry["patient"] = patient_id
    if details:
        entry["details"] = details
    return entry


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces its file atomically and durably on every write."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text) if text.strip() else None

    def write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except BaseException:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise

    def close(self) -> None:
        pass


class _Transaction(CachingMiddleware):
    # Never flush on a count of writes: only once, when the transaction commits.
    WRITE_CACHE_SIZE = 1 << 30


class Store:
    """Patients, visits, responses, users and the audit trail in one data folder."""

    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir)
        try:
            for sub in ("patients", "definitions"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create data folder {self.root}: {exc.strerror}") from exc
        self._remove_orphaned_temporaries()

    def _remove_orphaned_temporaries(self) -> None:
        """Delete temporary files of writers that died mid-write (their process is gone)."""
        for folder in (self.root, self.root / "patients", self.root / "definitions"):
            for tmp in folder.glob(".*.tmp"):
                try:
                    pid = int(tmp.name.rsplit(".", 3)[1])
                except (IndexError, ValueError):
                    continue
                if pid != os.getpid() and not _process_alive(pid):
                    try:
                        tmp.unlink()
                    except OSError:
                        pass

    # ------------------------------------------------------------------ plumbing

    def _patient_file(self, patient_id: str) -> Path:
        if not patient_id or not all(c in "0123456789abcdef" for c in patient_id):
            raise NotFound("patient")
        return self.root / "patients" / f"{patient_id}.json"

    @contextmanager
    def _transaction(self, path: Path) -> Iterator[tuple[TinyDB, Callable[..., None]]]:
        """Read once under the file's lock, write once atomically on success.

        Yields the database and ``log(actor, action, entity, id, patient, **details)``. Logged
        entries reach the audit trail before the data is written (write-ahead), so no stored
        change is ever unaudited; if the data write then fails, a ``not-stored`` entry follows.
        """
        entries: list[dict[str, Any]] = []

        def log(actor: str, action: str, entity: str, entity_id: str, patient_id: str | None = None,
                **details: Any) -> None:
            entries.append(_audit_entry(actor, action, entity, entity_id, patient_id, details))

        try:
            with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT):
                db = TinyDB(path, storage=_Transaction(AtomicJSONStorage))
                yield db, log
                self._append_audit(entries)
                try:
                    db.close()  # flushes, only if something changed
                except OSError:
                    try:
                        self._append_audit([
                            _audit_entry("system", "not-stored", e["entity"], e["id"], e.get("patient"), {"action": e["action"]})
                            for e in entries
                        ])
                    except StorageError:
                        pass  # the disk is failing; the error below is what the user needs
                    raise
        except Timeout as exc:
            raise StorageError("the data folder is busy (lock timeout)") from exc
        except OSError as exc:
            raise StorageError(f"cannot write to the data folder: {exc.strerror or exc}") from exc

    def _read(self, path: Path) -> TinyDB:
        # No lock: files are replaced atomically, so a reader sees a whole version.
        return TinyDB(path, storage=AtomicJSONStorage)

    def audit(self, actor: str, action: str, entity: str, entity_id: str, patient_id: str | None = None, **details: Any) -> None:
        """Append one entry to the audit trail (for events that change no data: logins, prints, exports)."""
        self._append_audit([_audit_entry(actor, action, entity, entity_id, patient_id, details)])

    def _append_audit(self, entries: list[dict[str, Any]]) -> None:
        """The audit file is only ever appended to, under its own lock, and fsynced."""
        if not entries:
            return
        text = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"), default=str) + "\n" for e in entries)
        path = self.root / "audit.jsonl"
        try:
            with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT):
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
        except (OSError, Timeout) as exc:
            raise StorageError(f"cannot write the audit trail: {exc}") from exc

    def audit_entries(self) -> list[dict[str, Any]]:
        path = self.root / "audit.jsonl"
        if not path.exists():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a torn last line from a crash mid-append
        return entries

    # ------------------------------------------------------------------ patients

    def create_patient(self, study_code: str, actor: str, study: str | None = None) -> dict[str, Any]:
        study_code = study_code.strip()
        if not study_code:
            raise ValueError("empty study code")
        patient = {"id": new_id(), "study_code": study_code, "study": study, "created_at": now(), "created_by": actor}
        with self._transaction(self.root / "index.json") as (db, log):
            table = db.table("patients")
            if table.contains(Query().study_code == study_code):
                raise ValueError("study code already registered")
            table.insert(patient)
            log(actor, "create", "patient", patient["id"], patient["id"], study_code=study_code, study=study)
        return patient

    def list_patients(self) -> list[dict[str, Any]]:
        return sorted(self._read(self.root / "index.json").table("patients").all(), key=lambda p: p["study_code"])

    def get_patient(self, patient_id: str) -> dict[str, Any]:
        found = self._read(self.root / "index.json").table("patients").get(Query().id == patient_id)
        if found is None:
            raise NotFound("patient")
        return dict(found)

    def find_patient(self, study_code: str) -> dict[str, Any] | None:
        found = self._read(self.root / "index.json").table("patients").get(Query().study_code == study_code.strip())
        return dict(found) if found else None

    # ------------------------------------------------------------------ visits

    def add_visit(self, patient_id: str, actor: str, *, key: str, label: dict[str, str], questionnaires: list[str],
                  due: str | None = None, clinician_forms: list[str] | None = None) -> dict[str, Any]:
        self.get_patient(patient_id)
        visit = {
            "id": new_id(), "patient": patient_id, "key": key, "label": label, "due": due,
            "questionnaires": list(questionnaires), "clinician_forms": list(clinician_forms or []),
            "created_at": now(), "created_by": actor, "date": None,
        }
        with self._transaction(self._patient_file(patient_id)) as (db, log):
            if db.table("visits").contains(Query().key == key):
                raise ValueError(f"visit '{key}' already exists for this patient")
            db.table("visits").insert(visit)
            log(actor, "create", "visit", visit["id"], patient_id, key=key, questionnaires=questionnaires)
        return visit

    def update_visit(self, patient_id: str, visit_id: str, actor: str, **fields: Any) -> dict[str, Any]:
        with self._transaction(self._patient_file(patient_id)) as (db, log):
            table = db.table("visits")
            if not table.contains(Query().id == visit_id):
                raise NotFound("visit")
            table.update(fields, Query().id == visit_id)
            visit = dict(table.get(Query().id == visit_id))
            log(actor, "update", "visit", visit_id, patient_id, **fields)
        return visit

    def list_visits(self, patient_id: str) -> list[dict[str, Any]]:
        visits = self._read(self._patient_file(patient_id)).table("visits").all()
        return sorted((dict(v) for v in visits), key=lambda v: (v.get("due") or "", v["created_at"]))

    def get_visit(self, patient_id: str, visit_id: str) -> dict[str, Any]:
        found = self._read(self._patient_file(patient_id)).table("visits").get(Query().id == visit_id)
        if found is None:
            raise NotFound("visit")
        return dict(found)

    # ------------------------------------------------------------------ responses

    def save_definition(self, questionnaire: Any) -> None:
        """Keep the exact definition a response was answered against, once per hash."""
        name = questionnaire.definition_hash.split(":")[-1] + ".json"
        path = self.root / "definitions" / name
        if path.exists():
            return
        try:
            AtomicJSONStorage(path).write(
                {"id": questionnaire.id, "version": questionnaire.version, "hash": questionnaire.definition_hash,
                 "definition": questionnaire.model_dump(mode="json", by_alias=True)}
            )
        except OSError as exc:
            raise StorageError(f"cannot write to the data folder: {exc.strerror}") from exc

    def start_response(self, patient_id: str, visit_id: str, questionnaire: Any, actor: str,
                       language: str) -> dict[str, Any]:
        """The response of this visit to this questionnaire, created once: never a duplicate."""
        self.save_definition(questionnaire)
        q = Query()
        with self._transaction(self._patient_file(patient_id)) as (db, log):
            if not db.table("visits").contains(q.id == visit_id):
                raise NotFound("visit")
            responses = db.table("responses")
            existing = responses.get((q.visit == visit_id) & (q.questionnaire == questionnaire.id))
            if existing is not None:
                return dict(existing)
            response = {
                "id": new_id(), "patient": patient_id, "visit": visit_id,
                "questionnaire": questionnaire.id, "version": questionnaire.version,
                "definition_hash": questionnaire.definition_hash,
                "status": "in_progress", "answers": {}, "item_meta": {}, "page": 0,
                "language": language, "started_at": now(), "updated_at": now(), "completed_at": None,
                "started_by": actor,
            }
            responses.insert(response)
            log(actor, "create", "response", response["id"], patient_id,
                questionnaire=questionnaire.id, version=questionnaire.version, hash=questionnaire.definition_hash)
        return response

    def save_answers(self, patient_id: str, response_id: str, actor: str, answers: dict[str, Any],
                     item_meta: dict[str, Any] | None = None, page: int | None = None,
                     language: str | None = None, allow_completed: bool = False) -> dict[str, Any]:
        """Merge one page of answers into a response; ``None`` clears an answer."""
        q = Query()
        with self._transaction(self._patient_file(patient_id)) as (db, log):
            responses = db.table("responses")
            current = responses.get(q.id == response_id)
            if current is None:
                raise NotFound("response")
            if current["status"] == "completed" and not allow_completed:
                raise AlreadyCompleted(response_id)
            merged = dict(current["answers"])
            changes = {}
            for key, value in answers.items():
                if merged.get(key) != value:
                    changes[key] = {"from": merged.get(key), "to": value}
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            meta = dict(current.get("item_meta") or {})
            meta.update(item_meta or {})
            update = {"answers": merged, "item_meta": meta, "updated_at": now()}
            if page is not None:
                update["page"] = page
            if language:
                update["language"] = language
            responses.update(update, q.id == response_id)
            result = dict(responses.get(q.id == response_id))
            if changes:
                log(actor, "update", "response", response_id, patient_id, answers=changes)
        return result

    def complete_response(self, patient_id: str, response_id: str, actor: str) -> tuple[dict[str, Any], bool]:
        """Mark a response complete. Returns it and whether this call completed it (a double submit does not)."""
        q = Query()
        with self._transaction(self._patient_file(patient_id)) as (db, log):
            responses = db.table("responses")
            current = responses.get(q.id == response_id)
            if current is None:
                raise NotFound("response")
            if current["status"] == "completed":
                return dict(current), False
            responses.update({"status": "completed", "completed_at": now(), "completed_by": actor}, q.id == response_id)
            result = dict(responses.get(q.id == response_id))
            log(actor, "complete", "response", response_id, patient_id, questionnaire=result["questionnaire"])
        return result, True

    def get_response(self, patient_id: str, response_id: str) -> dict[str, Any]:
        found = self._read(self._patient_file(patient_id)).table("responses").get(Query().id == response_id)
        if found is None:
            raise NotFound("response")
        return dict(found)

    def list_responses(self, patient_id: str, visit_id: str | None = None) -> list[dict[str, Any]]:
        table = self._read(self._patient_file(patient_id)).table("responses")
        docs = table.all() if visit_id is None else table.search(Query().visit == visit_id)
        return sorted((dict(d) for d in docs), key=lambda r: r["started_at"])

    def definition_snapshot(self, definition_hash: str) -> dict[str, Any] | None:
        path = self.root / "definitions" / (definition_hash.split(":")[-1] + ".json")
        return AtomicJSONStorage(path).read()

    def definition_snapshots(self) -> list[dict[str, Any]]:
        """Every stored definition (``{id, version, hash, definition}``): what version checks compare against."""
        found = (AtomicJSONStorage(path).read() for path in sorted((self.root / "definitions").glob("*.json")))
        return [snapshot for snapshot in found if snapshot]

    # ------------------------------------------------------------------ staff users

    def create_user(self, username: str, password_hash: str, role: str, actor: str, display_name: str = "") -> dict[str, Any]:
        user = {"id": new_id(), "username": username, "password_hash": password_hash, "role": role,
                "display_name": display_name or username, "active": True, "created_at": now()}
        with self._transaction(self.root / "users.json") as (db, log):
            if db.table("users").contains(Query().username == username):
                raise ValueError("username already exists")
            db.table("users").insert(user)
            log(actor, "create", "user", user["id"], username=username, role=role)
        return user

    def update_user(self, username: str, actor: str, **fields: Any) -> None:
        with self._transaction(self.root / "users.json") as (db, log):
            if not db.table("users").contains(Query().username == username):
                raise NotFound("user")
            db.table("users").update(fields, Query().username == username)
            log(actor, "update", "user", username, **{k: ("***" if k == "password_hash" else v) for k, v in fields.items()})

    def get_user(self, username: str) -> dict[str, Any] | None:
        found = self._read(self.root / "users.json").table("users").get(Query().username == username)
        return dict(found) if found else None

    def list_users(self) -> list[dict[str, Any]]:
        return [dict(u) for u in self._read(self.root / "users.json").table("users").all()]
