"""A batch is accepted in one request: valid items queued in bulk, invalid ones reported by index."""

from __future__ import annotations

from typing import Any

import pytest

from messaging.models import Message, SendJob
from tests.api.helpers import assert_error
from tests.conftest import Actor


@pytest.fixture
def device(alice: Actor, make_device: Any) -> Any:
    return make_device(alice, connected=True)


def test_a_1000_item_mixed_batch_with_some_invalid_items(
    alice: Actor, device: Any, django_assert_max_num_queries: Any, settings: Any
) -> None:
    from billing.models import Plan

    Plan.objects.filter(code="free").update(message_quota=0)
    items: list[dict[str, Any]] = []
    for i in range(1000):
        if i % 100 == 7:
            items.append({"type": "text", "device_id": str(device.pk), "to": "123", "text": "bad phone"})
        elif i % 100 == 8:
            items.append(
                {
                    "type": "poll",
                    "device_id": str(device.pk),
                    "to": "6281200000001",
                    "question": "Q",
                    "options": ["A", "A"],
                }
            )
        elif i % 2:
            items.append(
                {
                    "recipient_type": "individual",
                    "type": "text",
                    "to": f"628120000{i:04d}",
                    "text": {"body": f"Halo {i}"},
                }
            )
        else:
            items.append(
                {"type": "location", "to": f"628120000{i:04d}", "latitude": -6.2, "longitude": 106.8}
            )

    with django_assert_max_num_queries(60):
        response = alice.api.post(f"/api/v1/messages/batch?device_id={device.pk}", items, format="json")

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    assert data["accepted"] == 980 and data["rejected"] == 20
    assert {e["code"] for e in data["errors"]} == {"INVALID_PHONE", "VALIDATION_ERROR"}
    assert [e["index"] for e in data["errors"]][:2] == [7, 8]
    assert Message.objects.filter(job_id=data["job_id"]).count() == 980
    job = alice.api.get(f"/api/v1/messages/jobs/{data['job_id']}").json()["data"]
    assert job["total"] == 980 and job["counts"]["pending"] == 980


def test_seed_document_items_map_to_file_sends(alice: Actor, device: Any) -> None:
    items = [
        {
            "type": "document",
            "to": "6281200000001",
            "document": {"id": "5f0c6a1e-0000-4000-8000-000000000000", "mimetype": "application/pdf"},
        }
    ]

    response = alice.api.post(
        "/api/v1/messages/batch", {"device_id": str(device.pk), "messages": items}, format="json"
    )

    assert_error(response, 400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"]["items"][0]["code"] == "NOT_FOUND"


def test_more_than_1000_items_are_refused(alice: Actor, device: Any) -> None:
    items = [{"type": "text", "to": "6281200000001", "text": "x"}] * 1001

    response = alice.api.post(f"/api/v1/messages/batch?device_id={device.pk}", items, format="json")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert not SendJob.objects.exists()


def test_charlie_cannot_batch_through_alices_device(alice: Actor, charlie: Actor, device: Any) -> None:
    items = [{"type": "text", "to": "6281200000001", "text": "x"}]

    response = charlie.api.post(f"/api/v1/messages/batch?device_id={device.pk}", items, format="json")

    assert_error(response, 400, "VALIDATION_ERROR")
    assert response.json()["error"]["details"]["items"][0]["code"] == "DEVICE_NOT_FOUND"
