"""docker/grafana: the dashboard compose provisions, over the Prometheus of
docker/prometheus.

There is no Grafana here, so the files are checked for what Grafana needs to load them,
and every panel's query runs on a real Prometheus scraping the whole stack in the
stack's test (tests/tasks/test_stack.py); the series they read are checked against real
scrapes of the API and Flower (tests/api/test_operations.py, tests/tasks/test_flower.py).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.support.prometheus import DASHBOARD, DOCKER, dashboard_queries

PROVISIONING = DOCKER / "grafana" / "provisioning"


def test_the_data_source_is_the_compose_prometheus() -> None:
    compose = yaml.safe_load((DOCKER.parent / "docker-compose.yml").read_text())["services"]
    (source,) = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())[
        "datasources"]
    port = compose["prometheus"]["ports"][0].rsplit(":", 1)[1]
    assert source["type"] == "prometheus" and source["url"] == f"http://prometheus:{port}"
    grafana = compose["grafana"]
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "stats-tracker.yml"
                                  ).read_text())["providers"]
    mounts = dict(v.removesuffix(":ro").split(":", 1) for v in grafana["volumes"]
                  if v.startswith("./"))
    assert mounts == {"./docker/grafana/provisioning": "/etc/grafana/provisioning",
                      "./docker/grafana/dashboards": provider["options"]["path"]}
    assert grafana["depends_on"] == ["prometheus"]
    image, _, tag = grafana["image"].partition(":")
    assert image == "grafana/grafana-oss" and tag.count(".") == 2, "a pinned release"


def test_every_panel_queries_that_source_and_the_layout_fits() -> None:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    (source,) = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())[
        "datasources"]
    panels = dashboard["panels"]
    assert dashboard["uid"] == "stats-tracker" and len(panels) >= 10
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"] and all(t["datasource"]["uid"] == source["uid"]
                                        and t["expr"] for t in panel["targets"])
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
    assert len(dashboard_queries()) >= len(panels)
