"""``/openapi.json`` and the documentation page ``/docs/`` (Swagger UI, served locally).

The Swagger UI assets ship inside the flask-swagger-ui package and are served
by this app: the page needs no CDN and works without internet access.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from flask_swagger_ui import get_swaggerui_blueprint

from api.openapi import TITLE, Auth, Operation, operation

EXTENSION = "stats_tracker_openapi"
SPEC_PATH = "/openapi.json"
DOCS_PATH = "/docs"

bp = Blueprint("openapi", __name__)


@bp.get(SPEC_PATH)
@operation(Operation(tag="operations", response=None, auth=Auth.NONE, reads_redis=False,
                     rate_limited=False, plain={"type": "object"}))
def openapi_json() -> ResponseReturnValue:
    """This OpenAPI 3 document, generated from the code."""
    spec: dict[str, Any] = current_app.extensions[EXTENSION]
    return jsonify(spec)


def init_docs(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(get_swaggerui_blueprint(
        DOCS_PATH, SPEC_PATH, config={"app_name": TITLE}))
