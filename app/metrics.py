"""Prometheus metrics of the HTTP service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["CONTACTS_UPSERTED", "HTTP_REQUESTS", "HTTP_SECONDS", "WEBHOOKS_REFUSED"]

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
