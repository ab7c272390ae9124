"""The `kizuna` console script, run as a user runs it: migrate, keys, demo, serve."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KIZUNA = str(Path(sys.executable).with_name("kizuna"))


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env["KIZUNA_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    return env


def kizuna(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KIZUNA, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_keys_create_prints_a_working_key_once(environment):
    assert kizuna(environment, "migrate").returncode == 0
    made = kizuna(environment, "keys", "create", "--name", "ops", "--scope", "campaigns")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("kz_")
    stored = asyncio.run(_authenticate(environment["KIZUNA_DATABASE_URL"], key))
    assert stored is not None
    assert (stored.name, stored.scopes) == ("ops", ["campaigns"])
    assert key not in str(stored.model_dump())  # only its hash is kept


async def _authenticate(url: str, key: str):
    from app.database import create_engine, create_sessionmaker
    from orchestrator.clock import SystemClock
    from orchestrator.services.api_keys import ApiKeyService

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            return await ApiKeyService(session, SystemClock()).authenticate(key)
    finally:
        await engine.dispose()


def test_keys_create_refuses_an_unknown_scope(environment):
    kizuna(environment, "migrate")
    refused = kizuna(environment, "keys", "create", "--name", "x", "--scope", "root")
    assert refused.returncode != 0
    assert "unknown scope" in refused.stderr


def test_serve_answers_over_http_and_stops_on_sigterm(environment):
    port = free_port()
    admin_key = "kz_cli_test_admin_key_0123456789"
    environment |= {"KIZUNA_PORT": str(port), "KIZUNA_ADMIN_API_KEY": admin_key}
    assert kizuna(environment, "migrate").returncode == 0
    demo = kizuna(environment, "demo")
    assert demo.returncode == 0, demo.stderr
    assert kizuna(environment, "demo").returncode == 0, "the demo loads twice without harm"

    server = subprocess.Popen(
        [KIZUNA, "serve"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kizuna serve did not become ready"
            time.sleep(0.1)
        assert httpx.get(f"{base}/docs").status_code == 200
        contacts = httpx.get(
            f"{base}/v1/contacts", headers={"Authorization": f"Bearer {admin_key}"}
        ).json()["items"]
        assert len(contacts) == 5
        assert {c["external_id"] for c in contacts} == {f"demo-000{n}" for n in range(1, 6)}
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    log = output.decode()
    # uvicorn shuts down cleanly, then re-raises SIGTERM so supervisors see why it ended.
    assert "Application shutdown complete" in log
    assert server.returncode in (0, -signal.SIGTERM)
    assert "GET /v1/contacts 200" in log
    assert "sato.hanako" not in log
