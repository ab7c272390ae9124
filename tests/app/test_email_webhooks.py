"""Provider webhooks over HTTP, on SQLite and PostgreSQL: verified, stored once, acted on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import event, func
from sqlmodel import col, select

from app.settings import Settings
from channels.email.message import message_id_for
from channels.email.providers import PostmarkVerifier, SesVerifier
from channels.email.providers.ses import string_to_sign
from channels.webhooks import sign_webhook
from orchestrator.contact_fields import address_hash
from orchestrator.models import ConsentLog, Event, Suppression, WebhookReceipt
from tests.app.test_contacts_api import assert_problem
from tests.conftest import ADMIN_KEY
from tests.engine import add_contacts, dispatcher, enroll, enrollments, launch, touches

SECRET = "whsec_" + base64.b64encode(b"kizuna webhook secret 32 bytes!!").decode()
MAILGUN_KEY = "key-mailgun-signing-key"
TOPIC = "arn:aws:sns:ap-northeast-1:123456789012:kizuna-ses"
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SNS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CERT_URL = "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-test.pem"

MAIL_THEN_CALL = {
    "name": "Mail, and call who clicks",
    "steps": [
        {"id": "mail1", "type": "send", "channel": "email",
         "template": {"subject": "Guide", "text": "https://example.com/guide"}},
        {"id": "wait_click", "type": "wait_for_event", "timeout": "P5D",
         "cases": [{"when": {"event": "click", "step": "mail1"}, "next": "call2"}],
         "on_timeout": "end"},
        {"id": "call2", "type": "send", "channel": "phone", "template": {"script": "Hello"}},
        {"id": "end", "type": "exit"},
    ],
}  # fmt: skip
NEWSLETTER = {
    "name": "Newsletter",
    "steps": [{"id": "news", "type": "send", "channel": "email",
               "template": {"subject": "News", "text": "..."}}],
}  # fmt: skip


def _sendgrid_public_key() -> str:
    der = SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _sns_certificate() -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(SNS_KEY.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2027, 12, 31, tzinfo=UTC))
        .sign(SNS_KEY, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


SNS_PEM = _sns_certificate()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Every provider but Postmark configured."""
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        webhook_secret=SECRET,
        sendgrid_public_key=_sendgrid_public_key(),
        mailgun_signing_key=MAILGUN_KEY,
        ses_topic_arn=TOPIC,
        _env_file=None,
    )


@pytest.fixture
def certificates(app) -> list[str]:
    """The SES verifier fetches the test certificate; the URLs it asked for."""
    asked: list[str] = []

    async def fetch(url: str) -> bytes:
        asked.append(url)
        return SNS_PEM

    app.state.runtime.email_webhooks["ses"] = SesVerifier(TOPIC, fetch)
    return asked


async def post_standard(client, clock, type_, email, *, webhook_id="msg_1", secret=SECRET,
                        timestamp=None, **data):  # fmt: skip
    body = json.dumps(
        {"type": type_, "timestamp": clock.now().isoformat(), "data": {"email": email, **data}}
    ).encode()
    stamp = int((timestamp or clock.now()).timestamp())
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign_webhook(secret, webhook_id, stamp, body),
    }
    return await client.post("/v1/webhooks/email/standard", content=body, headers=headers)


async def post_sendgrid(client, events):
    body = ("\r\n".join(json.dumps(e) for e in [events]) + "\r\n").encode()
    timestamp = "1764900000"
    signature = SENDGRID_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "content-type": "application/json",
        "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
        "x-twilio-email-event-webhook-timestamp": timestamp,
    }
    return await client.post("/v1/webhooks/email/sendgrid", content=body, headers=headers)


async def post_mailgun(client, clock, token, event_data):
    timestamp = str(int(clock.now().timestamp()))
    digest = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256)
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": digest.hexdigest()},
        "event-data": event_data,
    }
    return await client.post("/v1/webhooks/email/mailgun", json=body)


async def post_sns(client, clock, message_type, message_id, **fields):
    envelope = {
        "Type": message_type,
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Timestamp": clock.now().isoformat().replace("+00:00", "Z"),
        "SignatureVersion": "2",
        "SigningCertURL": CERT_URL,
        **fields,
    }
    signature = SNS_KEY.sign(string_to_sign(envelope), padding.PKCS1v15(), hashes.SHA256())
    envelope["Signature"] = base64.b64encode(signature).decode()
    return await client.post("/v1/webhooks/email/ses", content=json.dumps(envelope, indent=2))


async def count_rows(sessions, model, *where) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def suppressed(sessions, email: str) -> list[str]:
    hashed = address_hash("email", email.lower())
    async with sessions() as session:
        rows = await session.exec(select(Suppression).where(Suppression.address_hash == hashed))
        return [row.reason for row in rows]


async def refused(client, provider: str) -> float:
    text = (await client.get("/metrics")).text
    line = f'kizuna_webhooks_refused_total{{provider="{provider}"}} '
    return next((float(x.removeprefix(line)) for x in text.splitlines() if x.startswith(line)), 0)


async def test_a_bad_or_old_signature_is_401_counted_and_stores_nothing(client, clock, sessions):
    await add_contacts(sessions, clock, 1)
    before = await refused(client, "standard")
    bounce = {"bounce_type": "hard"}
    another = "whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()
    wrong_key = await post_standard(
        client, clock, "email.bounced", "person0@example.jp", secret=another, **bounce
    )
    stale = await post_standard(
        client, clock, "email.bounced", "person0@example.jp",
        timestamp=clock.now() - timedelta(minutes=6), **bounce,
    )  # fmt: skip
    body = assert_problem(wrong_key, 401)
    assert "signature" in body["detail"]
    assert_problem(stale, 401)
    assert await refused(client, "standard") == before + 2
    for model in (Event, Suppression, WebhookReceipt):
        assert await count_rows(sessions, model) == 0


async def test_a_provider_without_settings_and_an_unknown_one_are_404(client):
    assert_problem(await client.post("/v1/webhooks/email/postmark", content=b"{}"), 404)
    assert_problem(await client.post("/v1/webhooks/email/nope", content=b"{}"), 404)


async def test_a_webhook_delivered_three_times_is_stored_once(client, clock, sessions):
    await add_contacts(sessions, clock, 1)
    answers = [
        await post_standard(client, clock, "email.opened", "person0@example.jp", webhook_id="m7")
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json() for a in answers] == [
        {"accepted": 1, "duplicates": 0},
        {"accepted": 0, "duplicates": 1},
        {"accepted": 0, "duplicates": 1},
    ]
    assert await count_rows(sessions, Event, col(Event.type) == "open") == 1


async def test_a_hard_bounce_suppresses_and_the_next_campaigns_mail_is_blocked(
    client, clock, sessions
):
    (contact,) = await add_contacts(sessions, clock, 1)
    answer = await post_standard(
        client, clock, "email.bounced", "Person0@EXAMPLE.jp", bounce_type="hard"
    )
    assert answer.json() == {"accepted": 1, "duplicates": 0}
    assert await suppressed(sessions, "person0@example.jp") == ["hard_bounce"]

    campaign_id = await launch(sessions, clock, NEWSLETTER)
    await enroll(sessions, clock, campaign_id, [contact])
    await dispatcher(sessions, clock).run_until_idle()
    (mail,) = await touches(sessions, channel="email")
    assert (mail.status, mail.rule) == ("blocked", "suppression")


async def test_a_click_naming_our_message_id_wakes_the_journey_waiting_for_it(
    client, clock, sessions
):
    (contact,) = await add_contacts(sessions, clock, 1)
    campaign_id = await launch(sessions, clock, MAIL_THEN_CALL)
    await enroll(sessions, clock, campaign_id, [contact])
    engine = dispatcher(sessions, clock)
    await engine.run_until_idle()
    (mail,) = await touches(sessions, channel="email")
    assert await touches(sessions, channel="phone") == []

    clock.advance(timedelta(minutes=5))
    answer = await post_standard(
        client, clock, "email.clicked", "person0@example.jp",
        message_id=message_id_for(mail.idempotency_key, "news.example.jp"),
        url="https://example.com/guide",
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    async with sessions() as session:
        (event,) = (await session.exec(select(Event))).all()
    assert (event.type, event.touch_id, event.data["url"]) == (
        "click",
        mail.id,
        "https://example.com/guide",
    )
    await engine.run_until_idle()
    (call,) = await touches(sessions, channel="phone")
    assert (call.step_id, call.status) == ("call2", "queued")


async def test_sendgrid_batches_suppress_unknown_addresses_and_opt_out_contacts(
    client, clock, sessions
):
    (contact,) = await add_contacts(sessions, clock, 1)
    batch = [
        {"email": "gone@example.com", "event": "bounce", "type": "bounce", "sg_event_id": "e1",
         "timestamp": 1764900000},
        {"email": "angry@example.com", "event": "spamreport", "sg_event_id": "e2",
         "timestamp": 1764900001},
        {"email": "busy@example.com", "event": "bounce", "type": "blocked", "sg_event_id": "e3",
         "timestamp": 1764900002},
        {"email": "person0@example.jp", "event": "unsubscribe", "sg_event_id": "e4",
         "timestamp": 1764900003},
    ]  # fmt: skip
    first = await post_sendgrid(client, batch)
    again = await post_sendgrid(client, batch[1:])
    assert first.json() == {"accepted": 4, "duplicates": 0}
    assert again.json() == {"accepted": 0, "duplicates": 3}
    assert await suppressed(sessions, "gone@example.com") == ["hard_bounce"]
    assert await suppressed(sessions, "angry@example.com") == ["complaint"]
    assert await suppressed(sessions, "busy@example.com") == []
    async with sessions() as session:
        log = (await session.exec(select(ConsentLog).where(ConsentLog.contact_id == contact))).all()
    assert [(e.channel, e.status, e.source) for e in log][-1] == (
        "email",
        "opted_out",
        "sendgrid webhook",
    )
    assert log[-1].evidence["event_id"] == "e4"
    assert await count_rows(sessions, Event, col(Event.type) == "unsubscribe") == 1


async def test_a_mailgun_token_cannot_be_used_twice(client, clock, sessions):
    await add_contacts(sessions, clock, 1)
    delivered = {"event": "delivered", "id": "d1", "recipient": "person0@example.jp"}
    assert (await post_mailgun(client, clock, "token-1", delivered)).status_code == 200
    before = await refused(client, "mailgun")
    replay = await post_mailgun(client, clock, "token-1", {**delivered, "id": "d2"})
    assert_problem(replay, 401)
    assert await refused(client, "mailgun") == before + 1
    assert await count_rows(sessions, Event) == 1


async def test_soft_bounces_in_a_row_suppress_the_address(client, clock, sessions):
    await add_contacts(sessions, clock, 1)

    async def soft_bounce(n: int) -> None:
        clock.advance(timedelta(hours=1))
        failed = {
            "event": "failed",
            "severity": "temporary",
            "id": f"f{n}",
            "recipient": "person0@example.jp",
            "timestamp": clock.now().timestamp(),
        }
        assert (await post_mailgun(client, clock, f"t{n}", failed)).status_code == 200

    await soft_bounce(1)
    await soft_bounce(2)
    clock.advance(timedelta(hours=1))
    delivered = {"event": "delivered", "id": "d1", "recipient": "person0@example.jp",
                 "timestamp": clock.now().timestamp()}  # fmt: skip
    await post_mailgun(client, clock, "t-delivered", delivered)
    await soft_bounce(3)
    await soft_bounce(4)
    assert await suppressed(sessions, "person0@example.jp") == []
    await soft_bounce(5)
    assert await suppressed(sessions, "person0@example.jp") == ["soft_bounces"]


async def test_an_ses_notification_affects_exactly_its_recipients(
    client, clock, sessions, certificates
):
    listed, unlisted = await add_contacts(sessions, clock, 2)
    notification = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [
                {"emailAddress": "person0@example.jp"},
                {"emailAddress": "stranger@example.com"},
            ],
            "timestamp": clock.now().isoformat(),
        },
        "mail": {"messageId": "ses-1", "destination": ["person0@example.jp"]},
    }
    answer = await post_sns(
        client, clock, "Notification", "sns-1", Message=json.dumps(notification)
    )
    assert answer.json() == {"accepted": 2, "duplicates": 0}
    assert await suppressed(sessions, "person0@example.jp") == ["hard_bounce"]
    assert await suppressed(sessions, "stranger@example.com") == ["hard_bounce"]
    assert await suppressed(sessions, "person1@example.jp") == []
    assert await count_rows(sessions, Event, col(Event.contact_id) == listed) == 1
    assert await count_rows(sessions, Event, col(Event.contact_id) == unlisted) == 0
    assert certificates == [CERT_URL]


async def test_an_sns_subscription_is_logged_for_confirmation_and_never_fetched(
    client, clock, sessions, certificates, caplog
):
    subscribe = "https://sns.ap-northeast-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"
    with caplog.at_level(logging.WARNING, logger="kizuna.webhooks"):
        answer = await post_sns(
            client, clock, "SubscriptionConfirmation", "sns-2",
            Message="You have chosen to subscribe", SubscribeURL=subscribe, Token="t",
        )  # fmt: skip
    assert answer.json() == {"accepted": 0, "duplicates": 0}
    assert subscribe in caplog.text
    assert certificates == [CERT_URL]


async def test_a_signed_body_in_another_format_is_400_and_an_oversized_one_413(
    client, clock, sessions
):
    unknown = await post_standard(client, clock, "email.forwarded", "person0@example.jp")
    assert "email.bounced" in assert_problem(unknown, 400)["detail"]
    huge = await client.post("/v1/webhooks/email/standard", content=b"[" + b" " * 4 * 2**20 + b"]")
    assert_problem(huge, 413)
    assert await count_rows(sessions, WebhookReceipt) == 0


async def test_postmark_needs_its_basic_credentials(app, client, sessions):
    app.state.runtime.email_webhooks["postmark"] = PostmarkVerifier("kizuna", "s3cret 合言葉")
    bounce = {"RecordType": "Bounce", "ID": 42, "Type": "HardBounce", "Email": "john@example.com",
              "MessageID": "883953f4", "BouncedAt": "2026-11-23T01:00:00.1234567Z"}  # fmt: skip

    async def post(user: str, password: str):
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return await client.post(
            "/v1/webhooks/email/postmark", json=bounce, headers={"Authorization": f"Basic {token}"}
        )

    assert_problem(await post("kizuna", "s3cret"), 401)
    assert_problem(await post("someone", "s3cret 合言葉"), 401)
    assert await suppressed(sessions, "john@example.com") == []
    assert (await post("kizuna", "s3cret 合言葉")).json() == {"accepted": 1, "duplicates": 0}
    assert await suppressed(sessions, "john@example.com") == ["hard_bounce"]


async def test_an_unsubscribe_webhook_withdraws_the_contacts_queued_marketing_mail(
    client, clock, sessions
):
    leaving, staying = await add_contacts(sessions, clock, 2)
    newsletter = await launch(sessions, clock, NEWSLETTER)
    receipt = await launch(
        sessions, clock, {**NEWSLETTER, "name": "Receipt", "category": "transactional"}
    )
    await enroll(sessions, clock, newsletter, [leaving, staying])
    await enroll(sessions, clock, receipt, [leaving])
    await dispatcher(sessions, clock).run_until_idle()
    assert {t.status for t in await touches(sessions, channel="email")} == {"queued"}

    unsubscribed = {"email": "person0@example.jp", "event": "unsubscribe", "sg_event_id": "u1",
                    "timestamp": 1764900000}  # fmt: skip
    assert (await post_sendgrid(client, [unsubscribed])).json() == {
        "accepted": 1,
        "duplicates": 0,
    }
    mails = {(t.contact_id, t.campaign_id): t for t in await touches(sessions, channel="email")}
    withdrawn = mails[(leaving, newsletter)]
    assert (withdrawn.status, withdrawn.rule) == ("canceled", "consent")
    assert withdrawn.reason == "Withdrawn before it went out: the contact unsubscribed."
    assert mails[(leaving, receipt)].status == "queued"  # transactional mail still goes
    assert mails[(staying, newsletter)].status == "queued"


def _report(n: int, kind: str, **more) -> dict:
    """A SendGrid event about person `n`'s mail."""
    return {"email": f"person{n}@example.jp", "event": kind, "sg_event_id": f"{kind}-{n}",
            "timestamp": 1764900000 + n, **more}  # fmt: skip


async def test_a_batch_takes_as_many_statements_as_a_single_event(app, client, clock, sessions):
    await add_contacts(sessions, clock, 30)
    engine = app.state.runtime.sessions.kw["bind"].sync_engine
    statements: list[str] = []

    def count(conn, cursor, statement, *_):
        statements.append(statement)

    def batch(people: range) -> list[dict]:
        return [
            report
            for n in people
            for report in (
                _report(n, "delivered"),
                _report(n, "open"),
                _report(n, "click", url="https://example.com/guide"),
                _report(n, "bounce", type="blocked"),
            )
        ]

    sizes = []
    event.listen(engine, "before_cursor_execute", count)
    try:
        for people in (range(1), range(1, 30)):
            statements.clear()
            answer = await post_sendgrid(client, batch(people))
            assert answer.json() == {"accepted": 4 * len(people), "duplicates": 0}
            sizes.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sizes[0] == sizes[1]
    assert await count_rows(sessions, Event) == 4 * 30


async def test_one_batch_delivered_twice_at_once_in_opposite_orders_is_taken_in_once(
    client, clock, sessions
):
    bounces = [_report(n, "bounce", type="bounce") for n in range(60)]
    answers = await asyncio.gather(
        post_sendgrid(client, bounces), post_sendgrid(client, bounces[::-1])
    )
    assert [answer.status_code for answer in answers] == [200, 200], answers[1].text
    assert sorted(answer.json()["accepted"] for answer in answers) == [0, 60]
    assert await count_rows(sessions, Suppression) == 60


async def test_a_reported_click_reaches_the_goal_of_every_journey_it_ends(client, clock, sessions):
    clicker, other = await add_contacts(sessions, clock, 2)
    campaign_id = await launch(sessions, clock, {**MAIL_THEN_CALL, "goal": {"event": "click"}})
    await enroll(sessions, clock, campaign_id, [clicker, other])
    await dispatcher(sessions, clock).run_until_idle()
    clock.advance(timedelta(minutes=5))

    clicked = _report(0, "click", url="https://example.com/guide")
    assert (await post_sendgrid(client, [clicked, _report(1, "open")])).status_code == 200
    states = {e.contact_id: (e.state, e.exit_reason) for e in await enrollments(sessions)}
    assert states == {clicker: ("exited", "goal"), other: ("active", None)}
