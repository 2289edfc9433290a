"""The web page at `/`: upload photos, watch them go through, see the annotated result.

Plain HTML, CSS and JavaScript served by Flask; it talks to the public API like any client.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from api import context

# Scripts and styles are the app's /static files (api/static).
web_bp = Blueprint("web", __name__, template_folder="templates")


@web_bp.get("/")
def index() -> Response:
    settings = context.settings()
    html = render_template(
        "index.html",
        max_upload_mb=settings.max_upload_bytes / 2**20,
        keys_enabled=bool(settings.api_keys),
    )
    return Response(html, mimetype="text/html")
