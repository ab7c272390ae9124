"""Disk full and read-only database: `kizuna serve` on SQLite in a small tmpfs, which is then
filled to the last byte, and later remounted read-only.

Checked: a write that cannot be stored is answered with a clear error (a problem, never a
hang or a dropped connection), SQLite's integrity check finds nothing wrong, and writes
succeed again once there is room (or the file system is writable again), with every
contact answered 2xx stored and no other.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx

from app.migrations import migrate
from bench.chaos.context import Context
from bench.chaos.processes import Kizuna, kizuna
from bench.chaos.report import Check

__all__ = ["run"]

NAME = "disk full / read-only"
SIZE = "24m"


@contextmanager
def small_disk() -> Iterator[Path]:
    """A tmpfs of `SIZE` mounted on a new directory (needs root), unmounted afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="kizuna-chaos-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(directory)],
                   check=True)  # fmt: skip
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)
        directory.rmdir()


async def _remount(directory: Path, mode: str) -> None:
    command = ["mount", "-o", f"remount,{mode}", str(directory)]
    await asyncio.to_thread(subprocess.run, command, check=True)


def _fill(directory: Path) -> Path:
    """Write a file until the file system has no byte left; the file."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
    with filler.open("ab", buffering=0) as out:
        try:
            while True:
                out.write(b"\0")
        except OSError:
            pass
    return filler


def _integrity(database: Path) -> str:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return ", ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))


def _stored(database: Path) -> set[str]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return {row[0] for row in connection.execute("SELECT external_id FROM contact")}


class Writer:
    """Upserts contacts, each with an attribute big enough to need new pages; keeps the
    ids answered 2xx and the answers that were not."""

    def __init__(self, api: httpx.AsyncClient, start: int = 0) -> None:
        self._api = api
        self.number = start
        self.stored: set[str] = set()

    async def write(self, count: int) -> list[httpx.Response]:
        """`count` contacts, one at a time; the answers."""
        answers = []
        for _ in range(count):
            self.number += 1
            external_id = f"disk-{self.number}"
            contact = {"external_id": external_id, "email": f"{external_id}@example.jp",
                       "attributes": {"note": "x" * 32768}}  # fmt: skip
            try:
                answer = await self._api.post("/v1/contacts", json=contact)
            except httpx.TransportError as exc:
                # No answer at all: recorded as such, with what the client saw.
                answer = httpx.Response(599, text=f"no answer ({type(exc).__name__})")
            if answer.is_success:
                self.stored.add(external_id)
            answers.append(answer)
        return answers


def _describe(answers: list[httpx.Response]) -> tuple[str, bool]:
    """The refusals in a phrase, and whether each was a clear error: a 503 problem saying
    why (a 500 blames the request; a dropped connection says nothing)."""
    failed = [answer for answer in answers if not answer.is_success]
    if not failed:
        return "no error", False
    clear = all(
        answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"
        for answer in failed
    )
    first = failed[0]
    try:
        detail = str(first.json().get("detail", ""))
    except ValueError:
        detail = first.text
    return f"{len(failed)} of {len(answers)} refused: {first.status_code} {detail[:60]}", clear


async def run(context: Context) -> list[Check]:
    writes = 5 if context.short else 20
    checks = []
    with small_disk() as directory:
        database = directory / "kizuna.db"
        env = {"KIZUNA_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
        await asyncio.to_thread(migrate, env["KIZUNA_DATABASE_URL"])
        with kizuna("serve", env) as server:
            async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers,
                                         timeout=60) as api:  # fmt: skip
                writer = Writer(api)
                await writer.write(writes)
                filler = _fill(directory)
                refused, clear = _describe(await writer.write(writes))
                checks.append(Check(NAME, "disk full: writes get a clear error", refused, clear))
                integrity = _integrity(database)
                checks.append(Check(NAME, "disk full: PRAGMA integrity_check", integrity,
                                    integrity == "ok"))  # fmt: skip
                filler.unlink()
                answers = await writer.write(writes)
                ok = sum(answer.is_success for answer in answers)
                checks.append(Check(NAME, "room again: writes stored", f"{ok} of {writes}",
                                    ok == writes))  # fmt: skip
        # A file system goes read-only under no open file: the service is started on it.
        await _remount(directory, "ro")
        read_only = Kizuna("serve", env)
        try:
            read_only.start()
        except RuntimeError as exc:
            said = str(exc)
        else:
            said = "started"
        finally:
            read_only.stop()
        checks.append(Check(NAME, "read-only: kizuna serve refuses to start, in one line",
                            said[:90], "Cannot reach the database" in said))  # fmt: skip
        await _remount(directory, "rw")
        with kizuna("serve", env) as server:
            async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers,
                                         timeout=60) as api:  # fmt: skip
                writer_again = Writer(api, start=writer.number)
                answers = await writer_again.write(writes)
        ok = sum(answer.is_success for answer in answers)
        checks.append(Check(NAME, "writable again: writes stored", f"{ok} of {writes}",
                            ok == writes))  # fmt: skip
        integrity = _integrity(database)
        stored = _stored(database)
    answered = writer.stored | writer_again.stored
    checks.append(Check(NAME, "at the end: integrity_check; stored = answered 2xx",
                        f"{integrity}; {len(stored)} stored, {len(answered)} answered 2xx",
                        integrity == "ok" and stored == answered))  # fmt: skip
    return checks
