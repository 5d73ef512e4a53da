"""Pacing holds across worker processes (Redis, not process memory), per device."""

from __future__ import annotations

import pytest
import requests

from messaging.models import Message

from .conftest import Stack, wait_until
from .test_text_send_end_to_end import _connected_device, _create_tenant_and_node

pytestmark = pytest.mark.e2e


def test_one_second_pacing_holds_across_two_workers_and_does_not_slow_another_device(stack: Stack) -> None:
    api_key, headers = _create_tenant_and_node(stack)
    slow = _connected_device(stack, api_key, headers)
    fast = _connected_device(stack, api_key, headers)
    api = f"{stack.web_url}/api/v1"
    assert (
        requests.patch(
            f"{api}/devices/{slow}", json={"send_interval_ms": 1000}, headers=headers, timeout=30
        ).status_code
        == 200
    )
    assert (
        requests.patch(
            f"{api}/devices/{fast}", json={"send_interval_ms": 0}, headers=headers, timeout=30
        ).status_code
        == 200
    )
    stack.start_worker("worker-2")
    try:
        slow_ids = [
            requests.post(
                f"{api}/messages/text",
                json={"device_id": slow, "to": f"62812000000{i}", "text": "x"},
                headers=headers,
                timeout=30,
            ).json()["message_id"]
            for i in range(5)
        ]
        fast_id = requests.post(
            f"{api}/messages/text",
            json={"device_id": fast, "to": "6281200000099", "text": "y"},
            headers=headers,
            timeout=30,
        ).json()["message_id"]

        wait_until(
            lambda: Message.objects.filter(pk__in=slow_ids, sent_at__isnull=False).count() == 5,
            timeout=40,
            what="the paced messages to be sent",
        )
    finally:
        stack.kill("worker-2")
    sent_times = sorted(
        t for t in Message.objects.filter(pk__in=slow_ids).values_list("sent_at", flat=True) if t
    )
    assert (sent_times[-1] - sent_times[0]).total_seconds() >= 4.0
    fast_message = Message.objects.get(pk=fast_id)
    assert fast_message.sent_at is not None
    assert (fast_message.sent_at - fast_message.created_at).total_seconds() < 3.0
