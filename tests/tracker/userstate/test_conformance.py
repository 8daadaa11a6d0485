"""edX's own conformance suite (edx-user-state-client's 34 black-box tests) against our store.

The suite is AGPL-3.0: it is installed as a test-only dependency (setup.cfg's dev
extras), imported from there, and never copied into this tree. This harness only
adapts our client to it: a fresh key prefix per test, and course iteration
answering key objects, as edX callers expect.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from edx_user_state_client.tests import UserStateClientTestBase
from opaque_keys.edx.keys import UsageKey

from tracker.userstate import UserStateClient, XBlockUserState

_prefixes = itertools.count()


class EdxUserStateClient(UserStateClient):
    """Ours, with course iteration giving ``UsageKey`` objects instead of strings."""

    def iter_all_for_course(self, course_key: Any, block_type: str | None = None,
                            scope: Any = "user_state") -> Iterator[XBlockUserState]:
        for found in super().iter_all_for_course(course_key, block_type, scope):
            yield found._replace(block_key=UsageKey.from_string(found.block_key))


class TestEdxConformance(UserStateClientTestBase):  # type: ignore[misc]
    __test__ = True
    data: redis.Redis

    @pytest.fixture(autouse=True)
    def _redis(self, data: redis.Redis) -> None:
        type(self).data = data

    def setUp(self) -> None:
        super().setUp()
        self.client = EdxUserStateClient(self.data, prefix=f"conformance{next(_prefixes)}")
