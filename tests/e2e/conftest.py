"""The whole product as processes: uvicorn (ASGI web + WebSocket), a Celery worker and the GOWA
simulator, all on the test PostgreSQL database and the local Redis, talking over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.conf import settings

from tests.conftest import SIM_PASSWORD, SIM_USER, Simulator

BASE_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(
        f"Timed out after {timeout:.0f} s waiting for {what or predicate}; last value: {last!r}"
    )


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.web_port = free_port()
        self.sim_port = free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.sim = Simulator(f"http://127.0.0.1:{self.sim_port}")
        db = settings.DATABASES["default"]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "wavora.settings_test",
            "WAVORA_ENV": "test",
            "DATABASE_URL": "postgres://{}@{}:{}/{}".format(
                db["USER"] or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["NAME"]
            ),
            "REDIS_URL": settings.REDIS_URL,
            "GOWA_CALLBACK_BASE_URL": self.web_url,
            # Where browsers reach Wavora: the DOKU dev sandbox checkout page's address, for one.
            "PUBLIC_BASE_URL": self.web_url,
            "PAIRING_POLL_INTERVAL_SECONDS": "0.3",
            "SEND_DEFAULT_INTERVAL_MS": "0",
            "SEND_RETRY_BASE_SECONDS": "1",
            "DB_POOL_MAX_SIZE": "4",
            # The tests serve media from 127.0.0.1; the SSRF guard itself is tested in tests/media.
            "ALLOW_PRIVATE_URLS": "true",
            "PYTHONUNBUFFERED": "1",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            argv, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_worker(self, name: str = "worker") -> None:
        self._start(
            name,
            [
                str(BIN / "celery"),
                "-A",
                "wavora",
                "worker",
                "-Q",
                "sends,webhooks,campaigns,billing,default",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--loglevel",
                "INFO",
                "-n",
                f"e2e-{time.time_ns()}@%h",
            ],
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # Still report the slow stop, but leave no orphan holding the test database.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
            raise

    def start(self) -> None:
        self._start(
            "simulator",
            [
                sys.executable,
                "manage.py",
                "gowa_simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.sim_port),
                "--basic-auth",
                f"{SIM_USER}:{SIM_PASSWORD}",
                "--ack-delivered-after-ms",
                "300",
                "--ack-read-after-ms",
                "700",
            ],
        )
        self._start(
            "web",
            [
                str(BIN / "uvicorn"),
                "wavora.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.web_port),
                "--log-level",
                "warning",
                # Open WebSockets would otherwise hold a SIGTERM'd server (as in production).
                "--timeout-graceful-shutdown",
                "5",
            ],
        )
        self.start_worker()
        wait_until(lambda: _up(self.web_url + "/health"), what="web server")
        wait_until(lambda: _up(self.sim.base_url + "/health"), what="GOWA simulator")
        self.wait_for_worker()

    def wait_for_worker(self) -> None:
        from wavora.celery import app

        wait_until(lambda: app.control.ping(timeout=0.5), timeout=40, what="Celery worker")

    def wait_until_idle(self) -> None:
        """Let the worker finish what the test set off (receipts, fan-out) before the database flush
        that ends the test, which would otherwise race it (and deadlock on TRUNCATE)."""
        from messaging.models import GowaEvent
        from wavora.celery import app

        self.sim.control("POST", "/_sim/reset")  # no more simulated receipts

        def idle() -> bool:
            if GowaEvent.objects.filter(status=GowaEvent.Status.RECEIVED).exists():
                return False
            inspect = app.control.inspect(timeout=0.5)
            busy = [*((inspect.active() or {}).values()), *((inspect.reserved() or {}).values())]
            return not any(busy)

        if any(name.startswith("worker") for name in self.procs):
            wait_until(idle, timeout=30, what="the worker to be idle")

    def stop(self) -> None:
        slow: list[subprocess.TimeoutExpired] = []
        for name in list(self.procs):
            try:
                self.kill(name, signal.SIGTERM)
            except subprocess.TimeoutExpired as exc:
                slow.append(exc)
        if slow:
            raise slow[0]

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.tmp.glob("*.log")
        )


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def stack_processes(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    stack = Stack(tmp_path_factory.mktemp("stack"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(stack_processes: Stack, transactional_db: None, request: pytest.FixtureRequest) -> Iterator[Stack]:
    stack_processes.sim.control("POST", "/_sim/reset")
    yield stack_processes
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(stack_processes.logs())
    stack_processes.wait_until_idle()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
