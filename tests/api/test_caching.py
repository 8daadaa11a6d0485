"""Cache-Control on every answer: public reads may be cached (for TRACKER_CACHE_SECONDS)
and revalidated by their ETag; anything read with a token, errors, probes and metrics
never are."""

from __future__ import annotations

import pytest

from api.config import ApiSettings
from tests.api.conftest import SECURED, Feed, MakeApp, Token, bearer
from tests.support.varcade import game_over


def test_public_reads_revalidate_or_are_cached_for_the_configured_time(
        make_app: MakeApp, feed: Feed) -> None:
    feed("exrps", [game_over("exrps", "ann", "bob")])
    for app, want in [(make_app(), "no-cache"),
                      (make_app(cache_seconds=5), "public, max-age=5")]:
        client = app.test_client()
        for path in ("/leaderboards/top_ten/exrps", "/products/exrps/boards/wins/entries",
                     "/products", "/openapi.json"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["Cache-Control"] == want, path
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
        for path in ("/health", "/metrics", "/products/exrps/boards/nope/entries",
                     "/products/exrps/boards/wins/entries?limit=0"):
            assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_a_public_read_asked_again_unchanged_gets_304_without_a_body(
        make_app: MakeApp, feed: Feed) -> None:
    feed("exrps", [game_over("exrps", "ann", "bob")])
    client = make_app().test_client()
    path = "/products/exrps/boards/wins/entries"
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and first.json["entries"]

    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "no-cache"
    weak = client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304  # If-None-Match compares weakly (RFC 9110)
    assert client.get("/leaderboards/top_ten/exrps").headers["ETag"] != etag

    feed("exrps", [game_over("exrps", "bob", "ann"), game_over("exrps", "bob", "cid")])
    moved = client.get(path, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    assert moved.json["entries"][0]["user_id"] == "bob"


def test_errors_and_answers_to_a_token_carry_no_etag(make_app: MakeApp, feed: Feed,
                                                     token: Token) -> None:
    feed("exrps", [game_over("exrps", "ann", "bob")])
    client = make_app(SECURED).test_client()
    for path, headers, status in [
            ("/products/exrps/boards/wins/entries", bearer(token()), 200),
            ("/products/exrps/players/ann/stats", bearer(token(sub="ann")), 200),
            ("/products/exrps/boards/nope/entries", {}, 404),
            ("/health", {}, 200)]:
        answer = client.get(path, headers={**headers, "If-None-Match": "*"})
        assert answer.status_code == status, path
        assert "ETag" not in answer.headers, path


def test_anything_read_with_a_token_is_never_stored(make_app: MakeApp, feed: Feed,
                                                    token: Token) -> None:
    feed("exrps", [game_over("exrps", "ann", "bob")])
    client = make_app(SECURED, cache_seconds=60).test_client()
    own = client.get("/products/exrps/players/ann/stats", headers=bearer(token(sub="ann")))
    assert own.status_code == 200 and own.headers["Cache-Control"] == "private, no-store"
    refused = client.get("/products/exrps/players/ann/stats")
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"
    # a public board read with a token (a portal sends it on every call): not shared either
    board = client.get("/products/exrps/boards/wins/entries", headers=bearer(token()))
    assert board.headers["Cache-Control"] == "private, no-store"


def test_the_dashboard_files_keep_their_own_policy(make_app: MakeApp) -> None:
    page = make_app().test_client().get("/dashboard/boards")
    assert page.status_code == 200 and "no-cache" in page.headers["Cache-Control"]
    assert "public" not in page.headers["Cache-Control"]


def test_the_setting_is_a_whole_number() -> None:
    assert ApiSettings.from_env({"TRACKER_CACHE_SECONDS": "30"}).cache_seconds == 30
    assert ApiSettings.from_env({}).cache_seconds == 0
    for bad in ("-1", "soon", "1.5"):
        with pytest.raises(ValueError, match="TRACKER_CACHE_SECONDS must be an integer"):
            ApiSettings.from_env({"TRACKER_CACHE_SECONDS": bad})
    with pytest.raises(ValueError, match="TRACKER_PROXY_HOPS"):
        ApiSettings.from_env({"TRACKER_PROXY_HOPS": "-2"})
