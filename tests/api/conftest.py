"""Fixtures for the read API: the app on the test Redis, tokens, and a way to feed it events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import jwt
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from api import create_app
from api.config import ApiSettings
from api.state import EXTENSION, ApiState
from tests.tracker.edx.logs_gen import COURSE, line, video
from tracker.edx.cli import edx_import_command
from tracker.processing import BatchProcessor, BatchReport
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store

Feed = Callable[[str, list[dict[str, str]]], BatchReport]
MakeApp = Callable[..., flask.Flask]
Token = Callable[..., str]

SECRET = "test-secret-" + "long-enough-for-hs256-and-hs512-" * 2
ISSUER = "https://auth.varcade.test"
AUDIENCE = "stats-tracker"
# What the tests run with unless they say otherwise: no JWT key, no rate limit
# (the rate-limit tests turn it on).
PLAIN = ApiSettings(rate_limit="off")
SECURED = ApiSettings(jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE,
                      rate_limit="off")


@pytest.fixture
def make_app(settings: Settings) -> Iterator[MakeApp]:
    """Build apps on the test Redis: ``make_app(SECURED)``, ``make_app(rate_limit=...)``."""
    apps: list[flask.Flask] = []

    def make(api_settings: ApiSettings | None = None, **changes: Any) -> flask.Flask:
        base = api_settings or PLAIN
        app = create_app(settings, ApiSettings(**{**base.__dict__, **changes}))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        state: ApiState = app.extensions[EXTENSION]
        state.close()


@pytest.fixture
def app(make_app: MakeApp) -> flask.Flask:
    return make_app()


@pytest.fixture
def client(app: flask.Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def secured(make_app: MakeApp) -> FlaskClient:
    """An app that verifies HS256 tokens with issuer and audience."""
    return make_app(SECURED).test_client()


@pytest.fixture
def token() -> Token:
    """``token(sub=..., scope=..., exp_in=..., key=..., aud=..., iss=..., **claims)``."""

    def make(sub: str | None = "someone", scope: str | list[str] | None = None,
             exp_in: float = 300, key: str = SECRET, aud: str | None = AUDIENCE,
             iss: str | None = ISSUER, algorithm: str = "HS256", **claims: Any) -> str:
        payload: dict[str, Any] = {"exp": int(time.time() + exp_in), **claims}
        if sub is not None:
            payload["sub"] = sub
        if isinstance(scope, str):
            payload["scope"] = scope
        elif scope is not None:
            payload["scopes"] = scope
        if aud is not None:
            payload["aud"] = aud
        if iss is not None:
            payload["iss"] = iss
        payload = {k: v for k, v in payload.items() if v is not None}  # exp=None: no exp
        return jwt.encode(payload, key, algorithm=algorithm)

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def feed(products: Products, store: Store, dead_letters: DeadLetters) -> Feed:
    """Apply stream entries of one product through the real BatchProcessor."""
    return _feeder(products, store, dead_letters, 1_700_000_000_000)


@pytest.fixture
def feed_now(products: Products, store: Store, dead_letters: DeadLetters) -> Feed:
    """``feed``, with entry ids of the current time: the current period's boards take them."""
    return _feeder(products, store, dead_letters, int(time.time() * 1000))


def _feeder(products: Products, store: Store, dead_letters: DeadLetters, start_ms: int) -> Feed:
    base = [start_ms]

    def feed(product_id: str, rows: list[dict[str, str]]) -> BatchReport:
        entries = [(f"{base[0] + i}-0", {k.encode(): v.encode() for k, v in row.items()})
                   for i, row in enumerate(rows)]
        base[0] += len(rows)
        report = BatchProcessor(products, store, dead_letters).process(product_id, "s", entries)
        assert not report.dead_lettered, report.as_dict()
        return report

    return feed


# --- course analytics: two courses imported by `tracker edx-import` -------------------------

OTHER = "course-v1:OrgX+Art202+2026"
UNIT = "block-v1:OrgX+Data101+2026+type@vertical+block@u1"
UNIT_URL = f"https://apps.lms/learning/course/{COURSE}/{UNIT}"
T0 = 1_764_400_000.0
ROSTER = f"""course_id,username,role,email,name
{COURSE},ann,student,ann@example.org,Ann Lee
{COURSE},bob,student,bob@example.org,Bob Roy
{COURSE},prof,instructor,prof@example.org,Prof X
{COURSE},ta,data_researcher,,
{OTHER},carl,staff,carl@example.org,Carl
{OTHER},ann,student,ann@example.org,Ann Lee
"""


@pytest.fixture
def imported(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "tracking.log"
    log.write_text("\n".join([
        line("play_video", T0, video(currentTime=0, duration=100), user="ann", page=UNIT_URL),
        line("pause_video", T0 + 50, video(currentTime=50), user="ann"),
        line("play_video", T0, video(currentTime=0, duration=100), user="bob"),
        line("stop_video", T0 + 100, video(currentTime=100), user="bob"),
        line("play_video", T0 + 1, video(currentTime=0), user="prof"),  # the team: left out
        line("stop_video", T0 + 90, video(currentTime=90), user="prof"),
        line("page_close", T0 + 5, {}, user="ann", course=OTHER),
        line("seq_goto", T0 + 5, {}, user="dee"), line("seq_goto", T0 + 9, {}, user="dee"),
    ]) + "\n")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    monkeypatch.setenv("TRACKER_REDIS_URL", settings.redis_url)
    result = CliRunner().invoke(edx_import_command, [str(log), "--roster", str(roster)])
    assert result.exit_code == 0, result.output
    assert "2 courses stored" in result.output
