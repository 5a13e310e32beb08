"""The API reference page (Swagger UI) that each service serves at ``/docs/``, from the files
the ``flask-swagger-ui`` package ships: no CDN, nothing fetched from elsewhere, and no inline
script (the page starts Swagger UI from ``init.js``), so a strict Content-Security-Policy
holds. Only the files listed here are served: a request for any other name is a 404, never a
file-system lookup of a name the client chose.

Pure: no Flask (the package is found, not imported)."""

from __future__ import annotations

import html
import importlib.util
import mimetypes
from functools import cache
from pathlib import Path

FILES = (
    "swagger-ui.css", "index.css", "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js", "favicon-32x32.png", "favicon-16x16.png",
)  # fmt: skip
INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "../openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
"""


def _dist() -> Path:
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the flask-swagger-ui package is missing (pip install newsflow)")
    return Path(next(iter(spec.submodule_search_locations))) / "dist"


def index_html(title: str) -> str:
    t = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{t}</title>\n"
        '<link rel="stylesheet" href="swagger-ui.css">\n'
        '<link rel="stylesheet" href="index.css">\n'
        '<link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">\n'
        "</head>\n<body>\n"
        '<div id="swagger-ui"></div>\n'
        '<script src="swagger-ui-bundle.js"></script>\n'
        '<script src="swagger-ui-standalone-preset.js"></script>\n'
        '<script src="init.js"></script>\n'
        "</body>\n</html>\n"
    )


@cache
def asset(name: str) -> tuple[bytes, str] | None:
    """(bytes, media type) of one of the page's files, or None for any other name."""
    if name == "init.js":
        return INIT.encode(), "text/javascript"
    if name not in FILES:
        return None
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return (_dist() / name).read_bytes(), kind
