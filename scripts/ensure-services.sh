#!/usr/bin/env bash
# Start the local PostgreSQL and Redis that `make test` and `make bench` use, if they are down.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "$2 did not come up on 127.0.0.1:$1" >&2; return 1
}

if ! port_open 5432; then
  echo "Starting PostgreSQL…"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  else
    echo "PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is not installed." >&2; exit 1
  fi
  wait_port 5432 PostgreSQL
fi

if ! port_open 6379; then
  echo "Starting Redis…"
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  else
    echo "Redis is not running on 127.0.0.1:6379 and redis-server is not installed." >&2; exit 1
  fi
  wait_port 6379 Redis
fi
