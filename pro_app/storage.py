"""The only module that touches TinyDB: durable, locked, partitioned storage.

Layout of the data folder (``PRO_APP_DATA_DIR``)::

    index.json              patients (pseudonymous study code -> patient id): small
    users.json              staff accounts
    patients/<id>.json      one TinyDB file per patient: visits and responses
    definitions/<hash>.json every questionnaire definition a response was answered against
    audit.jsonl             append-only audit trail: who, when, what
    sessions.json           server-side sessions (staff logins, tablets): what a cookie is worth
    throttle.json           failed logins per user name and per client, shared by every process
    drafts.json             clinician forms posted after the staff session expired, until restored
    reserve                 space kept free for sessions and logins when the disk fills up

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
  stored change without its audit entry. A torn tail (a full disk, a crash mid-append)
  is cut before the next append, and every append and every file is read back and
  compared before it counts: a stray write into a reused file descriptor is caught.
* Every save of answers carries a stamp (the revision the page was shown at, and the
  page's own send counter); a save older than the one stored is refused (``StaleWrite``).
* Files are created 0600 and folders 0700: the data folder holds health data and password hashes.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

__all__ = [
    "Store",
    "StorageError",
    "NotFound",
    "AlreadyCompleted",
    "StaleWrite",
    "Stamp",
    "AtomicJSONStorage",
    "FILE_MODE",
    "DIR_MODE",
    "now",
]

LOCK_TIMEOUT = 30.0
FILE_MODE = 0o600
DIR_MODE = 0o700
# Space kept for sessions, logins and their audit entries when the disk fills up (see README, operations).
RESERVE_BYTES = 256 * 1024
SESSION_RECORDS_KEPT = 24 * 3600  # ended or idle sessions are pruned after a day
DRAFTS_KEPT = 12 * 3600
# Audited events that keep staff working on a full disk: they may use the reserve.
ESSENTIAL_EVENTS = frozenset({"login", "logout", "unlock", "handoff", "lock"})


class StorageError(Exception):
    """The data folder could not be written (full disk, read-only, lock timeout)."""

    @property
    def disk_full(self) -> bool:
        return _disk_full(self) or "disk is full" in str(self)


class NotFound(LookupError):
    pass


class AlreadyCompleted(Exception):
    """A completed response is final: its answers cannot change from the tablet."""


class StaleWrite(Exception):
    """A save older than what the store holds (an autosave overtaken by Next, a stale tab): refused."""


class Stamp(NamedTuple):
    """Orders the saves of a response: the revision the page was shown at, then the page's own send counter."""

    revision: int
    seq: int


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


def _private(path: str, flags: int) -> int:
    """``open(..., opener=_private)``: a new file is readable by the app's user only."""
    return os.open(path, flags, FILE_MODE)


def _lock(path: Path, timeout: float = LOCK_TIMEOUT) -> FileLock:
    return FileLock(str(path) + ".lock", timeout=timeout, mode=FILE_MODE)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces its file atomically and durably on every write.

    The temporary file is read back and compared before the rename: bytes that are not the
    ones written (a stray write into a reused file descriptor) never replace a good file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text) if text.strip() else None

    def write(self, data: dict[str, Any]) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        for attempt in (1, 2):
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            try:
                with open(tmp, "x", encoding="utf-8", opener=_private) as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                with open(tmp, encoding="utf-8") as fh:
                    intact = fh.read() == text
                if intact:
                    os.replace(tmp, self.path)
                    _fsync_dir(self.path.parent)
                    return
                tmp.unlink()
            except BaseException:
                try:
                    tmp.unlink()
                except OSError:
                    pass
                raise
        raise OSError(errno.EIO, f"{self.path.name}: the written file did not read back as written")

    def close(self) -> None:
        pass


class _Transaction(CachingMiddleware):
    # Never flush on a count of writes: only once, when the transaction commits.
    WRITE_CACHE_SIZE = 1 << 30


def _disk_full(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        exc = exc.__cause__
    return False


def _cut_torn_tail(fh: Any) -> int:
    """Cut what follows the audit file's last newline (a torn entry, a stray byte); return the new end."""
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return 0
    fh.seek(end - 1)
    if fh.read(1) == b"\n":
        return end
    position = end
    while position > 0:
        start = max(0, position - 65536)
        fh.seek(start)
        block = fh.read(position - start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            position = start + newline + 1
            break
        position = start
    fh.truncate(position)
    fh.flush()
    os.fsync(fh.fileno())
    return position


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Store:
    """Patients, visits, responses, users, sessions and the audit trail in one data folder."""

    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir)
        try:
            for folder in (self.root, self.root / "patients", self.root / "definitions"):
                folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                os.chmod(folder, DIR_MODE)
        except OSError as exc:
            raise StorageError(f"cannot create data folder {self.root}: {exc.strerror}") from exc
        self._tighten_modes()
        self._remove_orphaned_temporaries()
        self._keep_reserve()

    def _tighten_modes(self) -> None:
        """Files written by an older version (0644) become 0600."""
        for folder in (self.root, self.root / "patients", self.root / "definitions"):
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_file(follow_symlinks=False) and entry.stat().st_mode & 0o077:
                            os.chmod(entry.path, FILE_MODE)
                    except OSError:
                        pass

    def _remove_orphaned_temporaries(self) -> None:
        """Delete temporary files of writers that died mid-write.

        A writer holds its file's lock for as long as its temporary file exists, so a temporary
        file whose lock can be taken now is orphaned. The writer's process id is not enough: a
        writer in another container or PID namespace sharing the folder is invisible from here.
        """
        for folder in (self.root, self.root / "patients", self.root / "definitions"):
            for tmp in folder.glob(".*.tmp"):
                parts = tmp.name[1:].rsplit(".", 3)
                if len(parts) != 4 or parts[1] == str(os.getpid()):
                    continue
                try:
                    with _lock(folder / parts[0], timeout=0):
                        tmp.unlink()
                except (Timeout, OSError):
                    continue

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
            if not _disk_full(exc) or not reserve.exists():
                raise
            reserve.unlink()
        return write()

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

        self._check_room()
        try:
            with _lock(path):
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

    @contextmanager
    def _json_file(self, name: str) -> Iterator[dict[str, Any]]:
        """A small JSON object changed under its lock and replaced atomically (sessions, throttle, drafts)."""
        path = self.root / name
        try:
            with _lock(path):
                storage = AtomicJSONStorage(path)
                try:
                    data = storage.read() or {}
                except ValueError:
                    data = {}  # never unreadable for good: this state can start afresh
                yield data
                storage.write(data)
        except Timeout as exc:
            raise StorageError("the data folder is busy (lock timeout)") from exc
        except OSError as exc:
            raise StorageError(f"cannot write to the data folder: {exc.strerror or exc}") from exc

    def _read_json(self, name: str) -> dict[str, Any]:
        try:
            return AtomicJSONStorage(self.root / name).read() or {}
        except ValueError:
            return {}

    def _read(self, path: Path) -> TinyDB:
        # No lock: files are replaced atomically, so a reader sees a whole version.
        return TinyDB(path, storage=AtomicJSONStorage)

    def audit(self, actor: str, action: str, entity: str, entity_id: str, patient_id: str | None = None, **details: Any) -> None:
        """Append one entry to the audit trail (for events that change no data: logins, prints, exports)."""
        entry = _audit_entry(actor, action, entity, entity_id, patient_id, details)
        if action in ESSENTIAL_EVENTS:
            self._essential_write(lambda: self._append_audit([entry]))
        else:
            self._append_audit([entry])

    def _append_audit(self, entries: list[dict[str, Any]]) -> None:
        """The audit file is only ever appended to, under its own lock, and fsynced.

        A torn tail (a failed or interrupted append) is cut first, so the next entry never
        glues onto it; the appended bytes are read back and must be exactly the entries.
        """
        if not entries:
            return
        text = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
                       for e in entries).encode("utf-8")
        path = self.root / "audit.jsonl"
        try:
            with _lock(path):
                with open(path, "a+b", opener=_private) as fh:
                    for attempt in (1, 2):
                        start = _cut_torn_tail(fh)
                        fh.write(text)
                        fh.flush()
                        os.fsync(fh.fileno())
                        fh.seek(start)
                        if fh.read() == text:
                            return
                        fh.truncate(start)  # not what was written: take it back and write again
                        fh.flush()
                        os.fsync(fh.fileno())
                raise OSError(errno.EIO, "the audit entry did not read back as written")
        except (OSError, Timeout) as exc:
            raise StorageError(f"cannot write the audit trail: {exc}") from exc

    def audit_entries(self) -> list[dict[str, Any]]:
        path = self.root / "audit.jsonl"
        if not path.exists():
            return []
        entries = []
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
            line = line.strip().strip("\x00")
            if line:
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
        created = []
        with self._transaction(self._patient_file(patient_id)) as (db, log):
            table = db.table("visits")
            existing = {v["key"] for v in table.all()}
            for plan in plans:
                plan = dict(plan)
                key = plan.pop("key")
                if key in existing:
                    if skip_existing:
                        continue
                    raise ValueError(f"visit '{key}' already exists for this patient")
                questionnaires = list(plan.pop("questionnaires"))
                visit = {
                    "id": new_id(), "patient": patient_id, "key": key, "label": plan.pop("label"),
                    "due": plan.pop("due", None), "questionnaires": questionnaires,
                    "clinician_forms": list(plan.pop("clinician_forms", None) or []),
                    "created_at": now(), "created_by": actor, "date": None, **plan,
                }
                table.insert(visit)
                existing.add(key)
                log(actor, "create", "visit", visit["id"], patient_id, key=key, questionnaires=questionnaires, **plan)
                created.append(visit)
        return created

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
        self._check_room()
        try:
            with _lock(path):
                if not path.exists():
                    AtomicJSONStorage(path).write(
                        {"id": questionnaire.id, "version": questionnaire.version, "hash": questionnaire.definition_hash,
                         "definition": questionnaire.model_dump(mode="json", by_alias=True)}
                    )
        except Timeout as exc:
            raise StorageError("the data folder is busy (lock timeout)") from exc
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
                "started_by": actor, "revision": 0, "stamp": [0, 0],
            }
            responses.insert(response)
            log(actor, "create", "response", response["id"], patient_id,
                questionnaire=questionnaire.id, version=questionnaire.version, hash=questionnaire.definition_hash)
        return response

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
        q = Query()
        with self._transaction(self._patient_file(patient_id)) as (db, log):
            responses = db.table("responses")
            current = responses.get(q.id == response_id)
            if current is None:
                raise NotFound("response")
            if current["status"] == "completed" and not allow_completed:
                raise AlreadyCompleted(response_id)
            revision = int(current.get("revision") or 0)
            if stamp is not None:
                stamp = Stamp(int(stamp[0]), int(stamp[1]))
                if stamp.revision > revision or stamp <= Stamp(*(current.get("stamp") or (0, 0))):
                    raise StaleWrite(response_id)
                held = list(stamp)
            else:
                held = [revision + 1, 0]
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
            update = {"answers": merged, "item_meta": meta, "updated_at": now(), "revision": revision + 1,
                      "stamp": held}
            if page is not None:
                update["page"] = page
            if language:
                update["language"] = language
            responses.update(update, q.id == response_id)
            result = dict(responses.get(q.id == response_id))
            if changes:
                log(actor, "update", "response", response_id, patient_id, answers=changes)
        return result

    def complete_response(self, patient_id: str, response_id: str, actor: str, *,
                          expected_revision: int | None = None, drop: list[str] | tuple[str, ...] = ()
                          ) -> tuple[dict[str, Any], bool]:
        """Mark a response complete. Returns it and whether this call completed it (a double submit does not).

        ``expected_revision``: the revision the person checked (the review page); if the answers changed
        since, ``StaleWrite``. ``drop``: answers that skip logic hides, cleared in the same transaction.
        """
        q = Query()
        with self._transaction(self._patient_file(patient_id)) as (db, log):
            responses = db.table("responses")
            current = responses.get(q.id == response_id)
            if current is None:
                raise NotFound("response")
            if current["status"] == "completed":
                return dict(current), False
            revision = int(current.get("revision") or 0)
            if expected_revision is not None and expected_revision != revision:
                raise StaleWrite(response_id)
            answers = dict(current["answers"])
            dropped = {aid: {"from": answers.pop(aid), "to": None} for aid in drop if aid in answers}
            responses.update({"status": "completed", "completed_at": now(), "completed_by": actor,
                              "answers": answers, "revision": revision + 1, "stamp": [revision + 1, 0]},
                             q.id == response_id)
            result = dict(responses.get(q.id == response_id))
            if dropped:
                log(actor, "update", "response", response_id, patient_id, answers=dropped)
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

    # ------------------------------------------------------------------ sessions

    def open_session(self, **record: Any) -> str:
        """Start a server-side session (a staff login, a handed-over tablet); returns its secret id.

        The cookie carries only the id; the store keeps a digest of it, so the file does not hold
        working session ids.
        """
        sid = secrets.token_urlsafe(32)
        at = time.time()

        def write() -> None:
            with self._json_file("sessions.json") as sessions:
                for key in [k for k, s in sessions.items() if at - s.get("seen", 0) > SESSION_RECORDS_KEPT]:
                    del sessions[key]
                sessions[_digest(sid)] = {**record, "started": at, "seen": at, "ended": None}

        self._essential_write(write)
        return sid

    def session(self, sid: str | None) -> dict[str, Any] | None:
        """The session's record, or None if there is none (ended sessions keep their record, with ``ended``)."""
        if not sid or not isinstance(sid, str):
            return None
        found = self._read_json("sessions.json").get(_digest(sid))
        return dict(found) if found else None

    def update_session(self, sid: str, **fields: Any) -> dict[str, Any] | None:
        """Change a live session (``seen``, a tablet's ``locked``); an ended one stays ended."""
        def write() -> dict[str, Any] | None:
            with self._json_file("sessions.json") as sessions:
                record = sessions.get(_digest(sid))
                if record is None or record.get("ended"):
                    return None
                record.update(fields)
                return dict(record)

        return self._essential_write(write)

    def end_session(self, sid: str | None, reason: str) -> None:
        """Revoke a session for good: its cookie is worth nothing from now on, replayed or not."""
        if not sid:
            return

        def write() -> None:
            with self._json_file("sessions.json") as sessions:
                record = sessions.get(_digest(sid))
                if record is not None and not record.get("ended"):
                    record["ended"] = time.time()
                    record["end_reason"] = reason

        self._essential_write(write)

    # ------------------------------------------------------------------ login throttle

    def login_failures(self, keys: list[str], window: float) -> dict[str, int]:
        """Failed logins within the last ``window`` seconds, per key (``user:<name>``, ``client:<address>``)."""
        state = self._read_json("throttle.json")
        cutoff = time.time() - window
        return {key: sum(1 for at in state.get(key, []) if at > cutoff) for key in keys}

    def record_login_failure(self, keys: list[str], window: float) -> None:
        at = time.time()

        def write() -> None:
            with self._json_file("throttle.json") as state:
                for key in list(state):
                    state[key] = [t for t in state[key] if t > at - window]
                    if not state[key]:
                        del state[key]
                for key in keys:
                    state.setdefault(key, []).append(at)

        self._essential_write(write)

    def clear_login_failures(self, keys: list[str]) -> None:
        if not any(key in self._read_json("throttle.json") for key in keys):
            return

        def write() -> None:
            with self._json_file("throttle.json") as state:
                for key in keys:
                    state.pop(key, None)

        self._essential_write(write)

    # ------------------------------------------------------------------ drafts

    def put_draft(self, owner: str, key: str, fields: list[tuple[str, str]]) -> None:
        """Keep a form someone posted but could not save (their session had expired) until they are back."""
        at = time.time()
        with self._json_file("drafts.json") as drafts:
            for name in [n for n, d in drafts.items() if at - d["at"] > DRAFTS_KEPT]:
                del drafts[name]
            drafts[_digest(f"{owner}\n{key}")] = {"at": at, "fields": [list(f) for f in fields]}

    def take_draft(self, owner: str, key: str) -> list[tuple[str, str]] | None:
        """The draft ``owner`` left at ``key`` (removed from the store), or None."""
        name = _digest(f"{owner}\n{key}")
        if name not in self._read_json("drafts.json"):
            return None
        with self._json_file("drafts.json") as drafts:
            found = drafts.pop(name, None)
        if found is None or time.time() - found["at"] > DRAFTS_KEPT:
            return None
        return [(str(k), str(v)) for k, v in found["fields"]]
