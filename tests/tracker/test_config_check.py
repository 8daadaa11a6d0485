"""``tracker check-config NEW_FILE``: a bad file is refused with where it is wrong; a good
one is compared with the file in use, and each change says what rolling it out takes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tasks.cli import main

IN_USE = """\
[products]
chess = { handlers = [{ use = "elo", k = 32 }, "player_stats"] }
pong = { handlers = [{ use = "wins", periods = ["week", "season"], seasons = [
    { id = "s1", start = 2020-01-01, end = 2020-04-01 },
    { id = "s2", start = 2099-01-01, end = 2099-04-01 },
] }, "player_stats"] }
darts = { handlers = ["wins", "streak"] }
"""


def check(tmp_path: Path, new: str, in_use: str = IN_USE) -> Result:
    (tmp_path / "in_use.toml").write_text(in_use)
    (tmp_path / "new.toml").write_text(new)
    env = {"TRACKER_PRODUCTS_FILE": str(tmp_path / "in_use.toml")}
    return CliRunner(env=env).invoke(main, ["check-config", str(tmp_path / "new.toml")])


def changes(result: Result) -> dict[str, list[str]]:
    """Each change line (``* subject: what``) with its steps."""
    found: dict[str, list[str]] = {}
    for line in result.output.splitlines():
        if line[:2] in ("* ", "! "):
            current = found.setdefault(line, [])
        elif line.startswith("    - "):
            current.append(line[6:])
    return found


@pytest.mark.parametrize(("text", "message"), [
    ("[products\n", "cannot read product configuration"),
    ('[products]\np = { handlers = ["nope"] }\n', "unknown handler 'nope'"),
    ('[products]\np = { handlers = [{ use = "elo", periods = ["week"] }] }\n',
     "only points, best and latest boards have periods"),
])
def test_an_invalid_file_is_refused_with_what_is_wrong(tmp_path: Path, text: str,
                                                       message: str) -> None:
    result = check(tmp_path, text)
    assert result.exit_code == 1
    assert "new.toml is invalid: " in result.output and message in result.output


def test_the_same_configuration_changes_nothing(tmp_path: Path) -> None:
    result = check(tmp_path, IN_USE)
    assert result.exit_code == 0, result.output
    assert "new.toml: valid; 3 product(s), queues default" in result.output
    assert "(in use): no change" in result.output and not changes(result)


def test_a_new_rating_product_on_its_own_queue_takes_the_rollout_steps(tmp_path: Path) -> None:
    result = check(tmp_path, IN_USE + 'go = { queue = "go", handlers = [{ use = "elo" }] }\n')
    assert result.exit_code == 0, result.output
    assert changes(result) == {"* go: a new product (queue 'go'; boards elo)": [
        "start the workers of queue 'go' with the new file before restarting the bridges",
        "events a worker on the old file dead-letters meanwhile: `tracker dead-letters "
        "replay --reason unknown_product` once every worker has the new file",
        "elo depends on the order of the games: after that replay, `tracker rebuild-board "
        "go elo`, with the workers of queue 'go' stopped, rates every game again in stream "
        "order"]}


def test_boards_and_settings_that_change(tmp_path: Path) -> None:
    new = IN_USE.replace('{ use = "elo", k = 32 }', '{ use = "elo", k = 16, ties = "dense" }')
    new = new.replace('darts = { handlers = ["wins", "streak"] }',
                      'darts = { queue = "darts", handlers = [{ use = "wins", periods = ["week"] '
                      '}, "exrps_stats"] }')
    result = check(tmp_path, new)
    assert result.exit_code == 0, result.output
    found = changes(result)
    assert found["* chess/elo: ties competition -> dense; k 32.0 -> 16.0"] == [
        "it applies to the events applied after the workers restart; `tracker rebuild-board "
        "chess elo`, with the workers of queue 'default' stopped, applies it to the events "
        "before"]
    assert "* darts/wins: periods none -> [week]" in found
    assert found["* darts/streak: removed"] == [
        "no longer written nor served; its keys stay in Redis until deleted"]
    # the streak board goes, so nothing of darts depends on order: no draining asked
    assert found["* darts: queue 'default' -> 'darts'"] == [
        "start the workers of queue 'darts' with the new file before restarting the bridges"]
    assert "* darts: handlers without boards [] -> [exrps_stats]" in found
    assert not [line for line in found if line.startswith("! ")]


def test_a_rating_product_moving_queue_is_asked_to_drain_the_old_one(tmp_path: Path) -> None:
    result = check(tmp_path, IN_USE.replace("chess = { handlers",
                                            'chess = { queue = "exrps", handlers'),
                   in_use=IN_USE + 'exrps = { queue = "exrps" }\n')
    found = changes(result)
    assert found["* chess: queue 'default' -> 'exrps'"] == [
        "let queue 'default' run empty before the bridges restart: while both queues hold "
        "parts, games may be rated out of order"]
    assert "* exrps: removed" in found


def test_a_season_that_has_begun_is_a_warning_and_a_future_one_a_deadline(
        tmp_path: Path) -> None:
    new = IN_USE.replace("end = 2020-04-01", "end = 2020-05-01").replace(
        '{ id = "s2", start = 2099-01-01, end = 2099-04-01 },',
        '{ id = "s3", start = 2099-05-01, end = 2099-08-01 },')
    new += 'snake = { handlers = [{ use = "score", board = "best" }] }\n'
    result = check(tmp_path, new)
    assert result.exit_code == 0, result.output
    found = changes(result)
    assert found["! pong/wins: season s1 moved: 2020-01-01 00:00 UTC to 2020-04-01 00:00 UTC "
                 "-> 2020-01-01 00:00 UTC to 2020-05-01 00:00 UTC"] == [
        "it has begun: events of it applied before the workers restart stay where they went; "
        "`tracker rebuild-board` moves them"]
    assert found["* pong/wins: a new season s3: 2099-05-01 00:00 UTC to 2099-08-01 00:00 UTC"] \
        == ["let the rollout finish before it starts (2099-05-01 00:00 UTC)"]
    assert "* pong/wins: season s2 removed" in found
    assert "* pong/wins: period settings" not in found  # the seasons say it all
    assert "! marks a change that events already applied cannot follow" in result.output
    # a new product without ratings: no rebuild asked
    assert found["* snake: a new product (queue 'default'; boards best)"] == [
        "events a worker on the old file dead-letters meanwhile: `tracker dead-letters "
        "replay --reason unknown_product` once every worker has the new file"]


def test_a_new_board_starts_empty_and_the_file_in_use_is_not_compared(tmp_path: Path) -> None:
    new = IN_USE.replace('darts = { handlers = ["wins", "streak"] }',
                         'darts = { handlers = ["wins", "streak", "glicko2"] }')
    found = changes(check(tmp_path, new))
    assert found["* darts/glicko2: a new glicko board"] == [
        "it starts empty: `tracker rebuild-board darts glicko2`, with the workers of queue "
        "'default' stopped, fills it from the stream"]
    (tmp_path / "in_use.toml").write_text(IN_USE)
    same = CliRunner(env={"TRACKER_PRODUCTS_FILE": str(tmp_path / "in_use.toml")}).invoke(
        main, ["check-config", str(tmp_path / "in_use.toml")])
    assert same.exit_code == 0 and "(in use)" not in same.output


def test_seasons_moving_to_run_time_are_said_once(tmp_path: Path) -> None:
    manual = IN_USE.replace("""seasons = [
    { id = "s1", start = 2020-01-01, end = 2020-04-01 },
    { id = "s2", start = 2099-01-01, end = 2099-04-01 },
] }""", 'seasons = "manual" }')
    found = changes(check(tmp_path, manual))
    assert list(found) == ["* pong/wins: seasons set at run time (tracker season)"]
    back = changes(check(tmp_path, IN_USE, in_use=manual))
    assert list(back) == ["* pong/wins: seasons from the file, no longer set at run time"]
