"""Probes: ``/health`` (liveness, no I/O) and ``/ready`` (readiness, pings Redis)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from api.errors import UNAVAILABLE
from api.openapi import Auth, Operation, operation
from api.schemas import HealthSchema, ReadySchema
from api.state import state

bp = Blueprint("health", __name__)


@bp.get("/health")
@operation(Operation(tag="operations", response=HealthSchema, auth=Auth.NONE,
                     reads_redis=False, rate_limited=False))
def health() -> ResponseReturnValue:
    """Liveness: the process answers; says nothing about Redis (a restart would not fix it)."""
    return jsonify({"status": "ok"})


@bp.get("/ready")
@operation(Operation(tag="operations", response=ReadySchema, auth=Auth.NONE,
                     rate_limited=False))
def ready() -> ResponseReturnValue:
    """Readiness: 200 `{"status": "ready"}` if Redis answers PING, else 503 JSON."""
    try:
        state().store.client.ping()
    except UNAVAILABLE as exc:
        current_app.logger.warning("readiness: Redis unavailable: %s", exc)
        return jsonify({"status": "unavailable", "error": "storage_unavailable",
                        "message": f"Redis did not answer PING ({type(exc).__name__})."}), 503
    return jsonify({"status": "ready"})
