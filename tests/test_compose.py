"""docker-compose.yml and docker/Dockerfile run what this project really provides.

There is no Docker engine in CI, so the files are parsed and every command
line is checked against the code: the ``tracker`` subcommand and its options,
the Celery app and worker queues, the gunicorn app factory, the settings.
"""

from __future__ import annotations

import configparser
import importlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from tasks.prometheus import API_JOB, FLOWER_JOB, shipped_config
from tests.support.redis_server import free_port, server_version, wait_for_ping
from tracker.products import load_products
from tracker.settings import DEFAULT_PRODUCTS_FILE, Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
# docker/compose.valkey.yml: Valkey 8.1 in place of Redis 7, layered over the above
VALKEY: dict[str, Any] = yaml.safe_load((ROOT / "docker" / "compose.valkey.yml").read_text())
REQUIRED = {"redis", "bridge", "worker-default", "worker-exrps", "beat", "api", "flower",
            "demo", "prometheus", "grafana"}
OTHER_IMAGES = {"redis", "prometheus", "grafana"}  # services that run another project's image
PROJECT_SERVICES = sorted(n for n, s in SERVICES.items() if "build" in s)
SETTINGS_VARS = {f"TRACKER_{f.name.upper()}" for f in fields(Settings)}
# Variables of other programs that a service may set, and where.
OTHER_VARS = {"flower": {"FLOWER_UNAUTHENTICATED_API"}, "api": {"PROMETHEUS_MULTIPROC_DIR"}}
SETUP = configparser.ConfigParser()
SETUP.read(ROOT / "setup.cfg")


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def console_script(name: str) -> click.Command:
    """The object behind a console script of setup.cfg (what the image's PATH runs)."""
    lines = SETUP["options.entry_points"]["console_scripts"].strip().splitlines()
    scripts = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in lines)}
    module, _, attr = scripts[name].partition(":")
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command)
    return command


def requirement_names() -> set[str]:
    lines = SETUP["options"]["install_requires"].strip().splitlines()
    return {re.split(r"[\[<>=!~ ]", line.strip(), maxsplit=1)[0].lower() for line in lines}


def configured_queues() -> set[str]:
    return set(load_products(DEFAULT_PRODUCTS_FILE).queues)


def check_tracker(args: list[str]) -> str:
    main = console_script("tracker")
    assert isinstance(main, click.Group)
    if args == ["--help"]:
        return "--help"
    sub, *rest = args
    assert sub in main.commands, f"`tracker {sub}` is not a subcommand of {sorted(main.commands)}"
    main.commands[sub].make_context(sub, rest)  # options parse (raises on unknown ones)
    return sub


def check_celery(args: list[str]) -> tuple[str, dict[str, Any]]:
    from celery import Celery
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery

    assert args[:2] == ["-A", "tasks"], "workers and Flower load the app with -A tasks"
    app = importlib.import_module("tasks").app
    assert isinstance(app, Celery)
    sub, *rest = args[2:]
    assert sub in ("worker", "beat", "flower")
    obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    params = celery.commands[sub].make_context(sub, rest, obj=obj).params
    if sub == "flower":
        import flower.options  # noqa: F401  (defines Flower's tornado options)
        from tornado.options import options

        for arg in params["tornado_argv"]:
            name = arg.lstrip("-").split("=", 1)[0].replace("-", "_")
            assert name in options, f"Flower has no option {arg}"
    return sub, params


def check_gunicorn(args: list[str]) -> tuple[str, str]:
    import flask
    from gunicorn import util

    bind = args[args.index("--bind") + 1]
    assert "-c" in args, "gunicorn without api.gunicorn_conf answers some errors in HTML"
    config = args[args.index("-c") + 1]  # its errors as the API's JSON (api/gunicorn_conf.py)
    importlib.import_module(config.removeprefix("python:"))
    assert util.write_error.__module__ == "api.gunicorn_conf"
    (spec,) = [a for a in args if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(\(\))?", a)]
    module, _, expr = spec.partition(":")
    factory = getattr(importlib.import_module(module), expr.removesuffix("()"))
    app = factory() if expr.endswith("()") else factory
    assert isinstance(app, flask.Flask)
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {"/health", "/leaderboards/top_ten/<product_id>",
            "/stats/<product_id>/<user_id>"} <= rules
    return spec, bind


def check_project_command(command: list[str]) -> None:
    """Fail unless ``command`` runs something the installed image provides."""
    program, *args = command
    if program == "tracker":
        check_tracker(args)
    elif program == "celery":
        assert {"celery", "flower"} <= requirement_names()
        check_celery(args)
    elif program == "gunicorn":
        assert "gunicorn" in requirement_names()
        check_gunicorn(args)
    else:
        raise AssertionError(f"{program!r} is not a command of this project's image")


# --- compose ------------------------------------------------------------------


def test_every_required_service_exists_and_restarts() -> None:
    assert set(SERVICES) >= REQUIRED
    assert set(PROJECT_SERVICES) == set(SERVICES) - OTHER_IMAGES
    for name, service in SERVICES.items():
        assert service.get("restart") == "unless-stopped", name


@pytest.mark.parametrize("name", PROJECT_SERVICES)
def test_service_runs_a_real_project_command(name: str) -> None:
    service = SERVICES[name]
    assert service["build"]["dockerfile"] == "docker/Dockerfile"
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert "entrypoint" not in service
    check_project_command(argv(service["command"]))


@pytest.mark.parametrize("name", PROJECT_SERVICES)
def test_service_environment_is_known_settings_pointing_at_redis(name: str) -> None:
    env = environment(SERVICES[name])
    unknown = {k for k in env if k not in SETTINGS_VARS} - OTHER_VARS.get(name, set())
    assert not unknown, f"{name}: variables no setting reads: {unknown}"
    settings = Settings.from_env(env)
    urls = [urlsplit(u) for u in (settings.redis_url, settings.stream_url, settings.broker_url)]
    assert all(u.hostname == "redis" and u.port == 6379 for u in urls)
    assert sorted(u.path for u in urls) == ["/0", "/1", "/2"], "data, stream, broker DBs"
    assert SERVICES[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_api_workers_share_their_metrics_in_an_empty_directory() -> None:
    api = SERVICES["api"]
    command = argv(api["command"])
    workers = int(command[command.index("--workers") + 1])
    if workers > 1:  # else each worker's /metrics would count only itself
        metrics_dir = environment(api)["PROMETHEUS_MULTIPROC_DIR"]
        assert metrics_dir in api["tmpfs"], "must start empty: a tmpfs"


def test_all_processes_share_one_configuration() -> None:
    tracker_env = {n: {k: v for k, v in environment(SERVICES[n]).items() if k in SETTINGS_VARS}
                   for n in PROJECT_SERVICES}
    assert len({json.dumps(e, sort_keys=True) for e in tracker_env.values()}) == 1, tracker_env


def test_worker_pools_consume_exactly_the_configured_queues() -> None:
    consumed: dict[str, str] = {}
    names = set()
    for name in PROJECT_SERVICES:
        command = argv(SERVICES[name]["command"])
        if command[:4] != ["celery", "-A", "tasks", "worker"]:
            continue
        _, params = check_celery(command[1:])
        assert params["queues"], f"{name} must name its queues with -Q"
        names.add(params["hostname"].split("@")[0])
        for queue in params["queues"]:
            assert queue in configured_queues(), f"{name}: {queue} is not in products.toml"
            consumed[queue] = name
    assert set(consumed) == configured_queues(), "every configured queue has a worker pool"
    assert len(names) == len([n for n in PROJECT_SERVICES if n.startswith("worker")])


def test_api_flower_and_demo_commands() -> None:
    spec, bind = check_gunicorn(argv(SERVICES["api"]["command"])[1:])
    assert spec == "api:create_app()" and bind == "0.0.0.0:5000"
    assert any(str(p).endswith("5000:5000") for p in SERVICES["api"]["ports"])
    assert check_celery(argv(SERVICES["flower"]["command"])[1:])[0] == "flower"
    assert any(str(p).endswith("5555:5555") for p in SERVICES["flower"]["ports"])
    assert check_tracker(argv(SERVICES["bridge"]["command"])[1:]) == "bridge"
    assert check_tracker(argv(SERVICES["demo"]["command"])[1:]) == "demo"


def test_redis_persists_and_never_evicts() -> None:
    redis = SERVICES["redis"]
    image, _, tag = str(redis["image"]).partition(":")
    assert image == "redis" and int(tag.split(".")[0]) >= 7
    command = " ".join(argv(redis["command"]))
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    (volume,) = [v for v in redis["volumes"] if str(v).endswith(":/data")]
    assert volume.split(":")[0] in COMPOSE["volumes"], "a named volume keeps the AOF"
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_the_valkey_override_swaps_the_server_and_keeps_its_flags() -> None:
    assert set(VALKEY) == {"services"} and set(VALKEY["services"]) == {"redis"}
    valkey = VALKEY["services"]["redis"]
    # the volume, restart policy and port come from docker-compose.yml
    assert set(valkey) == {"image", "command", "healthcheck"}
    image, _, tag = str(valkey["image"]).partition(":")
    assert image == "valkey/valkey" and tuple(int(p) for p in tag.split(".")) >= (8, 1)
    program, *flags = argv(valkey["command"])
    redis_program, *redis_flags = argv(SERVICES["redis"]["command"])
    assert (program, redis_program) == ("valkey-server", "redis-server")
    assert flags == redis_flags
    assert valkey["healthcheck"]["test"][-2:] == ["valkey-cli", "ping"]


def healthcheck_argv(service: str, port: int) -> list[str]:
    """The service's health check, to run here against the same server listening on
    ``port`` (the API's test is in tests/api/test_gunicorn.py, Flower's in
    tests/tasks/test_flower.py, where those servers run)."""
    kind, program, *args = SERVICES[service]["healthcheck"]["test"]
    assert (kind, program) == ("CMD", "python")  # the image's interpreter: it has no curl
    published = {"api": 5000, "flower": 5555}[service]
    return [sys.executable, *(a.replace(f"127.0.0.1:{published}/", f"127.0.0.1:{port}/")
                              for a in args)]


def test_the_api_and_flower_have_health_checks() -> None:
    for service, path in (("api", "/ready"), ("flower", "/healthcheck")):
        assert any(path in arg for arg in healthcheck_argv(service, 1)), service


@pytest.mark.parametrize("service", [SERVICES["redis"], VALKEY["services"]["redis"]],
                         ids=["redis", "valkey"])
def test_the_data_server_command_runs_natively(service: dict[str, Any], tmp_path: Path) -> None:
    """What the service runs, started here with its flags; its health check answers."""
    program, *flags = argv(service["command"])
    cli = service["healthcheck"]["test"][-2]
    if shutil.which(program) is None or shutil.which(cli) is None:
        pytest.skip(f"{program} is not installed (`scripts/valkey` builds Valkey; "
                    "CI runs this in its Valkey pass)")
    port = free_port()
    proc = subprocess.Popen([program, *flags, "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(tmp_path), "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = wait_for_ping(port)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        if program == "valkey-server":
            assert server_version(client).startswith("Valkey 8.")
        health = subprocess.run([cli, "-p", str(port), "ping"], capture_output=True,
                                text=True, timeout=10)
        assert health.stdout.strip() == "PONG"
    finally:
        proc.terminate()
        proc.wait(10)


def test_prometheus_scrapes_the_api_and_flower_with_the_shipped_rules() -> None:
    prometheus = SERVICES["prometheus"]
    image, _, tag = str(prometheus["image"]).partition(":")
    assert image == "prom/prometheus" and re.fullmatch(r"v2\.\d+\.\d+", tag), "pinned 2.x"
    assert "./docker/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in argv(prometheus["command"])
    assert set(prometheus["depends_on"]) == {"api", "flower"}
    api, flower = argv(SERVICES["api"]["command"]), argv(SERVICES["flower"]["command"])
    api_port = api[api.index("--bind") + 1].rsplit(":", 1)[1]
    (flower_port,) = [a.split("=", 1)[1] for a in flower if a.startswith("--port=")]
    targets = {job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
               for job in shipped_config()["scrape_configs"]}
    assert targets == {API_JOB: [f"api:{api_port}"], FLOWER_JOB: [f"flower:{flower_port}"]}


def test_the_checks_reject_what_the_project_does_not_provide() -> None:
    for bad in (["tracker", "nonsense"], ["tracker", "demo", "--no-such-option"],
                ["celery", "-A", "other", "worker"],
                ["gunicorn", "--bind", ":5000", "api:create_app()"],
                ["gunicorn", "-c", "python:api.gunicorn_conf", "--bind", ":5000", "api:nope"],
                ["celery", "-A", "tasks", "flower", "--no-such-flower-option=1"], ["uvicorn"]):
        with pytest.raises((AssertionError, click.ClickException, AttributeError)):
            check_project_command(bad)


# --- Dockerfile -----------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "docker" / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_installs_the_package_and_runs_a_project_command() -> None:
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert any(k == "RUN" and re.search(r"pip install (\S+ )*(/app|\.)(\s|$)", v)
               for k, v in steps)
    assert not any(k == "ENTRYPOINT" for k, _ in steps), "compose commands run as written"
    (cmd,) = [v for k, v in steps if k == "CMD"]
    check_project_command(json.loads(cmd))


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or a parent decides."""
    def regex(pattern: str) -> re.Pattern[str]:
        out = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        return re.compile(out.replace(r"\*", "[^/]*").replace(r"\?", "[^/]") + "$")

    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated, pattern = line.startswith("!"), line.lstrip("!")
        if any(regex(pattern).match(c) for c in candidates):
            excluded = not negated
    return excluded


def test_build_context_holds_what_pip_install_needs_and_not_the_rest() -> None:
    needed = ["setup.cfg", "pyproject.toml", "tracker/products.toml"]
    needed += [str(p.relative_to(ROOT)) for pkg in ("tracker", "tasks", "api")
               for p in [*(ROOT / pkg).rglob("*.py"), *(ROOT / pkg).rglob("*.lua")]]
    if "README.md" in SETUP["metadata"].get("long_description", ""):
        needed.append("README.md")
    assert [p for p in needed if dockerignored(p)] == []
    for junk in (".venv/bin/python", "var/redis/appendonly.aof", "tests/conftest.py",
                 ".git/HEAD", "tracker/__pycache__/demo.cpython-311.pyc"):
        assert dockerignored(junk), junk
