"""The WebSocket's channel layer must survive an idle receive longer than redis-py's read timeout."""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer


def test_an_idle_channel_layer_receive_outlives_redis_pys_default_read_timeout() -> None:
    # redis-py 8 defaults socket_timeout to 5 s; channels_redis blocks 5 s per BZPOPMIN, so an idle
    # WebSocket consumer died with "Timeout reading from" after about 5 s.
    async def scenario() -> dict[str, str]:
        layer = get_channel_layer()
        assert layer is not None
        channel = await layer.new_channel()

        async def send_later() -> None:
            await asyncio.sleep(7)
            await layer.send(channel, {"type": "late.event", "text": "still here"})

        sender = asyncio.create_task(send_later())
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout=20)
        finally:
            await sender
            await layer.flush()

    message = asyncio.run(scenario())

    assert message == {"type": "late.event", "text": "still here"}
