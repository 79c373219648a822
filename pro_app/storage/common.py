"""What every storage backend shares with the app: its errors, the save stamp, ids and times."""
from __future__ import annotations

import errno
import uuid
from datetime import datetime, timezone
from typing import NamedTuple

__all__ = ["StorageError", "NotFound", "AlreadyCompleted", "StaleWrite", "Stamp", "now", "new_id", "disk_full"]


def disk_full(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        exc = exc.__cause__
    return False


class StorageError(Exception):
    """The data folder could not be written (full disk, read-only, lock timeout)."""

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


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id() -> str:
    return uuid.uuid4().hex
