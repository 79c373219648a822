"""Configuration from environment variables with the ``PRO_APP_`` prefix."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

__all__ = ["PROJECT_ROOT", "questionnaire_dir", "studies_dir", "translations_dir", "default_data_dir", "data_dir",
           "from_environment", "enzyme_unit", "clinic_setting"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def questionnaire_dir() -> Path:
    return Path(os.environ.get("PRO_APP_QUESTIONNAIRES", PROJECT_ROOT / "questionnaires"))


def studies_dir() -> Path:
    return Path(os.environ.get("PRO_APP_STUDIES", PROJECT_ROOT / "studies"))


def translations_dir() -> Path:
    return PROJECT_ROOT / "translations"


def default_data_dir(name: str = "data") -> Path:
    return PROJECT_ROOT / "instance" / name


def data_dir() -> Path:
    return Path(os.environ.get("PRO_APP_DATA_DIR", default_data_dir()))


def _secret_key(data_dir: Path) -> str:
    """A key from the environment, or one generated once and kept beside the data (shared by workers).

    Several processes may start at once on an empty folder, and one may crash mid-write: the key is
    written to a temporary file, fsynced, and linked into place under a lock, so every process reads
    the same whole key; an empty file (from an older version's crash) counts as missing.
    """
    if os.environ.get("PRO_APP_SECRET_KEY"):
        return os.environ["PRO_APP_SECRET_KEY"]
    from filelock import FileLock

    from .storage import DIR_MODE, FILE_MODE

    path = data_dir / "secret_key"
    key = _read_key(path)
    if key:
        return key
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", mode=FILE_MODE):
        key = _read_key(path)
        if key:
            return key
        tmp = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)  # over an empty file too
            dir_fd = os.open(data_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        finally:
            if tmp.exists():
                tmp.unlink()
    return _read_key(path)


def _read_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def enzyme_unit() -> str:
    """The clinic's lab unit for muscle enzymes (PRO_APP_ENZYME_UNIT: µkat/L, the default, or U/L), as its stored code."""
    from .scoring.enzymes import enzyme_unit_code

    text = os.environ.get("PRO_APP_ENZYME_UNIT", "µkat/L")
    try:
        return enzyme_unit_code(text)
    except ValueError as exc:
        raise SystemExit(f"pro-app cannot start: PRO_APP_ENZYME_UNIT: {exc}") from None


# A definition's clinic setting (e.g. ``default_from: enzyme_unit``) -> the app.config key holding it.
CLINIC_SETTING_KEYS = {"enzyme_unit": "ENZYME_UNIT"}


def clinic_setting(name: str) -> str | None:
    """The clinic's value of a named setting in the running app; None outside one."""
    from flask import current_app, has_app_context

    return current_app.config.get(CLINIC_SETTING_KEYS[name]) if has_app_context() else None


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def from_environment() -> dict:
    folder = data_dir()
    return {
        "DATA_DIR": str(folder),
        "QUESTIONNAIRE_DIR": str(questionnaire_dir()),
        "STUDIES_DIR": str(studies_dir()),
        "SECRET_KEY": _secret_key(folder),
        "SESSION_COOKIE_SECURE": _flag("PRO_APP_SECURE_COOKIES", True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "pro_app_session",
        # A tablet may sit in a drawer for a day; staff sessions expire on inactivity (STAFF_IDLE_MINUTES).
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "STAFF_IDLE_MINUTES": int(os.environ.get("PRO_APP_STAFF_IDLE_MINUTES", "15")),
        "TABLET_IDLE_MINUTES": int(os.environ.get("PRO_APP_TABLET_IDLE_MINUTES", "10")),
        # After the thank-you page the tablet locks by itself this many seconds later.
        "TABLET_DONE_LOCK_SECONDS": int(os.environ.get("PRO_APP_TABLET_DONE_LOCK_SECONDS", "30")),
        # The token lives as long as the session; a stale one re-renders the page, answers kept.
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": os.environ.get("PRO_APP_DEFAULT_LANGUAGE", "sv"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("PRO_APP_TIMEZONE", "Europe/Stockholm"),
        "BABEL_TRANSLATION_DIRECTORIES": str(translations_dir()),
        "MAX_CONTENT_LENGTH": 1 * 1024 * 1024,
        # How many reverse proxies (terminating HTTPS) stand in front: their X-Forwarded-* headers are trusted.
        "TRUSTED_PROXIES": int(os.environ.get("PRO_APP_TRUSTED_PROXY", "0")),
        # Swedish labs report µkat/L: the enzyme form preselects this unit, summaries show enzymes in it.
        "ENZYME_UNIT": enzyme_unit(),
    }
