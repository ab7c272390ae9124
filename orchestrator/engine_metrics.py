"""Prometheus metrics the engine observes as it works, in the process that runs it: the
scheduler's passes and the outbox's deliveries. What the database can tell (lag, backlogs,
task queues) is read at scrape time instead, by `orchestrator.store.gauges`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from prometheus_client import Counter, Histogram

from channels.base import DeliveryInDoubt, PermanentError, TransientError

__all__ = [
    "DELIVERY_ERRORS",
    "DELIVERY_SECONDS",
    "PASS_BATCH",
    "PASS_FAILURES",
    "PASS_SECONDS",
    "error_class",
    "observe_delivery",
    "observe_pass",
]

#: `job` is `dispatch` (enrollments claimed) or `deliver` (outbox touches claimed).
PASS_BATCH = Histogram(
    "kizuna_engine_batch_size",
    "Items a scheduled engine pass took, for passes that found work",
    ["job"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
PASS_SECONDS = Histogram(
    "kizuna_engine_pass_seconds",
    "Time an engine pass that found work took, from its claim to its last write",
    ["job"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PASS_FAILURES = Counter(
    "kizuna_engine_pass_failures_total",
    "Engine passes that failed (rolled back; the next pass retries)",
    ["job"],
)
DELIVERY_SECONDS = Histogram(
    "kizuna_delivery_seconds",
    "Time of one delivery attempt to a send channel's far end (email: the SMTP "
    "transaction with the relay), whatever its result",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERY_ERRORS = Counter(
    "kizuna_delivery_errors_total",
    "Failed delivery attempts by class: transient (the far end asked to come back later), "
    "permanent (it refused for good), unreachable (no answer: connection refused or "
    "dropped, a timeout), in_doubt (the message was handed over and the answer lost)",
    ["channel", "class"],
)

ErrorClass = Literal["transient", "permanent", "unreachable", "in_doubt"]


def error_class(error: TransientError | PermanentError | DeliveryInDoubt) -> ErrorClass:
    """The class of a failed delivery. Adapters raise `TransientError` both for a reply that
    says "later" and for a far end that never answered; the second comes from the
    connection, so an `OSError` (refused, reset, timed out) in its chain of causes tells."""
    if isinstance(error, PermanentError):
        return "permanent"
    if isinstance(error, DeliveryInDoubt):
        return "in_doubt"
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, OSError):
            return "unreachable"
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return "transient"


@contextmanager
def observe_delivery(channel: str) -> Iterator[None]:
    """Time one delivery attempt on `channel` and count its failure by class."""
    started = time.perf_counter()
    try:
        yield
    except (TransientError, PermanentError, DeliveryInDoubt) as exc:
        DELIVERY_ERRORS.labels(channel, error_class(exc)).inc()
        raise
    finally:
        DELIVERY_SECONDS.labels(channel).observe(time.perf_counter() - started)


def observe_pass(job: str, taken: int, seconds: float) -> None:
    """A scheduled pass of `job` took `taken` items in `seconds`; empty passes (the idle
    polls between work) are left out, so they do not drown the figures of real ones."""
    if taken:
        PASS_BATCH.labels(job).observe(taken)
        PASS_SECONDS.labels(job).observe(seconds)
