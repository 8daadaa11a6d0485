"""/users/<username>/state: block state and history written by the Python client, read here."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import pytest
import redis
from flask.testing import FlaskClient

from tests.api.conftest import Token, bearer
from tracker.userstate import UserStateClient


def block(i: int) -> str:
    return f"block-v1:org0+course0+run0+type@problem+block@b{i}"


def url(path: str, **query: object) -> str:
    pairs = [(k, v) for k, vs in query.items()
             for v in (vs if isinstance(vs, list) else [vs])]
    return f"/users/ann/state{path}?{urlencode(pairs)}"


@pytest.fixture
def written(data: redis.Redis) -> UserStateClient:
    store = UserStateClient(data)
    store.set_many("ann", {block(1): {"score": 3, "answer": "é"}, block(2): {"seen": True}})
    store.set("ann", block(1), {"score": 4})
    store.delete("ann", block(2))
    return store


def test_state_of_several_blocks(secured: FlaskClient, token: Token,
                                 written: UserStateClient) -> None:
    own = bearer(token(sub="ann"))
    body = secured.get(url("", block=[block(3), block(1), block(2)]), headers=own).get_json()
    assert body["username"] == "ann" and body["missing"] == [block(3), block(2)]
    (row,) = body["blocks"]
    assert (row["block_key"], row["state"]) == (block(1), {"score": 4, "answer": "é"})
    assert datetime.fromisoformat(row["updated"]) == written.get("ann", block(1)).updated
    only = secured.get(url("", block=block(1), field=["score", "nope"]), headers=own)
    assert only.get_json()["blocks"][0]["state"] == {"score": 4}


def test_history_newest_first(secured: FlaskClient, token: Token,
                              written: UserStateClient) -> None:
    staff = bearer(token(sub="staff", scope="state:read"))
    body = secured.get(url("/history", block=block(2)), headers=staff).get_json()
    assert [e["state"] for e in body["entries"]] == [None, {"seen": True}]
    body = secured.get(url("/history", block=block(1), limit=1), headers=staff).get_json()
    assert [e["state"] for e in body["entries"]] == [{"score": 4, "answer": "é"}]
    resp = secured.get(url("/history", block=block(9)), headers=staff)
    assert resp.status_code == 404 and resp.get_json()["error"] == "no_history"


def test_who_may_read(secured: FlaskClient, token: Token, written: UserStateClient) -> None:
    path = url("", block=block(1))
    assert secured.get(path).status_code == 401
    assert secured.get(path, headers=bearer(token(sub="bob"))).status_code == 403
    assert secured.get(path, headers=bearer(token(sub="bob", scope="stats:read"))
                       ).status_code == 403
    assert secured.get(path, headers=bearer(token(sub="ann"))).status_code == 200


@pytest.mark.parametrize("query", ["", "block=nope", "block=" + "x" * 1025,
                                   urlencode([("block", block(i)) for i in range(101)]),
                                   f"block={block(1)}",  # an unescaped + is a space
                                   urlencode({"block": block(1), "colour": "red"})])
def test_bad_queries_are_422(secured: FlaskClient, token: Token, query: str) -> None:
    resp = secured.get(f"/users/ann/state?{query}", headers=bearer(token(sub="ann")))
    assert resp.status_code == 422 and resp.get_json()["error"] == "invalid_query"


def test_reads_are_in_the_metrics(secured: FlaskClient, token: Token,
                                  written: UserStateClient) -> None:
    def served() -> float:
        text = secured.get("/metrics").get_data(as_text=True)
        line = next((ln for ln in text.splitlines() if ln.startswith(
            'user_state_requests_total{op="get_many",outcome="ok"}')), None)
        return 0.0 if line is None else float(line.rsplit(" ", 1)[1])

    before = served()
    secured.get(url("", block=block(1)), headers=bearer(token(sub="ann")))
    assert served() == before + 1
    assert "ann" not in secured.get("/metrics").get_data(as_text=True)  # no user labels
