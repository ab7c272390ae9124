"""End to end: `kizuna serve` (and `kizuna dispatch`) as processes, driven over real HTTP.

A campaign is defined, activated and enrolled through the API; a caller claims and
completes the phone task as a worker; the enrollment takes the branch the outcome decides.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app.test_cli import free_port

KIZUNA = str(Path(sys.executable).with_name("kizuna"))
ADMIN = "kz_end_to_end_admin_key_0123456789"

CAMPAIGN = {
    "name": "Call, then mail the interested",
    "steps": [
        {"id": "call", "type": "send", "channel": "phone",
         "template": {"script": "{{ contact.attributes.name }}様にお電話"}},
        {"id": "listen", "type": "wait_for_event", "timeout": "PT30S",
         "cases": [{"when": {"event": "call_outcome", "data": {"outcome": "interested"}},
                    "next": "mail"}],
         "on_timeout": "done"},
        {"id": "mail", "type": "send", "channel": "email",
         "template": {"subject": "資料のご案内", "text": "..."}},
        {"id": "done", "type": "exit"},
    ],
}  # fmt: skip


def environment(database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env |= {
        "KIZUNA_DATABASE_URL": database_url,
        "KIZUNA_PORT": str(port),
        "KIZUNA_ADMIN_API_KEY": ADMIN,
        # Passes this far apart leave the work to wake-ups: in-process, or LISTEN/NOTIFY.
        "KIZUNA_DISPATCH_INTERVAL": "60",
        "KIZUNA_SMTP_PORT": str(free_port()),  # nothing listens: mail stays queued, retried
    }
    return env


@contextmanager
def running(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([KIZUNA, *args], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        process.output = output.decode()  # type: ignore[attr-defined]


def eventually(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.1)


def test_a_worker_call_decides_the_branch_end_to_end(database_url):
    port = free_port()
    env = environment(database_url, port)
    assert subprocess.run([KIZUNA, "migrate"], env=env, check=False).returncode == 0
    base = f"http://127.0.0.1:{port}"
    admin = {"Authorization": f"Bearer {ADMIN}"}
    with running("serve", env=env) as server:
        eventually(lambda: httpx.get(f"{base}/readyz").json().get("scheduler") == "ok")
        http = httpx.Client(base_url=base, headers=admin)
        worker_key = http.post("/v1/keys", json={"name": "callers", "scopes": ["worker"]})
        worker = {"Authorization": f"Bearer {worker_key.json()['key']}"}
        contacts = [
            http.post("/v1/contacts", json={
                "external_id": f"e2e-{n}", "email": f"e2e{n}@example.jp",
                "phone": f"0901234000{n}", "attributes": {"name": name}}).json()
            for n, name in enumerate(["佐藤", "鈴木"])
        ]  # fmt: skip
        for contact in contacts:
            http.put(f"/v1/contacts/{contact['id']}/consent/email",
                     json={"status": "opted_in", "source": "web form"})  # fmt: skip
        campaign = http.post("/v1/campaigns", json=CAMPAIGN).json()
        http.post(f"/v1/campaigns/{campaign['id']}/activate").raise_for_status()
        enrolled = http.post(f"/v1/campaigns/{campaign['id']}/enrollments",
                             json={"contact_ids": [c["id"] for c in contacts]})  # fmt: skip
        assert enrolled.json()["enrolled"] == 2

        def claim() -> list[dict]:
            body = {"channel": "phone", "worker": "alice", "limit": 10}
            return http.post("/v1/tasks/claim", json=body, headers=worker).json()["tasks"]

        tasks = eventually(claim)
        tasks += eventually(claim) if len(tasks) < 2 else []
        by_name = {t["contact"]["attributes"]["name"]: t for t in tasks}
        assert by_name["佐藤"]["content"]["script"] == "佐藤様にお電話"
        # 鈴木 first: once 佐藤's mail is there, the pass after 鈴木's answer is done too.
        for name, outcome in (("鈴木", "not_interested"), ("佐藤", "interested")):
            body = {"worker": "alice", "outcome": outcome}
            done = http.post(f"/v1/tasks/{by_name[name]['id']}/complete", json=body, headers=worker)
            assert done.status_code == 200, done.text

        def mailed(contact: dict) -> bool:
            items = http.get(f"/v1/contacts/{contact['id']}/timeline").json()["items"]
            return any(i["kind"] == "touch" and i["channel"] == "email" for i in items)

        eventually(lambda: mailed(contacts[0]), timeout=5)
        assert not mailed(contacts[1])
        stats = http.get(f"/v1/campaigns/{campaign['id']}/stats").json()
        call = next(s for s in stats["steps"] if s["step_id"] == "call")
        assert call["outcomes"] == {"interested": 1, "not_interested": 1}
    assert "Application shutdown complete" in server.output  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_a_dispatcher_process_does_the_work_of_api_only_processes(postgres_url):
    """`serve --no-engine` answers HTTP only; `dispatch` moves the enrollments on, woken by
    PostgreSQL NOTIFY from the API process, and stops cleanly on SIGTERM."""
    from tests.databases import empty_postgres

    empty_postgres(postgres_url)
    port = free_port()
    env = environment(postgres_url, port)
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"})
    with running("serve", "--no-engine", env=env), running("dispatch", env=env) as extra:
        eventually(lambda: httpx.get(f"{base}/readyz").status_code == 200)
        rows = [{"external_id": f"d-{n}", "phone": f"0901235{n:04d}"} for n in range(300)]
        assert http.post("/v1/contacts/bulk", json=rows).json()["created"] == 300
        campaign = http.post("/v1/campaigns", json={**CAMPAIGN, "name": "Many calls"}).json()
        http.post(f"/v1/campaigns/{campaign['id']}/activate").raise_for_status()
        http.post(f"/v1/campaigns/{campaign['id']}/enrollments",
                  json={"filter": {"field": "external_id", "op": "exists"}})  # fmt: skip

        def all_listening() -> bool:
            stats = http.get(f"/v1/campaigns/{campaign['id']}/stats").json()
            return any(s["step_id"] == "listen" and s["at_step"] == 300 for s in stats["steps"])

        eventually(all_listening)
        stats = http.get(f"/v1/campaigns/{campaign['id']}/stats").json()
        call = next(s for s in stats["steps"] if s["step_id"] == "call")
        assert call["touches"] == {"queued": 300}
    assert extra.returncode == 0
    assert "stopped" in extra.output  # type: ignore[attr-defined]
