"""Writers that run at once, as the workers of a pool do."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def at_once(work: Callable[[int], object], count: int = 4) -> None:
    """Run ``work(0)`` … ``work(count - 1)`` in ``count`` threads at once; raise the
    first one's failure, once all are done."""
    with ThreadPoolExecutor(count) as pool:
        for done in [pool.submit(work, i) for i in range(count)]:
            done.result()
