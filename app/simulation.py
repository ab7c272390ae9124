"""The simulator's scratch databases: an empty SQLite file migrated once per process, the
way `kizuna migrate` migrates, which every forecast and what-if copies."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from pathlib import Path

from app.database import create_engine
from app.migrations import migrate
from orchestrator.simulation import Scratch

__all__ = ["scratch"]

_template: Path | None = None
_lock = asyncio.Lock()


def _migrated_template() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="kizuna-scratch-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


async def scratch() -> Scratch:
    """Where simulations run; the template is migrated on first use, in a worker thread
    (the migrations run an event loop of their own)."""
    global _template
    async with _lock:
        if _template is None:
            _template = await asyncio.to_thread(_migrated_template)
    return Scratch(_template, create_engine)
