"""Staff accounts: argon2-hashed passwords, roles, rate-limited login, idle expiry."""
from __future__ import annotations

import functools
import time
from collections import defaultdict, deque
from typing import Any, Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .catalog import catalog
from .web import safe_next

__all__ = ["bp", "ROLES", "hash_password", "verify_password", "staff_required", "current_user", "start_staff_session"]

bp = Blueprint("auth", __name__)
ROLES = ("nurse", "physician", "admin")
_hasher = PasswordHasher()

# Failed logins per (address, username) in a sliding window: per process, which is
# enough to stop guessing from a tablet. Behind a reverse proxy set PRO_APP_TRUSTED_PROXY, or every
# tablet would share the proxy's address.
MAX_FAILURES = 5
WINDOW_SECONDS = 300
_failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _throttled(key: tuple[str, str]) -> bool:
    window = _failures[key]
    cutoff = time.monotonic() - WINDOW_SECONDS
    while window and window[0] < cutoff:
        window.popleft()
    return len(window) >= MAX_FAILURES


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def authenticate(username: str, password: str) -> dict[str, Any] | None:
    """The active user with this password, or None; failures count towards the rate limit."""
    key = (request.remote_addr or "?", username.lower())
    if _throttled(key):
        return None
    user = catalog().store.get_user(username)
    if user is None or not user.get("active", True) or not verify_password(user["password_hash"], password):
        if user is None:
            hash_password(password)  # same work for unknown users: no timing oracle
        _failures[key].append(time.monotonic())
        return None
    _failures.pop(key, None)
    return user


def start_staff_session(user: dict[str, Any]) -> None:
    lang = session.get("lang")
    session.clear()  # no tablet binding survives a staff login, and a fresh session id
    if lang:
        session["lang"] = lang
    session.permanent = True
    session["user"] = user["username"]
    session["role"] = user["role"]
    session["seen"] = time.time()


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        key = (request.remote_addr or "?", form.username.data.lower())
        if _throttled(key):
            flash(_("Too many failed attempts. Wait a few minutes and try again."), "error")
            return render_template("login.html", form=form), 429
        user = authenticate(form.username.data, form.password.data)
        if user is None:
            flash(_("Wrong username or password."), "error")
            return render_template("login.html", form=form), 401
        start_staff_session(user)
        catalog().store.audit(f"staff:{user['username']}", "login", "user", user["username"])
        return redirect(safe_next(request.args.get("next"), url_for("staff.dashboard")))
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout():
    user = session.get("user")
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    if user:
        catalog().store.audit(f"staff:{user}", "logout", "user", user)
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def current_user() -> str | None:
    return session.get("user")


def staff_required(*roles: str) -> Callable:
    """Only a logged-in staff member (of one of ``roles`` if given); a tablet never passes."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            if session.get("tablet"):
                abort(403)
            user = session.get("user")
            if not user:
                return redirect(url_for("auth.login", next=request.path))
            idle = current_app.config["STAFF_IDLE_MINUTES"] * 60
            if time.time() - session.get("seen", 0) > idle:
                session.clear()
                flash(_("You were logged out after a period of inactivity."), "info")
                return redirect(url_for("auth.login", next=request.path))
            if roles and session.get("role") not in roles:
                abort(403)
            session["seen"] = time.time()
            g.user = user
            g.actor = f"staff:{user}"
            return view(*args, **kwargs)

        return wrapped

    return decorate
