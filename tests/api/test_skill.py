"""OpenSkill boards through the API: ordinals on the board, (mu, sigma) in a standing."""

from __future__ import annotations

from flask.testing import FlaskClient
from openskill.models import PlackettLuce

from tests.api.conftest import Feed
from tests.support.varcade import game_over

BOARD = "/products/darts/boards/openskill"


def test_a_standing_carries_the_skill(client: FlaskClient, feed: Feed) -> None:
    games = [("ann", "bob"), ("ann", "cid"), ("cid", "bob"), ("bob", "ann")]
    feed("darts", [game_over("darts", w, lo) for w, lo in games])
    model = PlackettLuce()
    ratings = {p: model.rating() for p in ("ann", "bob", "cid")}
    for w, lo in games:
        (ratings[w],), (ratings[lo],) = model.rate([[ratings[w]], [ratings[lo]]])
    for player, r in ratings.items():
        body = client.get(f"{BOARD}/players/{player}").get_json()
        assert body["skill"] == {"mu": r.mu, "sigma": r.sigma}
        assert body["score"] == r.ordinal()
    rows = client.get(f"{BOARD}/entries").get_json()["entries"]
    assert [r["user_id"] for r in rows] == sorted(ratings, key=lambda p: -ratings[p].ordinal())
    assert all("skill" not in r for r in rows)
    described = client.get("/products/darts").get_json()["boards"][1]
    assert (described["name"], described["kind"], described["start"]) == (
        "openskill", "skill", 0.0)
    wins = client.get("/products/darts/boards/wins/players/ann").get_json()
    assert "skill" not in wins
