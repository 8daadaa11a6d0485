"""Celery side of stats-tracker: the app, routing, worker tasks and the bridge.

``celery -A tasks worker -Q <queues>`` finds :data:`app` here.
"""

from tasks.celery_app import app

__all__ = ["app"]
