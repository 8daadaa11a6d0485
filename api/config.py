"""The read API's own settings (``TRACKER_*`` variables that only the API reads).

Authentication (bearer JWT), which routes are public, and rate limiting. The
README's configuration table lists every variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}
AUTO = "auto"


def _flag(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in TRUE | FALSE | {AUTO}:
        raise ValueError(f"{name} must be true, false or auto, got {raw!r}")
    return raw


ORIGIN_RE = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


def _count(raw: str, name: str) -> int:
    """A whole number of at least 0 from a variable, else a ValueError naming it."""
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name} must be an integer of at least 0, got {raw!r}")
    return value


def parse_origins(raw: str) -> tuple[str, ...]:
    """``TRACKER_CORS_ORIGINS``: origins separated by commas or spaces
    (``https://portal.example.com``: scheme, host and port only), or ``*`` for any."""
    origins = tuple(o.rstrip("/") for o in raw.replace(",", " ").split())
    if origins == ("*",):
        return origins
    bad = [o for o in origins if not ORIGIN_RE.fullmatch(o)]
    if bad:
        raise ValueError(f"TRACKER_CORS_ORIGINS lists origins (https://host[:port]) or is *, "
                         f"got {', '.join(bad)}")
    return origins


@dataclass(frozen=True)
class ApiSettings:
    """Field ``x`` is read from ``TRACKER_X``; see :meth:`from_env`."""

    jwt_secret: str = ""  # HS256 shared secret
    jwt_public_key: str = ""  # RS256 public key: PEM text, or the path of a PEM file
    jwt_jwks_url: str = ""  # an identity provider's key set (RS256, ES256), by the token's kid
    jwt_issuer: str = ""  # required "iss" when set
    jwt_audience: str = ""  # required "aud" when set
    public_leaderboards: bool = True  # products and boards readable without a token
    legacy_stats_public: str = AUTO  # /stats/<product>/<user>: "auto", "true" or "false"
    public_metrics: bool = True  # /metrics readable without a token
    rate_limit: str = "600 per minute"  # per client on data routes; "" or "off" disables
    rate_limit_storage_url: str = ""  # where counters live; "" = TRACKER_REDIS_URL
    proxy_hops: int = 0  # trusted reverse proxies in front (X-Forwarded-For hops)
    # origins whose pages may read the API from a browser (CORS); ("*",): any; (): none
    cors_origins: tuple[str, ...] = ()
    cache_seconds: int = 0  # how long shared caches may keep a public read; 0: revalidate

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env

        def text(name: str, default: str = "") -> str:
            return env.get(f"TRACKER_{name}", default).strip() or default

        hops, cache = (_count(text(name, "0"), f"TRACKER_{name}")
                       for name in ("PROXY_HOPS", "CACHE_SECONDS"))
        return cls(
            jwt_secret=env.get("TRACKER_JWT_SECRET", ""),
            jwt_public_key=text("JWT_PUBLIC_KEY"),
            jwt_jwks_url=text("JWT_JWKS_URL"),
            jwt_issuer=text("JWT_ISSUER"),
            jwt_audience=text("JWT_AUDIENCE"),
            public_leaderboards=_flag(env, "TRACKER_PUBLIC_LEADERBOARDS", "true") in TRUE,
            legacy_stats_public=_flag(env, "TRACKER_LEGACY_STATS_PUBLIC", AUTO),
            public_metrics=_flag(env, "TRACKER_PUBLIC_METRICS", "true") in TRUE,
            rate_limit=text("RATE_LIMIT", cls.rate_limit),
            rate_limit_storage_url=text("RATE_LIMIT_STORAGE_URL"),
            proxy_hops=hops,
            cors_origins=parse_origins(text("CORS_ORIGINS")),
            cache_seconds=cache,
        )

    @property
    def jwt_configured(self) -> bool:
        return bool(self.jwt_secret or self.jwt_public_key or self.jwt_jwks_url)

    @property
    def legacy_stats_is_public(self) -> bool:
        """``auto``: public while no JWT key is configured (the Varcade portal sends none)."""
        if self.legacy_stats_public == AUTO:
            return not self.jwt_configured
        return self.legacy_stats_public in TRUE

    @property
    def rate_limited(self) -> bool:
        return self.rate_limit.lower() not in {"", "off", "0", "none"}

    def public_key_pem(self) -> str:
        """The RS256 key as PEM text (read from the file when a path was given)."""
        key = self.jwt_public_key
        if key.startswith("-----BEGIN"):
            return key
        return Path(key).read_text()
