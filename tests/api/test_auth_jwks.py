"""Tokens checked against an identity provider's key set (TRACKER_JWT_JWKS_URL): the key
each token's kid names, rotation picked up without a restart but not on every unknown
kid, and a key set that cannot be had answered 503, never 500.

The provider is a real HTTP server on a free port, serving a JWKS document the tests
change as they go."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask.testing import FlaskClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.api.conftest import MakeApp

ROUTE = "/players/ann/stats"  # a player's own stats: any valid token of "ann" may read them


class Provider:
    """A JWKS endpoint: ``keys`` is what it serves (``body`` replaces it when set)."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.body: bytes | None = None
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = provider.body or json.dumps({"keys": provider.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    served = Provider()
    yield served
    served.close()


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def published(private: Any, kid: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(private.public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


def signed(private: Any, kid: str, algorithm: str = "RS256", sub: str = "ann") -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 300}, private,
                      algorithm=algorithm, headers={"kid": kid})


def get(client: FlaskClient, token: str) -> tuple[int, dict[str, Any]]:
    answer = client.get(ROUTE, headers={"Authorization": f"Bearer {token}"})
    assert answer.mimetype == "application/json"
    return answer.status_code, answer.get_json()


@pytest.fixture
def client(make_app: MakeApp, provider: Provider) -> FlaskClient:
    return make_app(jwt_jwks_url=provider.url, jwt_issuer="", jwt_audience="").test_client()


def test_each_token_is_checked_with_the_key_its_kid_names(client: FlaskClient,
                                                          provider: Provider) -> None:
    r1, e1 = rsa_key(), ec.generate_private_key(ec.SECP256R1())
    provider.keys = [published(r1, "r1"), published(e1, "e1")]
    assert get(client, signed(r1, "r1"))[0] == 200
    assert get(client, signed(e1, "e1", "ES256"))[0] == 200
    assert get(client, signed(e1, "e1", "ES256", sub="bob"))[0] == 403  # not its stats
    assert provider.fetches == 1  # the set is kept
    # the right kid, the wrong key; one key's kid on a token of another algorithm;
    # an HMAC token "signed" with what the set publishes (algorithm confusion)
    for forged in (signed(rsa_key(), "r1"), signed(r1, "e1"),
                   signed(provider.keys[0]["n"], "r1", "HS256")):
        status, body = get(client, forged)
        assert (status, body["error"]) == (401, "invalid_token"), body


def test_a_rotated_key_is_fetched_but_not_on_every_unknown_kid(
        client: FlaskClient, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    r1, r2 = rsa_key(), rsa_key()
    provider.keys = [published(r1, "r1")]
    assert get(client, signed(r1, "r1"))[0] == 200
    provider.keys.append(published(r2, "r2"))  # the provider rotates
    # within PyJWT's 30 s cooldown an unknown kid does not refetch: kids made up by a
    # caller cannot flood the provider
    status, body = get(client, signed(r2, "r2"))
    assert status == 401 and "kid" in body["message"] and provider.fetches == 1
    later = time.monotonic() + 31
    monkeypatch.setattr(jwt.jwks_client, "time", SimpleNamespace(monotonic=lambda: later))
    assert get(client, signed(r2, "r2"))[0] == 200
    assert provider.fetches == 2
    assert get(client, signed(r1, "r1"))[0] == 200  # the old key still verifies its tokens
    status, body = get(client, signed(r2, "nobody"))
    assert status == 401 and body["message"] == (
        "No key of the issuer's key set matches the token's 'kid'.")


@pytest.mark.parametrize("served", ["down", b"<html>not json</html>", b'{"keys": []}',
                                    b'{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', b"[1]"])
def test_a_key_set_that_cannot_be_had_is_a_503(make_app: MakeApp, provider: Provider,
                                               served: str | bytes) -> None:
    if served == "down":
        provider.close()
    else:
        assert isinstance(served, bytes)
        provider.body = served
    client = make_app(jwt_jwks_url=provider.url, jwt_issuer="",
                      jwt_audience="").test_client()
    answer = client.get(ROUTE, headers={"Authorization": f"Bearer {signed(rsa_key(), 'r1')}"})
    assert answer.status_code == 503 and answer.mimetype == "application/json"
    assert answer.get_json()["error"] == "keys_unavailable"
    assert answer.headers["Retry-After"] == "30"
    # public routes need no key at all
    assert client.get("/products").status_code == 200


def test_a_malformed_token_is_a_401_before_any_fetch(client: FlaskClient,
                                                     provider: Provider) -> None:
    provider.keys = [published(rsa_key(), "r1")]
    status, body = get(client, "not.a.jwt")
    assert (status, body["error"]) == (401, "invalid_token")


def test_one_way_to_verify_tokens(make_app: MakeApp, provider: Provider) -> None:
    with pytest.raises(ValueError, match="TRACKER_JWT_SECRET and TRACKER_JWT_JWKS_URL"):
        make_app(jwt_secret="s" * 40, jwt_jwks_url=provider.url)


@pytest.mark.parametrize("url", ["http://idp.example/.well-known/jwks.json",
                                 "file:///etc/jwks.json", "ftp://idp.example/jwks"])
def test_keys_come_over_https_but_to_this_host(make_app: MakeApp, url: str) -> None:
    with pytest.raises(ValueError, match="https://"):
        make_app(jwt_jwks_url=url)
    assert make_app(jwt_jwks_url="https://idp.example/.well-known/jwks.json")
    assert make_app(jwt_jwks_url="http://localhost:8080/jwks.json")
