"""SPEC §7 for the campaign operations: fuzzed against a real campaign of Alice's (the general fuzz
test only reaches them with made-up ids, which stop at the 404), never a 5xx."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
from schemathesis.checks import not_a_server_error

from campaigns import recipients as rlib
from campaigns import services
from devices.models import Device
from tenants.principal import ALL_SCOPES, Principal
from tests.conftest import Actor
from tests.fuzz.test_api_fuzz import objects, schema  # noqa: F401 - `objects` is a fixture

campaign_operations = schema.include(path_regex="^/api/v1/campaigns")


@pytest.fixture
def campaign_id(objects: dict[str, str], alice: Actor) -> str:  # noqa: F811 - the imported fixture
    campaign, _ = services.campaign_create(
        principal=Principal(tenant=alice.tenant, scopes=ALL_SCOPES),
        name="Fuzz",
        device=Device.objects.get(pk=objects["device_id"]),
        message={"type": "text", "content": "Halo {{Name}}"},
        recipients=rlib.from_json([{"phone": "081234567890", "name": "Budi"}]),
        options=services.CampaignSettings(delay_ms=1000),
    )
    return str(campaign.pk)


@campaign_operations.parametrize()
@hypothesis.settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_campaign_operation_answers_with_a_server_error(
    case: Any,
    objects: dict[str, str],  # noqa: F811
    campaign_id: str,
) -> None:
    if case.path_parameters and "campaign_id" in case.path_parameters:
        case.path_parameters["campaign_id"] = campaign_id
    if isinstance(case.body, dict) and "device_id" in case.body:
        case.body["device_id"] = objects["device_id"]
    response = case.call(headers={"Authorization": objects["authorization"]})
    case.validate_response(response, checks=[not_a_server_error])


def test_the_campaign_operations_are_in_the_live_schema() -> None:
    results = campaign_operations.get_all_operations()
    operations = {(op.method.upper(), op.path) for op in (r.ok() for r in results)}  # type: ignore[union-attr]
    assert ("POST", "/api/v1/campaigns/{campaign_id}/send") in operations
    assert ("POST", "/api/v1/campaigns/preview-csv") in operations
    assert len(operations) == 15
