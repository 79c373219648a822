"""HTML -> PDF with WeasyPrint, reading stylesheets from the package (never over the network)."""
from __future__ import annotations

import mimetypes
from pathlib import Path

from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

__all__ = ["render_pdf"]

STATIC = Path(__file__).resolve().parent / "static"


class StaticFetcher(URLFetcher):
    """Serves /static/... from the package; refuses everything else (a summary fetches nothing else)."""

    def fetch(self, url, headers=None):
        marker = "/static/"
        if marker not in url:
            raise ValueError(f"refusing to fetch {url}")
        name = url.split(marker, 1)[1].split("?", 1)[0]
        path = (STATIC / name).resolve()
        if STATIC not in path.parents or not path.is_file():
            raise ValueError(f"no such static file: {name}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})


def render_pdf(html: str, page_css: str = "") -> bytes:
    """A PDF of the page; ``page_css`` adds @page rules (running header, translated page numbers)."""
    fetcher = StaticFetcher()
    stylesheets = [CSS(string=page_css, url_fetcher=fetcher)] if page_css else []
    document = HTML(string=html, base_url="http://pro-app.invalid/", url_fetcher=fetcher, media_type="print")
    return document.write_pdf(stylesheets=stylesheets)
