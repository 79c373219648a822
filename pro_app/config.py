"""Configuration from environment variables with the ``PRO_APP_`` prefix."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

__all__ = ["PROJECT_ROOT", "questionnaire_dir", "studies_dir", "translations_dir", "default_data_dir", "data_dir",
           "database_url", "storage_address", "from_environment", "enzyme_unit", "clinic_setting"]

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


def database_url() -> str:
    """``PRO_APP_DATABASE_URL`` (postgresql://...), or "" for the embedded TinyDB store in the data folder."""
    return os.environ.get("PRO_APP_DATABASE_URL", "").strip()


def storage_address() -> str:
    """Where the data is: the database URL when one is configured, else the data folder."""
    return database_url() or str(data_dir())


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
        "DATABASE_URL": database_url(),
        # From the environment, else generated once and kept by the store (shared by every server).
        "SECRET_KEY": os.environ.get("PRO_APP_SECRET_KEY") or None,
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
