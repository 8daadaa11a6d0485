"""Redis key layout. Every key of one product carries the hash tag ``{product_id}``.

    <prefix>:{<product>}:lb:<board>          sorted set: member = user id, score
    <prefix>:{<product>}:lb:<board>:scores   sorted set: the board's distinct scores (dense ranks)
    <prefix>:{<product>}:lb:<board>:counts   hash: score -> members with that score
    <prefix>:{<product>}:lb:<board>:buckets  hash: member -> its bucket, on a period board
                                             split into buckets (<board>:b<k> are boards);
                                             :buckets:n counts the members assigned
    <prefix>:{<product>}:lb:<board>:rate:<w>  hash: member -> submissions counted in window w
                                             of a board with a rate_limit (tracker.handlers.scores)
    <prefix>:{<product>}:stats:<user>        hash: stat -> integer counter
    <prefix>:{<product>}:lb:<board>:<period>:closed  string: the period's results are published
    <prefix>:{<product>}:period_results      stream: final standings of closed periods
    <prefix>:{<product>}:archive:<board>     hash: period -> its final standings (JSON), kept
    <prefix>:{<product>}:seasons:<board>     string: the seasons of a board whose seasons are
                                             set at run time (JSON; tracker.storage.seasons)
    <prefix>:{<product>}:rating:<board>:<user>  hash: an OpenSkill or Glicko-2 rating, or
                                             the current win streak on a streak board
    <prefix>:{<product>}:history:<board>:<user>  list: the player's latest games on a board
    <prefix>:{<product>}:seen:<src>:<hour>   set: stream entry IDs already applied
    <prefix>:{<product>}:results             set: game ids whose game_over was applied
    <prefix>:{<product>}:counters            hash: entries applied / duplicates / late (/metrics)
    <prefix>:{<product>}:tl:<timeline>       sorted set: records by time (a learner's log events
                                             in a course: tracker.edx.records.timeline)
    <prefix>:{<product>}:timelines           hash: timeline -> changes not yet analysed
    <prefix>:{<product>}:timelines:due       string: an analysis of the timelines is scheduled
    <prefix>:{<product>}:timelines:lock      string: held by the analysis running now
    <prefix>:{<product>}:rebuild:<board>     string: a rebuild of the board is running (a lock)
    <prefix>:rebuild:<board>:{<product>}:…   the board being rebuilt (tracker.rebuild), staged
    <prefix>:{periodic}:runs                 hash: periodic task -> when it last ran (Unix s)
    <prefix>:{deadletter}:stream             stream: rejected entries (all products)
    <prefix>:{deadletter}:seen               set: "<src>/<entry id>" already dead-lettered

Sharing the tag puts a product's keys in one Redis Cluster slot, so a single
Lua script can update boards, stats and dedupe marks of a batch atomically.
"""

from __future__ import annotations

HOUR_MS = 3_600_000


class Keys:
    def __init__(self, prefix: str = "st") -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("the key prefix must not contain braces")
        self.prefix = prefix

    def product(self, product_id: str) -> str:
        """Prefix shared by all keys of a product (ends with ':')."""
        return f"{self.prefix}:{{{product_id}}}:"

    def board(self, product_id: str, board: str) -> str:
        return f"{self.product(product_id)}lb:{board}"

    def board_scores(self, product_id: str, board: str) -> str:
        """The board's distinct scores (member = score = the score), for dense ranks."""
        return f"{self.board(product_id, board)}:scores"

    def board_counts(self, product_id: str, board: str) -> str:
        """How many members have each score; a score leaves ``:scores`` at 0."""
        return f"{self.board(product_id, board)}:counts"

    def board_metadata(self, product_id: str, board: str) -> str:
        """Hash member -> the JSON object kept with its record (score boards that get any)."""
        return f"{self.board(product_id, board)}:meta"

    def board_submissions(self, product_id: str, board: str) -> str:
        """Hash member -> "<submissions> <first> <last>" (Unix ms) of its record (score
        boards)."""
        return f"{self.board(product_id, board)}:subs"

    def board_joined(self, product_id: str, board: str) -> str:
        """Sorted set of a ``join_required`` tournament's players, by when each joined
        (Unix ms)."""
        return f"{self.board(product_id, board)}:joined"

    def buckets(self, product_id: str, board: str) -> str:
        """Which bucket each member of a period board split into buckets is in."""
        return f"{self.board(product_id, board)}:buckets"

    def bucket_members(self, product_id: str, board: str) -> str:
        """How many members have been assigned a bucket of the board (their places stay)."""
        return f"{self.buckets(product_id, board)}:n"

    def period_results(self, product_id: str) -> str:
        """The final standings of the product's closed periods (tracker.closing)."""
        return f"{self.product(product_id)}period_results"

    def archive(self, product_id: str, board: str) -> str:
        """The final standings of the board's closed periods, by period (tracker.closing)."""
        return f"{self.product(product_id)}archive:{board}"

    def seasons(self, product_id: str, board: str) -> str:
        """The seasons of a board with ``seasons = "manual"`` (tracker.storage.seasons)."""
        return f"{self.product(product_id)}seasons:{board}"

    def rating(self, product_id: str, board: str, user_id: str) -> str:
        """What stands behind a player's score on a rating board: an OpenSkill or Glicko-2
        rating (the board holds its ordinal), or the current win streak (the board holds
        the longest)."""
        return f"{self.product(product_id)}rating:{board}:{user_id}"

    def history(self, product_id: str, board: str, user_id: str) -> str:
        """A player's latest games on a rating board, newest first (JSON entries)."""
        return f"{self.product(product_id)}history:{board}:{user_id}"

    def stats(self, product_id: str, user_id: str) -> str:
        return f"{self.product(product_id)}stats:{user_id}"

    def results(self, product_id: str) -> str:
        return f"{self.product(product_id)}results"

    def counters(self, product_id: str) -> str:
        """Running totals of the product's batches, kept by the batch script itself."""
        return f"{self.product(product_id)}counters"

    def timeline(self, product_id: str, timeline: str) -> str:
        return f"{self.product(product_id)}tl:{timeline}"

    def timeline_changes(self, product_id: str) -> str:
        """Timelines changed since their last analysis, each with a change count."""
        return f"{self.product(product_id)}timelines"

    def analysis_lock(self, product_id: str) -> str:
        """Held by the one analysis of the product's timelines running now."""
        return f"{self.product(product_id)}timelines:lock"

    def analysis_due(self, product_id: str) -> str:
        """Set while an analysis of the product's timelines is scheduled (one at a time)."""
        return f"{self.product(product_id)}timelines:due"

    @staticmethod
    def seen_suffix(source: str, entry_id: str) -> str:
        """Dedupe sets are bucketed by the hour of the entry ID, so a TTL can age them out."""
        return f"{source}:{int(entry_id.split('-', 1)[0]) // HOUR_MS}"

    def seen(self, product_id: str, source: str, entry_id: str) -> str:
        return f"{self.product(product_id)}seen:{self.seen_suffix(source, entry_id)}"

    @property
    def periodic_runs(self) -> str:
        """When each periodic task (Celery beat's) last ran, for /metrics."""
        return f"{self.prefix}:{{periodic}}:runs"

    @property
    def deadletter_stream(self) -> str:
        return f"{self.prefix}:{{deadletter}}:stream"

    @property
    def deadletter_seen(self) -> str:
        return f"{self.prefix}:{{deadletter}}:seen"
