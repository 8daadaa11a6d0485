"""The data store on a real Redis Cluster (three masters): the same traffic through the
same code leaves exactly what it leaves on a standalone Redis, and every read, the read
API's included, answers the same. Nothing here is cluster-specific code but the client
(``redis+cluster://``, :mod:`tracker.storage.connect`)."""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from api import create_app
from api.config import ApiSettings
from tests.conftest import TEST_PRODUCTS
from tests.support.handlers import race_entries
from tests.support.pipeline import expected_wins, snapshot, wait_for_pipeline
from tests.support.processes import start_bridge, start_worker
from tests.support.rebuild import dump, pipeline, rebuild, traffic, wreck
from tests.support.redis_cluster import RedisClusterServers
from tests.support.traffic import as_bytes, mixed_traffic
from tests.support.varcade import game_over, raw, xadd_all
from tracker.closing import PeriodResults
from tracker.edx.erasure import forget_learner_analytics
from tracker.edx.ingest import CourseAnalysis
from tracker.edx.store import AnalyticsStore
from tracker.erasure import forget_players
from tracker.manual_seasons import ManualSeasons
from tracker.processing import BatchProcessor
from tracker.products import Products, parse_products
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Ranks, Store, Timelines
from tracker.storage.connect import data_client
from tracker.storage.seasons import CalendarError, SeasonCalendar
from tracker.userstate import UserStateClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    servers = RedisClusterServers(tmp_path_factory.mktemp("cluster"))
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture
def on_cluster(cluster: RedisClusterServers) -> redis.Redis:
    client = data_client(cluster.url)
    client.flushall()
    return client


BASE = int(time.time() * 1000) - 20 * 86_400_000  # traffic of three weeks ago: now final


def feed(client: redis.Redis, products: Products) -> None:
    """Mixed traffic of every test product (bad entries, course logs, race laps), the
    course analysis, a closed week and a forgotten player."""
    traffic = mixed_traffic(3000, seed=8)
    base = BASE
    processor = BatchProcessor(products, Store(client), DeadLetters(client),
                               clock=lambda: base / 1000 + 60)
    entries = [(f"{base + i}-0", dict(as_bytes(row))) for i, row in enumerate(traffic.rows)]
    by_product: dict[str, list[Any]] = {}
    for entry in entries:
        by_product.setdefault(entry[1].get(b"product_id", b"").decode(), []).append(entry)
    for product_id, part in by_product.items():
        for i in range(0, len(part), 500):
            processor.process(product_id, "s", part[i:i + 500])
    laps = [(f"d{i % 7}", 50 + i % 11, i % 3, i) for i in range(40)]
    processor.process("race", "s", race_entries(laps, base))
    # tennis breaks ties by time: games 1.5 s apart, four players with 8 wins each
    processor.process("tennis", "s", [
        (f"{base + 1500 * i}-0", raw(game_over("tennis", f"t{i % 5}", f"t{(i * 3 + 1) % 5}",
                                               game_id=f"tennis-{i}")))
        for i in range(40) if i % 5 != (i * 3 + 1) % 5])
    analysis = CourseAnalysis(Timelines(client), AnalyticsStore(client))
    analysis.run("edx")
    now = int(time.time() * 1000)
    for product in products.values():
        PeriodResults(client).close_due(product, now)
    forget_players(Store(client), products["race"], ["d3"], base)
    # user state in two courses, and a learner forgotten (user state and analytics)
    states = UserStateClient(client)
    learners = sorted(analysis.analytics.learners(analysis.analytics.courses()[0]))
    for i, user in enumerate(learners[:4]):
        for course in ("course-v1:Demo+Data101+2026", "course-v1:Other+Art202+2026"):
            unit = course.replace("course-v1:", "block-v1:") + f"+type@problem+block@p{i}"
            states.set(user, unit, {"answer": i})
            states.set(user, unit, {"answer": i + 1})
    forgotten = learners[1]
    # a block in each of two courses: its state and its history each
    assert states.forget(forgotten, states.blocks_of([forgotten])[forgotten]) == 2 * 2
    assert forget_learner_analytics(analysis, ["edx"], forgotten).added_up


def timeless(snapshot: dict[bytes, Any]) -> dict[bytes, Any]:
    """``snapshot`` without the server's clock readings: the user-state keys' content
    (write times) and the archives' ``closed_at``."""
    out: dict[bytes, Any] = {}
    for key, value in snapshot.items():
        if key.startswith(b"us:"):
            value = None
        elif b":archive:" in key:
            value = {f: re.sub(rb',"closed_at":\d+', b"", v) for f, v in value.items()}
        out[key] = value
    return out


def test_a_cluster_ends_up_holding_what_a_standalone_redis_holds(
        on_cluster: redis.Redis, data: redis.Redis, products: Products) -> None:
    for client in (data, on_cluster):
        feed(client, products)
    standalone, clustered = (snapshot(c, "*", stream_ids=False) for c in (data, on_cluster))
    assert len(standalone) > 150  # boards, stats, timelines, reports, buckets, results…
    assert {k for k in standalone if b"period_results" in k}  # a week was closed
    assert len([k for k in standalone if k.startswith(b"us:")]) > 10  # user state
    assert timeless(clustered) == timeless(standalone)
    slots = {on_cluster.cluster_keyslot(k) for k in clustered}  # type: ignore[attr-defined]
    nodes = {on_cluster.get_node_from_key(k).name  # type: ignore[attr-defined]
             for k in clustered}
    assert len(nodes) >= 2 and len(slots) > 3  # products in slots of several nodes


def test_the_read_api_answers_the_same_from_a_cluster(
        cluster: RedisClusterServers, on_cluster: redis.Redis, data: redis.Redis,
        settings: Settings, products: Products) -> None:
    for client in (data, on_cluster):
        feed(client, products)
    board = Store(data).top("exrps", "wins", 1)[0][0]
    paths = [
        "/products", "/products/exrps/boards/wins/entries?limit=20",
        f"/products/exrps/boards/wins/players/{board}", f"/products/exrps/boards/wins/players/"
        f"{board}/around?ties=dense", "/products/darts/boards/wins/tiers",
        "/products/darts/boards/openskill/entries", "/products/race/boards/laps/entries",
        f"/stats/exrps/{board}", "/leaderboards/top_ten/exrps",
        f"/products/exrps/boards/wins/players?user_id={board}&user_id=nobody",
        "/products/race/boards/laps/periods",
        "/products/tennis/boards/wins/entries?limit=1&offset=2",  # with both cursors
        "/products/tennis/boards/wins/players/t1?ties=ordinal",
        "/products/tennis/boards/wins/tiers",
        "/products/tennis/boards/streak/entries", "/leaderboards/top_ten/tennis",
        f"/players/{board}/boards",  # every product's boards: in one round trip, or in turn
        "/products/snake/boards/high_score/entries?limit=5",  # with each row's record
    ]
    answers = []
    for url in (settings.redis_url, cluster.url):
        app = create_app(Settings(redis_url=url, products_file=str(TEST_PRODUCTS)),
                         ApiSettings(rate_limit="off", legacy_stats_public="true"))
        client = app.test_client()
        answers.append([(p, client.get(p).status_code, client.get(p).get_json())
                        for p in paths])
        assert client.get("/ready").status_code == 200
        assert b"tracker_pipeline_up 1.0" in client.get("/metrics").data
    assert [(p, status) for p, status, _ in answers[0] if status != 200] == []
    assert answers[1] == answers[0]
    page = next(body for p, _, body in answers[0] if "limit=1&offset=2" in p)
    assert page["prev_cursor"] and page["next_cursor"] and page["entries"][0]["score"] < 100


def test_the_rate_limiter_counts_on_the_cluster(cluster: RedisClusterServers,
                                                on_cluster: redis.Redis) -> None:
    app = create_app(Settings(redis_url=cluster.url, products_file=str(TEST_PRODUCTS)),
                     ApiSettings(rate_limit="3 per minute"))
    client = app.test_client()
    statuses = [client.get("/products").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert any(b"ratelimit" in k for k in on_cluster.scan_iter())


def test_dead_letters_and_reindex_work_on_a_cluster(on_cluster: redis.Redis,
                                                   products: Products) -> None:
    letters = DeadLetters(on_cluster, Keys())
    BatchProcessor(products, Store(on_cluster), letters).process(
        "exrps", "s", [("1-0", {b"product_id": b"exrps", b"type": b"nonsense"})])
    (letter,) = list(letters.scan())
    assert letter.reason == "unknown_type"
    assert letters.remove([letter]) == 1 and letters.count() == 0  # a MULTI in one slot
    feed(on_cluster, products)
    ranks = Ranks(on_cluster)
    before = ranks.size("exrps", "wins")
    on_cluster.delete(Keys().board_scores("exrps", "wins"), Keys().board_counts("exrps", "wins"))
    assert ranks.size("exrps", "wins").distinct_scores == 0
    assert ranks.reindex("exrps", "wins") == before and before.distinct_scores > 1
    timed = ranks.page("tennis", "wins", 0, 10, earliest=True).rows
    assert len(timed) == 4 and ranks.reindex("tennis", "wins", earliest=True).members == 4
    assert ranks.convert_ties("tennis", "wins", earliest=False) == 4  # one key, one slot
    assert [s for _, s in ranks.page("tennis", "wins", 0, 10).rows] == [s for _, s in timed]


def test_workers_and_bridge_fill_a_cluster(cluster: RedisClusterServers,
                                           on_cluster: redis.Redis, settings: Settings,
                                           products: Products, stream: redis.Redis,
                                           tmp_path: Path) -> None:
    clustered = dataclasses.replace(settings, redis_url=cluster.url)
    procs = [start_worker(clustered, tmp_path, "w1", products.queues),
             start_bridge(clustered, tmp_path, "b1")]
    try:
        rows = [game_over("exrps", f"p{i % 9}", f"p{(i + 1) % 9}") for i in range(400)]
        xadd_all(stream, rows, key=settings.stream_key)
        wait_for_pipeline(clustered, products.queues)
    finally:
        for p in procs:
            p.stop()
    board = dict(Ranks(on_cluster).page("exrps", "wins", 0, 100).rows)
    assert board == {p: float(n) for p, n in expected_wins(rows, "exrps").items()}
    assert Store(on_cluster).player_stats("exrps", "p0")["games"] == 89


def test_a_board_is_rebuilt_on_a_cluster(cluster: RedisClusterServers,
                                         on_cluster: redis.Redis, settings: Settings,
                                         products: Products, stream: redis.Redis) -> None:
    clustered = dataclasses.replace(settings, redis_url=cluster.url)
    pipeline(stream, on_cluster, clustered, products, traffic(random.Random(3)))
    boards = [("darts", "glicko2"), ("tennis", "wins"), ("snake", "fastest")]
    built = {board: dump(on_cluster, *board) for board in boards}
    for product, board in boards:
        wreck(on_cluster, product, board)
        out = rebuild(clustered, product, board)
        assert out.exit_code == 0, out.output
    assert {board: dump(on_cluster, *board) for board in boards} == built
    assert all(len(keys) > 1 for keys in built.values())


def test_data_client_picks_the_client(cluster: RedisClusterServers, tmp_path: Path) -> None:
    assert type(data_client(cluster.url)).__name__ == "RedisCluster"
    assert isinstance(data_client("redis://127.0.0.1:1/0"), redis.Redis)


def test_seasons_set_at_run_time_work_on_a_cluster(on_cluster: redis.Redis) -> None:
    """The calendar's scripts (one key, or the product's keys: one slot) on a cluster."""
    products = parse_products({"products": {"pong": {"handlers": [
        {"use": "wins", "periods": ["season"], "seasons": "manual"}]}}})
    calendar = SeasonCalendar(on_cluster, lead_ms=1_000)
    now, _ = calendar.read("pong", ("wins",))
    with pytest.raises(CalendarError, match="at least 1 s after it is made"):
        calendar.start("pong", "wins", "s1", now, now + 60_000)
    start = now + 2_000
    calendar.start("pong", "wins", "s1", start, start + 60_000)
    processor = BatchProcessor(products, Store(on_cluster), DeadLetters(on_cluster),
                               seasons=ManualSeasons(calendar))
    processor.process("pong", "s", [(f"{start + i}-0", raw(game_over("pong", w, lo)))
                                    for i, (w, lo) in enumerate([("ann", "bob"),
                                                                 ("cid", "ann")])])
    assert dict(Store(on_cluster).top("pong", "wins:s1")) == {"ann": 1, "cid": 1, "bob": 0}
