"""The course analytics and leaderboards pages: served with a strict policy, and working
in a real browser.

The browser test runs headless Chromium (``apt-get install chromium``; scripts/test
installs it) against the app on a real HTTP server, and reads the DOM after the
page's script has asked the API with the token given in the URL fragment.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from flask.testing import FlaskClient

from api import create_app
from api.config import ApiSettings
from api.state import EXTENSION
from tests.api.conftest import PLAIN, SECURED, Feed, MakeApp, Token
from tests.conftest import TEST_PRODUCTS
from tests.support.browser import browse, needs_chromium, serving
from tests.support.varcade import game_over, raw, submitted
from tests.tracker.edx.logs_gen import COURSE
from tracker.clock import Clock
from tracker.periods import Period, PeriodKind
from tracker.processing import BatchProcessor
from tracker.products import load_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Store


def test_the_page_and_its_files(secured: FlaskClient) -> None:
    page = secured.get("/dashboard/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert b'src="static/dashboard.js"' in page.data and b"<script>" not in page.data
    script = secured.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and b"/analytics" in script.data
    assert secured.get("/dashboard/static/../dashboard.py").status_code == 404


@pytest.fixture
def served(make_app: MakeApp, imported: None) -> Iterator[str]:
    with serving(make_app(SECURED)) as url:
        yield url


@needs_chromium
def test_staff_see_their_course_in_a_browser(served: str, token: Token,
                                            tmp_path: Path) -> None:
    course = quote(COURSE, safe="")
    dom = browse(f"{served}/dashboard/#course={course}&token={token(sub='prof')}",
                 tmp_path / "staff")
    assert "Ann Lee" in dom and "bob@example.org" in dom  # the learners, with contacts
    assert "0 h 02 min" in dom  # ann's 50 s + bob's 100 s + dee's 4 s
    assert "75 %" in dom  # the video's mean coverage
    assert "2025-11-29" in dom  # the per-day table
    assert "type@vertical+block@u1" in dom  # the per-unit table
    dom = browse(f"{served}/dashboard/#course={course}&token={token(sub='ann')}",
                 tmp_path / "student")
    assert "for that course's staff" in dom  # the API's refusal, shown as it said it
    assert "bob@example.org" not in dom
    # without a course: the only course the token's staff role covers is chosen
    dom = browse(f"{served}/dashboard/#token={token(sub='prof')}", tmp_path / "no-course")
    assert "Ann Lee" in dom and f'value="{COURSE}"' in dom


def test_the_leaderboards_page_and_its_files(client: FlaskClient) -> None:
    page = client.get("/dashboard/boards")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert b'src="static/leaderboards.js"' in page.data and b"<script>" not in page.data
    script = client.get("/dashboard/static/leaderboards.js")
    assert script.status_code == 200 and b"/around" in script.data


@pytest.fixture
def boards_served(make_app: MakeApp, feed: Feed, feed_now: Feed) -> Iterator[str]:
    """The public API on a real HTTP server, with exrps, snake and cup boards filled (snake
    this week, so that its weekly board has them too)."""
    # p0 beats everyone, p1 everyone after it ... : p<i> has 30 - i wins (p30: none)
    feed("exrps", [game_over("exrps", f"p{i}", f"p{j}") for i in range(31)
                   for j in range(i + 1, 31)])
    feed_now("snake", [submitted("snake", "high_score", "ann", 70, metadata='{"car": "red"}'),
                   submitted("snake", "high_score", "bob", 90),
                   submitted("snake", "high_score", "ann", 50),
                   # equal bests on fastest: the quicker run first
                   submitted("snake", "fastest", "ann", 70, subscore=91_500),
                   submitted("snake", "fastest", "bob", 70, subscore=88_000)])
    # a tournament of 3 attempts: ann's fourth (99) is refused
    feed("cup", [submitted("cup", "cup", "ann", score) for score in (40, 60, 20, 99)])
    # a league that counts only the players who joined: bob did not
    feed("cup", [{"product_id": "cup", "type": "join", "board": "league", "user_id": "ann"},
                 submitted("cup", "league", "ann", 12), submitted("cup", "league", "bob", 30)])
    with serving(make_app()) as url:
        yield url


@needs_chromium
def test_anyone_browses_the_leaderboards(boards_served: str, tmp_path: Path) -> None:
    dom = browse(f"{boards_served}/dashboard/boards#product=snake&board=high_score",
                 tmp_path / "snake")
    rows = re.findall(r"<tr(?: class=\"me\")?><td class=\"num\">(\d+)</td><td>(\w+)</td>"
                      r"<td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>", dom)
    assert rows == [("1", "bob", "90", "1"), ("2", "ann", "70", "2")]  # ann's 2 submissions
    assert "{&quot;car&quot;:&quot;red&quot;}" in dom or '{"car":"red"}' in dom
    assert "snake · high_score" in dom and "2 players, ranked competition" in dom
    assert "Joined:" not in dom  # no lobby on a board that takes no joins
    assert '<option value="2026-W' in dom or "(week)" in dom  # its weekly boards offered

    # around a player on a weekly board: the player's rank in each week still kept
    dom = browse(f"{boards_served}/dashboard/boards#product=snake&board=high_score&player=ann",
                 tmp_path / "weeks")
    assert re.search(r"ann by period: \d{4}-W\d\d \(week\): 2 of 2, 70<", dom), dom
    assert "by period" not in browse(f"{boards_served}/dashboard/boards#product=exrps&board="
                                     "wins&player=p3", tmp_path / "all-time")  # no periods

    # around a player, dense: the player's row marked, among its neighbours
    dom = browse(f"{boards_served}/dashboard/boards#product=exrps&board=wins&player=p15"
                 "&ties=dense", tmp_path / "around")
    assert '<tr class="me"><td class="num">16</td><td>p15</td><td class="num">15</td>' in dom
    assert "ranked dense" in dom and "<td>p14</td>" in dom and "<td>p16</td>" in dom
    # a tournament board says its attempts; ann's best of her three counted
    dom = browse(f"{boards_served}/dashboard/boards#product=cup&board=cup", tmp_path / "cup")
    assert "1 player, ranked competition; each player's first 3 submissions count; the " \
           "first 50 players are in" in dom
    assert '<td>ann</td><td class="num">60</td><td class="num">3</td>' in dom
    # a board with a subscore shows both columns, and says how it ranks equal scores
    dom = browse(f"{boards_served}/dashboard/boards#product=snake&board=fastest",
                 tmp_path / "fastest")
    assert "2 players, ranked competition; score / subscore, equal scores by the lowest " \
           "subscore" in dom
    assert re.findall(r"<td>(\w+)</td><td class=\"num\">([\d /]+)</td>", dom) == [
        ("bob", "70 / 88000"), ("ann", "70 / 91500")]
    dom = browse(f"{boards_served}/dashboard/boards#product=cup&board=league",
                 tmp_path / "league")
    assert "1 player, ranked competition; only the players who joined count" in dom
    assert "<td>ann</td>" in dom and "<td>bob</td>" not in dom
    assert "Joined: 1 player, the first to join first: ann" in dom  # its lobby
    # a board that does not exist: the API's error, shown as it said it
    dom = browse(f"{boards_served}/dashboard/boards#product=exrps&board=wins&player=nobody",
                 tmp_path / "missing")
    assert "is not on board" in dom


@needs_chromium
def test_periods_on_a_boards_own_clock_say_which(settings: Settings, store: Store,
                                                  dead_letters: DeadLetters,
                                                  tmp_path: Path) -> None:
    """A board on a time zone or an offset labels its periods with that clock."""
    config = tmp_path / "products.toml"
    config.write_text('[products]\n'
                      'derby = { handlers = [{ use = "wins", periods = ["day"], '
                      'time_zone = "America/New_York" }] }\n'
                      'sumo = { handlers = [{ use = "wins", periods = ["week"], '
                      'utc_offset = "+09:00" }] }\n'
                      'pong = { handlers = [{ use = "wins", periods = ["week"] }] }\n')
    local = replace(settings, products_file=str(config))
    now = int(time.time() * 1000)
    processor = BatchProcessor(load_products(local.products_path), store, dead_letters)
    for product in ("derby", "sumo", "pong"):
        processor.process(product, "s", [(f"{now}-0", {
            k.encode(): v.encode() for k, v in game_over(product, "ann", "bob").items()})])
    app = create_app(local, ApiSettings(rate_limit="off"))
    day = Period.containing(PeriodKind.DAY, now, Clock(zone="America/New_York"))
    week = Period.containing(PeriodKind.WEEK, now, Clock(9 * 3_600_000))
    utc_week = Period.containing(PeriodKind.WEEK, now)
    with serving(app) as url:
        shown = {product: browse(f"{url}/dashboard/boards#product={product}&board=wins",
                                 tmp_path / product) for product in ("derby", "sumo", "pong")}
    assert f'<option value="{day.id}">{day.id} (day, America/New_York)</option>' in \
        shown["derby"], shown["derby"]
    assert f'<option value="{week.id}">{week.id} (week, UTC+09:00)</option>' in shown["sumo"]
    assert f'<option value="{utc_week.id}">{utc_week.id} (week)</option>' in shown["pong"]


@needs_chromium
def test_a_rate_limited_board_says_its_limit(settings: Settings, tmp_path: Path) -> None:
    limited = tmp_path / "products.toml"
    limited.write_text(TEST_PRODUCTS.read_text() + (
        'arcade = { handlers = [{ use = "score", board = "total", operator = "sum", '
        'rate_limit = { submissions = 2, seconds = 3600 } }] }\n'))
    chosen = replace(settings, products_file=str(limited))
    hour = int(time.time() * 1000) // 3_600_000 * 3_600_000
    store = Store(redis.Redis.from_url(settings.redis_url))
    BatchProcessor(load_products(limited), store, DeadLetters(store.client)).process(
        "arcade", "s", [(f"{hour + i}-0", raw(submitted("arcade", "total", "ann", 5)))
                        for i in range(4)])
    app = create_app(chosen, PLAIN)
    try:
        with serving(app) as url:
            dom = browse(f"{url}/dashboard/boards#product=arcade&board=total", tmp_path / "b")
    finally:
        app.extensions[EXTENSION].close()
    assert "1 player, ranked competition; at most 2 submissions of a player per 3600 s " \
           "count" in dom
    assert '<td>ann</td><td class="num">10</td><td class="num">2</td>' in dom  # 2 of 4
