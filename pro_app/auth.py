"""Staff accounts: argon2-hashed passwords, roles, throttled login, server-side sessions with idle expiry.

Failed logins are counted in the data folder (``Store.login_failures``), so every server process
sees the same counts: per user name, per client address, and per pair. Password hashing is a
deliberate CPU cost, so at most ``HASH_SLOTS`` hashes run at once on the whole server and each
process lets at most ``LOGINS_PER_PROCESS`` requests wait for one: a login flood cannot starve
the tablets. A throttled or busy login is told so, never "wrong password".
"""
from __future__ import annotations

import functools
import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from . import sessions
from .catalog import catalog
from .storage import StorageError
from .storage.files import LockTimeout, exclusive
from .web import safe_next

__all__ = ["bp", "ROLES", "hash_password", "verify_password", "staff_required", "current_user", "start_staff_session",
           "authenticate", "login_refused", "WINDOW_SECONDS", "LIMITS"]

bp = Blueprint("auth", __name__)
ROLES = ("nurse", "physician", "admin")
SUMMARY_ROLES = ("nurse", "physician")  # who opens a patient's scored summary (clinical data)
_hasher = PasswordHasher()
log = logging.getLogger("pro_app")

# Failed logins allowed within WINDOW_SECONDS before that key is throttled. Behind a reverse proxy set
# PRO_APP_TRUSTED_PROXY, or every tablet would share the proxy's address.
WINDOW_SECONDS = 300
LIMITS = {"pair": 5, "user": 10, "client": 20}
HASH_SLOTS = 1  # password hashes at once on the whole server (argon2 takes a core while it runs)
LOGINS_PER_PROCESS = 2  # requests of one process hashing or waiting to hash; more are told to retry
HASH_WAIT_SECONDS = 5.0
_waiting = threading.BoundedSemaphore(LOGINS_PER_PROCESS)


class Busy(Exception):
    """Too many logins at once: this one is asked to try again in a moment."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@contextmanager
def _hash_slot() -> Iterator[None]:
    if not _waiting.acquire(blocking=False):
        raise Busy()
    try:
        # A kernel lock: a waiting login sleeps until the hash before it is done, never polls.
        try:
            # This machine's CPU is what the slot guards: its lock file is in this server's data folder.
            with exclusive(Path(current_app.config["DATA_DIR"]) / "login-hash.lock", timeout=HASH_WAIT_SECONDS):
                yield
        except LockTimeout as exc:
            raise Busy() from exc
    finally:
        _waiting.release()


def _keys(username: str) -> dict[str, str]:
    client = request.remote_addr or "?"
    name = username.strip().lower()
    return {"pair": f"pair:{client}\n{name}", "user": f"user:{name}", "client": f"client:{client}"}


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def authenticate(username: str, password: str, unlock: bool = False) -> tuple[dict[str, Any] | None, str]:
    """(the active user with this password, "") or (None, why): "throttled", "busy" or "wrong".

    ``unlock``: a locked tablet's own unlock, where failures of other user names from the same
    address (every tablet behind one proxy) do not count.
    """
    store = catalog().store
    keys = _keys(username)
    counted = {k: v for k, v in keys.items() if not (unlock and k == "client")}
    failures = store.login_failures(list(counted.values()), WINDOW_SECONDS)
    if any(failures[key] >= LIMITS[kind] for kind, key in counted.items()):
        return None, "throttled"
    user = store.get_user(username)
    try:
        with _hash_slot():
            if user is None:
                hash_password(password)  # same work for unknown users: no timing oracle
                ok = False
            else:
                ok = user.get("active", True) and verify_password(user["password_hash"], password)
    except Busy:
        return None, "busy"
    if not ok:
        try:
            store.record_login_failure(list(keys.values()), WINDOW_SECONDS)
        except StorageError as exc:  # a full disk must not turn a wrong password into an error page
            log.error("login throttle not recorded: %s", exc)
        return None, "wrong"
    store.clear_login_failures([keys["pair"], keys["user"]])
    return user, ""


def login_refused(template: str, form: FlaskForm, why: str):
    """The login page again with the reason in the reader's language, and the matching status."""
    if why == "throttled":
        flash(_("Too many failed attempts. Wait a few minutes and try again."), "error")
        return render_template(template, form=form), 429
    if why == "busy":
        flash(_("Many people are logging in right now. Please try again in a moment."), "error")
        return render_template(template, form=form), 503
    flash(_("Wrong username or password."), "error")
    return render_template(template, form=form), 401


def start_staff_session(user: dict[str, Any]) -> None:
    """A fresh server-side session: whatever this browser had before (a tablet, another login) ends."""
    sessions.begin("staff", user=user["username"], role=user["role"])


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user, why = authenticate(form.username.data, form.password.data)
        if user is None:
            return login_refused("login.html", form, why)
        start_staff_session(user)
        catalog().store.audit(f"staff:{user['username']}", "login", "user", user["username"])
        return redirect(safe_next(request.args.get("next"), url_for("staff.dashboard")))
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout():
    record = sessions.current("staff")
    sessions.end("logout")
    if record:
        catalog().store.audit(f"staff:{record['user']}", "logout", "user", record["user"])
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.app_context_processor
def staff_in_templates() -> dict[str, Any]:
    """``staff.user`` and ``staff.role`` for templates: from the store's session, never from the cookie."""
    return {"staff": sessions.current("staff") or {}}


def current_user() -> str | None:
    record = sessions.current("staff")
    return record["user"] if record and not record["idle"] else None


# Forms whose posted fields are kept as a draft when the session has expired, and restored after login.
DRAFT_ENDPOINTS = {"staff.clinician_form"}


def staff_required(*roles: str) -> Callable:
    """Only a logged-in staff member (of one of ``roles`` if given); a tablet never passes."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if session.get("kind") == "tablet":
                abort(403)
            record = sessions.current("staff")
            if record is None:
                return redirect(url_for("auth.login", next=request.path))
            if record["idle"]:
                kept = request.method == "POST" and request.endpoint in DRAFT_ENDPOINTS
                if kept:
                    fields = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"]
                    catalog().store.put_draft(record["user"], request.path, fields)
                sessions.end("idle")
                if kept:
                    flash(_("You were logged out after a period of inactivity. What you entered is kept: "
                            "log in to continue."), "info")
                else:
                    flash(_("You were logged out after a period of inactivity."), "info")
                return redirect(url_for("auth.login", next=request.path))
            if roles and record.get("role") not in roles:
                abort(403)
            sessions.touch()
            g.user = record["user"]
            g.actor = f"staff:{record['user']}"
            return view(*args, **kwargs)

        return wrapped

    return decorate
