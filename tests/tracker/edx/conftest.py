"""The pipeline's two halves for course analytics, on the test's real Redis."""

from __future__ import annotations

import pytest
import redis

from tracker.edx.ingest import CourseAnalysis
from tracker.edx.store import AnalyticsStore
from tracker.processing import BatchProcessor
from tracker.products import Products
from tracker.storage import DeadLetters, Keys, Store, Timelines


@pytest.fixture
def pipeline(products: Products, store: Store, dead_letters: DeadLetters,
             data: redis.Redis) -> tuple[BatchProcessor, CourseAnalysis]:
    analysis = CourseAnalysis(Timelines(data, Keys("st")), AnalyticsStore(data))
    return BatchProcessor(products, store, dead_letters), analysis
