"""`/readyz` of a process that runs the engine: the scheduler gates readiness (stopped, or
stuck in a pass, is 503; running again is 200); a `send` channel's far end, the SNS bridge
here, only makes the answer `degraded`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import SecretStr

from app.database import create_engine, is_sqlite
from app.main import create_app
from tests.app.test_contacts_api import assert_problem
from tests.app.test_engine_metrics import eventually, scrape, serving, value
from tests.engine import add_contacts, enroll, launch, touches
from tests.smtp_sink import free_port

SOCIAL = {
    "name": "Social follow-up",
    "steps": [{"id": "post", "type": "send", "channel": "sns",
               "template": {"network": "x", "message": "新作のご紹介です。"}}],
}  # fmt: skip


async def ready(http: httpx.AsyncClient) -> bool:
    return (await http.get("/readyz")).status_code == 200


async def test_readyz_is_503_while_the_scheduler_is_stopped_and_200_once_it_runs_again(
    settings, clock
):
    running = settings.model_copy(update={"dispatch_interval": 0.1})
    app = create_app(running, clock=clock, run_engine=True)
    async with serving(app) as http:
        body = (await http.get("/readyz")).json()
        assert (body["status"], body["database"], body["scheduler"]) == ("ready", "ok", "ok")
        assert 0 <= body["scheduler_heartbeat_seconds"] < app.state.runtime.scheduler.stall_after

        await app.state.runtime.scheduler.stop()
        stopped = assert_problem(await http.get("/readyz"), 503)
        assert stopped["detail"] == "the scheduler is not running"

        app.state.runtime.scheduler.start()
        assert await ready(http)


@asynccontextmanager
async def holding_the_database(url: str) -> AsyncIterator[None]:
    """Another process's transaction that keeps the dispatcher's claim waiting: SQLite's
    write lock, or on PostgreSQL an exclusive lock on the enrollments."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:  # SQLite: BEGIN IMMEDIATE
            if not is_sqlite(url):
                await connection.exec_driver_sql("LOCK TABLE enrollment IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await engine.dispose()


async def test_readyz_is_503_while_a_dispatch_pass_is_stuck_and_200_when_it_moves_again(
    settings, clock, database_url
):
    running = settings.model_copy(update={"dispatch_interval": 0.1})
    app = create_app(running, clock=clock, run_engine=True)
    async with serving(app) as http:
        scheduler = app.state.runtime.scheduler
        assert await ready(http)

        async with holding_the_database(database_url):
            app.state.runtime.wake()
            # Past the limit, not polling meanwhile: on SQLite the stuck pass holds the one
            # connection that the database check would wait for.
            await asyncio.sleep(scheduler.stall_after + 0.5)
            stuck = assert_problem(await http.get("/readyz"), 503)
            assert stuck["detail"].startswith("the scheduler is stalled")
            assert scheduler.heartbeat_age() > scheduler.stall_after

        await eventually(lambda: ready(http))
        assert scheduler.heartbeat_age() < scheduler.stall_after


async def test_an_unreachable_sns_bridge_makes_readyz_degraded_but_ready(settings, clock, sessions):
    bridge = f"http://127.0.0.1:{free_port()}/touches"
    webhook_mode = settings.model_copy(
        update={
            "sns_mode": "webhook",
            "sns_bridge_url": bridge,
            "sns_bridge_secret": SecretStr("bridge-secret"),
            "dispatch_interval": 60,
        }
    )
    app = create_app(webhook_mode, clock=clock, run_engine=True)
    async with serving(app) as http:
        body = (await http.get("/readyz")).json()
        assert body["status"] == "ready"
        assert body["channels"]["sns"] == {
            "status": "unknown",
            "reachable": None,
            "last_error": None,
            "last_failure_at": None,
            "last_success_at": None,
        }
        assert body["channels"]["email"]["status"] == "unknown"
        assert "phone" not in body["channels"]  # a task channel has no far end
        before = await scrape(http)

        (contact,) = await add_contacts(
            sessions, clock, 1, social={"x": "@sato"}, consent={"sns": "opted_in"}
        )
        await enroll(sessions, clock, await launch(sessions, clock, SOCIAL), [contact])
        app.state.runtime.wake()

        async def bridge_failed() -> bool:
            return (await http.get("/readyz")).json()["status"] == "degraded"

        await eventually(bridge_failed)
        answer = await http.get("/readyz")
        after = await scrape(http)
    assert answer.status_code == 200
    sns = answer.json()["channels"]["sns"]
    assert (sns["status"], sns["reachable"]) == ("degraded", False)
    assert sns["last_error"] == "bridge unreachable: ConnectError"
    assert sns["last_failure_at"] == clock.now().isoformat()
    assert answer.json()["channels"]["email"]["status"] == "unknown"
    (touch,) = await touches(sessions, channel="sns")
    assert (touch.status, touch.error) == ("queued", sns["last_error"])
    name, labels = "kizuna_delivery_errors_total", {"channel": "sns", "class": "unreachable"}
    assert value(after, name, **labels) - value(before, name, **labels) == 3
