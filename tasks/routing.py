"""Celery routing: a part (a batch of entries), and a product's course analysis, go to the
queue the product is configured for.

This is a Celery router (``task_routes``), so routing stays Celery's own: the
bridge only names the task and its product; queues live in products.toml.
"""

from __future__ import annotations

from typing import Any

from tracker.products import Products

APPLY_PART = "tasks.apply_part"
ANALYZE_COURSES = "tasks.analyze_courses"
CLOSE_PERIODS = "tasks.close_periods"  # periodic (Celery beat), default queue
CATCH_UP_ANALYSES = "tasks.catch_up_analyses"  # periodic (Celery beat), default queue
RUN_REWARD_HOOKS = "tasks.run_reward_hooks"  # periodic (Celery beat), default queue
PERIODIC = (CLOSE_PERIODS, CATCH_UP_ANALYSES, RUN_REWARD_HOOKS)
PRODUCT_TASKS = frozenset({APPLY_PART, ANALYZE_COURSES})  # each runs in its product's pool


class ProductRouter:
    def __init__(self, products: Products) -> None:
        self.products = products

    def __call__(
        self, name: str, args: Any, kwargs: dict[str, Any], options: dict[str, Any],
        task: Any = None, **_: Any,
    ) -> dict[str, str] | None:
        if name not in PRODUCT_TASKS:
            return None
        product_id = kwargs.get("product_id", args[0] if args else "")
        queue = self.products.queue_for(str(product_id))
        return {"queue": queue, "routing_key": queue}
