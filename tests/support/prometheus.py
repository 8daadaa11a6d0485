"""The shipped alerting rules (docker/prometheus/alerts.yml) and Grafana dashboard
(docker/grafana), and what a scrape exports, so that tests can check that both read only
series the system really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

DOCKER = Path(__file__).resolve().parents[2] / "docker"
RULES_DIR = DOCKER / "prometheus"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "stats-tracker.json"
# the sample names of a family of each type, from its family name
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum"),
            "summary": ("_count", "_sum")}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    """The PromQL of every panel of the shipped Grafana dashboard."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def monitored_series(prefix: str) -> set[str]:
    """Names of the series starting with ``prefix`` that the alert expressions and the
    dashboard's queries read."""
    pattern = re.compile(rf"\b{re.escape(prefix)}[a-z0-9_]+\b")
    queries = [rule["expr"] for rule in alert_rules()] + dashboard_queries()
    return {name for query in queries for name in pattern.findall(query)}


def exported(text: str) -> set[str]:
    """Every sample name a Prometheus exposition may carry: its samples', and for a
    family without samples yet (a product with no event), those its type gives it."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names
