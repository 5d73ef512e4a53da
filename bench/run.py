"""Wavora benchmark: ``make bench`` (``WAVORA_ENV=production .venv/bin/python bench/run.py``).

One run, under production settings, on loopback only:

1. setup — a dedicated PostgreSQL database ``wavora_bench`` (dropped and re-created), Redis db 12 (flushed),
   the GOWA simulator (receipt webhooks disabled), ``uvicorn wavora.asgi:application --workers 2``, a tenant,
   a GOWA node and one connected device, with send pacing, the monthly quota and the API rate limit lifted;
2. API accept rate — N ``POST /api/v1/messages/text`` from concurrent client threads while no Celery worker
   runs, so only accepting (authenticate, validate, store, enqueue) is measured;
3. worker send rate — one Celery worker drains the N queued sends into the simulator; beside it the raw
   baseline: the same number of sends posted straight to the simulator's ``/send/message``, same concurrency;
4. per phase, CPU seconds per component (from ``/proc``) and the peak of open PostgreSQL sessions, so the
   figures also say where the time goes.

Everything it starts is stopped on exit, Ctrl-C, SIGTERM or error. Results are printed as a table and written
to ``bench/results/latest.json``; the processes' logs go to ``bench/results/logs/``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
LOG_DIR = RESULTS_DIR / "logs"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROTECTED_DBS = {"wavora", "test_wavora", "postgres"}


def _bench_db_from_env(default: str = "wavora_bench") -> str:
    """DATABASE_URL is honoured when it names a database of the bench's own (``wavora_bench…``): the
    bench drops and re-creates it, so any other database in the environment is left alone."""
    url = os.environ.get("DATABASE_URL", "")
    name = url.rsplit("/", 1)[-1].split("?", 1)[0] if "://" in url else ""
    return name if name.startswith("wavora_bench") and name not in PROTECTED_DBS else default


def _bench_redis_from_env() -> str | None:
    """REDIS_URL is honoured when it names a db other than 0 on 127.0.0.1 (the bench flushes it)."""
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://127.0.0.1") or url.rstrip("/").rsplit("/", 1)[-1] in ("", "0"):
        return None
    return url if url.rstrip("/").rsplit("/", 1)[-1].isdigit() else None


BENCH_DB = _bench_db_from_env()
CLK_TCK = os.sysconf("SC_CLK_TCK")
# billing.plans.FREE_PLAN_DEFAULTS: Wavora appends it on the free plan, so the baseline sends the same text.
FREE_PLAN_FOOTER = "\n\n_Sent via Wavora_"
# Starts the simulator with TCP_NODELAY on its sockets, as Go's net/http (real GOWA) has by default. Without
# it the stdlib server writes headers and body in two segments and every keep-alive response waits ~40 ms for
# the client's delayed ACK (Nagle), capping one connection near 23 requests/s. A no-op once the simulator
# sets it itself; ``--sim-stock`` runs ``manage.py gowa_simulator`` unchanged instead.
SIM_LAUNCHER = (
    "import socketserver, sys; socketserver.StreamRequestHandler.disable_nagle_algorithm = True; "
    "from devices import gowa_simulator as sim; sys.exit(sim.main(sys.argv[1:]))"
)


# ------------------------------------------------------------------------------------------------------------
# Small utilities
# ------------------------------------------------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Bounded polling: returns the first truthy value or raises after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (requests.RequestException, OSError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def recipient(index: int) -> str:
    return f"62812{index % 50:08d}"  # 50 distinct recipients, 13 digits


# ------------------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------------------
class Proc:
    """A child process in its own session (so a stop reaches its whole tree), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with code {self.popen.returncode}:\n{tail}")

    def up(self, health_url: str) -> bool:
        self.check_alive()
        return http_ok(health_url)

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._signal(signal.SIGKILL)  # stragglers of the session, e.g. uvicorn's spawned workers
        self._log.close()

    def _signal(self, sig: int) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Runs ``manage.py <args>`` to completion and returns its stdout."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        command = " ".join(args[:2])
        raise RuntimeError(f"manage.py {command} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


# ------------------------------------------------------------------------------------------------------------
# Measuring a phase: CPU per component from /proc, peak PostgreSQL sessions
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProcStat:
    ppid: int
    comm: str
    cpu: float  # utime + stime + cutime + cstime in seconds (children count once reaped)


def proc_table() -> dict[int, ProcStat]:
    table: dict[int, ProcStat] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
        table[int(entry)] = ProcStat(ppid=int(rest[1]), comm=comm, cpu=ticks / CLK_TCK)
    return table


def tree_cpu(table: dict[int, ProcStat], root: int) -> float:
    members = {root} if root in table else set()
    while True:
        new = {pid for pid, stat in table.items() if stat.ppid in members and pid not in members}
        if not new:
            return sum(table[pid].cpu for pid in members)
        members |= new


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


class PhaseMeter:
    def __init__(self, roots: dict[str, Callable[[], int | None]]) -> None:
        self.roots = roots
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def snapshot(self) -> dict[str, float]:
        table = proc_table()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        snap: dict[str, float] = {"bench client": usage.ru_utime + usage.ru_stime}
        for name, root in self.roots.items():
            pid = root()
            snap[name] = tree_cpu(table, pid) if pid else 0.0
        snap["postgres"] = sum(s.cpu for s in table.values() if s.comm == "postgres")
        snap["redis"] = sum(s.cpu for s in table.values() if s.comm.startswith("redis-server"))
        busy, total = machine_ticks()
        snap["_busy"], snap["_total"] = float(busy), float(total)
        return snap

    @contextmanager
    def measure(self, into: dict[str, Any]) -> Iterator[None]:
        stop = threading.Event()
        peak = [0]

        # Connected to the postgres db, so the sampler does not count itself; opened once, before any load.
        if self._conn is None:
            self._conn = psycopg.connect(PG_ADMIN_URL, autocommit=True)
        conn = self._conn

        def sample_sessions() -> None:
            while not stop.wait(0.2):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (BENCH_DB,)
                ).fetchone()
                peak[0] = max(peak[0], int(row[0]) if row else 0)

        sampler = threading.Thread(target=sample_sessions, daemon=True)
        sampler.start()
        before = self.snapshot()
        try:
            yield
        finally:
            after = self.snapshot()
            stop.set()
            sampler.join(timeout=5)
        cpu = {k: round(after[k] - before[k], 2) for k in after if not k.startswith("_")}
        total = after["_total"] - before["_total"]
        busy = after["_busy"] - before["_busy"]
        # Busy CPU time no component accounts for: kernel work outside process context, other processes.
        cpu["other"] = round(max(0.0, busy / CLK_TCK - sum(cpu.values())), 2)
        into["cpu_seconds"] = cpu
        into["machine_busy_pct"] = round(100 * busy / total, 1) if total else None
        into["peak_db_sessions"] = peak[0]


# ------------------------------------------------------------------------------------------------------------
# Load generator
# ------------------------------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    wall_seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def summary(self, ok_status: int) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        ok = self.statuses.get(str(ok_status), 0)
        total = sum(self.statuses.values())
        return {
            "requests": total,
            "ok": ok,
            "errors": total - ok,
            "statuses": dict(sorted(self.statuses.items())),
            "error_samples": self.error_samples[:5],
            "wall_seconds": round(self.wall_seconds, 3),
            "per_second": round(ok / self.wall_seconds, 1) if self.wall_seconds else None,
            "latency_ms": {
                "p50": round(percentile(lat, 50), 1),
                "p90": round(percentile(lat, 90), 1),
                "p99": round(percentile(lat, 99), 1),
                "max": round(lat[-1], 1) if lat else None,
                "mean": round(sum(lat) / len(lat), 1) if lat else None,
            },
        }


def run_load(
    *,
    total: int,
    concurrency: int,
    make_session: Callable[[], requests.Session],
    send: Callable[[requests.Session, int], requests.Response],
) -> LoadResult:
    """``total`` requests from ``concurrency`` threads, each with its own keep-alive session."""
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    statuses: dict[str, int] = {}
    samples: list[str] = []

    def worker(slot: int) -> None:
        session = make_session()
        mine = latencies[slot]
        try:
            while True:
                with lock:
                    index = next(counter)
                if index >= total:
                    return
                started = time.perf_counter()
                try:
                    response = send(session, index)
                    key, bad = str(response.status_code), not response.ok
                    text = response.text[:300] if bad else ""
                except requests.RequestException as exc:
                    key, bad, text = type(exc).__name__, True, str(exc)[:300]
                mine.append((time.perf_counter() - started) * 1000)
                with lock:
                    statuses[key] = statuses.get(key, 0) + 1
                    if bad and len(samples) < 5:
                        samples.append(f"{key}: {text}")
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    wall = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("load threads did not finish within 600 s")
    return LoadResult(
        wall_seconds=wall,
        latencies_ms=[x for part in latencies for x in part],
        statuses=statuses,
        error_samples=samples,
    )


# ------------------------------------------------------------------------------------------------------------
# The benchmark
# ------------------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.procs: dict[str, Proc] = {}
        self.web_url = f"http://127.0.0.1:{free_port()}"
        self.sim_url = f"http://127.0.0.1:{free_port()}"
        self.sim_auth = ("bench", secrets.token_hex(12))
        self.db_url = f"postgresql://postgres@127.0.0.1:5432/{BENCH_DB}"
        self.redis_url = (
            f"redis://127.0.0.1:6379/{args.redis_db}"
            if args.redis_db is not None
            else _bench_redis_from_env() or "redis://127.0.0.1:6379/12"
        )
        static_root = RESULTS_DIR / "static"
        static_root.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
        self.env = {
            **inherited,
            "WAVORA_ENV": "production",
            "DJANGO_SETTINGS_MODULE": "wavora.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}",
            "REDIS_URL": self.redis_url,
            "GOWA_CALLBACK_BASE_URL": self.web_url,
            "API_RATE_LIMIT_PER_MINUTE": "100000000",
            # The webhook phase's receiver listens on 127.0.0.1.
            "ALLOW_PRIVATE_URLS": "true",
            "STATIC_ROOT": str(static_root),
            "MEDIA_ROOT": str(RESULTS_DIR / "media"),
            "PYTHONUNBUFFERED": "1",
        }
        for item in args.env:
            name, _, value = item.partition("=")
            self.env[name] = value
        self.api_key = ""
        self.device_id = ""
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.results: dict[str, Any] = {}
        self.meter = PhaseMeter(
            {
                "web (uvicorn)": lambda: self._pid("web"),
                "celery worker": lambda: self._pid("worker"),
                "campaign worker": lambda: self._pid("campaign-worker"),
                "GOWA simulator": lambda: self._pid("simulator"),
            }
        )

    def _pid(self, name: str) -> int | None:
        proc = self.procs.get(name)
        return proc.pid if proc and proc.alive() else None

    def start(self, name: str, argv: list[str], **env: str) -> Proc:
        proc = Proc(name, argv, {**self.env, **env})
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            proc.stop()

    def stop_all(self) -> None:
        for name in list(self.procs)[::-1]:
            try:
                self.stop(name)
            except Exception as exc:  # keep stopping the others
                log(f"could not stop {name}: {exc}")

    # --- helpers -------------------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> dict[str, Any]:
        response = requests.request(
            method,
            self.web_url + path,
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        if response.status_code != expect:
            raise RuntimeError(
                f"{method} {path} → {response.status_code} (expected {expect}): {response.text[:500]}"
            )
        data = response.json()["data"]
        assert isinstance(data, dict)
        return data

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        # One connection, opened before any load: a server that exhausts max_connections must not
        # take the bench's own bookkeeping down with it.
        if self._conn is None:
            self._conn = psycopg.connect(self.db_url, autocommit=True)
        return self._conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def status_counts(self) -> dict[str, int]:
        rows = self.sql("SELECT status, count(*) FROM t_message WHERE direction = 'out' GROUP BY status")
        return {str(status): int(count) for status, count in rows}

    # --- phases --------------------------------------------------------------------------------------------
    def setup(self) -> None:
        started = time.perf_counter()
        assert BENCH_DB not in PROTECTED_DBS
        log(f"database {BENCH_DB}: drop and create; redis {self.redis_url}: flush; migrate")
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
        redis.Redis.from_url(self.redis_url).flushdb()
        manage(self.env, "migrate", "--noinput")
        self.sql("SELECT 1")

        settings = self.results["settings"]
        stock = self.args.sim_stock
        sim_argv = [sys.executable, *(["manage.py", "gowa_simulator"] if stock else ["-c", SIM_LAUNCHER])]
        sim_argv += [
            "--host",
            "127.0.0.1",
            "--port",
            self.sim_url.rsplit(":", 1)[1],
            "--basic-auth",
            ":".join(self.sim_auth),
            "--ack-delivered-after-ms=-1",
            "--ack-read-after-ms=-1",
        ]
        settings["simulator"] = "manage.py gowa_simulator (stock)" if stock else "simulator + TCP_NODELAY"
        log(f"GOWA simulator at {self.sim_url}: {settings['simulator']}, receipt webhooks disabled")
        sim = self.start("simulator", sim_argv)

        workers = self.args.web_workers
        db_pool = self.env.get("DB_POOL", "true (default)")
        settings["db_pool"] = db_pool
        settings["db_pool_max_size"] = self.env.get("DB_POOL_MAX_SIZE", "10 (default)")
        settings["db_conn_max_age"] = self.env.get("DB_CONN_MAX_AGE", "60 (default, used when DB_POOL=false)")
        log(f"uvicorn --workers {workers} at {self.web_url}; DB_POOL={db_pool}")
        web = self.start(
            "web",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "wavora.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                self.web_url.rsplit(":", 1)[1],
                "--workers",
                str(workers),
                "--no-access-log",
                "--log-level",
                "warning",
                "--lifespan",
                "off",
            ],
        )

        out = manage(
            self.env,
            "createtenant",
            "--name",
            "Bench",
            "--owner-email",
            "bench@example.com",
            f"--owner-password={secrets.token_urlsafe(16)}",
            "--json",
        )
        self.api_key = json.loads(out.strip().splitlines()[-1])["api_key"]
        manage(
            self.env,
            "addgowanode",
            "--name",
            "bench-sim",
            "--base-url",
            self.sim_url,
            "--basic-auth",
            ":".join(self.sim_auth),
            "--capacity",
            "100",
            "--json",
        )
        manage(
            self.env,
            "shell",
            "-c",
            "from billing.models import Plan; Plan.objects.filter(code='free').update(message_quota=0)",
        )
        wait_until(lambda: sim.up(self.sim_url + "/health"), timeout=30, what="simulator")
        wait_until(lambda: web.up(self.web_url + "/health"), timeout=60, what="web server")

        self.device_id = str(self.api("POST", "/api/v1/devices", {"name": "bench"}, expect=201)["id"])
        scan = requests.post(
            f"{self.sim_url}/_sim/devices/{self.device_id}/scan", json={"phone": "6281299990000"}, timeout=10
        )
        scan.raise_for_status()
        # What beat's device poll does: read the paired state from GOWA (reconnect is 409 for a device
        # that never had a session).
        manage(
            self.env,
            "shell",
            "-c",
            "from devices.models import Device; from devices.services import device_sync_from_gowa; "
            f"device_sync_from_gowa(device=Device.objects.get(pk='{self.device_id}'))",
        )
        device = self.api("GET", f"/api/v1/devices/{self.device_id}")
        if device.get("status") != "connected":
            raise RuntimeError(f"device did not connect after scan + reconnect: {device}")
        self.api("PATCH", f"/api/v1/devices/{self.device_id}", {"send_interval_ms": 0})
        detail = self.api("GET", f"/api/v1/devices/{self.device_id}")
        checks = {
            "status": detail["status"],
            "send_interval_ms": detail["settings"]["send_interval_ms"],
            "plan": detail["plan"],
        }
        if checks["send_interval_ms"] != 0 or (detail["plan"] or {}).get("message_quota") != 0:
            raise RuntimeError(f"limits were not lifted: {checks}")
        log(f"device {self.device_id} connected; pacing 0 ms, quota unlimited, API rate limit 100M/min")
        self.results["setup"] = {"seconds": round(time.perf_counter() - started, 1), "device": checks}

    def _api_session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {self.api_key}"})
        return session

    def accept_phase(self) -> None:
        n, concurrency, warmup = self.args.messages, self.args.concurrency, self.args.warmup
        device_url = f"{self.web_url}/api/v1/devices/{self.device_id}"
        log(f"warm-up: {warmup} GET /api/v1/devices/{{id}}")
        warm = run_load(
            total=warmup,
            concurrency=concurrency,
            make_session=self._api_session,
            send=lambda session, _: session.get(device_url, timeout=30),
        )
        if warm.statuses != {"200": warmup}:
            raise RuntimeError(f"warm-up failed: {warm.statuses} {warm.error_samples}")

        url = self.web_url + "/api/v1/messages/text"

        def send(session: requests.Session, index: int) -> requests.Response:
            body = {"device_id": self.device_id, "to": recipient(index), "text": f"Bench message {index}"}
            return session.post(url, json=body, timeout=30)

        log(f"API accept: {n} POST /api/v1/messages/text from {concurrency} threads, no Celery worker")
        phase: dict[str, Any] = {"concurrency": concurrency, "web_workers": self.args.web_workers}
        with self.meter.measure(phase):
            load = run_load(total=n, concurrency=concurrency, make_session=self._api_session, send=send)
        phase.update(load.summary(202))
        counts = self.status_counts()
        queued = int(redis.Redis.from_url(self.redis_url).llen("sends"))
        first, last = self.sql("SELECT min(created_at), max(created_at) FROM t_message")[0]
        phase["db_pending"] = counts.get("pending", 0)
        phase["redis_sends_queue_length"] = queued
        if first and last and last > first:
            span = (last - first).total_seconds()
            phase["db_accept_rate_per_second"] = round((phase["db_pending"] - 1) / span, 1)
        self.results["api_accept"] = phase
        if not phase["ok"]:
            raise RuntimeError(
                f"no message was accepted: {phase['statuses']}, e.g. "
                f"{load.error_samples[:1]}; see {LOG_DIR / 'web.log'}"
            )
        if phase["errors"]:
            log(f"WARNING: {phase['errors']} responses were not 202, e.g. {load.error_samples[:1]}")
        if phase["db_pending"] != phase["ok"] or queued != phase["ok"]:
            log(f"WARNING: {phase['ok']} accepted, but {counts} in the DB and {queued} tasks queued")

    def worker_phase(self) -> None:
        expected = self.results["api_accept"]["db_pending"]
        pool, concurrency = self.args.pool, self.args.worker_concurrency
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "wavora",
            "worker",
            "-Q",
            "sends,default",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "-n",
            f"bench-{os.getpid()}@%h",
        ]
        log(f"worker: celery --pool {pool} --concurrency {concurrency}; waiting for {expected} sends")
        phase: dict[str, Any] = {"pool": pool, "concurrency": concurrency, "queues": "sends,default"}
        spawned_at = datetime.now(UTC)
        counts: dict[str, int] = {}
        with self.meter.measure(phase):
            worker = self.start("worker", argv)
            started = time.perf_counter()
            deadline = started + self.args.send_timeout
            while time.perf_counter() < deadline:
                worker.check_alive()
                counts = self.status_counts()
                if counts.get("sent", 0) + counts.get("failed", 0) >= expected:
                    break
                time.sleep(0.2)
            wall = time.perf_counter() - started
        self.stop("worker")
        sent = counts.get("sent", 0)
        phase.update(
            statuses=counts, sent=sent, failed=counts.get("failed", 0), wall_seconds_incl_boot=round(wall, 2)
        )
        if sent < expected:
            log(f"WARNING: only {sent}/{expected} sent within {self.args.send_timeout} s: {counts}")
        first, last, distinct_ids = self.sql(
            "SELECT min(sent_at), max(sent_at), count(DISTINCT gowa_message_id) "
            "FROM t_message WHERE status = 'sent'"
        )[0]
        if sent > 1 and first and last and last > first:
            span = (last - first).total_seconds()
            phase["first_to_last_sent_seconds"] = round(span, 3)
            phase["per_second"] = round((sent - 1) / span, 1)
            phase["worker_boot_seconds"] = round((first - spawned_at).total_seconds(), 2)
        phase["distinct_gowa_message_ids"] = distinct_ids
        quantiles = self.sql(
            "SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP "
            "(ORDER BY extract(epoch FROM m.sent_at - h.at)) FROM t_message m "
            "JOIN t_message_status_history h ON h.message_id = m.id AND h.status = 'sending' "
            "WHERE m.status = 'sent'"
        )[0][0]
        if quantiles:
            values = (round(float(q) * 1000, 1) for q in quantiles)
            phase["claim_to_sent_ms"] = dict(zip(("p50", "p90", "p99"), values, strict=True))
        received = requests.get(f"{self.sim_url}/_sim/sent", params={"device_id": self.device_id}, timeout=60)
        phase["simulator_received"] = len(received.json().get("results") or [])
        self.results["worker_send"] = phase

    def baseline_phase(self) -> None:
        n = self.results["worker_send"]["sent"] or self.args.messages
        concurrency = self.args.worker_concurrency
        url = self.sim_url + "/send/message"

        def make_session() -> requests.Session:
            session = requests.Session()
            session.auth = self.sim_auth
            session.headers.update({"X-Device-Id": self.device_id, "Accept": "application/json"})
            return session

        def send(session: requests.Session, index: int) -> requests.Response:
            body = {"phone": recipient(index), "message": f"Bench message {index}{FREE_PLAN_FOOTER}"}
            return session.post(url, json=body, timeout=30)

        log(f"raw GOWA baseline: {n} POST /send/message straight to the simulator from {concurrency} threads")
        phase: dict[str, Any] = {"concurrency": concurrency}
        with self.meter.measure(phase):
            load = run_load(total=n, concurrency=concurrency, make_session=make_session, send=send)
        phase.update(load.summary(200))
        self.results["raw_gowa_baseline"] = phase

    def batch_phase(self) -> None:
        """Messages accepted per second through POST /messages/batch (1000 items a request)."""
        batches, size = self.args.batches, 1000
        url = self.web_url + "/api/v1/messages/batch"
        before = self.sql("SELECT count(*) FROM t_message")[0][0]

        def send(session: requests.Session, index: int) -> requests.Response:
            items = [
                {
                    "type": "text",
                    "device_id": self.device_id,
                    "to": recipient(index * size + i),
                    "text": f"Batch {i}",
                }
                for i in range(size)
            ]
            return session.post(url, json=items, timeout=120)

        log(f"batch accept: {batches} x POST /api/v1/messages/batch of {size} items from 2 threads")
        phase: dict[str, Any] = {"batches": batches, "items_per_batch": size, "concurrency": 2}
        with self.meter.measure(phase):
            load = run_load(total=batches, concurrency=2, make_session=self._api_session, send=send)
        phase.update(load.summary(202))
        accepted = self.sql("SELECT count(*) FROM t_message")[0][0] - before
        phase["messages_accepted"] = accepted
        phase["messages_per_second"] = round(accepted / load.wall_seconds, 1) if load.wall_seconds else None
        single = self.results["api_accept"].get("per_second")
        if single and phase["messages_per_second"]:
            phase["vs_single_send"] = round(phase["messages_per_second"] / single, 1)
        self.results["batch_accept"] = phase

    def gowa_ingest_phase(self) -> None:
        """Signed GOWA webhooks stored and acknowledged per second at /webhooks/gowa/<node>/."""
        n, concurrency = self.args.messages, self.args.concurrency
        node_id, secret = self.sql("SELECT id, webhook_secret FROM m_gowa_node LIMIT 1")[0]
        url = f"{self.web_url}/webhooks/gowa/{node_id}/"

        def send(session: requests.Session, index: int) -> requests.Response:
            body = json.dumps(
                {
                    "event": "message.ack",
                    "device_id": "6281299990000@s.whatsapp.net",
                    "session_id": self.device_id,
                    "timestamp": datetime.now(UTC).isoformat(),
                    "payload": {
                        "ids": [f"3EB0BENCH{index:012d}"],
                        "chat_id": "628120000@s.whatsapp.net",
                        "receipt_type": "delivered",
                        "receipt_type_description": "delivered",
                    },
                }
            ).encode()
            signature = "sha256=" + hmac.new(str(secret).encode(), body, hashlib.sha256).hexdigest()
            return session.post(
                url,
                data=body,
                timeout=30,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
            )

        log(f"GOWA webhook ingestion: {n} signed message.ack POSTs from {concurrency} threads")
        phase: dict[str, Any] = {"concurrency": concurrency}
        with self.meter.measure(phase):
            load = run_load(total=n, concurrency=concurrency, make_session=requests.Session, send=send)
        phase.update(load.summary(200))
        phase["stored"] = self.sql("SELECT count(*) FROM t_gowa_event WHERE event = 'message.ack'")[0][0]
        self.results["gowa_webhook_ingest"] = phase

    def webhook_delivery_phase(self) -> None:
        """Tenant webhook deliveries per second from one worker to a local receiver answering 204."""
        n = self.args.events
        received = [0]
        lock = threading.Lock()

        class Receiver(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    received[0] += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            self.api(
                "POST",
                "/api/v1/webhooks",
                {"url": f"http://127.0.0.1:{server.server_address[1]}/hook"},
                expect=201,
            )
            log(f"tenant webhooks: emitting {n} events, then one worker (-Q webhooks) delivers them")
            manage(
                self.env,
                "shell",
                "-c",
                "from django.db import transaction\n"
                "from tenants.models import Tenant\n"
                "from webhooks.events import event_emit\n"
                "tenant = Tenant.objects.get(name='Bench')\n"
                "with transaction.atomic():\n"
                f"    for i in range({n}):\n"
                "        event_emit(tenant_id=tenant.pk, type='message.in', data={'text': f'bench {i}'})\n",
                timeout=300,
            )
            phase: dict[str, Any] = {
                "events": n,
                "pool": "threads",
                "concurrency": self.args.worker_concurrency,
            }
            argv = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "wavora",
                "worker",
                "-Q",
                "webhooks",
                "--pool",
                "threads",
                "--concurrency",
                str(self.args.worker_concurrency),
                "--loglevel",
                "INFO",
                "-n",
                f"bench-hooks-{os.getpid()}@%h",
            ]
            with self.meter.measure(phase):
                worker = self.start("worker", argv)
                deadline = time.perf_counter() + self.args.send_timeout
                done = 0
                while time.perf_counter() < deadline:
                    worker.check_alive()
                    done = self.sql("SELECT count(*) FROM t_webhook_delivery WHERE status = 'succeeded'")[0][
                        0
                    ]
                    if done >= n:
                        break
                    time.sleep(0.2)
            self.stop("worker")
        finally:
            server.shutdown()
        first, last = self.sql("SELECT min(delivered_at), max(delivered_at) FROM t_webhook_delivery")[0]
        phase.update(succeeded=done, receiver_saw=received[0])
        if done > 1 and first and last and last > first:
            phase["per_second"] = round((done - 1) / (last - first).total_seconds(), 1)
        self.results["webhook_delivery"] = phase

    def environment(self) -> dict[str, Any]:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        cpu_model = models[0] if models else ""
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        with psycopg.connect(PG_ADMIN_URL) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        redis_info = redis.Redis.from_url(self.redis_url).info("server")

        def git(*args: str) -> str:
            try:
                return subprocess.run(
                    ["git", *args], cwd=BASE_DIR, capture_output=True, text=True, check=False, timeout=10
                ).stdout.strip()
            except OSError:
                return ""

        return {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model,
            "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(),
            "postgresql": str(row[0]).split()[0] if row else "?",
            "redis": redis_info.get("redis_version"),
            "git_commit": git("rev-parse", "--short", "HEAD")
            + ("+dirty" if git("status", "--porcelain") else ""),
        }

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.results = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "messages": self.args.messages,
            "settings": {
                "WAVORA_ENV": "production",
                "DEBUG": False,
                "database": BENCH_DB,
                "redis": self.redis_url,
                "simulator_receipts": "disabled",
                "send_interval_ms": 0,
                "message_quota": 0,
                "extra_env": self.args.env,
            },
        }
        try:
            self.setup()
            self.results["environment"] = self.environment()
            if self.args.only == "all":
                self.accept_phase()
                self.worker_phase()
                self.baseline_phase()
                self.batch_phase()
                self.gowa_ingest_phase()
                self.webhook_delivery_phase()
            campaign_phase(self)
        finally:
            self.stop_all()
            if self._conn is not None:
                self._conn.close()
            self.meter.close()
            if not self.args.keep:
                cleanup(self.redis_url)
        worker, raw = self.results.get("worker_send", {}), self.results.get("raw_gowa_baseline", {})
        if worker.get("per_second") and raw.get("per_second"):
            self.results["comparison"] = {
                "worker_vs_raw_ratio": round(worker["per_second"] / raw["per_second"], 3),
                "overhead_ms_per_message": round(1000 / worker["per_second"] - 1000 / raw["per_second"], 2),
            }
        self.results["total_seconds"] = round(time.perf_counter() - started, 1)
        return self.results


# ------------------------------------------------------------------------------------------------------------
# Campaigns: a 100,000-row CSV previewed and imported through the API, then run by one worker
# ------------------------------------------------------------------------------------------------------------
def tree_pids(root: int) -> set[int]:
    table = proc_table()
    members = {root} if root in table else set()
    while True:
        new = {pid for pid, stat in table.items() if stat.ppid in members and pid not in members}
        if not new:
            return members
        members |= new


def proc_kb(pid: int, key: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident since start) of one process, in kB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def web_workers_memory(bench: Bench) -> dict[int, tuple[int, int]]:
    root = bench._pid("web")
    pids = tree_pids(root) - {root} if root else set()
    return {pid: (proc_kb(pid, "VmRSS"), proc_kb(pid, "VmHWM")) for pid in pids}


def write_campaign_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("phone,name,companyName,kota\n")
        for i in range(1, rows + 1):
            out.write(f"0812{i:08d},Pelanggan {i},Toko {i % 500},Kota {i % 34}\n")


def timed_upload(bench: Bench, path: str, fields: dict[str, str], csv_path: Path) -> dict[str, Any]:
    """One multipart upload; wall time and the serving web worker's resident memory before and at peak."""
    before = web_workers_memory(bench)
    started = time.perf_counter()
    with csv_path.open("rb") as handle:
        response = requests.post(
            bench.web_url + path,
            data=fields,
            files={"file": (csv_path.name, handle, "text/csv")},
            headers={"Authorization": f"Bearer {bench.api_key}"},
            timeout=900,
        )
    seconds = time.perf_counter() - started
    after = web_workers_memory(bench)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"POST {path} → {response.status_code}: {response.text[:500]}")
    # The worker that served the request is the one whose peak grew most.
    pid = max(after, key=lambda p: after[p][1] - before.get(p, (0, 0))[1])
    rss_before, hwm_before = before.get(pid, (0, 0))
    return {
        "seconds": round(seconds, 2),
        "rows_per_second": None,
        "web_worker_rss_before_mb": round(rss_before / 1024, 1),
        "web_worker_peak_rss_mb": round(after[pid][1] / 1024, 1),
        "web_worker_peak_grew_mb": round((after[pid][1] - hwm_before) / 1024, 1),
        "response": response.json(),
    }


SLICE_LINE = "slice: "


def slice_costs(log_path: Path) -> list[tuple[int, float, float]]:
    """(recipients, wall ms, CPU ms of the tick's thread) per slice, from the worker's log."""
    costs = []
    for line in log_path.read_text(errors="replace").splitlines():
        if SLICE_LINE in line and "handed over in" in line:
            tail = line.split(SLICE_LINE, 1)[1].replace("(", " ").split()
            costs.append((int(tail[0]), float(tail[5]), float(tail[7])))
    return costs


def campaign_phase(bench: Bench) -> None:
    rows, run_seconds = bench.args.campaign_rows, bench.args.campaign_run_seconds
    # The batch phase leaves its messages queued, unsent (it measures accepting only); the campaign
    # would wait behind them in the send queue, so they are dropped first.
    dropped = bench.sql(
        "WITH gone AS (UPDATE t_message SET status = 'cancelled' WHERE status = 'pending' RETURNING 1) "
        "SELECT count(*) FROM gone"
    )[0][0]
    redis.Redis.from_url(bench.redis_url).delete("sends")
    if dropped:
        log(f"campaign: dropped {dropped} unsent messages of the earlier phases from the send queue")
    csv_path = RESULTS_DIR / f"campaign-{rows}.csv"
    write_campaign_csv(csv_path, rows)
    phase: dict[str, Any] = {
        "rows": rows,
        "csv_mb": round(csv_path.stat().st_size / 1024 / 1024, 2),
        "earlier_unsent_messages_dropped": dropped,
    }
    log(f"campaign: preview of a {rows}-row CSV ({phase['csv_mb']} MB): POST /api/v1/campaigns/preview-csv")
    preview = timed_upload(bench, "/api/v1/campaigns/preview-csv", {}, csv_path)
    data = preview.pop("response")["data"]
    preview["rows_per_second"] = round(rows / preview["seconds"])
    preview["valid"], preview["invalid"] = data["valid"], data["invalid"]
    phase["preview"] = preview

    log("campaign: import through POST /api/v1/campaigns (multipart, the same file)")
    fields = {
        "name": f"Bench {rows}",
        "device_id": bench.device_id,
        "message": json.dumps({"type": "text", "content": "Halo {{Name}} dari {{Company}} di {{Kota}}"}),
        "settings": json.dumps({"delay_between_messages": 0, "auto_pause_window": 0}),
    }
    created = timed_upload(bench, "/api/v1/campaigns", fields, csv_path)
    campaign = created.pop("response")["data"]
    created["rows_per_second"] = round(rows / created["seconds"])
    created["recipients"] = campaign["recipient_count"]
    phase["import"] = created
    campaign_id = campaign["id"]

    latencies = []
    for _ in range(5):
        started = time.perf_counter()
        bench.api("GET", f"/api/v1/campaigns/{campaign_id}")
        latencies.append((time.perf_counter() - started) * 1000)
    phase["get_with_statistics_ms_median"] = round(sorted(latencies)[2], 1)

    def worker_argv(queues: str, concurrency: int, name: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "wavora",
            "worker",
            "-Q",
            queues,
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "-n",
            f"{name}-{os.getpid()}@%h",
        ]

    def tree_rss_mb(proc: Proc) -> float:
        return round(sum(proc_kb(pid, "VmRSS") for pid in tree_pids(proc.pid)) / 1024, 1)

    log(
        f"campaign: a scheduler worker (-Q campaigns) and a send worker (-Q sends) run it for "
        f"{run_seconds:.0f} s, then a pause"
    )
    progress_sql = (
        "SELECT count(*) FILTER (WHERE r.status <> 'pending'), "
        "count(*) FILTER (WHERE m.status IN ('sent', 'delivered', 'read')) "
        "FROM t_campaign_recipient r LEFT JOIN t_message m ON m.id = r.message_id WHERE r.campaign_id = %s"
    )
    samples: list[dict[str, Any]] = []
    run: dict[str, Any] = {
        "scheduler_worker": "-Q campaigns --pool threads --concurrency 2",
        # Only `sends`: the ingestion phase leaves GOWA events queued on `default` for no worker.
        "send_worker": f"-Q sends --pool threads --concurrency {bench.args.worker_concurrency}",
    }
    with bench.meter.measure(run):
        sender = bench.start("worker", worker_argv("sends", bench.args.worker_concurrency, "bench-sends"))
        worker = bench.start("campaign-worker", worker_argv("campaigns", 2, "bench-campaigns"))
        for proc in (sender, worker):
            log_path = proc.log_path
            wait_until(lambda: "ready" in log_path.read_text(errors="replace"), timeout=60, what=proc.name)  # noqa: B023
        bench.api("POST", f"/api/v1/campaigns/{campaign_id}/send")
        started = time.perf_counter()
        while time.perf_counter() - started < run_seconds:
            worker.check_alive()
            sender.check_alive()
            handed, sent = bench.sql(progress_sql, (campaign_id,))[0]
            samples.append(
                {
                    "t": round(time.perf_counter() - started, 1),
                    "handed_over": handed,
                    "sent": sent,
                    "scheduler_rss_mb": tree_rss_mb(worker),
                    "sender_rss_mb": tree_rss_mb(sender),
                }
            )
            time.sleep(1.0)
        paused_at = time.perf_counter()
        bench.api("POST", f"/api/v1/campaigns/{campaign_id}/pause")
        # Pause takes effect within one pacing interval: the count stops growing at once.
        time.sleep(2.0)
        handed_at_pause = bench.sql(progress_sql, (campaign_id,))[0][0]
        time.sleep(3.0)
        handed_later = bench.sql(progress_sql, (campaign_id,))[0][0]
        pause_check_seconds = round(time.perf_counter() - paused_at, 1)
    bench.stop("campaign-worker")
    bench.stop("worker")
    costs = slice_costs(worker.log_path)
    per_slice = sorted(ms for _, ms, _ in costs)
    per_slice_cpu = sorted(cpu for _, _, cpu in costs)
    handed, sent = bench.sql(progress_sql, (campaign_id,))[0]
    run.update(
        seconds=run_seconds,
        handed_over=handed,
        sent=sent,
        sent_per_second=round(sent / run_seconds, 1),
        slices=len(costs),
        recipients_per_slice=round(sum(n for n, _, _ in costs) / len(costs), 1) if costs else None,
        slice_cpu_ms={
            "p50": round(percentile(per_slice_cpu, 50), 1),
            "p90": round(percentile(per_slice_cpu, 90), 1),
            "max": round(per_slice_cpu[-1], 1) if per_slice_cpu else None,
        },
        slice_ms={
            "p50": round(percentile(per_slice, 50), 1),
            "p90": round(percentile(per_slice, 90), 1),
            "p99": round(percentile(per_slice, 99), 1),
            "max": round(per_slice[-1], 1) if per_slice else None,
        },
        handed_over_after_pause={"at_2s": handed_at_pause, f"at_{pause_check_seconds}s": handed_later},
    )
    warm = [s for s in samples if s["t"] >= 5] or samples
    for key in ("scheduler_rss_mb", "sender_rss_mb") if warm else ():
        rss_values = [s[key] for s in warm]
        run[key] = {
            "at_5s": warm[0][key],
            "handed_over_at_5s": warm[0]["handed_over"],
            "at_end": warm[-1][key],
            "handed_over_at_end": warm[-1]["handed_over"],
            "min": min(rss_values),
            "max": max(rss_values),
        }
    run["samples_every_10s"] = samples[::10]
    phase["run"] = run
    bench.results["campaign"] = phase


def render_campaign(results: dict[str, Any]) -> str:
    phase = results.get("campaign")
    if not phase:
        return ""
    pre, imp, run = phase["preview"], phase["import"], phase["run"]
    sl = run["slice_ms"]
    lines = ["", f"Campaign: a {phase['rows']}-row CSV ({phase['csv_mb']} MB), one device, delay 0 ms", ""]

    def row(label: str, value: Any) -> None:
        lines.append(f"{label:<56} {value!s:>28}")

    row("preview: seconds (rows/s)", f"{pre['seconds']} ({pre['rows_per_second']})")
    row(
        "preview: web worker RSS before → peak (MB)",
        f"{pre['web_worker_rss_before_mb']} → {pre['web_worker_peak_rss_mb']}",
    )
    row("import: seconds (rows/s)", f"{imp['seconds']} ({imp['rows_per_second']})")
    row(
        "import: web worker RSS before → peak (MB)",
        f"{imp['web_worker_rss_before_mb']} → {imp['web_worker_peak_rss_mb']}",
    )
    row("GET campaign with statistics, median (ms)", phase["get_with_statistics_ms_median"])
    row(
        f"run {run['seconds']:.0f} s: handed over / sent (sent/s)",
        f"{run['handed_over']} / {run['sent']} ({run['sent_per_second']})",
    )
    row(
        f"scheduler slice p50 / p90 / max (ms), {run['recipients_per_slice']}/slice",
        f"{sl['p50']} / {sl['p90']} / {sl['max']}",
    )
    cpu = run["slice_cpu_ms"]
    row("scheduler slice CPU p50 / p90 / max (ms)", f"{cpu['p50']} / {cpu['p90']} / {cpu['max']}")
    for key, label in (("scheduler_rss_mb", "scheduler worker"), ("sender_rss_mb", "send worker")):
        rss = run.get(key) or {}
        row(
            f"{label} RSS at 5 s → end (MB), min–max",
            f"{rss.get('at_5s')} → {rss.get('at_end')}, {rss.get('min')}–{rss.get('max')}",
        )
    rss = run.get("scheduler_rss_mb") or {}
    row(
        "  … while handed-over recipients went",
        f"{rss.get('handed_over_at_5s')} → {rss.get('handed_over_at_end')}",
    )
    row(
        "handed over 2 s / 5 s after the pause",
        " / ".join(str(v) for v in run["handed_over_after_pause"].values()),
    )
    lines.append("")
    return "\n".join(lines)


def cleanup(redis_url: str) -> None:
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        redis.Redis.from_url(redis_url).flushdb()
    except Exception as exc:
        log(f"cleanup failed: {exc}")


# ------------------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------------------
def render(results: dict[str, Any]) -> str:
    if "api_accept" not in results:  # --only campaigns
        return render_campaign(results)
    return render_messaging(results) + render_campaign(results)


def render_messaging(results: dict[str, Any]) -> str:
    env, settings = results.get("environment", {}), results["settings"]
    acc, wrk = results["api_accept"], results["worker_send"]
    raw, cmp_ = results["raw_gowa_baseline"], results.get("comparison", {})
    lines = [
        "",
        f"Wavora bench — {env.get('cpus')} CPUs ({env.get('cpu_model')}), {env.get('memory_gb')} GB RAM, "
        f"Python {env.get('python')}, PostgreSQL {env.get('postgresql')}, Redis {env.get('redis')}, "
        f"commit {env.get('git_commit')}",
        f"N = {results['messages']} text messages to 1 device; WAVORA_ENV=production; "
        f"simulator: {settings.get('simulator')}, receipts disabled; "
        f"DB_POOL={settings.get('db_pool')}",
        "",
        f"{'measure':<56} {'value':>20}",
        f"{'-' * 56} {'-' * 20}",
    ]

    def row(label: str, value: Any) -> None:
        lines.append(f"{label:<56} {value!s:>20}")

    lat, claim, raw_lat = acc["latency_ms"], wrk.get("claim_to_sent_ms") or {}, raw["latency_ms"]
    row(
        f"API accepted/s (uvicorn x{acc['web_workers']}, {acc['concurrency']} client threads)",
        acc["per_second"],
    )
    row("API latency p50 / p90 / p99 (ms)", f"{lat['p50']} / {lat['p90']} / {lat['p99']}")
    row("API responses other than 202", f"{acc['errors']} of {acc['requests']}")
    row(
        "tasks queued in Redis / messages pending in DB",
        f"{acc['redis_sends_queue_length']} / {acc['db_pending']}",
    )
    row(
        f"worker sends/s (celery --pool {wrk['pool']} --concurrency {wrk['concurrency']})",
        wrk.get("per_second"),
    )
    row(
        "worker: sent / failed / received by simulator",
        f"{wrk['sent']} / {wrk['failed']} / {wrk.get('simulator_received')}",
    )
    row("worker: claim → sent per message p50 / p99 (ms)", f"{claim.get('p50')} / {claim.get('p99')}")
    row("worker: start to first send (s)", wrk.get("worker_boot_seconds"))
    row(f"raw GOWA sends/s (plain loop, {raw['concurrency']} threads)", raw["per_second"])
    row("raw GOWA latency p50 / p99 (ms); errors", f"{raw_lat['p50']} / {raw_lat['p99']}; {raw['errors']}")
    row("worker ÷ raw GOWA", cmp_.get("worker_vs_raw_ratio"))
    row("Wavora cost per send vs raw (ms of wall time)", cmp_.get("overhead_ms_per_message"))
    batch = results.get("batch_accept") or {}
    row(
        f"batch accept, messages/s ({batch.get('batches')} x {batch.get('items_per_batch')} items)",
        f"{batch.get('messages_per_second')} (x{batch.get('vs_single_send')} the single-send rate)",
    )
    ingest = results.get("gowa_webhook_ingest") or {}
    ingest_lat = ingest.get("latency_ms") or {}
    row(
        f"GOWA webhooks stored + acknowledged/s ({ingest.get('concurrency')} threads)",
        f"{ingest.get('per_second')} (p50 {ingest_lat.get('p50')} ms, p99 {ingest_lat.get('p99')} ms)",
    )
    hooks = results.get("webhook_delivery") or {}
    row(
        f"tenant webhook deliveries/s (1 worker, {hooks.get('concurrency')} threads)",
        f"{hooks.get('per_second')} ({hooks.get('succeeded')} of {hooks.get('events')} succeeded)",
    )

    phases = [("API accept", acc, acc["ok"]), ("worker send", wrk, wrk["sent"]), ("raw GOWA", raw, raw["ok"])]
    lines += ["", "CPU seconds per phase, (ms of CPU per message); 2 CPUs give 2 CPU-seconds per second", ""]
    lines.append(f"{'component':<18}" + "".join(f"{name:>24}" for name, _, _ in phases))
    for comp in acc["cpu_seconds"]:
        cells = []
        for _, phase, count in phases:
            secs = phase["cpu_seconds"].get(comp, 0.0)
            cells.append(f"{secs:.2f} s ({1000 * secs / max(count, 1):.2f} ms)")
        lines.append(f"{comp:<18}" + "".join(f"{cell:>24}" for cell in cells))
    lines.append(f"{'machine busy':<18}" + "".join(f"{p['machine_busy_pct']!s:>22} %" for _, p, _ in phases))
    peaks = [p["peak_db_sessions"] for _, p, _ in phases]
    lines.append(f"{'peak DB sessions':<18}" + "".join(f"{peak!s:>24}" for peak in peaks))
    walls = [p.get("wall_seconds") or p.get("wall_seconds_incl_boot") for _, p, _ in phases]
    lines.append(f"{'phase wall time':<18}" + "".join(f"{w!s:>22} s" for w in walls))
    lines += [
        "",
        f"total {results['total_seconds']} s; JSON in {results.get('output')}, "
        f"logs in {LOG_DIR.relative_to(BASE_DIR)}/",
        "",
    ]
    return "\n".join(lines)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description="Wavora benchmark; see docs/PERFORMANCE.md")
    parser.add_argument("--messages", "-n", type=int, default=3000, help="messages to accept and send")
    parser.add_argument("--concurrency", type=int, default=16, help="API client threads (16)")
    parser.add_argument("--warmup", type=int, default=64, help="warm-up GETs before the accept phase (64)")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn worker processes (2)")
    parser.add_argument("--pool", choices=["threads", "prefork"], default="threads", help="Celery pool")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=8,
        help="Celery concurrency, also the raw baseline's threads (8)",
    )
    parser.add_argument("--send-timeout", type=float, default=180, help="max seconds to wait for the sends")
    parser.add_argument("--batches", type=int, default=10, help="batch requests of 1000 items (10)")
    parser.add_argument("--events", type=int, default=2000, help="events for the tenant webhook phase (2000)")
    parser.add_argument(
        "--sim-stock",
        action="store_true",
        help="run `manage.py gowa_simulator` unchanged (without TCP_NODELAY)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for every process (repeatable)",
    )
    parser.add_argument(
        "--redis-db",
        type=int,
        default=None,
        help="Redis db number only the bench uses (12, or REDIS_URL's db when it is not 0)",
    )
    parser.add_argument("--keep", action="store_true", help=f"keep {BENCH_DB} and the Redis db afterwards")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument(
        "--only",
        choices=["all", "campaigns"],
        default="all",
        help="campaigns: setup and the campaign section only",
    )
    parser.add_argument(
        "--campaign-rows", type=int, default=100_000, help="rows of the campaign CSV (100000)"
    )
    parser.add_argument(
        "--campaign-run-seconds",
        type=float,
        default=60,
        help="how long the campaign runs before a pause (60)",
    )
    args = parser.parse_args()
    if args.messages < 2 or args.concurrency < 1 or args.worker_concurrency < 1 or args.warmup < 0:
        parser.error("need --messages >= 2, positive concurrencies and --warmup >= 0")
    if os.environ.get("WAVORA_ENV", "production") != "production":
        parser.error("the bench runs under production settings; set WAVORA_ENV=production or unset it")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)  # unwinds like Ctrl-C, so every child is stopped
    bench = Bench(args)
    try:
        results = bench.run()
    except KeyboardInterrupt:
        log("interrupted; everything the bench started has been stopped")
        return 130
    except Exception as exc:
        log(f"FAILED: {exc}")
        log(f"process logs: {LOG_DIR}")
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    results["output"] = str(args.output)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(render(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
