"""What every storage backend shares with the app: its errors, the save stamp, ids, times and checksums."""
from __future__ import annotations

import errno
import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import Any, NamedTuple

__all__ = ["StorageError", "NotFound", "AlreadyCompleted", "StaleWrite", "Stamp", "Answered", "PatientPage",
           "now", "new_id", "disk_full", "hex_id", "digest", "audit_entry", "checksum", "audit_order",
           "answers_saved", "response_completed", "planned_visits"]


def disk_full(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        exc = exc.__cause__
    return False


class StorageError(Exception):
    """The store could not be written (full disk, read-only, lock timeout, database unavailable)."""

    @property
    def disk_full(self) -> bool:
        return disk_full(self) or "disk is full" in str(self)


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


class Answered(NamedTuple):
    """One stored response with the patient and visit it belongs to (what an export writes, one at a time)."""

    patient: dict[str, Any]
    visit: dict[str, Any]
    response: dict[str, Any]


class PatientPage(NamedTuple):
    """One page of the patient list: the patients it shows and how many match in all."""

    patients: list[dict[str, Any]]
    total: int


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex


def hex_id(value: Any, what: str) -> str:
    """An id as the store makes them (hex); anything else names nothing (ids come from URLs)."""
    if not value or not isinstance(value, str) or len(value) > 64 or not all(c in "0123456789abcdef" for c in value):
        raise NotFound(what)
    return value


def digest(secret: str) -> str:
    """What the store keeps instead of a session id or a login key: its SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def audit_entry(actor: str, action: str, entity: str, entity_id: str, patient_id: str | None,
                details: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": now(), "actor": actor, "action": action, "entity": entity, "id": entity_id}
    if patient_id:
        entry["patient"] = patient_id
    if details:
        entry["details"] = details
    return entry


def audit_order(entry: dict[str, Any]) -> int:
    """Where an audit entry stands among all: its ``seq`` (entries of layout 1 have only their time)."""
    seq = entry.get("seq")
    if isinstance(seq, int):
        return seq
    try:
        return int(datetime.fromisoformat(entry["at"]).timestamp() * 1_000_000) * 1000
    except (KeyError, TypeError, ValueError):
        return 0


def checksum(record: dict[str, Any]) -> str:
    """A record's SHA-256 over its canonical JSON, keys sorted; a key whose value is None counts as absent
    (the app reads every field with ``.get``), so a record reads the same from either backend."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    text = json.dumps(clean(record), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def answers_saved(current: dict[str, Any], answers: dict[str, Any], item_meta: dict[str, Any] | None,
                  page: int | None, language: str | None, allow_completed: bool,
                  stamp: Stamp | tuple[int, int] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a save changes in a stored response (the fields to update) and its answers' changes (for the audit).

    Every backend applies this under its lock on the response: a completed response is final
    (``AlreadyCompleted``), and a save whose stamp is not newer than the stored one is refused
    (``StaleWrite``); a save without a stamp (the server's own) makes every page shown before it stale.
    """
    if current["status"] == "completed" and not allow_completed:
        raise AlreadyCompleted(current["id"])
    revision = int(current.get("revision") or 0)
    if stamp is not None:
        stamp = Stamp(int(stamp[0]), int(stamp[1]))
        if stamp.revision > revision or stamp <= Stamp(*(current.get("stamp") or (0, 0))):
            raise StaleWrite(current["id"])
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
    update = {"answers": merged, "item_meta": meta, "updated_at": now(), "revision": revision + 1, "stamp": held}
    if page is not None:
        update["page"] = page
    if language:
        update["language"] = language
    return update, changes


def response_completed(current: dict[str, Any], actor: str, expected_revision: int | None,
                       drop: list[str] | tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What completing a response changes, and the hidden answers it drops (for the audit).

    ``expected_revision``: the revision the person checked (the review page); if the answers changed
    since, ``StaleWrite``. ``drop``: answers that skip logic hides, cleared in the same transaction.
    """
    revision = int(current.get("revision") or 0)
    if expected_revision is not None and expected_revision != revision:
        raise StaleWrite(current["id"])
    answers = dict(current["answers"])
    dropped = {aid: {"from": answers.pop(aid), "to": None} for aid in drop if aid in answers}
    return {"status": "completed", "completed_at": now(), "completed_by": actor, "answers": answers,
            "revision": revision + 1, "stamp": [revision + 1, 0]}, dropped


def planned_visits(patient_id: str, actor: str, plans: list[dict[str, Any]], existing: set[str],
                   skip_existing: bool) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The visits ``plans`` create for a patient who has visits ``existing`` (keys), each with its audit details.

    Each plan has ``key``, ``label``, ``questionnaires`` and optionally ``due``, ``clinician_forms`` and
    further fields (``study``, ``window_days``). A key that exists is skipped (or, with
    ``skip_existing=False``, refused with ValueError).
    """
    created = []
    existing = set(existing)
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
        existing.add(key)
        created.append((visit, {"key": key, "questionnaires": questionnaires, **plan}))
    return created
