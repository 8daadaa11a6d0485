"""Logs read from S3 (EOL's downloadlogs) as from files: against a local S3 server
(moto's, a real HTTP endpoint boto3 talks to with its own protocol code)."""

from __future__ import annotations

import gzip
import json
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from tests.tracker.edx.logs_gen import COURSE, line, video
from tracker.edx.cli import edx_report_command
from tracker.edx.logs import read_events
from tracker.edx.report import build_reports
from tracker.edx.sources import read_lines, s3_sources, sources

T0 = 1_764_400_000.0
LINES = [line("play_video", T0, video(currentTime=0, duration=100)),
         line("pause_video", T0 + 40, video(currentTime=40)),
         line("play_video", T0 + 50, video(currentTime=40), user="bob", tutor=True),
         line("stop_video", T0 + 110, video(currentTime=100), user="bob")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3")
    client.create_bucket(Bucket="logs")
    # two rotated files, one gzip-compressed (named without .gz), and one outside the prefix
    client.put_object(Bucket="logs", Key="tracking/2025-11-29.log",
                      Body=("\n".join(LINES[:2]) + "\n").encode())
    client.put_object(Bucket="logs", Key="tracking/2025-11-30.log",
                      Body=gzip.compress(("\n".join(LINES[2:]) + "\n").encode()))
    client.put_object(Bucket="logs", Key="tracking/", Body=b"")
    client.put_object(Bucket="logs", Key="other/x.log", Body=b"not a log\n")
    yield client
    server.stop()


def test_objects_under_a_prefix_read_as_files_do(s3: Any, tmp_path: Path) -> None:
    found = sources(["s3://logs/tracking/"])
    assert [s.name for s in found] == ["s3://logs/tracking/2025-11-29.log",
                                       "s3://logs/tracking/2025-11-30.log"]
    read: list[int] = []
    assert [ln.rstrip("\n") for s in found for ln in read_lines(s, read.append)] == LINES
    assert sum(read) == sum(s.size for s in found)  # the progress bar's bytes
    local = tmp_path / "tracking.log"
    local.write_text("\n".join(LINES) + "\n")
    from_s3 = build_reports(read_events(found, Counter()))
    assert from_s3[COURSE].as_dict() == build_reports(read_events([local], Counter()))[
        COURSE].as_dict()
    assert from_s3[COURSE].time_spent["bob"]["time_5min_s"] == 60


def test_the_commands_take_s3_urls(s3: Any) -> None:
    result = CliRunner().invoke(edx_report_command, ["s3://logs/tracking"])
    assert result.exit_code == 0, result.output
    (course,) = json.loads(result.stdout)["courses"]
    assert course["learners"] == 2 and course["total_time_5min_s"] == 100
    empty = CliRunner().invoke(edx_report_command, ["s3://logs/nothing-here/"])
    assert empty.exit_code == 2 and "no object under s3://logs/nothing-here/" in empty.output
    missing = CliRunner().invoke(edx_report_command, ["s3://no-such-bucket/x"])
    assert missing.exit_code == 1 and "NoSuchBucket" in missing.output
    assert s3_sources("s3://logs/other/", s3)[0].size == len(b"not a log\n")


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(edx_report_command, [str(tmp_path / "nope.log")])
    assert result.exit_code == 2 and "no such file" in result.output
