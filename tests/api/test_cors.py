"""Cross-origin reads (``TRACKER_CORS_ORIGINS``): preflights, the headers a page's
script may read, origins refused, and a real browser reading the API from another
origin."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import flask
import pytest

from api.config import ApiSettings, parse_origins
from tests.api.conftest import SECURED, Feed, MakeApp, Token, bearer
from tests.support.browser import browse, needs_chromium, serving
from tests.support.varcade import game_over

PORTAL = "https://portal.example.com"
PREFLIGHT = {"Origin": PORTAL, "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "authorization"}
STANDING = "/products/exrps/boards/wins/players/ann"


def test_without_origins_no_cors_headers(make_app: MakeApp, feed: Feed) -> None:
    feed("exrps", [game_over("exrps", "ann", "bob")])
    client = make_app().test_client()
    answer = client.get(STANDING, headers={"Origin": PORTAL})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Origin" not in client.options(STANDING,
                                                                headers=PREFLIGHT).headers


def test_a_listed_origin_reads_with_a_token_after_a_free_preflight(
        make_app: MakeApp, feed: Feed, token: Token) -> None:
    feed("exrps", [game_over("exrps", "ann", "bob")])
    client = make_app(SECURED, cors_origins=(PORTAL, "http://localhost:8080"),
                      rate_limit="3 per minute", public_leaderboards=False).test_client()
    for _ in range(5):  # preflights need no token and spend none of the budget
        preflight = client.options(STANDING, headers=PREFLIGHT)
        assert preflight.status_code == 204 and "Content-Type" not in preflight.headers
        assert preflight.headers["Access-Control-Allow-Origin"] == PORTAL
        assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
        assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
        assert preflight.headers["Access-Control-Max-Age"] == "600"
    answer = client.get(STANDING, headers={"Origin": PORTAL, **bearer(token(sub="ann"))})
    assert answer.status_code == 200 and answer.get_json()["rank"] == 1
    assert answer.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "Origin" in answer.headers["Vary"]
    exposed = {h.strip().lower() for h in
               answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"} <= exposed
    assert answer.headers["X-RateLimit-Remaining"] == "2"  # only the GET counted

    # errors carry the headers too, so the page's script can read what went wrong
    missing = client.get(STANDING, headers={"Origin": PORTAL})
    assert missing.status_code == 401 and missing.get_json()["error"]
    assert missing.headers["Access-Control-Allow-Origin"] == PORTAL
    for _ in range(2):
        client.get(STANDING, headers={"Origin": PORTAL, **bearer(token(sub="ann"))})
    limited = client.get(STANDING, headers={"Origin": PORTAL, **bearer(token(sub="ann"))})
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert limited.headers["Access-Control-Allow-Origin"] == PORTAL

    # an origin not listed gets no permission
    other = client.get(STANDING, headers={"Origin": "https://evil.example",
                                          **bearer(token(sub="ann"))})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_options_answers_204_with_the_methods_allowed(make_app: MakeApp) -> None:
    client = make_app().test_client()
    answer = client.options("/products/exrps")
    assert (answer.status_code, answer.data) == (204, b"")
    assert "Content-Type" not in answer.headers  # Flask's default would say text/html
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    unknown = client.options("/no/such/route")
    assert (unknown.status_code, unknown.get_json()["error"]) == (404, "not_found")


def test_any_origin(make_app: MakeApp) -> None:
    client = make_app(cors_origins=("*",)).test_client()
    answer = client.get("/products", headers={"Origin": "https://anyone.example"})
    assert answer.headers["Access-Control-Allow-Origin"] in ("*", "https://anyone.example")


def test_origins_are_parsed_and_bad_ones_refused() -> None:
    assert parse_origins("") == ()
    assert parse_origins(" * ") == ("*",)
    assert parse_origins("https://a.example, http://b.example:8080/ http://[::1]:5000") == (
        "https://a.example", "http://b.example:8080", "http://[::1]:5000")
    assert ApiSettings.from_env({"TRACKER_CORS_ORIGINS": "https://a.example"}).cors_origins \
        == ("https://a.example",)
    for bad in ("a.example", "https://a.example/path", "ftp://a.example", "*, https://a.b"):
        with pytest.raises(ValueError, match="TRACKER_CORS_ORIGINS"):
            parse_origins(bad)


PAGE = """<!doctype html><title>portal</title><pre id="out">waiting</pre><script>
fetch(%s, {headers: {Authorization: "Bearer " + %s}})
  .then(r => r.json().then(body => ({status: r.status, remaining:
        r.headers.get("X-RateLimit-Remaining"), body})))
  .then(x => { document.getElementById("out").textContent = "read " + JSON.stringify(x); })
  .catch(e => { document.getElementById("out").textContent = "blocked " + e; });
</script>"""


@needs_chromium
def test_a_portal_on_another_origin_reads_the_api_in_a_browser(
        make_app: MakeApp, feed: Feed, token: Token, tmp_path: Path) -> None:
    feed("exrps", [game_over("exrps", "ann", "bob")])
    asks: dict[str, str] = {}  # what the portal's page fetches, with which token
    portal = flask.Flask("portal")
    portal.add_url_rule("/", "page", lambda: PAGE % (json.dumps(asks["url"]),
                                                     json.dumps(asks["token"])))

    def visit(api_settings: dict[str, object], profile: str) -> str:
        api = make_app(SECURED, public_leaderboards=False, **api_settings)
        with serving(api) as api_url:
            asks.update(url=api_url + STANDING, token=token(sub="ann"))
            dom = browse(portal_url, tmp_path / profile)
        found = re.search(r'id="out">(.*?)</pre>', dom, re.S)
        assert found, dom
        return html.unescape(found.group(1))

    with serving(portal) as portal_url:
        # the portal's page, from its own origin, reads ann's standing with ann's token
        shown = visit({"cors_origins": (portal_url,), "rate_limit": "100 per minute"}, "open")
        assert shown.startswith("read "), shown
        read = json.loads(shown.removeprefix("read "))
        assert read["status"] == 200 and read["body"]["rank"] == 1
        assert read["remaining"] == "99"  # an exposed header; the preflight was not counted
        # without CORS, or for another origin, the browser keeps the answer from the page
        assert visit({}, "closed").startswith("blocked")
        assert visit({"cors_origins": ("http://127.0.0.1:1",)}, "other").startswith("blocked")
