"""Server-side sessions: what a session cookie is worth is decided by the store, not by the cookie.

The signed cookie carries a random session id (and the reader's language and CSRF token);
the store keeps the session: who, which patient's visit a tablet is handed over for,
whether it is locked, when it was last used. So logging out, handing a tablet over and
locking it revoke the old session for good: a cookie captured before, replayed, opens nothing.
Idle expiry is decided from the store's ``seen`` time, never from the cookie.
"""
from __future__ import annotations

import time
from typing import Any

from flask import current_app, g, session

from .catalog import catalog

__all__ = ["begin", "current", "end", "touch", "idle_seconds", "TOUCH_EVERY"]

# The store's ``seen`` is refreshed at most this often (seconds): one small write per half minute, not per request.
TOUCH_EVERY = 30


def idle_seconds(kind: str) -> float:
    minutes = current_app.config["STAFF_IDLE_MINUTES" if kind == "staff" else "TABLET_IDLE_MINUTES"]
    return float(minutes) * 60


def begin(kind: str, **record: Any) -> dict[str, Any]:
    """End this browser's session (if any) and start a new one of ``kind`` ("staff" or "tablet")."""
    end("replaced")
    sid = catalog().store.open_session(kind=kind, **record)
    session["sid"] = sid
    session["kind"] = kind
    session.permanent = True
    g.pro_app_session = {**record, "kind": kind, "seen": time.time(), "ended": None}
    return g.pro_app_session


def end(reason: str) -> None:
    """Revoke this browser's session in the store and forget it here; the language choice stays."""
    sid = session.get("sid")
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    g.pop("pro_app_session", None)
    if sid:
        catalog().store.end_session(sid, reason)


def current(kind: str) -> dict[str, Any] | None:
    """The live session of ``kind`` this cookie names, or None (no session, ended, another kind).

    The record's ``idle`` is True once it was not used for longer than the kind's idle time:
    the caller decides what that means (staff are logged out, a tablet locks).
    """
    if "pro_app_session" not in g:
        g.pro_app_session = None  # asked once per request: a store that cannot answer is not asked again
        g.pro_app_session = catalog().store.session(session.get("sid"))
    record = g.pro_app_session
    if record is None or record.get("ended") or record.get("kind") != kind:
        return None
    record["idle"] = time.time() - float(record.get("seen") or 0) > idle_seconds(kind)
    return record


def touch(**fields: Any) -> None:
    """Note that the session was used now (at most every TOUCH_EVERY seconds), and store ``fields``."""
    record = g.get("pro_app_session")
    sid = session.get("sid")
    if not record or not sid:
        return
    at = time.time()
    # Often enough that a short idle time (a test's) is measured from the last use, not the last write.
    every = min(TOUCH_EVERY, idle_seconds(record.get("kind", "tablet")) / 4)
    if fields or at - float(record.get("seen") or 0) > every:
        updated = catalog().store.update_session(sid, seen=at, **fields)
        g.pro_app_session = updated
