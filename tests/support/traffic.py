"""Large mixed traffic for fault tests: whole matches of four products, an arcade
game's score submissions, Open edX tracking-log lines, plus bad entries.

Matches come from the demo generator (all event types, in wire order, several
matches interleaved); a share of them is re-labelled ``pong``, ``chess`` or
``darts``. Between them go the demo's ``snake`` runs (``type = "score"``, to a
best board kept per week too and a sum board), each best also sent to ``cup``, a
tournament that counts each player's first three, and to its ``league``, which counts
only the players who joined it: two players in three send a ``join`` before their
first run, the others never do. A demo course's log lines
(``tracker.edx.demo``) are spread among them, some sent twice (a file ingested
again: they count once).
Among them, at known places, go deliberately malformed entries, each with the
dead-letter reason it must get. :func:`tally` is the independent count of
what the good entries must add up to.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tests.support.pipeline import expected_stats, expected_wins
from tracker.demo import SCORE_BOARDS, player_pool
from tracker.demo import Traffic as Matches
from tracker.edx.demo import demo_log
from tracker.edx.ingest import entry as log_entry
from tracker.edx.logs import parse_line
from tracker.edx.report import build_reports

Row = dict[str, str | bytes]
PRODUCTS = ("exrps", "pong", "chess", "darts")
SHARES = (0.5, 0.2, 0.15, 0.15)  # of matches, per product
ELO = {"exrps": 1500, "chess": 1200}  # products with an Elo board and its start rating
WINS = ("exrps", "pong", "darts")  # products with a wins board
STATS = ("exrps", "pong", "chess")  # products with player stats (darts has none)
SKILL = ("darts",)  # products with an OpenSkill board
PERIODS = {"darts": ("week", "month")}  # products whose wins board is kept per period
COURSE_LOGS = "edx"  # the product of tracking-log lines
SCORES = "snake"  # the product of score submissions (demo.SCORE_PRODUCT)
EDX_SHARE = 0.02  # of the rows, tracking-log lines (until the demo course's are all sent)
SCORE_SHARE = 0.03  # of the segments, snake runs (one score entry per board)
TOURNAMENT, ATTEMPTS = "cup", 3  # snake's bests sent again to a tournament's board
LEAGUE, JOIN_SHARE = "league", 2 / 3  # cup's board for players who joined, and how many do


@dataclass
class Traffic:
    rows: list[Row]  # everything, in the order it is written to the stream
    bad: list[tuple[int, str]] = field(default_factory=list)  # (index in rows, reason)

    @property
    def good(self) -> list[Mapping[str, str]]:
        bad = {i for i, _ in self.bad}
        return [r for i, r in enumerate(self.rows) if i not in bad]  # type: ignore[misc]

    def expected_dead_letters(self) -> Counter[tuple[str, frozenset[tuple[bytes, bytes]]]]:
        """(reason, original fields) of every malformed entry (entry ids may differ: a
        re-published result is identical to the original, and either may come second)."""
        return Counter((reason, as_bytes(self.rows[i])) for i, reason in self.bad)


def as_bytes(row: Mapping[str, str | bytes] | Mapping[bytes, bytes]) -> frozenset[
        tuple[bytes, bytes]]:
    def b(x: str | bytes) -> bytes:
        return x if isinstance(x, bytes) else x.encode()
    return frozenset((b(k), b(v)) for k, v in row.items())


def malformed(rng: random.Random, game_over: Row | None) -> tuple[Row, str]:
    """One deliberately bad entry of a random kind, and its dead-letter reason."""
    gid = f"{rng.getrandbits(128):032x}"
    player = f"bad-{rng.getrandbits(32):08x}"
    kind = rng.randrange(9)
    if kind == 0:
        return {"product_id": "tetris", "game_id": gid, "type": "game_over",
                "winner_id": player, "loser_id": player + "x"}, "unknown_product"
    if kind == 1:  # self-play
        return {"product_id": "exrps", "game_id": gid, "type": "game_over",
                "winner_id": player, "loser_id": player}, "invalid_fields"
    if kind == 2:
        return {"product_id": "exrps", "game_id": gid, "type": "gameplay",
                "event_name": "select_weapon", "event_data": "1",
                "user_id": b"\xff\xfe" + player.encode()}, "not_utf8"
    if kind == 3:
        return {"product_id": "pong", "game_id": gid, "type": "game_paused"}, "unknown_type"
    if kind == 4:  # the producer's placeholder for a missing id
        return {"product_id": "chess", "game_id": gid, "type": "game_over",
                "winner_id": player, "loser_id": "null"}, "invalid_fields"
    if kind == 5:
        return {"product_id": "chess", "game_id": gid, "winner_id": player,
                "loser_id": player + "x"}, "missing_type"
    if kind == 6:
        return {"product_id": "exrps", "game_id": gid, "type": "gameplay",
                "event_name": "emote", "user_id": player}, "unknown_event_name"
    if kind == 8:  # a board the game's product does not keep
        return {"product_id": SCORES, "game_id": gid, "type": "score", "board": "hi_score",
                "user_id": player, "score": "10"}, "unknown_board"
    if game_over is None:
        return malformed(rng, None)
    return dict(game_over), "duplicate_result"  # another writer re-publishes a result


def mixed_traffic(events: int, seed: int = 4, bad_rate: float = 0.0025,
                  players: int = 40) -> Traffic:
    """At least ``events`` entries of whole matches and tracking-log lines, about
    ``bad_rate`` of them malformed."""
    rng = random.Random(seed)
    course_log = iter(demo_log(random.Random(seed + 2), learners=60, days=14,
                               start=1_764_000_000))
    counter = iter(range(10**9))
    matches = Matches(random.Random(seed + 1), player_pool(players, seed),
                      concurrency=12, game_ids=lambda: f"{seed:08x}{next(counter):024x}",
                      score_share=SCORE_SHARE)
    relabel: dict[str, str] = {}
    in_league: dict[str, bool] = {}  # player -> whether it joins the league
    traffic = Traffic([])
    results: list[Row] = []
    while len(traffic.rows) < events:
        segment = matches.next_segment()
        assert segment is not None
        for entry in segment:
            gid = entry["game_id"]
            if gid not in relabel:
                scored = entry["type"] == "score"
                relabel[gid] = SCORES if scored else rng.choices(PRODUCTS, SHARES)[0]
            row: Row = {**entry, "product_id": relabel[gid]}
            traffic.rows.append(row)
            if row["type"] == "score" and row["board"] == "high_score":
                traffic.rows.append({**row, "product_id": TOURNAMENT, "board": TOURNAMENT})
                player = str(row["user_id"])
                if player not in in_league:
                    in_league[player] = rng.random() < JOIN_SHARE
                    if in_league[player]:
                        traffic.rows.append({"product_id": TOURNAMENT, "type": "join",
                                             "board": LEAGUE, "user_id": player})
                traffic.rows.append({**row, "product_id": TOURNAMENT, "board": LEAGUE})
            if row["type"] == "game_over":
                results.append(row)
        if rng.random() < bad_rate * len(segment):
            row, reason = malformed(rng, rng.choice(results) if results else None)
            traffic.bad.append((len(traffic.rows), reason))
            traffic.rows.append(row)
        for _ in range(sum(rng.random() < EDX_SHARE for _ in segment)):
            line = next(course_log, None)
            if line is None:
                break
            traffic.rows.append(dict(log_entry(COURSE_LOGS, line)))
            if rng.random() < 0.05:  # the same line again, later: it counts once
                traffic.rows.append(dict(log_entry(COURSE_LOGS, line)))
            if rng.random() < bad_rate * 4:  # a line cut short
                traffic.bad.append((len(traffic.rows), "invalid_fields"))
                traffic.rows.append(dict(log_entry(COURSE_LOGS, line[:len(line) // 2])))
    return traffic


@dataclass
class Tally:
    """The independent count: what the boards and stats must hold."""

    wins: dict[str, Counter[str]]  # product -> player -> wins (losers present with 0)
    stats: dict[str, dict[str, Counter[str]]]  # product -> player -> stat -> count
    rated: dict[str, set[str]]  # product -> players on its Elo board
    skilled: dict[str, set[str]]  # product -> players on its OpenSkill board
    courses: dict[str, dict[str, object]]  # course -> its report (CourseReport.as_dict)
    scores: dict[str, dict[str, int]]  # snake's board -> player -> best or sum of scores
    submissions: dict[str, Counter[str]]  # snake's board -> player -> submissions
    attempts: dict[str, list[int]]  # cup's player -> the scores it sent, in order
    joined: set[str]  # players who joined cup's league
    league: dict[str, list[int]]  # player -> the scores it sent to the league
    fastest: dict[str, tuple[int, int]]  # snake's player -> its best (score, ms): most, least


def tally(good: Iterable[Mapping[str, str]]) -> Tally:
    rows = list(good)
    wins = {p: expected_wins(rows, p) for p in WINS}
    stats = {p: expected_stats(rows, p) for p in STATS}
    rated = {p: set(expected_wins(rows, p)) for p in ELO}
    skilled = {p: set(expected_wins(rows, p)) for p in SKILL}
    events = (parse_line(r["line"]) for r in rows if r.get("product_id") == COURSE_LOGS)
    reports = build_reports(e for e in events if e is not None)
    best: dict[str, int] = {}
    total: Counter[str] = Counter()
    submissions: dict[str, Counter[str]] = {b: Counter() for b in SCORE_BOARDS}
    attempts: dict[str, list[int]] = {}
    fastest: dict[str, tuple[int, int]] = {}
    joined: set[str] = set()
    league: dict[str, list[int]] = {}
    for row in rows:
        if row.get("product_id") == TOURNAMENT:
            if row["type"] == "join":
                joined.add(row["user_id"])
            elif row["board"] == LEAGUE:
                league.setdefault(row["user_id"], []).append(int(row["score"]))
            else:
                attempts.setdefault(row["user_id"], []).append(int(row["score"]))
        if row.get("product_id") == SCORES:
            player, score = row["user_id"], int(row["score"])
            submissions[row["board"]][player] += 1
            if row["board"] == "high_score":
                best[player] = max(best.get(player, score), score)
            elif row["board"] == "total":
                total[player] += score
            else:  # the most points, then the least time
                run = (score, int(row["subscore"]))
                old = fastest.get(player, run)
                fastest[player] = max(old, run, key=lambda r: (r[0], -r[1]))
    return Tally(wins, stats, rated, skilled, {c: r.as_dict() for c, r in reports.items()},
                 {"high_score": best, "total": dict(total)}, submissions, attempts, joined,
                 league, fastest)
