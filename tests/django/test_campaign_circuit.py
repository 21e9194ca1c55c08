"""Campaigns and the circuit breaker: while Meta is down, a campaign sends at most two
batches (the failures that open the account's circuit), then only one probe per cool-down; when Meta is
back, every recipient is sent exactly once."""

from __future__ import annotations

import pytest
from test_campaigns import approved_template, create, make_contacts  # noqa: F401  (fixtures)
from test_outbound_circuit import COOL_DOWN, clock, meta, transitions  # noqa: F401  (fixtures)

from wacloud.circuit import CircuitState
from wacloud_django.automation.services.campaign_sending import run_campaign
from wacloud_django.models import Campaign, CampaignRecipient
from wacloud_django.services import circuit

pytestmark = pytest.mark.django_db

BATCH = 10
AUDIENCE = 40


@pytest.fixture
def small_batches(meta, settings):  # noqa: F811  (the imported fixture)
    settings.WACLOUD = {
        **settings.WACLOUD,
        "SEND_MAX_ATTEMPTS": 5,
        "CAMPAIGNS": {**settings.WACLOUD.get("CAMPAIGNS", {}), "BATCH_SIZE": BATCH},
    }


def test_a_campaign_during_an_outage_sends_two_batches_then_probes_then_everyone_once(
    meta,  # noqa: F811  (imported fixtures, here and below)
    clock,  # noqa: F811
    account,
    create,  # noqa: F811
    small_batches,
    transitions,  # noqa: F811
):
    make_contacts(account, AUDIENCE)
    approved_template(meta, account, "spring_offer", text="Spring is here")
    meta.set_faults(error_rate=1.0)  # Meta down
    before = meta.graph_requests()

    campaign = create(audience="all", template_name="spring_offer")  # starts now, inline
    # Two batches overlap (one in flight while the previous is recorded): both failed, then the
    # circuit opened and nothing more was attempted.
    failed = 2 * BATCH
    assert meta.graph_requests() - before == failed
    assert circuit.circuit_status(account).state is CircuitState.OPEN
    assert transitions == [("opened", account.phone_number_id)]
    queued = CampaignRecipient.objects.filter(campaign=campaign, status="queued").count()
    assert queued == AUDIENCE  # nothing failed for good: the failed batch went back to the queue

    run_campaign(campaign.pk)  # the cool-down has not passed: nothing is attempted
    assert meta.graph_requests() - before == failed
    clock.advance(COOL_DOWN + 1)
    run_campaign(campaign.pk)  # one probe, which fails
    assert meta.graph_requests() - before == failed + 1

    meta.clear_faults()
    clock.advance(4 * COOL_DOWN)
    for _ in range(10):
        if not run_campaign(campaign.pk).get("continue"):
            if not CampaignRecipient.objects.filter(campaign=campaign, status="queued").exists():
                break
    rows = CampaignRecipient.objects.filter(campaign=campaign)
    assert rows.filter(status="sent").count() == AUDIENCE
    assert len(set(rows.values_list("wamid", flat=True))) == AUDIENCE
    # The failed batches, the failed probe, then each recipient once.
    assert meta.graph_requests() - before == failed + 1 + AUDIENCE
    assert [kind for kind, _ in transitions] == ["opened", "closed"]
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED
