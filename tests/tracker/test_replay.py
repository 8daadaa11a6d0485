"""``tracker replay``: the consumer group moved back to just before a moment, with its count
of entries read kept right, never forward. Real Redis; the pipeline test replays through
real bridges and workers (tests/tasks/test_pipeline.py)."""

from __future__ import annotations

import threading
import time

import click
import pytest
import redis
from click.testing import CliRunner, Result

from tasks.cli import main
from tests.support.processes import settings_env
from tracker import replay
from tracker.replay import parse_since, plan_rewind, rewind
from tracker.settings import Settings

IDS = [f"{1_764_590_400_000 + 1000 * i}-{i % 2}" for i in range(10)]  # 2025-12-01T12:00Z on


@pytest.fixture
def read_stream(settings: Settings, stream: redis.Redis) -> redis.Redis:
    """Ten entries, one a second, all read by the group (as bridges leave it)."""
    for entry_id in IDS:
        stream.xadd(settings.stream_key, {"product_id": "pong"}, id=entry_id)
    stream.xgroup_create(settings.stream_key, settings.stream_group, id="$", entries_read=10)
    return stream


def group(stream: redis.Redis, settings: Settings) -> dict[str, object]:
    [info] = stream.xinfo_groups(settings.stream_key)
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in info.items()
            if k in ("last-delivered-id", "entries-read", "lag")}


def test_since_takes_a_time_an_entry_id_or_the_start() -> None:
    assert parse_since("2025-12-01T12:00:03") == "1764590403000-0"  # UTC unless it says
    assert parse_since("2025-12-01T13:00:03+01:00") == "1764590403000-0"
    assert parse_since("2025-12-01") == "1764547200000-0"
    assert parse_since("1764590403000") == "1764590403000-0"
    assert parse_since("1764590403000-7") == "1764590403000-7"
    assert parse_since("start") == parse_since("0") == "0-0"
    for bad in ("yesterday", "12:00", "-5", "1-2-3"):
        with pytest.raises(click.BadParameter, match="is not a time"):
            parse_since(bad)


def test_the_group_goes_back_to_the_entry_before_with_its_count_right(
        read_stream: redis.Redis, settings: Settings) -> None:
    key, name = settings.stream_key, settings.stream_group
    plan = plan_rewind(read_stream, key, name, parse_since("2025-12-01T12:00:06"))
    assert (plan.before, plan.after, plan.again, plan.entries_read) == (IDS[9], IDS[5], 4, 6)
    rewind(read_stream, key, name, plan)
    assert group(read_stream, settings) == {"last-delivered-id": IDS[5], "entries-read": 6,
                                            "lag": 4}
    # a moment between two entries: from the next one on; before the first: all of them
    assert plan_rewind(read_stream, key, name, "1764590400500-0").after == IDS[0]
    whole = plan_rewind(read_stream, key, name, "0-0")
    assert (whole.after, whole.again, whole.entries_read) == ("0-0", 6, 0)


def test_it_never_moves_the_group_forward(read_stream: redis.Redis,
                                          settings: Settings) -> None:
    key, name = settings.stream_key, settings.stream_group
    read_stream.xgroup_setid(key, name, IDS[3], entries_read=4)
    with pytest.raises(click.ClickException, match="would skip the entries in between"):
        plan_rewind(read_stream, key, name, IDS[6])
    assert group(read_stream, settings)["last-delivered-id"] == IDS[3]


def test_the_command_asks_then_moves_the_group(read_stream: redis.Redis,
                                               settings: Settings) -> None:
    runner = CliRunner(env=settings_env(settings))
    declined = runner.invoke(main, ["replay", "--since", "2025-12-01T12:00:08"], input="n\n")
    assert declined.exit_code == 1 and "2 entries from 2025-12-01 12:00:08 UTC on" in (
        declined.output)
    assert group(read_stream, settings)["last-delivered-id"] == IDS[9]
    moved = runner.invoke(main, ["replay", "--since", "2025-12-01T12:00:08", "--yes"])
    assert moved.exit_code == 0, moved.output
    assert f"moved back to {IDS[7]}" in moved.output
    assert group(read_stream, settings)["lag"] == 2
    # from the first entry not read yet: nothing to do; from a later one: refused
    again = runner.invoke(main, ["replay", "--since", "2025-12-01T12:00:08", "--yes"])
    assert again.exit_code == 0 and "nothing to read again" in again.output
    skip = runner.invoke(main, ["replay", "--since", "2025-12-01T12:00:09", "--yes"])
    assert skip.exit_code == 1 and "would skip the entries in between" in skip.output
    assert group(read_stream, settings)["last-delivered-id"] == IDS[7]


def test_the_command_says_when_there_is_nothing_to_replay(
        settings: Settings, stream: redis.Redis) -> None:
    runner = CliRunner(env=settings_env(settings))
    unread = runner.invoke(main, ["replay", "--since", "start", "--yes"])
    assert unread.exit_code == 1 and "has no consumer group" in unread.output
    stream.xadd(settings.stream_key, {"product_id": "pong"}, id=IDS[0])
    stream.xgroup_create(settings.stream_key, settings.stream_group, id="0")
    nothing = runner.invoke(main, ["replay", "--since", "start", "--yes"])
    assert nothing.exit_code == 0 and "nothing to read again" in nothing.output
    bad = runner.invoke(main, ["replay", "--since", "soon"])
    assert bad.exit_code == 2 and "is not a time" in bad.output


def test_with_a_dedupe_ttl_it_refuses_to_replay_what_may_count_twice(
        read_stream: redis.Redis, settings: Settings) -> None:
    """The entries (of 2025) are older than the dedupe records' hour: already applied,
    they would be applied again."""
    runner = CliRunner(env=settings_env(settings, TRACKER_DEDUPE_TTL="3600"))
    refused = runner.invoke(main, ["replay", "--since", "2025-12-01T12:00:05", "--yes"])
    assert refused.exit_code == 1 and "may have no dedupe record any more" in refused.output
    assert "TRACKER_DEDUPE_TTL=3600 s" in refused.output
    assert group(read_stream, settings)["last-delivered-id"] == IDS[9]
    forced = runner.invoke(main, ["replay", "--since", "2025-12-01T12:00:05", "--yes",
                                  "--past-dedupe-ttl"])
    assert forced.exit_code == 0 and group(read_stream, settings)["lag"] == 5


def test_wait_says_when_no_bridge_reads_and_ends_when_one_has(
        read_stream: redis.Redis, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay, "STALL_SECONDS", 0.3)
    result: list[Result] = []
    runner = CliRunner(env=settings_env(settings))
    waiting = threading.Thread(target=lambda: result.append(runner.invoke(
        main, ["replay", "--since", "2025-12-01T12:00:06", "--yes", "--wait"])))
    waiting.start()
    time.sleep(1.5)  # no bridge: the group stays where the replay put it
    assert waiting.is_alive()
    # a bridge reads the 4 entries again (as its commit does)
    read_stream.xgroup_setid(settings.stream_key, settings.stream_group, IDS[9],
                             entries_read=10)
    waiting.join(10)
    assert not waiting.is_alive() and result[0].exit_code == 0, result[0].output
    output = result[0].output
    assert output.count("no bridge has read for 0 s: is one running (tracker bridge)?") == 1
    assert "read again; 0 entries in flight" in output
