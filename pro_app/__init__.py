"""pro-app: electronic patient-reported outcomes for myositis clinics.

``create_app()`` wires configuration, extensions and blueprints, and loads every
questionnaire: the app refuses to start if one is invalid, naming file and line.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from . import config
from .catalog import Catalog
from .definitions import DefinitionErrors, load_directory
from .storage import DIR_MODE, StorageError, open_store

__all__ = ["create_app", "LANGUAGES"]

LANGUAGES = ("sv", "en")
babel = Babel()
csrf = CSRFProtect()
log = logging.getLogger(__name__)


def get_locale() -> str:
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    from flask import current_app

    return request.accept_languages.best_match(LANGUAGES) or current_app.config["BABEL_DEFAULT_LOCALE"]


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config.from_environment())
    if overrides:
        app.config.update(overrides)

    try:
        questionnaires = load_directory(app.config["QUESTIONNAIRE_DIR"])
    except DefinitionErrors as exc:
        raise SystemExit(f"pro-app cannot start: invalid questionnaire definition(s):\n{exc}") from None
    if not questionnaires:
        raise SystemExit(f"pro-app cannot start: no questionnaires in {app.config['QUESTIONNAIRE_DIR']}")

    from .studies import load_studies

    try:
        studies, warnings = load_studies(app.config["STUDIES_DIR"], questionnaires)
    except DefinitionErrors as exc:
        raise SystemExit(f"pro-app cannot start: invalid study definition(s):\n{exc}") from None
    for warning in warnings:
        log.warning("study: %s", warning)

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    store = open_store(app.config["DATABASE_URL"] or app.config["DATA_DIR"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = store.secret_key()
    try:  # this server's own lock files live in the data folder, whichever backend keeps the data
        Path(app.config["DATA_DIR"]).mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create data folder {app.config['DATA_DIR']}: {exc.strerror}") from exc
    app.extensions["pro_app"] = Catalog(questionnaires, store)
    app.extensions["pro_app.studies"] = studies

    babel.init_app(app, locale_selector=get_locale)

    from . import admin, auth, patient, staff, study_pages, web

    web.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(patient.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(study_pages.bp)
    # After the blueprints: the tablet's lock and idle checks (an app-wide before-request of the
    # patient blueprint) run before CSRF handling, so a locked tablet never reaches a stale-token page.
    csrf.init_app(app)
    return app
