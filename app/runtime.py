"""What one process holds while it runs: settings, the engine, the clock, the signing secret,
the channel adapters and, in `serve` and `dispatch`, the engine's scheduler."""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from app.channels import build_channels
from app.database import create_engine, create_sessionmaker, is_sqlite
from app.migrations import alembic_config
from app.settings import Settings
from app.webhooks import build_webhook_verifiers
from channels.base import Channel
from channels.email.providers import WebhookVerifier
from orchestrator.catalog import CampaignCatalog
from orchestrator.clock import Clock
from orchestrator.delivery_health import DeliveryHealth
from orchestrator.dispatcher import Dispatcher
from orchestrator.outbox import Outbox
from orchestrator.rendering import Renderer
from orchestrator.scheduler import EngineScheduler
from orchestrator.schedules import ScheduleRunner
from orchestrator.services.api_keys import ApiKeyService
from orchestrator.services.installation import ensure_secret_key
from orchestrator.tracking import LinkMaker, TokenSigner

__all__ = [
    "DatabaseNotReady",
    "DatabaseUnreachable",
    "NotMigrated",
    "Runtime",
    "check_migrated",
    "start_runtime",
]

_log = logging.getLogger("kizuna.runtime")


class DatabaseNotReady(Exception):
    """The database cannot serve Kizuna yet; the message says why and what to do, in a line."""


class NotMigrated(DatabaseNotReady):
    """The database has no Kizuna schema, or an older one than this Kizuna's."""


class DatabaseUnreachable(DatabaseNotReady):
    """No connection to the database: the server is down, or refuses the name or the user."""


async def check_migrated(engine: AsyncEngine, url: str) -> None:
    """Raise `DatabaseNotReady`, in one line naming the way out, unless `url`'s database has the
    newest schema: whatever runs before it would fail on a missing table or column."""
    where = make_url(url).render_as_string(hide_password=True)
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None and not sqlite_file.exists():
        # Connecting would leave an empty file behind, wherever the command ran.
        raise NotMigrated(
            f"The database at KIZUNA_DATABASE_URL ({where}) is not migrated: there is no "
            f"file {sqlite_file}. Run `kizuna migrate` first."
        )
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(_current_revisions)
    except (DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        raise DatabaseUnreachable(
            f"Cannot reach the database at KIZUNA_DATABASE_URL ({where}): {reason}"
        ) from exc
    newest = _newest_revisions(url)
    if not current or (newest is not None and current != newest):
        state = f"at revision {', '.join(sorted(current))}" if current else "empty"
        raise NotMigrated(
            f"The database at KIZUNA_DATABASE_URL ({where}) is not migrated ({state}). "
            "Run `kizuna migrate` first."
        )


def _current_revisions(connection: Connection) -> set[str]:
    """The revisions `kizuna migrate` wrote into Alembic's table; none before it first ran."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.scalars(text("SELECT version_num FROM alembic_version")))


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database; None for other databases and in-memory ones."""
    database = make_url(url).database
    if not is_sqlite(url) or database in (None, "", ":memory:"):
        return None
    return Path(database).resolve()


def _newest_revisions(url: str) -> set[str] | None:
    """The head revisions of the migrations; None where they are not at hand (an installed
    wheel run outside the directory that holds `alembic/`), so only emptiness is checked."""
    try:
        return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    except CommandError:
        return None


@dataclass
class Runtime:
    """The process's shared parts, built once at start and closed at stop."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    secret_key: str
    channels: dict[str, Channel] = field(default_factory=dict)
    catalog: CampaignCatalog = field(default_factory=CampaignCatalog)
    #: Checks of the email providers' webhooks, by provider; those not configured absent.
    email_webhooks: dict[str, WebhookVerifier] = field(default_factory=dict)
    #: Processes that validate large bulk requests; None validates in this process.
    bulk_pool: ProcessPoolExecutor | None = None
    #: The engine's jobs, when this process runs them.
    scheduler: EngineScheduler | None = None
    #: How the far end of each `send` channel (the SMTP relay) answered this process lately.
    delivery_health: DeliveryHealth = field(default_factory=DeliveryHealth)
    #: Renders the templates of the dispatcher's touches; its processes start on first use.
    renderer: Renderer | None = None

    def dispatcher(self) -> Dispatcher:
        """A dispatcher over this process's database and channels."""
        return Dispatcher(
            self.sessions,
            self.clock,
            self.channels,
            self.catalog,
            on_queued=self._wake_outbox,
            renderer=self._renderer(),
        )

    def outbox(self) -> Outbox:
        """An outbox over this process's database and channels, tracking links under the
        public URL; as many deliveries at once as there are SMTP connections, so a crash
        leaves no more than that in doubt."""
        links = LinkMaker(self.settings.public_url, self.tokens())
        return Outbox(
            self.sessions,
            self.clock,
            self.channels,
            self.catalog,
            concurrency=self.settings.smtp_pool_size,
            links=links,
            health=self.delivery_health,
            observed=True,
        )

    def _renderer(self) -> Renderer:
        if self.renderer is None:
            self.renderer = Renderer(
                workers=self.settings.render_workers, seconds=self.settings.render_timeout
            )
        return self.renderer

    def tokens(self) -> TokenSigner:
        """The signer of tracked-link and unsubscribe tokens, with the installation's secret."""
        return TokenSigner(self.secret_key)

    def wake(self) -> None:
        """New work is due: run the dispatcher now, if this process runs it."""
        if self.scheduler is not None:
            self.scheduler.wake()

    def _wake_outbox(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wake_outbox()

    def start_engine(self) -> EngineScheduler:
        """Run the dispatcher, the outbox, schedules and the lease reaper in this process."""
        listen = None if is_sqlite(self.settings.database_url) else self.settings.database_url
        self.scheduler = EngineScheduler(
            self.sessions,
            self.clock,
            self.dispatcher(),
            self.outbox(),
            ScheduleRunner(self.sessions, self.clock, self.catalog),
            interval=self.settings.dispatch_interval,
            listen_url=listen,
        )
        self.scheduler.start()
        return self.scheduler

    async def close(self) -> None:
        """Let engine passes in flight finish, then release processes, adapters, connections."""
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.bulk_pool is not None:
            self.bulk_pool.shutdown(cancel_futures=True)
        if self.renderer is not None:
            self.renderer.close()
        for channel in self.channels.values():
            await channel.close()
        await self.engine.dispose()


async def start_runtime(settings: Settings, clock: Clock) -> Runtime:
    """Connect, check the schema, and make sure the signing secret and the bootstrap admin
    key exist."""
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        await check_migrated(engine, settings.database_url)
        async with sessions.begin() as session:
            if settings.secret_key is not None:
                secret_key = settings.secret_key.get_secret_value()
            else:
                secret_key = await ensure_secret_key(session, clock)
            if settings.admin_api_key is not None:
                admin = await ApiKeyService(session, clock).ensure(
                    "admin (KIZUNA_ADMIN_API_KEY)",
                    settings.admin_api_key.get_secret_value(),
                    ["admin"],
                )
                if admin.revoked_at is not None:
                    _log.warning(
                        "KIZUNA_ADMIN_API_KEY names key %s (%s...), revoked at %s: it stays "
                        "revoked and opens nothing; set a new key or unset the variable",
                        admin.id,
                        admin.prefix,
                        admin.revoked_at.isoformat(),
                    )
    except BaseException:
        await engine.dispose()
        raise
    bulk_pool = None
    if settings.bulk_processes:
        # Processes start on first use; "spawn" because forking a process that runs an
        # event loop and database threads is unsafe.
        bulk_pool = ProcessPoolExecutor(
            settings.bulk_processes, mp_context=multiprocessing.get_context("spawn")
        )
    return Runtime(
        settings,
        engine,
        sessions,
        clock,
        secret_key,
        channels=build_channels(settings),
        email_webhooks=build_webhook_verifiers(settings, clock),
        bulk_pool=bulk_pool,
    )
