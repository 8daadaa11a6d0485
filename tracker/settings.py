"""Runtime settings, read from ``TRACKER_*`` environment variables.

Every variable has a default that works on a developer machine with a local
Redis; the README's configuration table lists them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

DEFAULT_PRODUCTS_FILE = Path(__file__).with_name("products.toml")


@dataclass(frozen=True)
class Settings:
    """Process-wide configuration. Field ``x`` is read from ``TRACKER_X``."""

    redis_url: str = "redis://127.0.0.1:6379/0"  # our data: boards, stats, dedupe, dead letters
    stream_url: str = "redis://127.0.0.1:6379/1"  # where producers XADD (Varcade uses DB 1)
    stream_key: str = "game_event_stream"
    stream_group: str = "stats-tracker"
    stream_start: str = "0"  # where a new consumer group starts: "0" (whole history) or "$"
    broker_url: str = "redis://127.0.0.1:6379/2"  # Celery broker
    products_file: str = str(DEFAULT_PRODUCTS_FILE)
    key_prefix: str = "st"
    dedupe_ttl: int = 0  # seconds a dedupe record lives; 0 keeps it for ever
    batch_size: int = 4000  # the most events per Celery task (and per batch script)
    linger_ms: int = 20  # how long a bridge waits after a short read, so the next is a batch
    block_ms: int = 1000  # how long an idle bridge waits for new entries (XREAD BLOCK)
    claim_idle_ms: int = 30000  # a part in flight this long is published again by a live bridge
    max_pending: int = 20000  # bridges stop reading while this many entries are in flight
    visibility_timeout: int = 3600  # Redis broker: seconds before an unacked task is redelivered
    handler_retries: int = 3  # retries of an event whose handler raises, then it is dead-lettered
    analysis_delay_ms: int = 5000  # course reports are rebuilt this long after new log events
    periodic_seconds: int = 60  # Celery beat: how often periods are closed, analyses caught up
    webhook_secret: str = ""  # signs the reward webhooks' bodies (HMAC-SHA256); "": unsigned

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"TRACKER_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            if f.type == "int":
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    name = f"TRACKER_{f.name.upper()}"
                    raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    @property
    def products_path(self) -> Path:
        return Path(self.products_file)
