"""What every storage backend shares with the app: its errors, the save stamp, ids, times and checksums."""
from __future__ import annotations

import errno
import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import Any, NamedTuple

__all__ = ["StorageError", "NotFound", "AlreadyCompleted", "StaleWrite", "Stamp", "Answered", "PatientPage",
           "now", "new_id", "disk_full", "hex_id", "digest", "audit_entry", "checksum", "audit_order"]


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
