"""Prometheus metrics of the HTTP service, and the engine's gauges read from the database at
scrape time. The engine's own counters and histograms are in `orchestrator.engine_metrics`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from channels.base import Channel
from orchestrator.store.gauges import GaugeStore, OpenTouches, TouchCount

__all__ = [
    "CONTACTS_UPSERTED",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "WEBHOOKS_REFUSED",
    "WEBHOOK_REQUESTS",
    "publish_gauges",
]

_log = logging.getLogger("kizuna.metrics")

HTTP_REQUESTS = Counter(
    "kizuna_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "kizuna_http_request_seconds", "Time to answer an HTTP request", ["method", "route"]
)
CONTACTS_UPSERTED = Counter(
    "kizuna_contacts_upserted_total", "Contacts created or updated", ["outcome"]
)
#: Postmark never retries a request answered 401: a wrong setting loses events silently.
WEBHOOKS_REFUSED = Counter(
    "kizuna_webhooks_refused_total",
    "Provider webhooks refused for a bad, stale or replayed signature",
    ["provider"],
)
WEBHOOK_REQUESTS = Counter(
    "kizuna_webhook_requests_total",
    "Provider webhook requests by result: accepted, duplicate (every event already taken "
    "in), refused (401), unreadable (400), too_large (413), not_configured (404), failed",
    ["provider", "result"],
)

#: The window of the touch and decision counts: the final statuses grow without end, a
#: window keeps their count a short index range at millions of touches.
RECENT = timedelta(hours=1)

_DATABASE_UP = Gauge("kizuna_database_up", "1 when the database answered this scrape's queries")
_DISPATCH_LAG = Gauge(
    "kizuna_dispatch_lag_seconds",
    "Now minus the next_action_at of the earliest due active enrollment; 0 when none is due",
)
_TOUCHES = Gauge(
    "kizuna_touches_last_hour",
    "Touches created in the last hour, by channel and current status (a window, so the "
    "count stays cheap at millions of touches)",
    ["channel", "status"],
)
_DECISIONS = Gauge(
    "kizuna_decisions_last_hour",
    "Policy decisions that stopped a touch in the last hour, by binding rule and outcome "
    "(blocked, deferred)",
    ["rule", "outcome"],
)
_OUTBOX_BACKLOG = Gauge(
    "kizuna_outbox_backlog",
    "Touches of send channels waiting for the outbox: queued (retries too) or claimed by a "
    "sender that has not started them",
    ["channel", "status"],
)
_OUTBOX_AGE = Gauge(
    "kizuna_outbox_oldest_age_seconds",
    "Age of the oldest queued or claimed touch of a send channel, since it was created",
    ["channel"],
)
_TASK_QUEUE = Gauge(
    "kizuna_task_queue_depth", "Queued tasks of a task channel, not claimed yet", ["channel"]
)
_TASK_AGE = Gauge(
    "kizuna_task_queue_oldest_age_seconds",
    "Age of the oldest queued task of a task channel, since it was created",
    ["channel"],
)
_IN_DOUBT = Gauge(
    "kizuna_touches_in_doubt",
    "Touches in doubt (their sender stopped mid-send), waiting for an operator's answer",
    ["channel"],
)

_DATABASE_GAUGES = (
    _DISPATCH_LAG,
    _TOUCHES,
    _DECISIONS,
    _OUTBOX_BACKLOG,
    _OUTBOX_AGE,
    _TASK_QUEUE,
    _TASK_AGE,
    _IN_DOUBT,
)


async def publish_gauges(
    sessions: async_sessionmaker[AsyncSession], now: datetime, channels: Mapping[str, Channel]
) -> None:
    """Read the engine's gauges from the database and set them. A database that does not
    answer leaves them empty and `kizuna_database_up` 0: the process's own metrics are
    still worth a scrape."""
    try:
        async with sessions() as session:
            store = GaugeStore(session)
            oldest_due = await store.oldest_due(now)
            open_touches = await store.open_touches(channels)
            touches = await store.touches_since(channels, now - RECENT)
            decisions = await store.decisions_since(channels, now - RECENT)
    except Exception as exc:  # whatever the failure, the scrape goes on without them
        _log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
        for gauge in _DATABASE_GAUGES:
            gauge.clear()
        _DATABASE_UP.set(0)
        return
    # No await from here on: a concurrent scrape never sees the gauges half set.
    _DATABASE_UP.set(1)
    _DISPATCH_LAG.set(0 if oldest_due is None else (now - oldest_due).total_seconds())
    _set_counts(_TOUCHES, touches)
    _set_counts(_DECISIONS, decisions)
    _set_queues(open_touches, channels, now)


def _set_counts(gauge: Gauge, counts: list[TouchCount]) -> None:
    gauge.clear()
    for row in counts:
        gauge.labels(row.first, row.second).set(row.count)


def _set_queues(
    open_touches: list[OpenTouches], channels: Mapping[str, Channel], now: datetime
) -> None:
    """Every channel gets its series, 0 when nothing waits, so an alert needs no `absent()`."""
    for gauge in (_OUTBOX_BACKLOG, _OUTBOX_AGE, _TASK_QUEUE, _TASK_AGE, _IN_DOUBT):
        gauge.clear()
    oldest: dict[str, datetime] = {}
    for name, channel in channels.items():
        if channel.mode == "send":
            _IN_DOUBT.labels(name).set(0)
            _OUTBOX_BACKLOG.labels(name, "queued").set(0)
            _OUTBOX_BACKLOG.labels(name, "claimed").set(0)
            _OUTBOX_AGE.labels(name).set(0)
        else:
            _TASK_QUEUE.labels(name).set(0)
            _TASK_AGE.labels(name).set(0)
    for row in open_touches:
        channel = channels[row.channel]
        if row.status == "in_doubt":
            _IN_DOUBT.labels(row.channel).set(row.count)
        elif channel.mode == "send":
            _OUTBOX_BACKLOG.labels(row.channel, row.status).set(row.count)
            oldest[row.channel] = min(row.oldest, oldest.get(row.channel, row.oldest))
        elif row.status == "queued":
            _TASK_QUEUE.labels(row.channel).set(row.count)
            _TASK_AGE.labels(row.channel).set(max(0.0, (now - row.oldest).total_seconds()))
    for name, at in oldest.items():
        _OUTBOX_AGE.labels(name).set(max(0.0, (now - at).total_seconds()))
