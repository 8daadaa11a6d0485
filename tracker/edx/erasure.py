"""Forgetting a learner (a right-to-erasure request, as Open edX's user retirement):
``tracker forget-learner``.

What goes, for each username:

* **user state**: the state of every block in every course, deleted blocks' too, with
  its history and the user's places in the iterators (one script per course);
* **course analytics**: in each product that reads tracking logs, the learner's
  timelines and their change counts; in each course, the learner's place on the
  roster, figures and part of the report. A course whose report is added up from
  parts (the pipeline's) is added up again without them, while the product's
  analysis lock is held, so no analysis running meanwhile stores the old sums;
* the dead letters whose tracking-log line names the username.

What stays: a report imported from files (``tracker edx-import``) keeps its sums,
which name nobody, until it is imported again; the event stream keeps the raw log
lines (its owner's decision), and a line of the learner not applied yet, or
replayed, brings a timeline back. So stop the learner's traffic first.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import click

from tracker.commands import configured_products, redis_errors
from tracker.edx.ingest import LOCK_MS, Busy, CourseAnalysis
from tracker.edx.records import parse_timeline, timeline
from tracker.edx.store import AnalyticsStore
from tracker.erasure import delete_dead_letters
from tracker.settings import Settings
from tracker.storage import DeadLetter, DeadLetters, Keys, Timelines
from tracker.storage.connect import data_client
from tracker.userstate import UserStateClient

LOCK_WAIT_S = 2 * LOCK_MS / 1000  # an analysis renews its lock per learner it works out


@dataclass(frozen=True)
class AnalyticsForgotten:
    timelines: int  # the learner's timelines deleted, over every product
    courses: tuple[str, ...]  # courses whose roster, figures or parts named the learner
    added_up: tuple[str, ...]  # of those, the courses whose report was added up again


@contextmanager
def analyses_held(timelines: Timelines, product_ids: Sequence[str]) -> Iterator[None]:
    """Hold the analysis lock of every product in ``product_ids`` (taken in order, so
    two holders never wait on each other); :class:`Busy` if one stays taken."""
    held: list[tuple[str, str]] = []
    try:
        for product_id in sorted(product_ids):
            deadline = time.monotonic() + LOCK_WAIT_S
            while (token := timelines.lock(product_id, LOCK_MS)) is None:
                if time.monotonic() > deadline:
                    raise Busy(product_id)
                time.sleep(0.1)
            held.append((product_id, token))
        yield
    finally:
        for product_id, token in held:
            timelines.unlock(product_id, token)


def forget_learner_analytics(analysis: CourseAnalysis, product_ids: Sequence[str],
                             username: str) -> AnalyticsForgotten:
    """Erase the learner's course analytics (see the module's docstring)."""
    with analyses_held(analysis.timelines, product_ids):
        courses = set(analysis.analytics.courses())  # courses analysed or imported
        for product_id in product_ids:  # and those whose first analysis is still due
            for name in analysis.timelines.changed(product_id):
                try:
                    courses.add(parse_timeline(name)[0])
                except ValueError:
                    continue
        names = [timeline(course, username) for course in sorted(courses)]
        deleted = sum(analysis.timelines.forget(product_id, names)
                      for product_id in product_ids)
        named, added_up = [], []
        for course in sorted(courses):
            found = analysis.analytics.forget(course, username)
            if found:
                named.append(course)
            if "parts" in found:
                analysis.analytics.save_report(analysis.report(course))
                added_up.append(course)
    return AnalyticsForgotten(deleted, tuple(named), tuple(added_up))


def naming_learner(letters: Iterable[DeadLetter], usernames: Sequence[str]
                   ) -> list[DeadLetter]:
    """The letters whose tracking-log line (``line``) has one of ``usernames`` as its
    ``username`` (the line need not parse: it may be why it was dead-lettered)."""
    spellings = {json.dumps(u, ensure_ascii=a).encode() for u in usernames for a in (True, False)}
    pattern = re.compile(rb'"username"\s*:\s*(?:' + b"|".join(map(re.escape, spellings)) + b")")
    return [letter for letter in letters if pattern.search(letter.fields.get(b"line", b""))]


@click.command("forget-learner")
@click.argument("usernames", nargs=-1, required=True, metavar="USERNAME...")
@click.option("--keep-dead-letters", is_flag=True,
              help="Leave the dead letters whose log line names the learner.")
@click.confirmation_option(prompt="Delete these learners' user state, its history and "
                                  "their course analytics for good?")
def forget_learner_command(usernames: Sequence[str], keep_dead_letters: bool) -> None:
    """Forget learners (a right-to-erasure request, as Open edX's retirement): their
    user state of every block and its history, their timelines, roster entries and
    figures in every course (reports added up again without them), and the dead
    letters that name them. Reads TRACKER_REDIS_URL and TRACKER_PRODUCTS_FILE; --yes
    skips the question."""
    settings = Settings.from_env()
    products = configured_products(settings)
    client = data_client(settings.redis_url, socket_timeout=30)
    keys = Keys(settings.key_prefix)
    states = UserStateClient(client)
    analysis = CourseAnalysis(Timelines(client, keys), AnalyticsStore(client))
    log_products = sorted(p.id for p in products.values() if p.reads_course_logs)
    with redis_errors():
        with click.progressbar(length=int(client.dbsize()), label="user state",
                               file=sys.stderr) as bar:
            blocks = states.blocks_of(usernames, bar.update)
        for username in usernames:
            deleted = states.forget(username, blocks[username])
            try:
                gone = forget_learner_analytics(analysis, log_products, username)
            except Busy as exc:
                raise click.ClickException(
                    f"the course analysis of {exc} kept its lock; try again") from None
            click.echo(f"{username}: user state: {deleted} key(s) in "
                       f"{len(blocks[username])} course(s); course analytics: "
                       f"{len(gone.courses)} course(s), {gone.timelines} timeline(s), "
                       f"{len(gone.added_up)} report(s) added up again")
        if not keep_dead_letters:
            removed = delete_dead_letters(DeadLetters(client, keys),
                                          lambda letters: naming_learner(letters, usernames))
            click.echo(f"dead letters naming them: {removed} deleted")
    click.echo(f"forgot {len(usernames)} learner(s)")
