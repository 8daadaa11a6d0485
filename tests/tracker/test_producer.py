"""The producer client against a real Redis: Varcade-format entries, bad events refused
at the source, and exactly one entry per call even when a reply is lost on the way
back (a proxy drops it) and the call is sent again."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.redis_server import RedisServer
from tracker.events import InvalidEvent, parse_entry
from tracker.producer import CHUNK, Producer

STREAM = "game_event_stream"


@pytest.fixture
def producer(stream: redis.Redis) -> Producer:
    stream.delete(STREAM)
    return Producer(stream, STREAM)


def entries(client: redis.Redis) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(i.decode(), [(k.decode(), v.decode()) for k, v in fields.items()])
            for i, fields in client.xrange(STREAM)]


def test_events_are_written_as_a_game_server_writes_them(producer: Producer,
                                                         stream: redis.Redis) -> None:
    first = producer.game_over("exrps", "g1", winner_id="ann", loser_id="bob")
    second = producer.gameplay("exrps", "g1", "select_weapon", event_data="2", user_id="ann")
    assert entries(stream) == [
        (first, [("product_id", "exrps"), ("game_id", "g1"), ("type", "game_over"),
                 ("winner_id", "ann"), ("loser_id", "bob")]),
        (second, [("product_id", "exrps"), ("game_id", "g1"), ("type", "gameplay"),
                  ("event_name", "select_weapon"), ("event_data", "2"), ("user_id", "ann")])]
    for entry_id, fields in entries(stream):  # the workers accept them
        assert parse_entry(entry_id, {k.encode(): v.encode() for k, v in fields})


def test_scores_are_written_as_exact_decimals(producer: Producer, stream: redis.Redis) -> None:
    ids = [producer.score("snake", "high_score", "ann", 42),
           producer.score("snake", "lap", "ann", 61.25, game_id="g1"),
           producer.score("snake", "lap", "bob", 0.1 + 0.2),
           producer.score("snake", "lap", "cid", 1e-7),
           producer.score("snake", "total", "dee", "-3")]
    assert entries(stream) == [
        (ids[0], [("product_id", "snake"), ("type", "score"), ("board", "high_score"),
                  ("user_id", "ann"), ("score", "42")]),
        (ids[1], [("product_id", "snake"), ("type", "score"), ("board", "lap"),
                  ("user_id", "ann"), ("score", "61.25"), ("game_id", "g1")]),
        (ids[2], [("product_id", "snake"), ("type", "score"), ("board", "lap"),
                  ("user_id", "bob"), ("score", "0.30000000000000004")]),
        (ids[3], [("product_id", "snake"), ("type", "score"), ("board", "lap"),
                  ("user_id", "cid"), ("score", "0.0000001")]),
        (ids[4], [("product_id", "snake"), ("type", "score"), ("board", "total"),
                  ("user_id", "dee"), ("score", "-3")])]
    assert float(entries(stream)[2][1][4][1]) == 0.1 + 0.2  # the same double
    for bad in (float("nan"), float("inf"), 1e16, True, None, "1e3"):
        with pytest.raises(InvalidEvent) as info:
            producer.score("snake", "lap", "ann", bad)  # type: ignore[arg-type]
        assert info.value.reason == "invalid_fields" and "score" in info.value.detail
    assert len(entries(stream)) == 5


def test_a_scores_metadata_is_written_as_compact_json(producer: Producer,
                                                     stream: redis.Redis) -> None:
    entry_id = producer.score("snake", "high_score", "ann", 1250,
                              metadata={"car": "Zoë's", "laps": [61.5, 60]})
    assert entries(stream) == [(entry_id, [
        ("product_id", "snake"), ("type", "score"), ("board", "high_score"), ("user_id", "ann"),
        ("score", "1250"), ("metadata", '{"car":"Zoë\'s","laps":[61.5,60]}')])]
    for bad, says in [({"x": float("nan")}, "Out of range"), ({"x": object()}, "not JSON"),
                      ({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}}, "Nested")]:
        with pytest.raises(InvalidEvent) as info:
            producer.score("snake", "high_score", "ann", 1, metadata=bad)
        assert info.value.reason == "invalid_fields" and says in info.value.detail
    assert len(entries(stream)) == 1
    fixed = producer.score("snake", "high_score", "ann", 900, operator="latest")
    assert entries(stream)[1] == (fixed, [
        ("product_id", "snake"), ("type", "score"), ("board", "high_score"), ("user_id", "ann"),
        ("score", "900"), ("operator", "latest")])
    with pytest.raises(InvalidEvent, match="operator: Must be one of"):
        producer.score("snake", "high_score", "ann", 1, operator="max")


def test_a_subscore_and_a_join_are_written_as_the_workers_read_them(
        producer: Producer, stream: redis.Redis) -> None:
    timed = producer.score("snake", "fastest", "ann", 70, subscore=91_500)
    joined = producer.join("arcade", "cup", "ann", game_id="g1")
    assert entries(stream) == [
        (timed, [("product_id", "snake"), ("type", "score"), ("board", "fastest"),
                 ("user_id", "ann"), ("score", "70"), ("subscore", "91500")]),
        (joined, [("product_id", "arcade"), ("type", "join"), ("board", "cup"),
                  ("user_id", "ann"), ("game_id", "g1")])]
    for bad in (-1, 2**32):
        with pytest.raises(InvalidEvent, match="subscore"):
            producer.score("snake", "fastest", "ann", 70, subscore=bad)
    with pytest.raises(InvalidEvent, match="board"):
        producer.join("arcade", "no board!", "ann")
    assert len(entries(stream)) == 2


@pytest.mark.parametrize(("event", "reason"), [
    ({"product_id": "exrps", "game_id": "g", "type": "game_over", "winner_id": "a",
      "loser_id": "a"}, "invalid_fields"),
    ({"product_id": "exrps", "game_id": "g", "type": "game_over"}, "invalid_fields"),
    ({"product_id": "exrps", "type": "teleport"}, "unknown_type"),
    ({"product_id": "exrps", "game_id": "g"}, "missing_type"),
    ({"product_id": "exrps", "game_id": "g", "type": "gameplay", "event_name": "dance"},
     "unknown_event_name"),
    ({"product_id": "bad id!", "game_id": "g", "type": "game_removed"}, "invalid_fields"),
    ({"product_id": "exrps", "game_id": 7, "type": "game_removed"}, "invalid_fields"),
])
def test_bad_events_are_refused_before_anything_is_written(
        producer: Producer, stream: redis.Redis, event: dict[str, str], reason: str) -> None:
    good = {"product_id": "exrps", "game_id": "g", "type": "game_removed"}
    with pytest.raises(InvalidEvent) as refused:
        producer.publish_many([good, event])
    assert refused.value.reason == reason
    assert stream.xlen(STREAM) == 0


def test_a_repeated_key_writes_nothing_more(producer: Producer, stream: redis.Redis) -> None:
    event = {"product_id": "exrps", "game_id": "g", "type": "game_removed"}
    first = producer.publish(event, key="call-1")
    assert producer.publish(event, key="call-1") == first
    assert producer.publish(event, key="call-2") != first
    many = [dict(event, game_id=f"g{i}") for i in range(CHUNK + 3)]  # two chunks
    ids = producer.publish_many(many, key="batch")
    assert producer.publish_many(many, key="batch") == ids
    assert len(set(ids)) == CHUNK + 3 and stream.xlen(STREAM) == 2 + CHUNK + 3
    assert [f[1][1] for _, f in entries(stream)[2:]] == [f"g{i}" for i in range(CHUNK + 3)]
    assert 0 < stream.pttl(f"{{{STREAM}}}:published:call-1:0") <= 120_000  # chunk 0


class DropOneReply:
    """A TCP proxy to Redis that, once armed, swallows the next reply and cuts the line:
    the command ran, the caller never hears of it."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.armed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if replies and self.armed.is_set():
                    self.armed.clear()
                    break  # the reply is lost
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # the caller sees the line cut at once
            s.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[DropOneReply]:
    found = DropOneReply(("127.0.0.1", redis_server.port))
    yield found
    found.close()


def test_a_lost_reply_is_retried_and_written_once(proxy: DropOneReply,
                                                   stream: redis.Redis) -> None:
    stream.delete(STREAM)
    db = stream.connection_pool.connection_kwargs.get("db", 0)
    # no retries of redis-py's own (it has 3 by default): the Producer's must do it
    client = redis.Redis(host="127.0.0.1", port=proxy.port, db=db, socket_timeout=5,
                         retry=Retry(NoBackoff(), 0))
    producer = Producer(client, STREAM, backoff_s=0.01)
    producer.game_over("exrps", "g0", winner_id="ann", loser_id="bob")  # connected, warm
    proxy.armed.set()
    entry_id = producer.game_over("exrps", "g1", winner_id="ann", loser_id="bob")
    assert not proxy.armed.is_set()  # a reply was dropped on the way
    assert [i for i, _ in entries(stream)][1:] == [entry_id]  # and g1 went in once
    assert stream.xlen(STREAM) == 2
