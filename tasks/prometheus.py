"""Prometheus for ``tracker stack``: the compose service's configuration
(``docker/prometheus``), pointed at the stack's own API and Flower.

The scrape jobs, their names and the alerting rules stay those of the shipped files,
so what the stack shows at ``/alerts`` is what a compose deployment evaluates.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

# the shipped configuration: the compose service mounts this directory
CONFIG_DIR = Path(__file__).resolve().parents[1] / "docker" / "prometheus"
API_JOB, FLOWER_JOB = "stats-tracker-api", "flower"
STACK_INTERVAL = "5s"  # a first look wants alerts' states to move within seconds
# the alerts page: the React UI's, else the classic one's (Debian's package ships only that)
ALERTS_PAGES = ("/alerts", "/classic/alerts")


def shipped_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text())
    return config


def local_config(api: str, flower: str, into: Path) -> Path:
    """Write the shipped configuration, scraping ``api`` and ``flower`` (host:port) and
    reading the shipped rules, to ``into``/prometheus.yml; its path."""
    config = shipped_config()
    targets = {API_JOB: api, FLOWER_JOB: flower}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    if set(jobs) != set(targets):
        raise ValueError(f"{CONFIG_DIR / 'prometheus.yml'} scrapes {sorted(jobs)}, "
                         f"expected {sorted(targets)}")
    for name, job in jobs.items():
        job["static_configs"] = [{"targets": [targets[name]]}]
    config["global"].update(scrape_interval=STACK_INTERVAL, evaluation_interval=STACK_INTERVAL)
    config["rule_files"] = [str(CONFIG_DIR / f) for f in config["rule_files"]]
    into.mkdir(parents=True, exist_ok=True)
    path = into / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def command(executable: str, host: str, port: int, api_port: int, flower_port: int,
            var: Path) -> list[str]:
    """The ``prometheus`` command line of the stack, listening on ``host:port``, scraping
    the stack's API and Flower; its configuration and data in ``var``."""
    config = local_config(f"{host}:{api_port}", f"{host}:{flower_port}", var)
    return [executable, f"--config.file={config}", f"--storage.tsdb.path={var / 'data'}",
            f"--web.listen-address={host}:{port}", "--storage.tsdb.retention.time=2d"]


def alerts_page(base: str) -> str:
    """The address of the alerts page of the Prometheus at ``base`` that answers."""
    for path in ALERTS_PAGES:
        try:
            with urllib.request.urlopen(base + path, timeout=2):
                return base + path
        except (urllib.error.URLError, OSError):
            continue
    return base + ALERTS_PAGES[0]
