"""The web page at `/`: upload photos, watch them go through, see the annotated result.

Plain HTML, CSS and JavaScript served by Flask; it talks to the public API like any client.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from api import context

# Everything the page uses comes from this origin; the policy makes a stray external reference
# fail loudly in the browser instead of leaking a visitor's address. blob: carries the annotated
# image and the JSON, fetched with the X-API-Key header when keys are on.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# Scripts and styles are the app's /static files (api/static).
web_bp = Blueprint("web", __name__, template_folder="templates")


def human_size(size: int) -> str:
    """A byte count as people read it on this page: "10 MB", "195 KB"."""
    if size >= 2**20:
        return f"{size / 2**20:.3g} MB"
    return f"{max(1, round(size / 2**10))} KB"


@web_bp.get("/")
def index() -> Response:
    settings = context.settings()
    html = render_template(
        "index.html",
        max_upload_bytes=settings.max_upload_bytes,
        max_upload_text=human_size(settings.max_upload_bytes),
        keys_enabled=bool(settings.api_keys),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
