"""The `kizuna` command: serve, migrate, keys, touches, demo."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, cast

import typer
import uvicorn

from app.database import create_engine, create_sessionmaker
from app.demo import load_demo
from app.logging import configure_logging
from app.main import create_app
from app.migrations import migrate as run_migrations
from app.runtime import DatabaseNotReady, check_migrated, start_runtime
from app.settings import Settings, get_settings
from orchestrator.clock import SystemClock
from orchestrator.errors import DomainError
from orchestrator.models import ApiKey, Touch
from orchestrator.services.api_keys import SCOPES, ApiKeyService, Scope
from orchestrator.services.touches import TouchService

__all__ = ["main"]

#: The most a request line and its headers may take.
_MAX_HEADER_BYTES = 64 * 1024

_log = logging.getLogger("kizuna.cli")

cli = typer.Typer(help="Kizuna: multichannel campaigns under one contact-frequency policy.")
keys_cli = typer.Typer(help="Manage API keys.")
cli.add_typer(keys_cli, name="keys")
touches_cli = typer.Typer(help="Touches that need an operator.")
cli.add_typer(touches_cli, name="touches")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: KIZUNA_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: KIZUNA_PORT")] = None,
    engine: Annotated[
        bool, typer.Option(help="also run the dispatcher, outbox and schedules here")
    ] = True,
) -> None:
    """Run the HTTP API and, unless --no-engine, the engine in the same process."""
    settings = get_settings()
    configure_logging(settings.log_level)
    host, port = host or settings.host, port or settings.port
    asyncio.run(_check_database(settings.database_url))
    typer.echo(f"Kizuna on http://{host}:{port} (API docs: http://{host}:{port}/docs)")
    app = create_app(settings, run_engine=engine)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # h11 bounds the request line and headers it buffers (answering 400 past the
        # bound); httptools, uvicorn's other parser, would read megabytes before any 401.
        http="h11",
        h11_max_incomplete_event_size=_MAX_HEADER_BYTES,
    )


async def _check_database(url: str) -> None:
    """Fail before the server starts, in one line, where the lifespan would fail later."""
    engine = create_engine(url)
    try:
        await check_migrated(engine, url)
    finally:
        await engine.dispose()


@cli.command()
def dispatch() -> None:
    """Run the engine alone: extra dispatcher processes over the same PostgreSQL."""
    settings = get_settings()
    configure_logging(settings.log_level)
    asyncio.run(_dispatch(settings))


async def _dispatch(settings: Settings) -> None:
    runtime = await start_runtime(settings, SystemClock())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    runtime.start_engine()
    _log.info("dispatching; SIGTERM stops after the passes in flight")
    try:
        await stop.wait()
    finally:
        await runtime.close()
        _log.info("stopped")


@cli.command()
def migrate() -> None:
    """Bring the database of KIZUNA_DATABASE_URL to the newest schema."""
    configure_logging("INFO")
    run_migrations(get_settings().database_url)


@asynccontextmanager
async def _key_service() -> AsyncIterator[ApiKeyService]:
    """Key management in one transaction on the database of KIZUNA_DATABASE_URL."""
    url = get_settings().database_url
    engine = create_engine(url)
    try:
        await check_migrated(engine, url)
        async with create_sessionmaker(engine).begin() as session:
            yield ApiKeyService(session, SystemClock())
    finally:
        await engine.dispose()


@keys_cli.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="who the key is for")],
    scope: Annotated[list[str], typer.Option(help=f"one of {', '.join(SCOPES)}; repeatable")],
) -> None:
    """Make an API key and print it; it is shown this once."""
    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        raise typer.BadParameter(f"unknown scope(s) {', '.join(unknown)}; use {', '.join(SCOPES)}")
    chosen = [cast(Scope, known) for known in SCOPES if known in scope]
    typer.echo(asyncio.run(_create_key(name, chosen)))


async def _create_key(name: str, scopes: list[Scope]) -> str:
    async with _key_service() as service:
        _, secret = await service.create(name, scopes)
    return secret


@keys_cli.command("list")
def list_keys() -> None:
    """List every key, newest first, revoked ones included; never their secrets."""
    keys = asyncio.run(_list_keys())
    header = ("id", "name", "prefix", "scopes", "created", "last used", "revoked")
    typer.echo(_table([header, *(_key_row(key) for key in keys)]))


async def _list_keys() -> list[ApiKey]:
    async with _key_service() as service:
        return await service.list()


def _key_row(key: ApiKey) -> tuple[str, ...]:
    return (
        str(key.id),
        key.name,
        key.prefix,
        ",".join(key.scopes),
        _when(key.created_at),
        _when(key.last_used_at),
        _when(key.revoked_at),
    )


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@keys_cli.command("revoke")
def revoke_key(
    key_id: Annotated[int, typer.Argument(help="the key's id (`kizuna keys list`)")],
) -> None:
    """Revoke a key: it stops working at once. The last active admin key cannot be revoked."""
    key = asyncio.run(_revoke_key(key_id))
    typer.echo(f"API key {key.id} ({key.name}) revoked at {_when(key.revoked_at)}.")


async def _revoke_key(key_id: int) -> ApiKey:
    async with _key_service() as service:
        return await service.revoke(key_id)


@touches_cli.command("in-doubt")
def in_doubt_touches() -> None:
    """List the messages interrupted mid-send, the longest in doubt first; settle each with
    `POST /v1/touches/{id}/resolve`."""
    found = asyncio.run(_in_doubt())
    header = ("id", "contact", "campaign", "step", "channel", "since")
    typer.echo(_table([header, *(_touch_row(touch) for touch in found)]))


async def _in_doubt() -> list[Touch]:
    url = get_settings().database_url
    engine = create_engine(url)
    try:
        await check_migrated(engine, url)
        async with create_sessionmaker(engine).begin() as session:
            return await TouchService(session, SystemClock()).in_doubt()
    finally:
        await engine.dispose()


def _touch_row(touch: Touch) -> tuple[str, ...]:
    return (
        str(touch.id),
        str(touch.contact_id),
        "-" if touch.campaign_id is None else str(touch.campaign_id),
        touch.step_id or "-",
        touch.channel,
        _when(touch.updated_at),
    )


@cli.command()
def demo() -> None:
    """Load the demo data set (idempotent)."""
    settings = get_settings()
    count = asyncio.run(_load_demo(settings))
    typer.echo(f"Demo data loaded: {count} contacts, in the campaign 'Call first, then nurture'.")


async def _load_demo(settings: Settings) -> int:
    runtime = await start_runtime(settings, SystemClock())
    try:
        return await load_demo(runtime.sessions, runtime.clock, settings.default_timezone)
    finally:
        await runtime.close()


def main() -> None:
    """Entry point of the `kizuna` console script."""
    try:
        cli()
    except (DatabaseNotReady, DomainError) as exc:
        # What the user can act on is one line, not a traceback.
        typer.echo(f"kizuna: {exc}", err=True)
        raise SystemExit(1) from None
