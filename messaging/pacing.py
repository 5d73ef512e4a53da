"""Per-device send pacing in Redis: at most one send per ``send_interval_ms`` (plus jitter) per device.

Careless blasting gets numbers banned; the interval is enforced across every worker process.
"""

from __future__ import annotations

import random
import time
import uuid

from wavora.redis import client

# Atomically: if the device's next allowed time has passed, take the slot and push it forward.
_RESERVE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local next_at = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_at <= now then
  redis.call('SET', KEYS[1], now + interval, 'PX', interval + 60000)
  return 0
end
return next_at - now
"""


def reserve_send_slot(device_id: uuid.UUID, interval_ms: int) -> float:
    """0 when this caller may send now; otherwise the seconds to wait before asking again."""
    if interval_ms <= 0:
        return 0.0
    jittered = int(interval_ms * random.uniform(1.0, 1.3))
    now_ms = int(time.time() * 1000)
    wait_ms = int(client().eval(_RESERVE, 1, f"wv:pace:{device_id}", now_ms, jittered))
    return wait_ms / 1000.0


def block_device(device_id: uuid.UUID, seconds: int) -> None:
    """After WhatsApp's reach-out timelock nobody sends from this device until it lifts."""
    until_ms = int((time.time() + seconds) * 1000)
    client().set(f"wv:pace:{device_id}", until_ms, px=seconds * 1000 + 60000)
