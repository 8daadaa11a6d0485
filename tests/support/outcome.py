"""What the pipeline wrote, compared with the independent count, as a small table."""

from __future__ import annotations

import operator
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from tests.support.pipeline import in_flight
from tests.support.producer import Producer
from tests.support.traffic import (
    ATTEMPTS,
    COURSE_LOGS,
    ELO,
    LEAGUE,
    PERIODS,
    PRODUCTS,
    SCORES,
    SKILL,
    TOURNAMENT,
    Traffic,
    as_bytes,
    tally,
)
from tracker import subscore
from tracker.edx.store import AnalyticsStore
from tracker.periods import Period
from tracker.settings import Settings
from tracker.storage import DeadLetters, Keys, Store
from tracker.tiebreak import score_of

WEAPONS = ("rock", "paper", "scissors", "botch", "invalid")


@dataclass(frozen=True)
class Check:
    name: str
    expected: object
    found: object
    ok: bool


def table(checks: Sequence[Check]) -> str:
    rows = [("check", "expected", "found", "")] + [
        (c.name, str(c.expected), str(c.found), "ok" if c.ok else "MISMATCH") for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}"
                     for r in rows)


def _int_stats(raw: Any) -> Counter[str]:
    return Counter({k.decode(): int(v) for k, v in raw.items()})


def compare(settings: Settings, traffic: Traffic, producer: Producer) -> list[Check]:
    data = redis.Redis.from_url(settings.redis_url)
    stream = redis.Redis.from_url(settings.stream_url)
    keys = Keys(settings.key_prefix)
    store = Store(data, keys)
    checks: list[Check] = []

    # the stream holds exactly what was written, and the group has acknowledged all of it
    written: Any = []
    last = "-"
    while True:
        page: Any = stream.xrange(settings.stream_key, last if last == "-" else f"({last}", "+",
                                  count=10_000)
        written += page
        if len(page) < 10_000:
            break
        last = page[-1][0].decode()
    same = sum(1 for (i, f), j, row in zip(written, producer.ids, traffic.rows, strict=False)
               if i.decode() == j and f == as_bytes_dict(row))
    checks.append(Check("stream entries as written", len(traffic.rows), same,
                        same == len(traffic.rows) == len(written)))
    group = next(g for g in stream.xinfo_groups(settings.stream_key)
                 if g["name"].decode() == settings.stream_group)
    done = group["last-delivered-id"].decode() == producer.ids[-1]
    flight = in_flight(stream, settings).count()
    checks.append(Check("entries finished", len(traffic.rows),
                        len(traffic.rows) - flight if done else "not all read",
                        done and flight == 0))
    checks.append(Check("entries in flight", 0, flight, flight == 0))

    count = tally(traffic.good)
    for product, wins in count.wins.items():
        board = {m: int(s) for m, s in store.top(product, "wins", count=100_000)}
        checks.append(Check(f"{product} wins (sum; {len(wins)} players)", sum(wins.values()),
                            sum(board.values()), board == dict(wins)))
    for product, per_player in count.stats.items():
        found = {p: _int_stats(data.hgetall(keys.stats(product, p))) for p in per_player}
        total_games = sum(c["games"] for c in per_player.values())
        checks.append(Check(f"{product} games in stats", total_games,
                            sum(c["games"] for c in found.values()),
                            all(dict(found[p]) == dict(c) for p, c in per_player.items())))
        stored = len(data.keys(keys.stats(product, "*")))
        checks.append(Check(f"{product} players with stats", len(per_player), stored,
                            stored == len(per_player)))
        if product == "exrps":
            for weapon in WEAPONS:
                stat = f"{weapon}_selection_count"
                want = sum(c[stat] for c in per_player.values())
                got = sum(c[stat] for c in found.values())
                checks.append(Check(f"exrps {stat}", want, got, want == got))
    for product, kinds in PERIODS.items():  # every win once in each kind of period too
        board = {m: s for m, s in store.top(product, "wins", count=100_000)}
        for kind in kinds:
            summed = period_sums(data, keys, product, "wins", kind)
            checks.append(Check(f"{product} wins per {kind}, summed", sum(board.values()),
                                sum(summed.values()), summed == board))
    for name, want in count.scores.items():  # snake: best and sum of its submissions
        board = {m: int(s) for m, s in store.top(SCORES, name, count=100_000, earliest=True)}
        checks.append(Check(f"{SCORES} {name} (sum; {len(want)} players)", sum(want.values()),
                            sum(board.values()), board == want))
    for name, want_n in count.submissions.items():  # each submission counted once
        kept = {m.decode(): int(v.split()[0])
                for m, v in data.hgetall(keys.board_submissions(SCORES, name)).items()}
        checks.append(Check(f"{SCORES} {name} submissions", sum(want_n.values()),
                            sum(kept.values()), kept == dict(want_n)))
    # the best score, then the quickest run: both columns of one real run per player
    fastest = {m: subscore.split(s, "asc", False)
               for m, s in store.top(SCORES, "fastest", count=100_000)}
    checks.append(Check(f"{SCORES} fastest (score, ms) of each player", len(count.fastest),
                        len(fastest), fastest == {p: (float(s), ms)
                                                  for p, (s, ms) in count.fastest.items()}))
    weekly = period_sums(data, keys, SCORES, "high_score", "week", combine=max, earliest=True)
    checks.append(Check(f"{SCORES} high_score, best of its weeks",
                        sum(count.scores["high_score"].values()), int(sum(weekly.values())),
                        weekly == count.scores["high_score"]))
    # the tournament: each player's first ATTEMPTS count (which ones: the order parts are
    # applied in), each attempt once, the rest refused once
    sent = count.attempts
    kept = {m.decode(): int(v.split()[0])
            for m, v in data.hgetall(keys.board_submissions(TOURNAMENT, TOURNAMENT)).items()}
    want = {p: min(len(s), ATTEMPTS) for p, s in sent.items()}
    checks.append(Check(f"{TOURNAMENT} attempts counted", sum(want.values()),
                        sum(kept.values()), kept == want))
    cup = {m: int(s) for m, s in store.top(TOURNAMENT, TOURNAMENT, count=100_000)}
    checks.append(Check(f"{TOURNAMENT} players, each with a score it sent", len(sent), len(cup),
                        set(cup) == set(sent) and all(cup[p] in sent[p] for p in cup)))
    # its league: every join kept once; a submission counts only from a player who joined
    # (one applied before its player's join, after a redelivery, is refused); each
    # submission counted once or refused once
    joined = {m.decode() for m in data.zrange(keys.board(TOURNAMENT, LEAGUE) + ":joined", 0, -1)}
    checks.append(Check(f"{TOURNAMENT} {LEAGUE} joins", len(count.joined), len(joined),
                        joined == count.joined))
    league = {m: int(s) for m, s in store.top(TOURNAMENT, LEAGUE, count=100_000)}
    checks.append(Check(f"{TOURNAMENT} {LEAGUE} players, all joined, each with a score it sent",
                        len(count.joined & set(count.league)), len(league),
                        set(league) <= count.joined
                        and all(league[p] in count.league[p] for p in league)))
    counted = sum(int(v.split()[0]) for v in
                  data.hvals(keys.board_submissions(TOURNAMENT, LEAGUE)))
    refused = (sum(max(0, len(s) - ATTEMPTS) for s in sent.values())
               + sum(map(len, count.league.values())) - counted)
    got = store.counters([TOURNAMENT])[TOURNAMENT].get("refused", 0)
    checks.append(Check(f"{TOURNAMENT} refused: attempts past {ATTEMPTS}, league scores not "
                        "counted", refused, got, got == refused))
    for product in SKILL:
        rated = {m for m, _ in store.top(product, "openskill", count=100_000)}
        with_ratings = sum(1 for m in rated
                           if data.exists(keys.rating(product, "openskill", m)))
        checks.append(Check(f"{product} OpenSkill players", len(count.skilled[product]),
                            with_ratings, rated == count.skilled[product]
                            and with_ratings == len(rated)))
        # Glicko-2: each board score is rating - 2 rd of the hash written with it
        glicko = dict(store.top(product, "glicko2", count=100_000))
        agree = 0
        for m, score in glicko.items():
            rating, rd = data.hmget(keys.rating(product, "glicko2", m), "rating", "rd")
            agree += rating is not None and score == float(rating) - 2 * float(rd)
        checks.append(Check(f"{product} Glicko-2 players", len(count.skilled[product]), agree,
                            set(glicko) == count.skilled[product] and agree == len(glicko)))
    for product, start in ELO.items():
        elo = dict(store.top(product, "elo", count=100_000))
        want = len(count.rated[product]) * start
        checks.append(Check(f"{product} Elo total ({len(count.rated[product])} players)",
                            want, sum(elo.values()),
                            sum(elo.values()) == want and set(elo) == count.rated[product]))

    # the course analysis ran after the last tracking-log part, and saw every line once
    analytics = AnalyticsStore(data)
    deadline = time.monotonic() + 60
    while data.hlen(keys.timeline_changes(COURSE_LOGS)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for course, want in count.courses.items():
        got = analytics.report(course)
        checks.append(Check(f"{course} report (learners, 5-min s)",
                            (want["learners"], want["total_time_5min_s"]),
                            got and (got["learners"], got["total_time_5min_s"]), got == want))

    letters = list(DeadLetters(data, keys).scan())
    found_letters = Counter((d.reason, frozenset(d.fields.items())) for d in letters)
    expected_letters = traffic.expected_dead_letters()
    for reason in sorted({r for r, _ in expected_letters} | {r for r, _ in found_letters}):
        want = sum(n for (r, _), n in expected_letters.items() if r == reason)
        got = sum(n for (r, _), n in found_letters.items() if r == reason)
        checks.append(Check(f"dead letters: {reason}", want, got, want == got))
    checks.append(Check("dead letters = malformed entries", sum(expected_letters.values()),
                        len(letters), found_letters == expected_letters))
    return checks


def period_sums(data: redis.Redis, keys: Keys, product: str, board: str, kind: str,
                combine: Callable[[float, float], float] = operator.add,
                earliest: bool = False) -> dict[str, float]:
    """Each member's scores of every stored period board of ``kind``, summed (or
    ``combine``d); ``earliest``: the board breaks ties by time (keeps score and time)."""
    summed: dict[str, float] = {}
    for key in data.scan_iter(f"{keys.board(product, board)}:*"):
        name = key.decode().rsplit(":", 1)[1]
        try:
            period = Period.parse(name)
        except ValueError:
            continue  # the tie structures (":scores", ":counts") of a board
        if period.kind.value != kind:
            continue
        for member, number in data.zrange(key, 0, -1, withscores=True):
            score = score_of(number) if earliest else number
            who = member.decode()
            summed[who] = combine(summed[who], score) if who in summed else score
    return summed


def as_bytes_dict(row: dict[str, str | bytes]) -> dict[bytes, bytes]:
    return dict(as_bytes(row))


def unapplied(settings: Settings, traffic: Traffic, producer: Producer) -> list[str]:
    """IDs of good entries with an effect that no dedupe set records (for failure reports)."""
    data = redis.Redis.from_url(settings.redis_url)
    keys = Keys(settings.key_prefix)
    seen: set[bytes] = set()
    for key in data.scan_iter(f"{settings.key_prefix}:*:seen:*"):
        seen |= set(data.smembers(key))
    results = {p: data.smembers(keys.results(p)) for p in PRODUCTS}
    bad = {i for i, _ in traffic.bad}
    out = []
    for i, row in enumerate(traffic.rows):
        if i in bad:
            continue
        if row.get("type") == "game_over":  # applied, or a re-published copy of it was
            done = str(row["game_id"]).encode() in results[str(row["product_id"])]
        elif row.get("product_id") == "exrps" and row.get("event_name") == "select_weapon":
            done = producer.ids[i].encode() in seen
        else:
            continue
        if not done:
            out.append(f"{producer.ids[i]} ({row['product_id']!s} {row.get('type')!s})")
    return out
