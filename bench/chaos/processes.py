"""`kizuna serve` and `kizuna dispatch` as the processes an operator runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.harness import ADMIN_KEY
from tests.smtp_sink import free_port

__all__ = ["ADMIN_KEY", "LOG_DIR", "Kizuna", "kizuna"]

_KIZUNA = str(Path(sys.executable).with_name("kizuna"))
#: Each process's output goes here, named by its command and port, for a look after a failure.
LOG_DIR = Path(os.environ.get("KIZUNA_CHAOS_LOGS", "/tmp/kizuna-chaos-logs"))


class Kizuna:
    """One `kizuna` process: `serve` answers on `base_url`; `dispatch` has none."""

    def __init__(self, command: str, env: dict[str, str], *options: str) -> None:
        self.command = command
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
        self._env |= {
            "KIZUNA_PORT": str(self.port),
            "KIZUNA_ADMIN_API_KEY": ADMIN_KEY,
            "KIZUNA_LOG_LEVEL": "WARNING",
            "KIZUNA_MAIL_FROM": "news@shop.example.jp",
            "KIZUNA_SENDER_NAME": "絆ショップ",
            "KIZUNA_SENDER_POSTAL_ADDRESS": "東京都渋谷区神宮前1-2-3",
            **env,
        }
        self._options = options
        self.process: subprocess.Popen[bytes] | None = None
        self.log = LOG_DIR / f"{command}-{self.port}-{time.time_ns()}.log"

    def start(self) -> None:
        """Start the process; `serve` is waited for until `/readyz` answers 200."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [_KIZUNA, self.command, *self._options], env=self._env, stdout=log, stderr=log
            )
        if self.command == "serve":
            self.wait_ready()

    def check_alive(self) -> None:
        """Raise, with the last line the process wrote, if it has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            said = self.log.read_text(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(
                f"kizuna {self.command} exited with {self.process.returncode}: {''.join(said)}"
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"kizuna {self.command} did not become ready")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, letting passes in flight finish; SIGKILL after 60 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def kizuna(command: str, env: dict[str, str], *options: str) -> Iterator[Kizuna]:
    """A started `kizuna` process, stopped afterwards whatever happened."""
    process = Kizuna(command, env, *options)
    try:
        process.start()
        yield process
    finally:
        process.stop()
