"""The authorization matrix: every endpoint, every kind of token, every deployment mode."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient

from api.config import ApiSettings
from tests.api.conftest import AUDIENCE, PLAIN, SECURED, Feed, MakeApp, Token, bearer
from tests.support.varcade import game_over
from tracker.userstate import UserStateClient

BOARDS = [  # leaderboard reads: public by default
    "/products",
    "/products/exrps",
    "/products/exrps/boards/wins",
    "/products/exrps/boards/wins/entries",
    "/products/exrps/boards/wins/players?user_id=ann&user_id=bob",
    "/products/exrps/boards/wins/periods",
    "/products/exrps/boards/wins/tiers",
    "/products/exrps/boards/wins/cutoffs?top=10",
    "/leaderboards/top_ten/exrps",
]
OWN_BOARDS = [  # leaderboard reads about one player: its own token may read them
    "/products/exrps/boards/wins/players/ann",
    "/products/exrps/boards/wins/players/ann/around",
    "/players/ann/boards",
]
STATS = ["/products/exrps/players/ann/stats", "/players/ann/stats",  # and user state: alike
         "/users/ann/state?block=block-v1%3Ao%2Bc%2Br%2Btype%40problem%2Bblock%40b1",
         "/users/ann/state/history?block=block-v1%3Ao%2Bc%2Br%2Btype%40problem%2Bblock%40b1"]
LEGACY_STATS = ["/stats/exrps/ann"]
METRICS = ["/metrics"]  # public by default
OPEN = ["/health", "/ready", "/openapi.json", "/docs/"]
ALL = BOARDS + OWN_BOARDS + STATS + LEGACY_STATS + METRICS + OPEN

CASES = ["none", "expired", "wrong_signature", "wrong_audience", "wrong_issuer", "no_exp",
         "malformed", "basic", "missing_scope", "right_scope", "own_subject"]
INVALID = {"expired", "wrong_signature", "wrong_audience", "wrong_issuer", "no_exp",
           "malformed"}


def header(case: str, token: Token, scope: str) -> dict[str, str]:
    match case:
        case "none":
            return {}
        case "expired":
            return bearer(token(sub="other", scope=scope, exp_in=-60))
        case "wrong_signature":
            return bearer(token(sub="other", scope=scope, key="another-secret-of-32-bytes-or-so!"))
        case "wrong_audience":
            return bearer(token(sub="other", scope=scope, aud="somebody-else"))
        case "wrong_issuer":
            return bearer(token(sub="other", scope=scope, iss="https://evil.test"))
        case "no_exp":
            return bearer(token(sub="other", scope=scope, exp_in=0, exp=None))
        case "malformed":
            return {"Authorization": "Bearer not.a.jwt"}
        case "basic":
            return {"Authorization": "Basic YW5uOnB3"}
        case "missing_scope":
            return bearer(token(sub="other", scope="profile:read"))
        case "right_scope":
            return bearer(token(sub="other", scope=scope))
        case "own_subject":
            return bearer(token(sub="ann"))
    raise AssertionError(case)


def needs_token(case: str, own: bool) -> int:
    """The status of a read that needs a scope (or, when ``own``, the player's token)."""
    if case in {"none", "basic"} | INVALID:
        return 401
    if case == "right_scope" or (case == "own_subject" and own):
        return 200
    return 403


def expected(mode: str, path: str, case: str) -> int:
    if path in OPEN:
        return 200
    if path in METRICS:
        return needs_token(case, own=False) if mode == "private_metrics" else 200
    if path in BOARDS + OWN_BOARDS:
        if mode == "private_boards":
            return needs_token(case, path in OWN_BOARDS)
        return 200
    if path in LEGACY_STATS and mode in {"no_jwt", "legacy_public"}:
        return 200
    if mode == "no_jwt":  # stats need a token, and no token can be verified
        return 401
    return needs_token(case, own=True)


MODES = {
    "secured": SECURED,  # the default once a key is set: boards public, stats need a token
    "private_boards": ApiSettings(**{**SECURED.__dict__, "public_leaderboards": False}),
    "legacy_public": ApiSettings(**{**SECURED.__dict__, "legacy_stats_public": "true"}),
    "private_metrics": ApiSettings(**{**SECURED.__dict__, "public_metrics": False}),
    "no_jwt": PLAIN,  # as shipped: the Varcade routes work without tokens
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", CASES)
def test_authorization_matrix(make_app: MakeApp, feed: Feed, token: Token, mode: str,
                              case: str, caplog: pytest.LogCaptureFixture,
                              data: redis.Redis) -> None:
    feed("exrps", [game_over("exrps", "ann", "bob")])
    UserStateClient(data).set("ann", "block-v1:o+c+r+type@problem+block@b1", {"a": 1})
    client = make_app(MODES[mode]).test_client()
    scope = "stats:read leaderboards:read state:read metrics:read"
    headers = header(case, token, scope)
    with caplog.at_level(logging.DEBUG):
        for path in ALL:
            resp = client.get(path, headers=headers)
            want = expected(mode, path, case)
            assert resp.status_code == want, (mode, case, path, resp.get_json(silent=True))
            if path in ("/docs/", "/metrics") and want == 200:  # a page, a text exposition
                continue
            assert resp.mimetype == "application/json", path
            body = resp.get_json()
            if want == 401:
                assert body["error"] in {"unauthorized", "invalid_token"} and body["message"]
                assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="stats-tracker"')
            elif want == 403:
                assert body["error"] == "insufficient_scope" and body["required_scope"]
                assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    secret_part = headers.get("Authorization", "").partition(" ")[2]
    if secret_part:
        assert secret_part not in caplog.text  # tokens are never logged
        assert all(secret_part not in str(r.args) for r in caplog.records)


def test_401_says_what_was_wrong(secured: FlaskClient, token: Token) -> None:
    path = STATS[1]
    messages = {
        "none": "needs a bearer token",
        "expired": "expired",
        "wrong_signature": "signature",
        "wrong_audience": "audience",
        "wrong_issuer": "issuer",
        "no_exp": "'exp'",
    }
    for case, words in messages.items():
        body = secured.get(path, headers=header(case, token, "stats:read")).get_json()
        assert words in body["message"], (case, body)
    resp = secured.get(path, headers=header("expired", token, "stats:read"))
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    resp = secured.get(path, headers=header("none", token, ""))
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="stats-tracker"'


def test_scopes_as_a_list_and_scp(secured: FlaskClient, token: Token) -> None:
    path = STATS[0]
    assert secured.get(path, headers=bearer(token(scope=["stats:read"]))).status_code == 200
    assert secured.get(path, headers=bearer(token(scp="stats:read"))).status_code == 200
    assert secured.get(path, headers=bearer(token(scope="stats:write"))).status_code == 403
    assert secured.get(path, headers=bearer(token(scope="stats:readx"))).status_code == 403


def test_token_of_another_player_reads_only_its_own(secured: FlaskClient, token: Token) -> None:
    bob = bearer(token(sub="bob"))
    assert secured.get("/players/bob/stats", headers=bob).status_code == 200
    assert secured.get("/players/ann/stats", headers=bob).status_code == 403
    assert secured.get("/stats/exrps/ann", headers=bob).status_code == 403


def test_unsigned_and_other_algorithm_tokens_are_refused(secured: FlaskClient,
                                                         token: Token) -> None:
    import jwt
    unsigned = jwt.encode({"sub": "ann", "exp": 2_000_000_000, "aud": AUDIENCE},
                          key=None, algorithm="none")
    assert secured.get("/players/ann/stats", headers=bearer(unsigned)).status_code == 401
    hs512 = token(sub="ann", algorithm="HS512")
    assert secured.get("/players/ann/stats", headers=bearer(hs512)).status_code == 401


def test_rs256_public_key(make_app: MakeApp, tmp_path: Path, token: Token) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    key_file = tmp_path / "jwt.pub"
    key_file.write_text(pem)
    signing = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    for key_setting in (pem, str(key_file)):
        client = make_app(jwt_public_key=key_setting, jwt_issuer="", jwt_audience="").test_client()
        good = token(sub="ann", key=signing, algorithm="RS256", aud=None, iss=None)
        assert client.get("/players/ann/stats", headers=bearer(good)).status_code == 200
        # an HS256 token "signed" with the public key must not pass (algorithm confusion)
        forged = token(sub="ann", key="x" * 64, aud=None, iss=None)
        assert client.get("/players/ann/stats", headers=bearer(forged)).status_code == 401


def test_both_keys_is_a_boot_error(make_app: MakeApp) -> None:
    with pytest.raises(ValueError, match="not TRACKER_JWT_SECRET and TRACKER_JWT_PUBLIC_KEY"):
        make_app(jwt_secret="x" * 40, jwt_public_key="-----BEGIN PUBLIC KEY-----")


def test_settings_from_env() -> None:
    env = {"TRACKER_JWT_SECRET": "s" * 40, "TRACKER_JWT_ISSUER": "iss",
           "TRACKER_JWT_AUDIENCE": "aud", "TRACKER_PUBLIC_LEADERBOARDS": "false",
           "TRACKER_LEGACY_STATS_PUBLIC": "TRUE", "TRACKER_RATE_LIMIT": "5/second",
           "TRACKER_PROXY_HOPS": "1", "TRACKER_PUBLIC_METRICS": "false"}
    s = ApiSettings.from_env(env)
    assert not s.public_metrics and ApiSettings.from_env({}).public_metrics
    assert (s.jwt_secret, s.jwt_issuer, s.jwt_audience) == ("s" * 40, "iss", "aud")
    assert not s.public_leaderboards and s.legacy_stats_is_public
    assert s.rate_limit == "5/second" and s.rate_limited and s.proxy_hops == 1
    defaults = ApiSettings.from_env({})
    assert defaults.public_leaderboards and defaults.legacy_stats_is_public
    assert not ApiSettings.from_env({"TRACKER_JWT_SECRET": "s"}).legacy_stats_is_public
    assert not ApiSettings.from_env({"TRACKER_RATE_LIMIT": "off"}).rate_limited
    with pytest.raises(ValueError, match="TRACKER_PUBLIC_LEADERBOARDS"):
        ApiSettings.from_env({"TRACKER_PUBLIC_LEADERBOARDS": "maybe"})
    with pytest.raises(ValueError, match="TRACKER_PROXY_HOPS"):
        ApiSettings.from_env({"TRACKER_PROXY_HOPS": "two"})


def test_private_metrics_are_documented_as_needing_a_token(make_app: MakeApp) -> None:
    for mode, secured in (("secured", False), ("private_metrics", True)):
        spec = make_app(MODES[mode]).test_client().get("/openapi.json").get_json()
        scrape = spec["paths"]["/metrics"]["get"]
        assert scrape["security"] == ([{"bearerAuth": []}] if secured else []), mode
        assert ({"401", "403"} <= set(scrape["responses"])) is secured, mode
    assert "metrics:read" in spec["components"]["securitySchemes"]["bearerAuth"]["description"]
