"""Factories for test data: each test builds the rows it needs."""

from __future__ import annotations

import itertools
from typing import Any

_numbers = itertools.count(1)


def contact_payload(**fields: Any) -> dict[str, Any]:
    """A valid contact for `POST /v1/contacts`, unique per call; `fields` override."""
    n = next(_numbers)
    payload: dict[str, Any] = {
        "external_id": f"crm-{n:06d}",
        "email": f"person{n}@example.jp",
        "phone": f"0901{n % 10**7:07d}",
        "attributes": {"name": f"顧客 {n}", "plan": "basic"},
    }
    payload.update(fields)
    return payload
