"""Logs with the request id on every line and no personal data in any of them."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Any

__all__ = ["REQUEST_ID", "configure_logging"]

REQUEST_ID: ContextVar[str] = ContextVar("kizuna_request_id", default="-")

# Defence in depth: code never logs addresses on purpose, and a stray one is masked.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d ()-]{6,}\d")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def _redact(text: str) -> str:
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


class _RedactingFormatter(logging.Formatter):
    """Masks addresses in messages and tracebacks (a database error may quote a row)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _redact(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return _redact(super().formatException(ei))


def configure_logging(level: str = "INFO") -> None:
    """Send every log line to stderr as `time level logger [request id] message`."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        _RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The access log is written by Kizuna's own middleware, with route templates, not URLs.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The scheduler reports every run of every job (the dispatcher's, each second) at INFO;
    # its warnings (a missed or overlapping run) and errors still show.
    logging.getLogger("apscheduler").setLevel(max(root.level, logging.WARNING))
