"""`python -m bench.chaos [--short]` (`make chaos`): every fault scenario against the real
processes, then one table; the exit code is 1 if any check failed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable

from bench.chaos import disk_full, kill9, pg_restart, poison, smtp_faults, webhook_flood
from bench.chaos.cluster import private_cluster
from bench.chaos.context import Context
from bench.chaos.processes import LOG_DIR
from bench.chaos.report import Check, table

Scenario = Callable[[Context], Awaitable[list[Check]]]

SCENARIOS: dict[str, Scenario] = {
    "kill9": kill9.run,
    "pg_restart": pg_restart.run,
    "smtp_faults": smtp_faults.run,
    "webhook_flood": webhook_flood.run,
    "poison": poison.run,
    "disk_full": disk_full.run,
}


async def run_all(context: Context, chosen: list[str]) -> list[Check]:
    """Each scenario in turn; one that breaks down is a failed check with its error.
    SIGTERM and SIGINT cancel the run, so every process and file it made is cleaned up."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, task.cancel)
    checks: list[Check] = []
    for name in chosen:
        started = time.monotonic()
        print(f"chaos: {name} ...", file=sys.stderr, flush=True)
        try:
            found = await SCENARIOS[name](context)
        except Exception as exc:
            traceback.print_exc()
            found = [
                Check(name, "scenario ran to the end", f"{type(exc).__name__}: {exc}"[:120], False)
            ]
        checks += found
        print(
            f"chaos: {name} done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True
        )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI size: seconds a scenario")
    parser.add_argument("--seed", type=int, default=None, help="the kill points' randomness")
    parser.add_argument("scenarios", nargs="*", metavar="scenario",
                        help=f"some of {', '.join(SCENARIOS)}; default: all")  # fmt: skip
    args = parser.parse_args()
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}")
    # The reaper's warning is what the kill scenario provokes; the table reports it.
    logging.getLogger("kizuna.housekeeping").setLevel(logging.ERROR)
    # Each process's output, of this run only.
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    started = time.monotonic()
    try:
        with private_cluster() as cluster:
            context = Context(cluster, args.short, random.Random(seed))
            checks = asyncio.run(run_all(context, args.scenarios or list(SCENARIOS)))
    except asyncio.CancelledError:
        sys.exit("chaos: stopped")
    size = "short" if args.short else "full"
    print(f"make chaos ({size} run, seed {seed}, {time.monotonic() - started:.0f} s)")
    print(table(checks))
    sys.exit(0 if all(check.ok for check in checks) else 1)


if __name__ == "__main__":
    main()
