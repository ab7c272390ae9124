"""Poison campaigns: templates that spin, that render far past the size limit, and that
would fold a gigabyte constant, run by `kizuna serve` beside a normal campaign.

Checked: the poison is refused at definition or fails alone (its campaigns paused with the
reason), every touch of the normal campaign is made, and `/healthz` keeps answering
within 100 ms at the 99th percentile meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.chaos.context import Context
from bench.chaos.facts import fetch
from bench.chaos.probes import percentile, probing
from bench.chaos.processes import kizuna
from bench.chaos.report import Check
from bench.email import START
from bench.harness import copy_contacts

__all__ = ["run"]

NAME = "poison campaign"
HEALTHZ_P99_MS = 100.0
POISON = {
    "spin": "{% for i in range(100000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    # 100 MB of output, where a field may have 1 MiB.
    "huge": "{% for i in range(1000) %}{% for j in range(10000) %}0123456789{% endfor %}"
    "{% endfor %}",
}
NORMAL = "Hello {{ contact.attributes.name }}"
#: A poisoned step holds the dispatcher until its campaign is paused after 5 overruns, each
#: the 2 s time limit plus starting a new render worker (2 to 3 s on a busy machine).
LONGEST_WAIT_S = 60.0
#: Jinja2 would fold this constant at compile time: a gigabyte while validating.
FOLDED = "{{ 'a' * 10**9 }}"


def _campaign(name: str, script: str) -> dict[str, Any]:
    return {
        "name": name,
        "steps": [{"id": "call", "type": "send", "channel": "phone",
                   "template": {"script": script}}],
    }  # fmt: skip


async def run(context: Context) -> list[Check]:
    normal, poisoned = (100, 6) if context.short else (1000, 20)
    async with context.cluster.database() as url:
        people = [f"normal{n}" for n in range(normal)]
        people += [f"{kind}{n}" for kind in POISON for n in range(poisoned)]
        await copy_contacts(
            url, ("external_id", "phone", "timezone", "attributes", "social", "consent",
                  "created_at", "updated_at"),
            [(key, f"+8190{n:08d}", "Asia/Tokyo", f'{{"name": "{key}"}}', "{}", "{}", START,
              START) for n, key in enumerate(people)],
        )  # fmt: skip
        env = {"KIZUNA_DATABASE_URL": url, "KIZUNA_DISPATCH_INTERVAL": "0.2"}
        with kizuna("serve", env) as server:
            async with (
                httpx.AsyncClient(base_url=server.base_url, headers=server.headers,
                                  timeout=120) as api,
                probing(f"{server.base_url}/healthz") as health,
            ):  # fmt: skip
                started = time.monotonic()
                folded = await api.post("/v1/campaigns", json=_campaign("folded", FOLDED))
                folded_s = time.monotonic() - started
                ids = {}
                for kind, script in POISON.items():
                    ids[kind] = await _start(api, _campaign(kind, script),
                                             [f"{kind}{n}" for n in range(poisoned)])  # fmt: skip
                started, enrolled_at = time.monotonic(), datetime.now(UTC)
                ids["normal"] = await _start(api, _campaign("normal", NORMAL), people[:normal])
                made = await _made(url, ids["normal"], normal)
                flowed_s = time.monotonic() - started
                waited_s = await _longest_wait(url, ids["normal"], enrolled_at)
                states = await _paused(api, [ids[kind] for kind in POISON])
        failures = await fetch(url, "SELECT campaign_id, count(*), min(error) FROM touch "
                                    "WHERE status = 'failed' GROUP BY 1")  # fmt: skip
    latencies = [answer.seconds * 1000 for answer in health.answers]
    p99 = percentile(latencies, 0.99)
    failed = {row[0]: (row[1], row[2] or "") for row in failures}
    checks = [
        Check(NAME, "`{{ 'a' * 10**9 }}` at definition",
              f"{folded.status_code} in {folded_s:.2f} s",
              folded.status_code == 422 and folded_s < 5),
    ]  # fmt: skip
    for kind in POISON:
        count, error = failed.get(ids[kind], (0, ""))
        state = states[ids[kind]]
        checks.append(Check(NAME, f"{kind} template fails alone, campaign paused",
                            f"{count} failed, {state}: {error[:50]}",
                            count > 0 and state == "paused"))  # fmt: skip
    checks += [
        Check(NAME, f"normal campaign flows (longest wait < {LONGEST_WAIT_S:.0f} s)",
              f"{made:,} of {normal:,} touches in {flowed_s:.1f} s, longest wait {waited_s:.1f} s",
              made == normal and waited_s < LONGEST_WAIT_S),
        Check(NAME, f"/healthz p99 < {HEALTHZ_P99_MS:.0f} ms",
              f"p99 {p99:.1f} ms, max {max(latencies):.1f} ms, {len(latencies):,} polls",
              p99 < HEALTHZ_P99_MS and all(answer.status == 200 for answer in health.answers)),
    ]  # fmt: skip
    return checks


async def _start(api: httpx.AsyncClient, definition: dict[str, Any], people: list[str]) -> int:
    """Define, activate and enroll `people`; the campaign's id."""
    created = await api.post("/v1/campaigns", json=definition)
    created.raise_for_status()
    campaign_id = int(created.json()["id"])
    (await api.post(f"/v1/campaigns/{campaign_id}/activate")).raise_for_status()
    enrolled = await api.post(f"/v1/campaigns/{campaign_id}/enrollments",
                              json={"external_ids": people})  # fmt: skip
    enrolled.raise_for_status()
    return campaign_id


async def _made(url: str, campaign_id: int, count: int, within: float = 120) -> int:
    """Touches of the campaign once there are `count`, or at the deadline."""
    deadline = time.monotonic() + within
    while True:
        ((made,),) = await fetch(url, "SELECT count(*) FROM touch WHERE campaign_id = $1",
                                 campaign_id)  # fmt: skip
        if made >= count or time.monotonic() > deadline:
            return int(made)
        await asyncio.sleep(0.1)


async def _longest_wait(url: str, campaign_id: int, since: datetime) -> float:
    """The longest stretch, in seconds from `since`, with no new touch of the campaign."""
    rows = await fetch(url, "SELECT created_at FROM touch WHERE campaign_id = $1 "
                            "ORDER BY created_at", campaign_id)  # fmt: skip
    moments = [since, *(row[0] for row in rows)]
    return max(((b - a).total_seconds() for a, b in itertools.pairwise(moments)), default=0.0)


async def _paused(api: httpx.AsyncClient, ids: list[int], within: float = 60) -> dict[int, str]:
    """Each campaign's status once all are paused, or after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        states = {
            campaign_id: (await api.get(f"/v1/campaigns/{campaign_id}")).json()["status"]
            for campaign_id in ids
        }
        if all(state == "paused" for state in states.values()) or time.monotonic() > deadline:
            return states
        await asyncio.sleep(0.2)
