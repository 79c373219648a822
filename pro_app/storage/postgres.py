"""The PostgreSQL backend: one database behind several app servers, for a registry of many clinics.

Selected by ``PRO_APP_DATABASE_URL=postgresql://...``; the schema is plain versioned SQL in
``migrations/`` applied by ``pro-app db upgrade`` (``upgrade()`` here). Why it is built this way:

* Every change is one transaction on one connection from a pool (psycopg 3, ``psycopg_pool``),
  and its audit rows are inserted in that same transaction: a change is stored with its entries or
  not at all. The audit table refuses UPDATE, DELETE and TRUNCATE (a trigger, whoever asks).
* What must never happen twice is a constraint: one patient per study code, one visit per key,
  one response per visit and questionnaire (``INSERT ... ON CONFLICT DO NOTHING``).
* A save locks its response's row (``SELECT ... FOR UPDATE``), checks the stamp and updates
  ``WHERE revision = <what it read>``: concurrent saves from any server are ordered by the database.
* Nothing that matters for correctness is kept in a process: sessions, failed logins, drafts and
  the signing key are rows. A process keeps only what never changes (the definitions it knows are
  stored). A pool belongs to the process that opened it: a forked worker opens its own.
* The app starts only against the schema it was written for: an older one asks for
  ``pro-app db upgrade``, a newer one (a newer pro-app upgraded the database) is refused.
"""
from __future__ import annotations

import copy
import json
import os
import re
import secrets
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from .common import (Answered, NotFound, PatientPage, StaleWrite, Stamp, StorageError, answers_saved, audit_entry,
                     audit_order, digest, hex_id, new_id, now, planned_visits, response_completed)

__all__ = ["PostgresStore", "upgrade", "schema_version", "SCHEMA_VERSION", "MIGRATIONS", "redacted"]

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
UPGRADE_LOCK = 0x70726F617070  # pg_advisory_xact_lock key: one upgrade at a time ("proapp")
SESSION_RECORDS_KEPT = 24 * 3600
DRAFTS_KEPT = 12 * 3600
PRUNE_EVERY = 60.0
CONNECT_TIMEOUT = 10


def _dumps(value: Any) -> str:
    # NaN and Infinity are not JSON: refused here, in Python, rather than in an error message that quotes the data.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _json(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_dumps)


def _migrations() -> list[tuple[int, Path]]:
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


SCHEMA_VERSION = max((n for n, _path in _migrations()), default=0)


def redacted(url: str) -> str:
    """The database's address for messages and logs: never its password."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", re.sub(r"password=[^&\s]*", "password=***", url))


def _connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, application_name="pro-app")
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to the database {redacted(url)}: {str(exc).strip()}") from exc


def schema_version(conn: psycopg.Connection) -> int:
    """The schema version the database is at (0: no pro-app schema yet)."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def upgrade(url: str) -> list[int]:
    """Apply the migrations the database lacks, each in one transaction; returns the versions applied.

    Several servers running it at once wait for each other (an advisory lock), so each migration runs once.
    """
    applied = []
    with _connect(url) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (UPGRADE_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            current = schema_version(conn)
            if current > SCHEMA_VERSION:
                raise StorageError(f"the database's schema is version {current}, newer than this pro-app knows "
                                   f"({SCHEMA_VERSION}): install the newer pro-app")
            for number, path in _migrations():
                if number <= current:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8"))
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (number, path.name))
                applied.append(number)
    return applied


# ---------------------------------------------------------------- records <-> rows


class _Table:
    """How one kind of record maps to a table: its fields' columns (JSON ones as jsonb); the rest in ``extra``."""

    def __init__(self, name: str, fields: dict[str, str], json_fields: tuple[str, ...] = ()):
        self.name = name
        self.fields = fields
        self.json_fields = set(json_fields)

    def row(self, record: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        extra = {}
        for key, value in record.items():
            column = self.fields.get(key)
            if column is None:
                extra[key] = value
            else:
                row[column] = _json(value) if key in self.json_fields and value is not None else value
        row["extra"] = _json(extra)
        return row

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        record = {key: row[column] for key, column in self.fields.items()}
        record.update(row.get("extra") or {})
        return record

    def insert_many(self, cur: psycopg.Cursor, records: list[dict[str, Any]]) -> None:
        """Insert records with the same fields in one round of statements (``executemany``: pipelined)."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for record in records:
            row = self.row(record)
            by_columns.setdefault(tuple(row), []).append(row)
        for columns, rows in by_columns.items():
            query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(self.name), sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder(c) for c in columns))
            cur.executemany(query, rows)

    def insert(self, cur: psycopg.Cursor, record: dict[str, Any], on_conflict: str = "") -> dict[str, Any] | None:
        row = self.row(record)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) {} RETURNING *").format(
            sql.Identifier(self.name), sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder(c) for c in row), sql.SQL(on_conflict))
        found = cur.execute(query, row).fetchone()
        return None if found is None else self.record(found)

    def update(self, cur: psycopg.Cursor, record: dict[str, Any], where: str, params: dict[str, Any]) -> dict[str, Any] | None:
        row = self.row(record)
        query = sql.SQL("UPDATE {} SET {} WHERE {} RETURNING *").format(
            sql.Identifier(self.name),
            sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in row),
            sql.SQL(where))
        found = cur.execute(query, {**row, **params}).fetchone()
        return None if found is None else self.record(found)


PATIENTS = _Table("patients", {k: k for k in ("id", "study_code", "study", "created_at", "created_by")})
VISITS = _Table("visits", {"id": "id", "patient": "patient_id", "key": "key", "label": "label", "due": "due",
                           "questionnaires": "questionnaires", "clinician_forms": "clinician_forms", "study": "study",
                           "created_at": "created_at", "created_by": "created_by", "date": "date"},
                ("label", "questionnaires", "clinician_forms"))
USERS = _Table("users", {k: k for k in ("id", "username", "password_hash", "role", "display_name", "active",
                                        "created_at")})


class _Responses(_Table):
    """Responses: answers and item metadata as jsonb; the stamp as two integers the save compares."""

    def __init__(self) -> None:
        super().__init__("responses", {
            "id": "id", "patient": "patient_id", "visit": "visit_id", "questionnaire": "questionnaire",
            "version": "version", "definition_hash": "definition_hash", "status": "status", "answers": "answers",
            "item_meta": "item_meta", "page": "page", "language": "language", "started_at": "started_at",
            "updated_at": "updated_at", "completed_at": "completed_at", "started_by": "started_by",
            "completed_by": "completed_by", "revision": "revision"}, ("answers", "item_meta"))

    def row(self, record: dict[str, Any]) -> dict[str, Any]:
        record = dict(record)
        stamp = record.pop("stamp", None)
        row = super().row(record)
        row["stamp_revision"], row["stamp_seq"] = (int(stamp[0]), int(stamp[1])) if stamp else (None, None)
        return row

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        record = super().record(row)
        record["stamp"] = None if row["stamp_revision"] is None else [row["stamp_revision"], row["stamp_seq"]]
        if record.get("completed_by") is None:
            record.pop("completed_by", None)  # as the embedded store: only a completed response names who
        return record


RESPONSES = _Responses()


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": row["at"], "actor": row["actor"], "action": row["action"], "entity": row["entity"],
                             "id": row["entity_id"]}
    if row["patient_id"]:
        entry["patient"] = row["patient_id"]
    if row["details"] is not None:
        entry["details"] = row["details"]
    entry["seq"] = row["seq"]
    return entry


def _insert_audit(cur: psycopg.Cursor, entries: list[dict[str, Any]], keep_seq: bool = False) -> None:
    columns = "at, actor, action, entity, entity_id, patient_id, details"
    rows = [(e["at"], e["actor"], e["action"], e["entity"], str(e["id"]), e.get("patient"),
             _json(e["details"]) if e.get("details") is not None else None) for e in entries]
    if keep_seq:
        cur.executemany(f"INSERT INTO audit (seq, {columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        [(audit_order(e), *row) for e, row in zip(entries, rows)])
    elif rows:
        cur.executemany(f"INSERT INTO audit ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)


def _like(search: str) -> str:
    return "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PostgresStore:
    """Patients, visits, responses, users, sessions and the audit trail in one PostgreSQL database."""

    def __init__(self, url: str, pool_size: int | None = None):
        self.url = url
        self.pool_size = pool_size or int(os.environ.get("PRO_APP_DATABASE_POOL", "8"))
        # How long a request waits for a connection before the page says "could not be saved right now".
        self.wait = float(os.environ.get("PRO_APP_DATABASE_WAIT", "5"))
        self._pool: ConnectionPool | None = None
        self._pool_pid = 0
        self._abandoned: list[ConnectionPool] = []
        self._mutex = threading.Lock()
        self._definitions: set[str] = set()  # hashes known to be stored: a definition never changes
        self._pruned: dict[str, float] = {}
        with _connect(url) as conn:
            version = schema_version(conn)
        if version > SCHEMA_VERSION:
            raise StorageError(f"the database's schema is version {version}, newer than this pro-app knows "
                               f"({SCHEMA_VERSION}): install the newer pro-app, or restore a backup taken before")
        if version < SCHEMA_VERSION:
            raise StorageError(f"the database {redacted(url)} is at schema version {version}, this pro-app needs "
                               f"{SCHEMA_VERSION}: run `pro-app db upgrade` first")

    def __repr__(self) -> str:
        return f"PostgresStore({redacted(self.url)!r})"

    # ------------------------------------------------------------------ connections

    def _connections(self) -> ConnectionPool:
        """This process's pool, opened on first use (so a server's master, which forks, holds none)."""
        pid = os.getpid()
        with self._mutex:
            if self._pool is None or self._pool_pid != pid:
                if self._pool is not None:
                    # Inherited through fork: its connections are the parent's. Never used, never closed here.
                    self._abandoned.append(self._pool)
                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=self.pool_size, open=True, name="pro-app",
                    kwargs={"row_factory": dict_row, "application_name": "pro-app",
                            "connect_timeout": CONNECT_TIMEOUT},
                    check=ConnectionPool.check_connection, timeout=self.wait)
                self._pool_pid = pid
            return self._pool

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self._connections().connection() as conn:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StorageError(f"the database is unavailable: {str(exc).strip() or type(exc).__name__}") from exc

    def _one(self, query: str, params: Any = ()) -> dict[str, Any] | None:
        with self._tx() as cur:
            return cur.execute(query, params).fetchone()

    def _all(self, query: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._tx() as cur:
            return cur.execute(query, params).fetchall()

    def close(self) -> None:
        with self._mutex:
            pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.close()

    def _prune(self, what: str, query: str, params: Any) -> None:
        """Delete expired sessions, failed logins or drafts (at most once a minute per process)."""
        at = time.time()
        with self._mutex:
            if at - self._pruned.get(what, 0.0) < PRUNE_EVERY:
                return
            self._pruned[what] = at
        with self._tx() as cur:
            cur.execute(query, params)

    # ------------------------------------------------------------------ the audit trail

    def audit(self, actor: str, action: str, entity: str, entity_id: str, patient_id: str | None = None,
              **details: Any) -> None:
        """Append one entry to the audit trail (for events that change no data: logins, prints, exports)."""
        with self._tx() as cur:
            _insert_audit(cur, [audit_entry(actor, action, entity, entity_id, patient_id, details)])

    def audit_entries(self) -> list[dict[str, Any]]:
        return [_entry(row) for row in self._all("SELECT * FROM audit ORDER BY seq")]

    def audit_batches(self) -> Iterator[list[dict[str, Any]]]:
        last = None
        while True:
            rows = self._all("SELECT * FROM audit WHERE %s::bigint IS NULL OR seq > %s ORDER BY seq LIMIT 5000",
                             (last, last))
            if not rows:
                return
            last = rows[-1]["seq"]
            yield [_entry(row) for row in rows]

    # ------------------------------------------------------------------ patients

    def _patient_exists(self, cur: psycopg.Cursor, patient_id: str, lock: bool = False) -> None:
        found = cur.execute("SELECT id FROM patients WHERE id = %s" + (" FOR UPDATE" if lock else ""),
                            (hex_id(patient_id, "patient"),)).fetchone()
        if found is None:
            raise NotFound("patient")

    def create_patient(self, study_code: str, actor: str, study: str | None = None) -> dict[str, Any]:
        study_code = study_code.strip()
        if not study_code:
            raise ValueError("empty study code")
        patient = {"id": new_id(), "study_code": study_code, "study": study, "created_at": now(), "created_by": actor}
        try:
            with self._tx() as cur:
                PATIENTS.insert(cur, patient)
                _insert_audit(cur, [audit_entry(actor, "create", "patient", patient["id"], patient["id"],
                                                {"study_code": study_code, "study": study})])
        except psycopg.errors.UniqueViolation:
            raise ValueError("study code already registered") from None
        return patient

    def list_patients(self) -> list[dict[str, Any]]:
        return [PATIENTS.record(row) for row in self._all("SELECT * FROM patients ORDER BY study_code")]

    def patients_page(self, search: str = "", offset: int = 0, limit: int = 50) -> PatientPage:
        """One page of patients by study code; ``search`` matches any part of the code, in any case
        (an index of trigrams answers it; the page itself is read through the study code's index)."""
        needle = search.strip().lower()
        where, params = ("WHERE lower(study_code) LIKE %s", [_like(needle)]) if needle else ("", [])
        with self._tx() as cur:
            total = cur.execute(f"SELECT count(*) AS n FROM patients {where}", params).fetchone()["n"]
            rows = cur.execute(f"SELECT * FROM patients {where} ORDER BY study_code LIMIT %s OFFSET %s",
                               [*params, max(0, limit), max(0, offset)]).fetchall()
        return PatientPage([PATIENTS.record(row) for row in rows], total)

    def get_patient(self, patient_id: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM patients WHERE id = %s", (hex_id(patient_id, "patient"),))
        if row is None:
            raise NotFound("patient")
        return PATIENTS.record(row)

    def find_patient(self, study_code: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM patients WHERE study_code = %s", (study_code.strip(),))
        return None if row is None else PATIENTS.record(row)

    # ------------------------------------------------------------------ visits

    def add_visit(self, patient_id: str, actor: str, *, key: str, label: dict[str, str], questionnaires: list[str],
                  due: str | None = None, clinician_forms: list[str] | None = None, **fields: Any) -> dict[str, Any]:
        created = self.add_visits(patient_id, actor, [dict(key=key, label=label, questionnaires=questionnaires,
                                                          due=due, clinician_forms=clinician_forms, **fields)],
                                  skip_existing=False)
        return created[0]

    def add_visits(self, patient_id: str, actor: str, plans: list[dict[str, Any]],
                   skip_existing: bool = True) -> list[dict[str, Any]]:
        """Create several visits in one transaction: all of them are stored, or none (a whole study schedule)."""
        created = []
        with self._tx() as cur:
            self._patient_exists(cur, patient_id, lock=True)  # one schedule change of a patient at a time
            existing = {row["key"] for row in cur.execute("SELECT key FROM visits WHERE patient_id = %s",
                                                          (patient_id,))}
            entries = []
            for visit, details in planned_visits(patient_id, actor, plans, existing, skip_existing):
                VISITS.insert(cur, visit)
                entries.append(audit_entry(actor, "create", "visit", visit["id"], patient_id, details))
                created.append(copy.deepcopy(visit))
            _insert_audit(cur, entries)
        return created

    def update_visit(self, patient_id: str, visit_id: str, actor: str, **fields: Any) -> dict[str, Any]:
        with self._tx() as cur:
            row = cur.execute("SELECT * FROM visits WHERE id = %s AND patient_id = %s FOR UPDATE",
                              (hex_id(visit_id, "visit"), hex_id(patient_id, "patient"))).fetchone()
            if row is None:
                self._patient_exists(cur, patient_id)
                raise NotFound("visit")
            visit = {**VISITS.record(row), **fields}
            stored = VISITS.update(cur, visit, "id = %(where_id)s", {"where_id": visit_id})
            _insert_audit(cur, [audit_entry(actor, "update", "visit", visit_id, patient_id, fields)])
        return stored  # type: ignore[return-value]

    def list_visits(self, patient_id: str) -> list[dict[str, Any]]:
        rows = self._all("SELECT * FROM visits WHERE patient_id = %s ORDER BY coalesce(due, ''), created_at, id",
                         (hex_id(patient_id, "patient"),))
        return [VISITS.record(row) for row in rows]

    def get_visit(self, patient_id: str, visit_id: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM visits WHERE id = %s AND patient_id = %s",
                        (hex_id(visit_id, "visit"), hex_id(patient_id, "patient")))
        if row is None:
            raise NotFound("visit")
        return VISITS.record(row)

    # ------------------------------------------------------------------ definitions and responses

    def save_definition(self, questionnaire: Any) -> None:
        """Keep the exact definition a response was answered against, once per hash."""
        digest_ = questionnaire.definition_hash
        if digest_ in self._definitions:
            return
        with self._tx() as cur:
            cur.execute("INSERT INTO definitions (hash, questionnaire, version, definition) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (hash) DO NOTHING",
                        (digest_, questionnaire.id, questionnaire.version,
                         _json(questionnaire.model_dump(mode="json", by_alias=True))))
        self._definitions.add(digest_)

    @staticmethod
    def _snapshot(row: dict[str, Any]) -> dict[str, Any]:
        return {"id": row["questionnaire"], "version": row["version"], "hash": row["hash"],
                "definition": row["definition"]}

    def definition_snapshot(self, definition_hash: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM definitions WHERE hash = %s", (definition_hash,))
        return None if row is None else self._snapshot(row)

    def definition_snapshots(self) -> list[dict[str, Any]]:
        return [self._snapshot(row) for row in self._all("SELECT * FROM definitions ORDER BY hash")]

    def start_response(self, patient_id: str, visit_id: str, questionnaire: Any, actor: str,
                       language: str) -> dict[str, Any]:
        """The response of this visit to this questionnaire, created once: the unique (visit, questionnaire)
        makes a second one impossible, whichever server the second tap reaches."""
        self.save_definition(questionnaire)
        response = {
            "id": new_id(), "patient": patient_id, "visit": visit_id,
            "questionnaire": questionnaire.id, "version": questionnaire.version,
            "definition_hash": questionnaire.definition_hash,
            "status": "in_progress", "answers": {}, "item_meta": {}, "page": 0,
            "language": language, "started_at": now(), "updated_at": now(), "completed_at": None,
            "started_by": actor, "revision": 0, "stamp": [0, 0],
        }
        with self._tx() as cur:
            found = cur.execute("SELECT id FROM visits WHERE id = %s AND patient_id = %s",
                                (hex_id(visit_id, "visit"), hex_id(patient_id, "patient"))).fetchone()
            if found is None:
                self._patient_exists(cur, patient_id)
                raise NotFound("visit")
            created = RESPONSES.insert(cur, response, "ON CONFLICT (visit_id, questionnaire) DO NOTHING")
            if created is None:
                row = cur.execute("SELECT * FROM responses WHERE visit_id = %s AND questionnaire = %s",
                                  (visit_id, questionnaire.id)).fetchone()
                return RESPONSES.record(row)
            _insert_audit(cur, [audit_entry(actor, "create", "response", created["id"], patient_id, {
                "questionnaire": questionnaire.id, "version": questionnaire.version,
                "hash": questionnaire.definition_hash})])
        return created

    def _locked_response(self, cur: psycopg.Cursor, patient_id: str, response_id: str) -> dict[str, Any]:
        row = cur.execute("SELECT * FROM responses WHERE id = %s AND patient_id = %s FOR UPDATE",
                          (hex_id(response_id, "response"), hex_id(patient_id, "patient"))).fetchone()
        if row is None:
            self._patient_exists(cur, patient_id)
            raise NotFound("response")
        return RESPONSES.record(row)

    def save_answers(self, patient_id: str, response_id: str, actor: str, answers: dict[str, Any],
                     item_meta: dict[str, Any] | None = None, page: int | None = None,
                     language: str | None = None, allow_completed: bool = False,
                     stamp: Stamp | None = None) -> dict[str, Any]:
        """Merge one page of answers into a response; ``None`` clears an answer. A save older than the
        stored stamp is refused (``StaleWrite``); see ``TinyDBStore.save_answers``."""
        with self._tx() as cur:
            current = self._locked_response(cur, patient_id, response_id)
            revision = int(current.get("revision") or 0)
            update, changes = answers_saved(current, answers, item_meta, page, language, allow_completed, stamp)
            current.update(update)
            result = RESPONSES.update(cur, current, "id = %(where_id)s AND coalesce(revision, 0) = %(where_revision)s",
                                      {"where_id": response_id, "where_revision": revision})
            if result is None:  # pragma: no cover - the row is locked: nobody can have changed it
                raise StaleWrite(response_id)
            if changes:
                _insert_audit(cur, [audit_entry(actor, "update", "response", response_id, patient_id,
                                                {"answers": changes})])
        return result

    def complete_response(self, patient_id: str, response_id: str, actor: str, *,
                          expected_revision: int | None = None, drop: list[str] | tuple[str, ...] = ()
                          ) -> tuple[dict[str, Any], bool]:
        """Mark a response complete. Returns it and whether this call completed it (a double submit does not)."""
        with self._tx() as cur:
            current = self._locked_response(cur, patient_id, response_id)
            if current["status"] == "completed":
                return current, False
            revision = int(current.get("revision") or 0)
            update, dropped = response_completed(current, actor, expected_revision, drop)
            current.update(update)
            result = RESPONSES.update(cur, current, "id = %(where_id)s AND coalesce(revision, 0) = %(where_revision)s",
                                      {"where_id": response_id, "where_revision": revision})
            if result is None:  # pragma: no cover - the row is locked
                raise StaleWrite(response_id)
            entries = []
            if dropped:
                entries.append(audit_entry(actor, "update", "response", response_id, patient_id, {"answers": dropped}))
            entries.append(audit_entry(actor, "complete", "response", response_id, patient_id,
                                       {"questionnaire": result["questionnaire"]}))
            _insert_audit(cur, entries)
        return result, True

    def get_response(self, patient_id: str, response_id: str) -> dict[str, Any]:
        row = self._one("SELECT * FROM responses WHERE id = %s AND patient_id = %s",
                        (hex_id(response_id, "response"), hex_id(patient_id, "patient")))
        if row is None:
            raise NotFound("response")
        return RESPONSES.record(row)

    def list_responses(self, patient_id: str, visit_id: str | None = None) -> list[dict[str, Any]]:
        """The patient's responses (of one visit), oldest first."""
        if visit_id is None:
            rows = self._all("SELECT * FROM responses WHERE patient_id = %s ORDER BY started_at, id",
                             (hex_id(patient_id, "patient"),))
        else:
            try:
                hex_id(visit_id, "visit")
            except NotFound:
                return []
            rows = self._all("SELECT * FROM responses WHERE patient_id = %s AND visit_id = %s ORDER BY started_at, id",
                             (hex_id(patient_id, "patient"), visit_id))
        return [RESPONSES.record(row) for row in rows]

    def response_count(self) -> int:
        return self._one("SELECT count(*) AS n FROM responses")["n"]  # type: ignore[index]

    def answered(self) -> Iterator[Answered]:
        """Every response with its patient and visit, streamed from a server-side cursor (bounded memory)."""
        try:
            with self._connections().connection() as conn, conn.transaction():
                with conn.cursor(name=f"answered_{new_id()}") as cur:
                    cur.itersize = 500
                    cur.execute(
                        "SELECT to_jsonb(p) AS p, to_jsonb(v) AS v, to_jsonb(r) AS r FROM responses r "
                        "JOIN visits v ON v.id = r.visit_id JOIN patients p ON p.id = r.patient_id "
                        "ORDER BY p.study_code, coalesce(v.due, ''), v.created_at, v.id, r.started_at, r.id")
                    patient: dict[str, Any] = {}
                    visit: dict[str, Any] = {}
                    for row in cur:
                        if row["p"]["id"] != patient.get("id"):
                            patient = PATIENTS.record(row["p"])
                        if row["v"]["id"] != visit.get("id"):
                            visit = VISITS.record(row["v"])
                        yield Answered(patient, visit, RESPONSES.record(row["r"]))
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StorageError(f"the database is unavailable: {str(exc).strip()}") from exc

    # ------------------------------------------------------------------ staff users

    def create_user(self, username: str, password_hash: str, role: str, actor: str, display_name: str = "") -> dict[str, Any]:
        user = {"id": new_id(), "username": username, "password_hash": password_hash, "role": role,
                "display_name": display_name or username, "active": True, "created_at": now()}
        try:
            with self._tx() as cur:
                USERS.insert(cur, user)
                _insert_audit(cur, [audit_entry(actor, "create", "user", user["id"], None,
                                                {"username": username, "role": role})])
        except psycopg.errors.UniqueViolation:
            raise ValueError("username already exists") from None
        return user

    def update_user(self, username: str, actor: str, **fields: Any) -> None:
        with self._tx() as cur:
            row = cur.execute("SELECT * FROM users WHERE username = %s FOR UPDATE", (username,)).fetchone()
            if row is None:
                raise NotFound("user")
            USERS.update(cur, {**USERS.record(row), **fields}, "id = %(where_id)s", {"where_id": row["id"]})
            _insert_audit(cur, [audit_entry(actor, "update", "user", username, None,
                                            {k: ("***" if k == "password_hash" else v) for k, v in fields.items()})])

    def get_user(self, username: str) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM users WHERE username = %s", (username,))
        return None if row is None else USERS.record(row)

    def list_users(self) -> list[dict[str, Any]]:
        return [USERS.record(row) for row in self._all("SELECT * FROM users ORDER BY created_at, username")]

    # ------------------------------------------------------------------ sessions

    def open_session(self, **record: Any) -> str:
        """Start a server-side session; returns its secret id (the table keeps only its digest)."""
        sid = secrets.token_urlsafe(32)
        at = time.time()
        self._prune("sessions", "DELETE FROM sessions WHERE written < %s", (at - SESSION_RECORDS_KEPT,))
        with self._tx() as cur:
            cur.execute("INSERT INTO sessions (digest, record, written) VALUES (%s, %s, %s)",
                        (digest(sid), _json({**record, "started": at, "seen": at, "ended": None}), at))
        return sid

    def session(self, sid: str | None) -> dict[str, Any] | None:
        if not sid or not isinstance(sid, str):
            return None
        row = self._one("SELECT record FROM sessions WHERE digest = %s", (digest(sid),))
        return None if row is None else row["record"]

    def update_session(self, sid: str, **fields: Any) -> dict[str, Any] | None:
        """Change a live session; an ended one stays ended (the WHERE says so, whichever server asks)."""
        row = self._one("UPDATE sessions SET record = record || %s, written = %s "
                        "WHERE digest = %s AND record->>'ended' IS NULL RETURNING record",
                        (_json(fields), time.time(), digest(sid)))
        return None if row is None else row["record"]

    def end_session(self, sid: str | None, reason: str) -> None:
        if sid:
            self.update_session(sid, ended=time.time(), end_reason=reason)

    # ------------------------------------------------------------------ login throttle

    def login_failures(self, keys: list[str], window: float) -> dict[str, int]:
        digests = {digest(key): key for key in keys}
        rows = self._all("SELECT key, count(*) AS n FROM login_failures WHERE key = ANY(%s) AND at > %s GROUP BY key",
                         (list(digests), time.time() - window))
        counts = {key: 0 for key in keys}
        counts.update({digests[row["key"]]: row["n"] for row in rows})
        return counts

    def record_login_failure(self, keys: list[str], window: float) -> None:
        at = time.time()
        self._prune("login_failures", "DELETE FROM login_failures WHERE at < %s", (at - 24 * 3600,))
        with self._tx() as cur:
            cur.executemany("INSERT INTO login_failures (key, at) VALUES (%s, %s)", [(digest(k), at) for k in keys])

    def clear_login_failures(self, keys: list[str]) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM login_failures WHERE key = ANY(%s)", ([digest(k) for k in keys],))

    # ------------------------------------------------------------------ drafts

    def put_draft(self, owner: str, key: str, fields: list[tuple[str, str]]) -> None:
        at = time.time()
        self._prune("drafts", "DELETE FROM drafts WHERE at < %s", (at - DRAFTS_KEPT,))
        with self._tx() as cur:
            cur.execute("INSERT INTO drafts (digest, at, fields) VALUES (%s, %s, %s) "
                        "ON CONFLICT (digest) DO UPDATE SET at = excluded.at, fields = excluded.fields",
                        (digest(f"{owner}\n{key}"), at, _json([list(f) for f in fields])))

    def take_draft(self, owner: str, key: str) -> list[tuple[str, str]] | None:
        row = self._one("DELETE FROM drafts WHERE digest = %s RETURNING at, fields", (digest(f"{owner}\n{key}"),))
        if row is None or time.time() - row["at"] > DRAFTS_KEPT:
            return None
        return [(str(k), str(v)) for k, v in row["fields"]]

    # ------------------------------------------------------------------ the session signing key

    def secret_key(self) -> str:
        """Generated once by whichever server asks first; every server then reads the same key."""
        with _connect(self.url) as conn, conn.transaction():
            conn.execute("INSERT INTO settings (name, value) VALUES ('secret_key', %s) ON CONFLICT (name) DO NOTHING",
                         (secrets.token_hex(32),))
            return conn.execute("SELECT value FROM settings WHERE name = 'secret_key'").fetchone()[0]

    # ------------------------------------------------------------------ moving data between stores

    def is_empty(self) -> bool:
        row = self._one("SELECT NOT EXISTS (SELECT 1 FROM patients) AND NOT EXISTS (SELECT 1 FROM users) AS empty")
        return bool(row and row["empty"])

    def import_users(self, users: Iterable[dict[str, Any]]) -> None:
        try:
            with self._tx() as cur:
                for user in users:
                    USERS.insert(cur, user)
        except psycopg.errors.UniqueViolation as exc:
            raise ValueError(f"a user already exists: {exc.diag.message_detail}") from None

    def import_definitions(self, snapshots: Iterable[dict[str, Any]]) -> None:
        with self._tx() as cur:
            for snapshot in snapshots:
                cur.execute("INSERT INTO definitions (hash, questionnaire, version, definition) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT (hash) DO NOTHING",
                            (snapshot["hash"], snapshot["id"], snapshot.get("version"), _json(snapshot["definition"])))

    def import_patient(self, patient: dict[str, Any], visits: list[dict[str, Any]],
                       responses: list[dict[str, Any]]) -> None:
        try:
            with self._tx() as cur:
                PATIENTS.insert(cur, patient)
                VISITS.insert_many(cur, visits)
                RESPONSES.insert_many(cur, responses)
        except psycopg.errors.UniqueViolation:
            raise ValueError(f"patient {patient['study_code']} already exists") from None

    def import_audit(self, entries: list[dict[str, Any]]) -> None:
        """Entries as they are, their order (``seq``) kept; new entries are numbered after them."""
        with self._tx() as cur:
            _insert_audit(cur, entries, keep_seq=True)
            cur.execute("SELECT setval(pg_get_serial_sequence('audit', 'seq'), "
                        "greatest((SELECT max(seq) FROM audit), 1))")
