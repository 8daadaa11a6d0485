"""docker/prometheus: the Prometheus configuration and alerting rules that compose and
``tracker stack`` run, checked and unit-tested by Prometheus's own promtool.

Which series the rules read is checked against real scrapes elsewhere: the API's
(tests/api/test_operations.py) and Flower's (tests/tasks/test_flower.py); the stack's
test runs Prometheus itself on them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasks.prometheus import API_JOB, FLOWER_JOB, local_config, shipped_config
from tests.support.prometheus import RULES_DIR, alert_rules

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None,
                                    reason="promtool not installed (scripts/test installs it)")


def promtool(*args: str) -> str:
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, *args], cwd=RULES_DIR, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@needs_promtool
def test_configuration_and_rules_are_valid() -> None:
    out = promtool("check", "config", "prometheus.yml")
    assert f"SUCCESS: {len(alert_rules())} rules found" in out


@needs_promtool
def test_every_alert_fires_on_its_failure_and_not_before(tmp_path: Path) -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")
    # the unit tests can fail: a rule that fires a minute too early breaks them
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == "TrackerDeadLetters":
                rule["for"] = "1m"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    shutil.copy(RULES_DIR / "alerts.test.yml", tmp_path)
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, "test", "rules", "alerts.test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "alertname: TrackerDeadLetters" in done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    tests = yaml.safe_load((RULES_DIR / "alerts.test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    names = [rule["alert"] for rule in alert_rules()]
    assert len(set(names)) == len(names) >= 10
    for name in names:
        outcomes = {bool(c["exp_alerts"]) for c in cases if c["alertname"] == name}
        assert outcomes == {True, False}, f"{name}: {outcomes or 'no test'}"


def test_every_alert_says_what_is_wrong_and_what_to_do() -> None:
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        jobs = set(re.findall(r'job="([^"]+)"', rule["expr"]))
        assert jobs <= {API_JOB, FLOWER_JOB}, f"{rule['alert']} reads unknown jobs {jobs}"


def test_the_shipped_configuration_scrapes_the_api_and_flower_with_the_rules() -> None:
    config: dict[str, Any] = shipped_config()
    assert {j["job_name"] for j in config["scrape_configs"]} == {API_JOB, FLOWER_JOB}
    assert all((RULES_DIR / f).is_file() for f in config["rule_files"])


def test_the_stack_scrapes_its_own_ports_with_the_shipped_rules(tmp_path: Path) -> None:
    written = yaml.safe_load(local_config("127.0.0.1:5001", "127.0.0.1:5556",
                                          tmp_path).read_text())
    targets = {j["job_name"]: j["static_configs"] for j in written["scrape_configs"]}
    assert targets == {API_JOB: [{"targets": ["127.0.0.1:5001"]}],
                       FLOWER_JOB: [{"targets": ["127.0.0.1:5556"]}]}
    assert written["rule_files"] == [str(RULES_DIR / "alerts.yml")]
    if PROMTOOL is not None:  # the rewritten file is still valid
        promtool("check", "config", str(tmp_path / "prometheus.yml"))


def test_a_configuration_with_other_jobs_is_refused(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    other = shipped_config()
    other["scrape_configs"].append({"job_name": "extra", "static_configs": []})
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(other))
    monkeypatch.setattr("tasks.prometheus.CONFIG_DIR", tmp_path)
    with pytest.raises(ValueError, match="extra"):
        local_config("a:1", "b:2", tmp_path / "out")
