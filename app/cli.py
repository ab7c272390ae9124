"""The `kizuna` command: serve, migrate, keys, demo."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated, cast

import typer
import uvicorn

from app.database import create_engine, create_sessionmaker
from app.demo import load_demo
from app.logging import configure_logging
from app.main import create_app
from app.migrations import migrate as run_migrations
from app.runtime import start_runtime
from app.settings import Settings, get_settings
from orchestrator.clock import SystemClock
from orchestrator.services.api_keys import SCOPES, ApiKeyService, Scope

__all__ = ["main"]

_log = logging.getLogger("kizuna.cli")

cli = typer.Typer(help="Kizuna: multichannel campaigns under one contact-frequency policy.")
keys_cli = typer.Typer(help="Manage API keys.")
cli.add_typer(keys_cli, name="keys")


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
    typer.echo(f"Kizuna on http://{host}:{port} (API docs: http://{host}:{port}/docs)")
    app = create_app(settings, run_engine=engine)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


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
    engine = create_engine(get_settings().database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            _, secret = await ApiKeyService(session, SystemClock()).create(name, scopes)
    finally:
        await engine.dispose()
    return secret


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
    cli()
