"""stats-tracker domain: events, handlers and storage.

This package is pure domain code: it imports neither Celery nor Flask, so the
same logic runs in workers, the API, the CLI and the tests.
"""

__version__ = "0.1.0"
