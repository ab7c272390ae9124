"""Rendering off the event loop, bounded in time and in size.

A template is code a campaign author wrote, and the sandbox keeps it from Python's insides
but not from work: two nested loops over `range` keep a core busy for minutes. A thread
cannot be stopped, so a time limit on a thread only stops the waiting. Counting work in the
sandbox (a smaller `range`, a tick in every loop) bounds loops but not filters and string
arithmetic, which allocate and spin without looping (`center`, `wordwrap`, `format`, `*`).
So the renders that need Jinja2 run in a few worker processes. A worker is sent a chunk of
touches, says which one it is on as it starts each, and answers with the whole chunk; one
still on the same touch after the time limit is killed and replaced, that touch alone fails
with the reason (`OverLimit`), and the rest of the chunk is rendered again. A worker is a
plain `python -c` process that imports this module alone: a `multiprocessing` child would
import the parent's main module too (the whole service, about 2 s), and every replacement
would hold the dispatcher that long. Output is
counted while it is produced and stopped at the cap (`templates.MAX_OUTPUT_BYTES` a field),
and a worker's memory is limited, so one expression cannot build a huge text either.

Most templates never leave the process: plain text, and templates that only look values up
(`Hello {{ contact.attributes.name }}`, conditions, a few filters) render in time linear in
their source and the contact's data (`templates.renders_in_linear_time`). The rest cost a
message each way per chunk of touches: 500 one-field renders take about 6 ms.
"""

from __future__ import annotations

import asyncio
import queue
import resource
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from orchestrator.templates import (
    MAX_OUTPUT_BYTES,
    OverLimit,
    TemplateError,
    render,
    renders_in_linear_time,
)

__all__ = ["Job", "Outcome", "Renderer", "shared_renderer"]

#: A step's template and the context one contact gives it.
Job = tuple[Mapping[str, str], Mapping[str, Any]]
#: A rendered template, or why it could not be rendered.
Outcome = dict[str, str] | TemplateError

#: The address space a worker may use: a render that would need more fails with MemoryError.
_MEMORY = 1024 * 1024 * 1024
#: Touches a worker is sent at once: fewer trips, but a lost worker loses its answers.
_CHUNK = 100


#: The worker process's program: `_serve` on the socket it is handed.
_PROGRAM = "import sys; from orchestrator.rendering import _serve; _serve(*map(int, sys.argv[1:]))"


def _serve(fd: int, most: int) -> None:
    """A worker: render each chunk it is sent and answer with all of it, saying before each
    touch which one of the chunk it is on."""
    resource.setrlimit(resource.RLIMIT_AS, (_MEMORY, _MEMORY))
    connection = Connection(fd)
    connection.send("ready")
    while True:
        try:
            jobs: list[Job] = connection.recv()
        except EOFError:
            return
        answers: list[Any] = []
        for index, (template, context) in enumerate(jobs):
            connection.send(index)
            try:
                answers.append(render(template, context, most=most))
            except OverLimit as exc:
                answers.append(("over", str(exc)))
            except TemplateError as exc:
                answers.append(("error", str(exc)))
        connection.send(answers)


class _Worker:
    """One worker process and the connection to it."""

    def __init__(self, most: int) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _PROGRAM, str(theirs.fileno()), str(most)],
                pass_fds=[theirs.fileno()],
            )
        self.connection = Connection(ours.detach())
        self.connection.recv()  # ready: its imports are not counted against a touch

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.connection.close()


def _outcome(answer: Any) -> Outcome:
    if isinstance(answer, dict):
        return answer
    kind, message = answer
    return OverLimit(message) if kind == "over" else TemplateError(message)


class Renderer:
    """Renders templates in `workers` processes, each touch within `seconds`."""

    def __init__(
        self, *, workers: int = 2, seconds: float = 2.0, most: int = MAX_OUTPUT_BYTES
    ) -> None:
        self._seconds = seconds
        self._most = most
        self._workers = workers
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        for _ in range(workers):
            self._idle.put(None)  # started on first use
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="kizuna-render")

    async def render_many(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Each job's rendered fields, or its error, in order."""
        outcomes: dict[int, Outcome] = {}
        remote: list[int] = []
        for index, (template, context) in enumerate(jobs):
            if not renders_in_linear_time(template):
                remote.append(index)
                continue
            try:
                outcomes[index] = render(template, context, most=self._most)
            except TemplateError as exc:
                outcomes[index] = exc
        if remote:
            size = min(_CHUNK, -(-len(remote) // self._workers))
            chunks = [remote[start : start + size] for start in range(0, len(remote), size)]
            loop = asyncio.get_running_loop()
            answers = await asyncio.gather(
                *(
                    loop.run_in_executor(self._threads, self._run, [jobs[i] for i in chunk])
                    for chunk in chunks
                )
            )
            for chunk, answered in zip(chunks, answers, strict=True):
                outcomes.update(zip(chunk, answered, strict=True))
        return [outcomes[index] for index in range(len(jobs))]

    def close(self) -> None:
        """Stop the workers."""
        self._threads.shutdown()
        while not self._idle.empty():
            worker = self._idle.get()
            if worker is not None:
                worker.stop()

    def _run(self, jobs: list[Job]) -> list[Outcome]:
        """One chunk on one worker (in a thread). A touch the worker is still on after the
        time limit fails; the worker is replaced and renders the others again."""
        worker = self._idle.get()
        outcomes: dict[int, Outcome] = {}
        try:
            worker = worker or _Worker(self._most)
            while len(outcomes) < len(jobs):
                pending = [index for index in range(len(jobs)) if index not in outcomes]
                answers, stuck = self._exchange(worker, [jobs[index] for index in pending])
                outcomes.update(zip(pending, answers, strict=False))
                if stuck is not None:
                    outcomes[pending[stuck]] = self._stopped(worker)
                    worker.stop()
                    worker = None  # started again on next use, should this start fail
                    worker = _Worker(self._most)
        finally:
            self._idle.put(worker)
        return [outcomes[index] for index in range(len(jobs))]

    def _exchange(self, worker: _Worker, jobs: list[Job]) -> tuple[list[Outcome], int | None]:
        """Every answer; or none, and the touch the worker stayed on past the limit (or
        died on)."""
        at = 0
        try:
            worker.connection.send(jobs)
            while worker.connection.poll(self._seconds):
                message = worker.connection.recv()
                if isinstance(message, int):
                    at = message  # it started on the next touch
                    continue
                return [_outcome(answer) for answer in message], None
            return [], at
        except (EOFError, OSError):
            return [], at

    def _stopped(self, worker: _Worker) -> OverLimit:
        if worker.alive():
            return OverLimit(f"rendering took longer than {self._seconds:g} s and was stopped")
        return OverLimit("rendering stopped its worker (out of memory?)")


_shared: Renderer | None = None


def shared_renderer() -> Renderer:
    """The process's renderer, started on first use."""
    global _shared
    if _shared is None:
        _shared = Renderer()
    return _shared
