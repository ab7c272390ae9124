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

from app.migrations import migrate

KIZUNA = str(Path(sys.executable).with_name("kizuna"))


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env["KIZUNA_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    return env


def kizuna(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KIZUNA, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


COMMANDS_ON_THE_DATABASE = [
    ["serve"],
    ["dispatch"],
    ["demo"],
    ["keys", "create", "--name", "ops", "--scope", "admin"],
    ["keys", "list"],
    ["keys", "revoke", "1"],
    ["touches", "in-doubt"],
]


def assert_told_to_migrate(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert "is not migrated" in message
    assert "KIZUNA_DATABASE_URL" in message
    assert "`kizuna migrate`" in message
    return message


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


def _head_answer(port: int, header_bytes: int) -> tuple[bytes, int]:
    """The status line `kizuna serve` answers to a request with a header of that size, and
    how much of the header went out before the answer came."""
    request_line = b"GET /v1/contacts HTTP/1.1\r\nHost: kizuna\r\nX-Padding: "
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request_line)
        connection.settimeout(0.001)
        answer = b""
        chunk = b"a" * 16384
        try:
            while sent < header_bytes and not answer:
                connection.sendall(chunk)
                sent += len(chunk)
                try:
                    answer = connection.recv(4096)
                except TimeoutError:
                    pass
            connection.settimeout(30)
            if not answer:
                connection.sendall(b"\r\n\r\n")
                answer = connection.recv(4096)
        except (BrokenPipeError, ConnectionResetError):
            connection.settimeout(30)
            answer = answer or connection.recv(4096)
    return answer.split(b"\r\n", 1)[0], sent


def test_serve_refuses_oversized_headers_before_reading_them(environment):
    port = free_port()
    environment |= {"KIZUNA_PORT": str(port)}
    assert kizuna(environment, "migrate").returncode == 0
    server = subprocess.Popen(
        [KIZUNA, "serve", "--no-engine"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kizuna serve did not become ready"
            time.sleep(0.1)
        status, _ = _head_answer(port, 8 * 1024)
        assert status == b"HTTP/1.1 401 Unauthorized"
        status, sent = _head_answer(port, 4 * 1024 * 1024)
        assert status.startswith(b"HTTP/1.1 400")
        assert sent < 1024 * 1024
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


@pytest.mark.parametrize("command", COMMANDS_ON_THE_DATABASE, ids=" ".join)
def test_a_command_run_where_there_is_no_database_says_to_migrate_in_one_line(
    environment, tmp_path, command
):
    environment["KIZUNA_DATABASE_URL"] = "sqlite+aiosqlite:///./kizuna.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    message = assert_told_to_migrate(kizuna(environment, *command, cwd=elsewhere))
    assert str(elsewhere / "kizuna.db") in message
    assert not (elsewhere / "kizuna.db").exists(), "no empty database is left behind"


def test_a_command_on_a_database_of_an_older_schema_says_to_migrate(environment):
    migrate(environment["KIZUNA_DATABASE_URL"], "0001")
    message = assert_told_to_migrate(kizuna(environment, "demo"))
    assert "at revision 0001" in message


def test_a_command_on_an_empty_database_says_to_migrate(environment, tmp_path):
    (tmp_path / "cli.db").touch()
    message = assert_told_to_migrate(kizuna(environment, "keys", "list"))
    assert "(empty)" in message


def test_a_database_server_that_cannot_be_reached_is_named_in_one_line(environment):
    with socket.socket() as closed:  # a port nobody listens on once the socket is closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    environment["KIZUNA_DATABASE_URL"] = f"postgresql+asyncpg://kizuna:s3cret@127.0.0.1:{port}/x"
    result = kizuna(environment, "keys", "list")
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert message.startswith("kizuna: Cannot reach the database at KIZUNA_DATABASE_URL")
    assert f"127.0.0.1:{port}" in message
    assert "s3cret" not in message


def keys_listed(environment) -> dict[str, dict[str, str]]:
    listed = kizuna(environment, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:4] == ["id", "name", "prefix", "scopes"]
    fields = ("id", "name", "prefix", "scopes", "created", "last_used", "revoked")
    return {cells[1]: dict(zip(fields, cells, strict=True)) for cells in map(str.split, rows)}


def test_keys_list_shows_every_key_without_its_secret(environment):
    kizuna(environment, "migrate")
    admin = kizuna(environment, "keys", "create", "--name", "ops", "--scope", "admin").stdout
    crm = kizuna(
        environment, "keys", "create", "--name", "crm", "--scope", "campaigns", "--scope", "events"
    ).stdout
    listed = keys_listed(environment)
    assert set(listed) == {"ops", "crm"}
    assert listed["crm"]["scopes"] == "campaigns,events"
    assert crm.startswith(listed["crm"]["prefix"])
    assert (listed["ops"]["last_used"], listed["ops"]["revoked"]) == ("-", "-")
    output = kizuna(environment, "keys", "list").stdout
    assert admin.strip() not in output
    assert crm.strip() not in output


def test_keys_revoke_revokes_a_key_at_once(environment):
    kizuna(environment, "migrate")
    kizuna(environment, "keys", "create", "--name", "ops", "--scope", "admin")
    crm = kizuna(environment, "keys", "create", "--name", "crm", "--scope", "campaigns").stdout
    key_id = keys_listed(environment)["crm"]["id"]
    revoked = kizuna(environment, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert f"API key {key_id} (crm) revoked" in revoked.stdout
    assert keys_listed(environment)["crm"]["revoked"] != "-"
    url = environment["KIZUNA_DATABASE_URL"]
    assert asyncio.run(_authenticate(url, crm.strip())) is None


def test_keys_revoke_refuses_the_last_active_admin_key(environment):
    kizuna(environment, "migrate")
    admin = kizuna(environment, "keys", "create", "--name", "ops", "--scope", "admin").stdout
    key_id = keys_listed(environment)["ops"]["id"]
    refused = kizuna(environment, "keys", "revoke", key_id)
    assert refused.returncode != 0
    assert refused.stderr.strip() == (
        f"kizuna: API key {key_id} (ops) is the last active admin key; revoking it would "
        "leave nobody able to manage keys. Create another admin key first."
    )
    assert asyncio.run(_authenticate(environment["KIZUNA_DATABASE_URL"], admin.strip()))


def test_keys_revoke_of_an_unknown_key_fails_in_one_line(environment):
    kizuna(environment, "migrate")
    refused = kizuna(environment, "keys", "revoke", "42")
    assert refused.returncode != 0
    assert refused.stderr.strip() == "kizuna: API key 42 does not exist"
