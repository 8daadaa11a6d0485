"""``tracker stack``: the whole system on this machine, for a first look.

Starts a private redis-server (AOF on, data in ``var/redis``), then the bridge,
one Celery worker pool per configured queue, the API under gunicorn, Flower,
Prometheus with the shipped alerting rules (when installed) and the demo
producer, each as a subprocess logging to ``var/logs/<name>.log``. The
demo also sends a week of a demo course's tracking logs through the bridge, and
prints the course dashboard's address with its instructor's token.

Policy when a child dies unexpectedly: it is reported (with the tail of its
log) and restarted after a growing delay (1 s, 2 s, 4 s ... 30 s). A child
that dies ``MAX_DEATHS`` times within ``DEATH_WINDOW`` seconds is considered
broken, and the whole stack stops with exit code 1.

Ctrl-C or SIGTERM stops everything in order: the demo, then the bridge, then
workers, API and Flower, and redis-server last (each gets SIGTERM, then
SIGKILL after ``--stop-timeout``). A second Ctrl-C kills at once.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from urllib.parse import quote

import click
import jwt
import redis

from tasks import prometheus
from tasks.stack_plan import HOST, Ports, child_env, pick_port, plan, redis_env
from tasks.supervisor import Child, GaveUp, Supervisor
from tracker.commands import configured_products
from tracker.demo import DEFAULT_PLAYERS, DEFAULT_RATE, DEFAULT_SEED, SCORE_PRODUCT, player_pool
from tracker.edx.demo import DEMO_COURSE, INSTRUCTOR, write_demo
from tracker.edx.ingest import send_lines, store_rosters
from tracker.edx.sources import sources
from tracker.edx.store import read_roster
from tracker.pipeline_state import stream_state
from tracker.products import Products
from tracker.settings import Settings
from tracker.storage.connect import data_client
from tracker.storage.deadletters import DeadLetters
from tracker.storage.inflight import InFlight
from tracker.storage.keys import Keys
from tracker.storage.store import Store

# --- what the user sees -------------------------------------------------------


def course_demo(settings: Settings, products: Products, env: Mapping[str, str],
                var: Path) -> str | None:
    """Send the demo course's logs and roster through the pipeline (when a product reads
    tracking logs); the dashboard's address, with a token of the course's instructor
    when the API's HS256 secret is known."""
    product = next((pid for pid, p in products.items() if p.reads_course_logs), None)
    if product is None:
        return None
    log, roster = write_demo(var / "edx")
    store_rosters(settings, product, read_roster(roster))
    send_lines(settings, product, sources([str(log)]))
    fragment = f"course={quote(DEMO_COURSE)}"
    secret = env.get("TRACKER_JWT_SECRET", "")
    if secret:
        claims: dict[str, object] = {"sub": INSTRUCTOR, "exp": int(time.time()) + 7 * 86_400}
        for claim, name in (("iss", "TRACKER_JWT_ISSUER"), ("aud", "TRACKER_JWT_AUDIENCE")):
            if env.get(name, "").strip():
                claims[claim] = env[name].strip()
        fragment += f"&token={jwt.encode(claims, secret, algorithm='HS256')}"
    return f"/dashboard/#{fragment}"


def demo_secret(env: dict[str, str]) -> None:
    """With the demo and no key of the user's: a fresh HS256 secret for this run, so that
    the course dashboard can be opened with a token. The Varcade stats route stays
    public, as it is without a key."""
    if any(env.get(f"TRACKER_JWT_{name}") for name in ("SECRET", "PUBLIC_KEY", "JWKS_URL")):
        return
    env["TRACKER_JWT_SECRET"] = secrets.token_urlsafe(32)
    env.setdefault("TRACKER_LEGACY_STATS_PUBLIC", "true")


def banner(ports: Ports, products: Products, var: Path, children: Sequence[Child],
           dashboard: str | None = None) -> str:
    api = f"http://{HOST}:{ports.api}"
    product = "exrps" if "exrps" in products else next(iter(products), "exrps")
    star = max(player_pool(DEFAULT_PLAYERS, DEFAULT_SEED), key=lambda p: p.skill).id
    lines = [
        "",
        "stats-tracker is running. Ctrl-C stops everything.",
        f"  API      {api}/health",
        f"           {api}/leaderboards/top_ten/{product}",
        f"           {api}/stats/{product}/{star}   (the demo's strongest player)",
        f"           {api}/products/{product}/boards/elo/entries?ties=dense",
        f"           {api}/products/{product}/boards/elo/players/{star}/history",
        f"           {api}/products/{product}/boards/wins/periods   (weekly, monthly boards)",
        f"           {api}/products/{product}/boards/wins/players/{star}/periods   (that "
        "player's weeks and months)",
        f"           {api}/products/{product}/boards/wins/buckets   (this week's buckets)",
        f"           {api}/products/{product}/boards/wins/archive   (closed weeks' and months' "
        "final standings)",
        *([f"           {api}/products/{SCORE_PRODUCT}/boards/high_score/entries   "
           f"(an arcade game's best scores, as it submits them)",
           f"           {api}/products/{SCORE_PRODUCT}/boards/fastest/entries   "
           f"(equal bests: the quickest run first, a subscore)",
           f"           {api}/products/{SCORE_PRODUCT}   (its boards: high_score, total, "
           f"fastest)"]
          if SCORE_PRODUCT in products else []),
        f"  Boards   {api}/dashboard/boards#product={product}&board=wins   (every board in "
        "a browser)",
        f"  API docs {api}/docs/   (OpenAPI at {api}/openapi.json)",
        *([f"  Course   {api}{dashboard}   (the demo course's analytics, as its instructor; "
           "its logs went through the bridge)"] if dashboard else []),
        f"  Metrics  {api}/metrics   (Prometheus: requests, entries applied, stream lag)",
        f"  Flower   http://{HOST}:{ports.flower}/",
        *([f"  Alerts   {prometheus.alerts_page(f'http://{HOST}:{ports.prometheus}')}   "
           "(Prometheus scraping the API "
           "and Flower, with the alerting rules of docker/prometheus)"]
          if ports.prometheus is not None else []),
        f"  Redis    redis://{HOST}:{ports.redis}  (data /0, stream /1, broker /2; "
        f"AOF in {var / 'redis'})",
        f"  Logs     {var / 'logs'}/  (tail -f {var / 'logs'}/*.log)",
        "  Commands in another shell, pointed at this stack's Redis first:",
        f"           export {' '.join(f'{k}={v}' for k, v in redis_env(ports.redis).items())}",
        "           tracker status   (the pipeline at a glance)",
        f"           tracker period-results {product}   (closed weeks' and months' winners)",
        f"  Running  {', '.join(c.name for c in children)}",
        "",
    ]
    return "\n".join(lines)


def status_line(settings: Settings, products: Products, store: Store,
                stream: redis.Redis) -> str:
    try:
        flow = stream_state(InFlight.of(stream, settings))
        queue = ("no consumer group yet" if flow.lag is None
                 else f"lag {flow.lag}, in flight {flow.in_flight}")
        parts = [f"stream {flow.length} entries ({queue})",
                 f"dead letters {DeadLetters(store.client, store.keys).count()}"]
        for pid, product in products.items():
            board = product.board("wins") or (product.boards[0] if product.boards else None)
            if board is None:
                continue
            top = store.top(pid, board.name, 3, ascending=board.ascending,
                            earliest=board.earliest)
            if top or pid == "exrps":
                best = ", ".join(f"{m[:8]} {s:g}" for m, s in top) or "empty"
                parts.append(f"{pid} {board.name}: {best}")
        return f"[{time.strftime('%T')}] " + " | ".join(parts)
    except redis.RedisError as exc:
        return f"[{time.strftime('%T')}] status unavailable: {exc}"


def wait_ready(children: Sequence[Child], supervisor: Supervisor, stop: threading.Event,
               timeout: float) -> list[Child]:
    """Wait until every child is ready (or ``timeout``); returns those that are not."""
    deadline = time.monotonic() + timeout
    pending = list(children)
    while pending and time.monotonic() < deadline and not stop.is_set():
        supervisor.check()
        pending = [c for c in pending if not c.ready()]
        stop.wait(0.25)
    return pending


# --- command ------------------------------------------------------------------


def prometheus_port_of(requested: int | None, off: bool, taken: set[int]) -> int | None:
    """Prometheus's port, or None when it is not to run: turned off, or (unless a port
    was asked for) not installed."""
    if off:
        return None
    if requested is None and shutil.which("prometheus") is None:
        click.echo("[stack] prometheus is not installed: no alerting rules "
                   "(sudo apt-get install prometheus; scripts/run does it)")
        return None
    return pick_port(requested, 9090, taken, "Prometheus")


@click.command("stack")
@click.option("--redis-port", type=int, help="Port of the stack's own redis-server "
              "[default: any free port].")
@click.option("--api-port", type=int, help="[default: 5000 if free, else any free port]")
@click.option("--flower-port", type=int, help="[default: 5555 if free, else any free port]")
@click.option("--prometheus-port", type=int, help="[default: 9090 if free, else any free port]")
@click.option("--no-prometheus", is_flag=True, help="Do not start Prometheus (started when "
              "the prometheus program is installed).")
@click.option("--demo-rate", type=click.FloatRange(min=0), default=DEFAULT_RATE,
              show_default=True, help="Events per second the demo producer writes.")
@click.option("--no-demo", is_flag=True, help="Do not start the demo producer.")
@click.option("--var-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var"),
              show_default=True, help="Where Redis data and the logs go.")
@click.option("--status-interval", type=click.FloatRange(min=1), default=10.0, show_default=True,
              help="Seconds between status lines.")
@click.option("--stop-timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds a child gets to stop after SIGTERM before SIGKILL.")
def stack_command(redis_port: int | None, api_port: int | None, flower_port: int | None,
                  prometheus_port: int | None, no_prometheus: bool, demo_rate: float,
                  no_demo: bool, var_dir: Path, status_interval: float,
                  stop_timeout: float) -> None:
    """Run the whole system locally: Redis, bridge, workers, API, Flower, Prometheus and
    the demo."""
    taken: set[int] = set()
    # Any free port for Redis: apt's redis-server package already runs a service on 6379.
    for_redis = pick_port(redis_port, None, taken, "redis")
    taken.add(for_redis)
    for_api = pick_port(api_port, 5000, taken, "API")
    taken.add(for_api)
    for_flower = pick_port(flower_port, 5555, taken, "Flower")
    taken.add(for_flower)
    ports = Ports(for_redis, for_api, for_flower,
                  prometheus_port_of(prometheus_port, no_prometheus, taken))
    env = child_env(os.environ, ports.redis)
    if not no_demo:
        demo_secret(env)
    settings = Settings.from_env(env)
    products = configured_products(settings)
    (var_dir / "redis").mkdir(parents=True, exist_ok=True)
    children = plan(ports, env, products.queues, var_dir, None if no_demo else demo_rate)
    supervisor = Supervisor(children)

    stop, force = threading.Event(), threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        (force if stop.is_set() else stop).set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    failed = False
    try:
        redis_child, rest = children[0], children[1:]
        redis_child.start()
        if wait_ready([redis_child], supervisor, stop, 20) and not stop.is_set():
            raise GaveUp(f"redis-server did not answer; see {redis_child.log_path}")
        for child in rest:
            if not stop.is_set():
                child.start()
        click.echo(f"[stack] started {len(children)} processes; waiting until they answer ...")
        slow = wait_ready(rest, supervisor, stop, 60)
        if stop.is_set():
            return
        if slow:
            click.echo(f"[stack] not answering yet: {', '.join(c.name for c in slow)} "
                       "(see their logs)")
        dashboard = None if no_demo else course_demo(settings, products, env, var_dir)
        click.echo(banner(ports, products, var_dir, children, dashboard))
        store = Store(data_client(settings.redis_url, socket_timeout=2),
                      Keys(settings.key_prefix))
        stream = redis.Redis.from_url(settings.stream_url, socket_timeout=2)
        next_status = time.monotonic()
        while not stop.wait(0.5):
            supervisor.check()
            if time.monotonic() >= next_status:
                click.echo(status_line(settings, products, store, stream))
                next_status = time.monotonic() + status_interval
    except GaveUp as exc:
        click.echo(f"[stack] {exc}", err=True)
        failed = True
    finally:
        click.echo("[stack] stopping ...")
        supervisor.stop_all(stop_timeout, force)
        click.echo("[stack] stopped.")
    if failed:
        sys.exit(1)
