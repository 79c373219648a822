"""What every page shares: language switch, security headers, error pages, number and date format."""
from __future__ import annotations

import io
import logging
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import urlparse

from flask import Flask, abort, redirect, render_template, request, session, url_for
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError

from .storage import NotFound, StorageError

__all__ = ["init_app", "safe_next", "number", "current_language", "template_helpers", "CSP", "BodyLimit"]

log = logging.getLogger("pro_app")

# No inline scripts or styles: everything comes from /static.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def current_language() -> str:
    """The reader's language code: the session's choice, else the browser's, else the default."""
    return str(get_locale() or "sv")


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: never an open redirect."""
    if not target:
        return default
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def number(value: Any, decimals: int = 1) -> str:
    """A number in the reader's locale (a decimal comma in Swedish), rounded half up to ``decimals``.

    Rounding happens here, for display only; a float is read by its shortest decimal form.
    """
    if value is None:
        return "–"
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    fmt = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(rounded, format=fmt)


def template_helpers() -> dict[str, Any]:
    """What every template may use; the preview app (preview.py) registers the same."""
    return {
        "lang": current_language(),
        "number": number,
        "format_date": format_date,
        "format_datetime": format_datetime,
    }


class BodyLimit:
    """WSGI middleware: a request body over ``limit`` bytes is refused (413) whatever its framing.

    Werkzeug checks a Content-Length against MAX_CONTENT_LENGTH, but a chunked body has none and
    was cut at the limit and used. Here a body without a length is read up to the limit; one that
    is longer is drained (up to ``drain``) and marked too large, so the app answers 413 in the
    reader's language; one that fits is handed on with its length.
    """

    def __init__(self, app: Any, limit: int, drain: int = 64 * 1024 * 1024):
        self.app = app
        self.limit = limit
        self.drain = drain

    def __call__(self, environ: dict[str, Any], start_response: Any):
        if not environ.get("CONTENT_LENGTH") and (
                environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()):
            stream = environ["wsgi.input"]
            body = bytearray()
            while len(body) <= self.limit:
                chunk = stream.read(min(65536, self.limit + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
            if len(body) > self.limit:
                seen = len(body)
                while seen < self.drain and (chunk := stream.read(65536)):
                    seen += len(chunk)
                body = bytearray()
                environ["CONTENT_LENGTH"] = str(self.limit + 1)  # refused below, before any view reads it
            else:
                environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(bytes(body))
            environ.pop("wsgi.input_terminated", None)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    app.wsgi_app = BodyLimit(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])  # type: ignore[method-assign]

    @app.before_request
    def body_limit():
        if request.content_length is not None and request.content_length > app.config["MAX_CONTENT_LENGTH"]:
            abort(413)

    @app.route("/")
    def index():
        if session.get("kind") == "tablet":
            return redirect(url_for("patient.home"))
        if session.get("kind") == "staff":
            return redirect(url_for("staff.dashboard"))
        return redirect(url_for("auth.login"))

    @app.post("/language")
    def language():
        lang = request.form.get("lang")
        if lang in ("sv", "en"):
            session["lang"] = lang
        return redirect(safe_next(request.form.get("next"), url_for("index")))

    app.context_processor(template_helpers)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if not request.path.startswith("/static/"):
            # Patient answers and staff views must not linger in a browser cache or come back with Back.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        from . import patient

        kept = patient.render_after_stale_token()
        if kept is not None:
            return kept
        return render_template("error.html", title=_("The form had expired"),
                               message=_("For your security the form had expired. Please go back and try again.")), 400

    @app.errorhandler(StorageError)
    def storage_error(exc: StorageError):
        log.error("storage error: %s", exc)
        if exc.disk_full:
            message = _("The answers could not be saved right now: the disk is full. Answers already saved are kept. "
                    "Please tell the staff.")
        else:
            message = _("The answers could not be saved right now. Nothing already saved is lost. Please ask the staff for help.")
        return render_template("error.html", title=_("Could not save"), message=message), 503

    # Each error page in the reader's language: (status or exception, title, message).
    pages = [
        (NotFound, 404, _l("Not found"), _l("This page does not exist.")),
        (404, 404, _l("Not found"), _l("This page does not exist.")),
        (403, 403, _l("Not allowed"), _l("You do not have access to this page.")),
        (405, 405, _l("Not found"), _l("This page does not exist.")),
        (413, 413, _l("Too much data"), _l("The form sent too much data.")),
        (500, 500, _l("Something went wrong"),
         _l("An unexpected error occurred. Answers already saved are kept. Please ask the staff for help.")),
    ]
    for key, status, title, message in pages:
        app.register_error_handler(key, _error_page(status, title, message))


def _error_page(status: int, title: Any, message: Any):
    def handler(exc: Exception):
        return render_template("error.html", title=title, message=message), status

    return handler
