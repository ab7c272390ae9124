"""SNS in webhook mode: signed JSON posted to a real HTTP bridge, its answers mapped."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.base import Delivery, PermanentError, TransientError
from channels.sns import SnsChannel
from orchestrator.catalog import CampaignCatalog
from tests.channels.test_contract import CONTACT
from tests.http_server import serving

SECRET = "whsec_" + base64.b64encode(b"bridge secret of 24 bytes").decode()


def valid_signature(request_headers, body: bytes) -> bool:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{request_headers['webhook-id']}.{request_headers['webhook-timestamp']}.".encode()
    expected = base64.b64encode(hmac.new(key, signed + body, hashlib.sha256).digest()).decode()
    return request_headers["webhook-signature"] == f"v1,{expected}"


@pytest.fixture
def bridge():
    received: list[dict] = []
    answers = {"x": 200, "facebook": 503, "instagram": 422}

    async def post(request: Request) -> Response:
        body = await request.body()
        if not valid_signature(request.headers, body):
            return Response(status_code=401)
        payload = orjson.loads(body)
        received.append(payload)
        status = answers.get(payload["network"], 200)
        return JSONResponse({"id": f"post-{len(received)}"}, status_code=status)

    with serving(Starlette(routes=[Route("/bridge", post, methods=["POST"])])) as base:
        yield f"{base}/bridge", received


def delivery(network: str) -> Delivery:
    content = {"network": network, "message": "新商品のご案内"}
    return Delivery(9, "9:1:0", "sns", "marketing", CONTACT, content)


async def test_a_message_is_posted_signed_and_its_id_kept(bridge):
    url, received = bridge
    channel = SnsChannel(mode="webhook", bridge_url=url, bridge_secret=SECRET)
    try:
        result = await channel.deliver(delivery("x"))
    finally:
        await channel.close()
    assert result.message_id == "post-1"
    assert received == [
        {
            "touch_id": 9,
            "idempotency_key": "9:1:0",
            "network": "x",
            "handle": "@sato",
            "message": "新商品のご案内",
            "contact": {"id": 1, "external_id": "c-1"},
        }
    ]


async def test_bridge_failures_are_transient_or_permanent_as_their_status_says(bridge):
    url, _ = bridge
    channel = SnsChannel(mode="webhook", bridge_url=url, bridge_secret=SECRET)
    try:
        with pytest.raises(TransientError):
            await channel.deliver(delivery("facebook"))
        with pytest.raises(PermanentError):
            await channel.deliver(delivery("instagram"))
    finally:
        await channel.close()


async def test_a_wrong_secret_is_refused_by_the_bridge(bridge):
    url, received = bridge
    channel = SnsChannel(mode="webhook", bridge_url=url, bridge_secret="whsec_" + "A" * 32)
    try:
        with pytest.raises(PermanentError):
            await channel.deliver(delivery("x"))
    finally:
        await channel.close()
    assert received == []


async def test_an_unreachable_bridge_is_transient():
    channel = SnsChannel(mode="webhook", bridge_url="http://127.0.0.1:9/none", bridge_secret=SECRET)
    try:
        with pytest.raises(TransientError):
            await channel.deliver(delivery("x"))
    finally:
        await channel.close()


async def test_the_outbox_posts_sns_touches_and_keeps_the_bridges_answer(sessions, clock, bridge):
    from orchestrator.dispatcher import Dispatcher
    from orchestrator.outbox import Outbox
    from tests.engine import CHANNELS, add_contacts, enroll, launch, touches

    url, received = bridge
    channels = {**CHANNELS, "sns": SnsChannel(mode="webhook", bridge_url=url, bridge_secret=SECRET)}
    (contact,) = await add_contacts(
        sessions, clock, 1, social={"x": "@sato"}, consent={"sns": "opted_in"}
    )
    campaign_id = await launch(sessions, clock, {"name": "Mention", "steps": [
        {"id": "mention", "type": "send", "channel": "sns",
         "template": {"network": "x", "message": "ご紹介ありがとうございます"}}]})  # fmt: skip
    await enroll(sessions, clock, campaign_id, [contact])
    try:
        await Dispatcher(sessions, clock, channels, CampaignCatalog()).run_until_idle()
        assert await Outbox(sessions, clock, channels, CampaignCatalog()).run_once() == 1
    finally:
        await channels["sns"].close()
    (touch,) = await touches(sessions, channel="sns")
    assert (touch.status, touch.message_id) == ("sent", "post-1")
    assert touch.outcome_data == {"id": "post-1"}
    assert received[0]["handle"] == "@sato"
