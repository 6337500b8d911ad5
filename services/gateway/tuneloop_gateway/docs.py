"""/docs: Swagger UI served from the gateway itself, with no inline script, never in a frame.

flask-smorest's own page starts Swagger UI from an inline script, which a Content-Security-
Policy without 'unsafe-inline' blocks. This page passes the same settings in data attributes
to a script of ours (docs_assets/docs.js), so /docs gets the report pages' CSP.
"""

from importlib.resources import files

from flask import Blueprint, Response, current_app, render_template, send_from_directory, url_for

from tuneloop_gateway.headers import SECURITY_HEADERS

PATH = "/docs"
SCRIPT = "tuneloop-docs.js"  # ours, served beside Swagger UI's files


def add_docs_rules(blueprint: Blueprint) -> None:
    """Add /docs and its files to flask-smorest's docs blueprint, with the security headers."""
    blueprint.add_url_rule(PATH, endpoint="openapi_swagger_ui", view_func=page)
    blueprint.add_url_rule(f"{PATH}/static/<path:filename>", endpoint="files", view_func=asset)
    blueprint.after_request(secure)


def page() -> str:
    """Render the Swagger UI page: the document's URL and settings as data attributes."""
    return render_template(
        "docs.html",
        title=current_app.config["API_TITLE"],
        spec_url=url_for(".openapi_json"),
        assets=f"{PATH}/static/",
        script=SCRIPT,
        config=current_app.config.get("OPENAPI_SWAGGER_UI_CONFIG", {}),
    )


def asset(filename: str) -> Response:
    """Serve our start script, or a file of the pinned flask-swagger-ui package (offline)."""
    if filename == SCRIPT:
        return send_from_directory(str(files("tuneloop_gateway") / "docs_assets"), "docs.js")
    return send_from_directory(str(files("flask_swagger_ui") / "dist"), filename)


def secure(response: Response) -> Response:
    """Send the pages' CSP (frame-ancestors 'none'), X-Frame-Options: DENY and the rest."""
    response.headers.update(SECURITY_HEADERS)
    return response
