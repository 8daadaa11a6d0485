"""kombu's Redis transport, with one fix: a lost broker connection must not kill the worker.

When the broker Redis goes away while a worker holds unacknowledged messages,
Celery closes the connection twice (``collect()``, then ``close()``). The
first close is cut short by the connection error and has already detached the
transport from its kombu ``Connection``; the second close tries to put the
unacknowledged messages back, builds a new Redis pool from the detached
transport and fails with ``AttributeError: 'NoneType' object has no attribute
'hostname'``. That error is not a connection error, so Celery treats it as
unrecoverable and the worker process exits (kombu 5.7.0, Celery 5.7.0).

Here that case raises a Redis ``ConnectionError`` instead, which Celery
expects and ignores while it reconnects. Nothing is lost: the messages stay
in the broker's unacked hash and are delivered again after the visibility
timeout. Selected by ``broker_transport`` in :mod:`tasks.celery_app` for
``redis://`` broker URLs.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.ConnectionError("the broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
