"""Bearer JWT authentication (PyJWT) and the authorization rules of the routes.

Tokens are verified with an HS256 secret (``TRACKER_JWT_SECRET``), an RS256
public key (``TRACKER_JWT_PUBLIC_KEY``), or the key that the token's ``kid`` names
in an identity provider's key set (``TRACKER_JWT_JWKS_URL``: RS256 or ES256, fetched
and cached by PyJWT's ``PyJWKClient``, so rotated keys are picked up), plus the issuer
and audience when configured; ``exp`` is required. Scopes come from ``scope`` (space-separated,
as in OAuth 2) or from ``scopes`` / ``scp`` (a list or a string).

* 401 + ``WWW-Authenticate: Bearer ...``: no token, or one that does not verify
  (bad signature, expired, wrong issuer or audience, malformed).
* 403 ``insufficient_scope``: a valid token that does not grant the read.
* 503 ``keys_unavailable``: the key set cannot be fetched (or holds no signing key).

A token is never logged, nor echoed in an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import jwt
from flask import current_app, request

from api.config import ApiSettings
from api.errors import ApiError

REALM = "stats-tracker"
READ_STATS = "stats:read"  # any player's stats
READ_LEADERBOARDS = "leaderboards:read"  # boards and products, when not public
READ_STATE = "state:read"  # any user's block state and its history
ANALYTICS_ADMIN = "analytics:admin"  # every course's analytics: an explicit grant
READ_METRICS = "metrics:read"  # /metrics, when it is not public


@dataclass(frozen=True)
class Principal:
    subject: str | None
    scopes: frozenset[str]


def _challenge(error: str = "", description: str = "", scope: str = "") -> dict[str, str]:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return {"WWW-Authenticate": "Bearer " + ", ".join(parts)}


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for name in ("scope", "scopes", "scp"):
        value = claims.get(name)
        items: Iterable[Any] = value.split() if isinstance(value, str) else (
            value if isinstance(value, list) else ())
        found.update(str(v) for v in items if isinstance(v, str))
    return frozenset(found)


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
JWKS_LIFESPAN = 300  # seconds a fetched key set is used before it is fetched again
JWKS_TIMEOUT = 5  # seconds to wait for the key set; a request waits that long at most


class Authenticator:
    def __init__(self, settings: ApiSettings):
        self.settings = settings
        chosen = [name for name, value in (("TRACKER_JWT_SECRET", settings.jwt_secret),
                                           ("TRACKER_JWT_PUBLIC_KEY", settings.jwt_public_key),
                                           ("TRACKER_JWT_JWKS_URL", settings.jwt_jwks_url))
                  if value]
        if len(chosen) > 1:
            raise ValueError(f"set one way to verify tokens, not {' and '.join(chosen)}")
        self.key: str = ""
        self.algorithms: list[str] = []
        self.jwks: jwt.PyJWKClient | None = None
        if settings.jwt_secret:
            self.key, self.algorithms = settings.jwt_secret, ["HS256"]
        elif settings.jwt_public_key:
            self.key, self.algorithms = settings.public_key_pem(), ["RS256"]
        elif settings.jwt_jwks_url:
            url = urlparse(settings.jwt_jwks_url)
            if url.scheme != "https" and not (url.scheme == "http"
                                              and url.hostname in LOOPBACK_HOSTS):
                # keys fetched in the clear could be swapped: anyone could sign tokens
                raise ValueError("TRACKER_JWT_JWKS_URL is an https:// address (http:// only "
                                 "to this host)")
            # an unknown kid refetches the set, at most every 30 s (PyJWT's cooldown)
            self.jwks = jwt.PyJWKClient(settings.jwt_jwks_url, lifespan=JWKS_LIFESPAN,
                                        timeout=JWKS_TIMEOUT)
            self.algorithms = ["RS256", "ES256"]

    @property
    def configured(self) -> bool:
        return bool(self.key or self.jwks)

    def _key(self, token: str) -> Any:
        """The key that verifies ``token``: the configured one, or its kid's in the key set."""
        if self.jwks is None:
            return self.key
        try:
            self.jwks.get_signing_keys()  # fetched (or cached): the set itself is usable
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, ValueError) as exc:
            raise self._keys_unavailable(exc) from None
        try:
            # the PyJWK itself, not its .key: PyJWT then holds the token to the key's own
            # algorithm (an RS256 token under an EC key's kid is a 401, not a TypeError)
            return self.jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:  # refetched for an unknown kid
            raise self._keys_unavailable(exc) from None
        except jwt.PyJWKClientError:
            raise self._invalid("No key of the issuer's key set matches the token's "
                                "'kid'.") from None

    @staticmethod
    def _keys_unavailable(exc: Exception) -> ApiError:
        current_app.logger.warning("token key set unavailable: %s", exc)
        return ApiError(503, "keys_unavailable", "The keys that verify tokens cannot be "
                        "fetched from TRACKER_JWT_JWKS_URL now; try again later.",
                        headers={"Retry-After": "30"})

    def verify(self, token: str) -> Principal:
        """The token's principal; raises 401 when it does not verify."""
        s = self.settings
        require = ["exp"] + (["iss"] if s.jwt_issuer else []) + (["aud"] if s.jwt_audience else [])
        try:
            claims = jwt.decode(
                token, self._key(token), algorithms=self.algorithms,
                audience=s.jwt_audience or None, issuer=s.jwt_issuer or None,
                options={"require": require, "verify_aud": bool(s.jwt_audience)},
            )
        except jwt.ExpiredSignatureError:
            raise self._invalid("The token has expired.") from None
        except jwt.InvalidAudienceError:
            raise self._invalid("The token is not meant for this audience.") from None
        except jwt.InvalidIssuerError:
            raise self._invalid("The token was not issued by the expected issuer.") from None
        except jwt.InvalidSignatureError:
            raise self._invalid("The token's signature does not verify.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise self._invalid(f"The token has no {exc.claim!r} claim.") from None
        except jwt.InvalidTokenError as exc:
            # PyJWT's messages name the problem, never the token itself
            raise self._invalid(f"The token is invalid: {type(exc).__name__}.") from None
        subject = claims.get("sub")
        return Principal(subject if isinstance(subject, str) else None, _scopes(claims))

    @staticmethod
    def _invalid(message: str) -> ApiError:
        current_app.logger.info("bearer token rejected: %s", message)
        return ApiError(401, "invalid_token", message,
                        headers=_challenge("invalid_token", message.rstrip(".")))

    def principal(self) -> Principal:
        """The verified caller of the current request; 401 when there is none."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "This route needs a bearer token "
                           "(Authorization: Bearer <JWT>).", headers=_challenge())
        if not self.configured:
            raise ApiError(401, "invalid_token", "This server has no token key configured "
                           "(TRACKER_JWT_SECRET, TRACKER_JWT_PUBLIC_KEY or "
                           "TRACKER_JWT_JWKS_URL).",
                           headers=_challenge("invalid_token"))
        return self.verify(token.strip())

    def require(self, scope: str, owner: str | None = None) -> Principal:
        """A caller with ``scope``, or (when ``owner`` is given) the owner themself."""
        who = self.principal()
        if scope in who.scopes or (owner is not None and who.subject == owner):
            return who
        hint = " or to be that player" if owner is not None else ""
        raise ApiError(403, "insufficient_scope",
                       f"This read needs the scope {scope!r}{hint}.", required_scope=scope,
                       headers=_challenge("insufficient_scope", scope=scope))

    # --- the rules of the routes --------------------------------------------------------

    def leaderboards(self, owner: str | None = None) -> None:
        """Products and boards: public by default, else ``leaderboards:read`` (or the owner)."""
        if not self.settings.public_leaderboards:
            self.require(READ_LEADERBOARDS, owner)

    def metrics(self) -> None:
        """``/metrics``: public by default (a scraper inside the network), else
        ``metrics:read`` (Prometheus sends its token with ``authorization:``)."""
        if not self.settings.public_metrics:
            self.require(READ_METRICS)

    def stats(self, user_id: str) -> None:
        """A player's stats: ``stats:read``, or a token whose ``sub`` is that player."""
        self.require(READ_STATS, user_id)

    def user_state(self, username: str) -> None:
        """A user's block state: ``state:read``, or a token whose ``sub`` is that user."""
        self.require(READ_STATE, username)

    def course_staff(self, is_staff: Callable[[str], bool]) -> Principal:
        """A course's analytics: a caller whose ``sub`` has a staff role in that course
        (``is_staff``, from its roster), or an explicit ``analytics:admin`` grant."""
        who = self.principal()
        if ANALYTICS_ADMIN in who.scopes or (who.subject and is_staff(who.subject)):
            return who
        raise ApiError(403, "not_course_staff",
                       "Course analytics are for that course's staff, instructors, data "
                       "researchers and administrators (by its roster).",
                       required_scope=ANALYTICS_ADMIN,
                       headers=_challenge("insufficient_scope", scope=ANALYTICS_ADMIN))

    def legacy_stats(self, user_id: str) -> None:
        """The Varcade route: public while configured so, else the same rule as stats."""
        if not self.settings.legacy_stats_is_public:
            self.stats(user_id)
