"""Every provider's signature check against the providers' own published vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from channels.email.providers import (
    InvalidSignature,
    MailgunVerifier,
    PostmarkVerifier,
    SendGridVerifier,
    SesVerifier,
)
from channels.email.providers.mailgun import parse_event as mailgun_event
from channels.email.providers.postmark import parse_event as postmark_event
from channels.email.providers.ses import allowed_certificate_url, parse_events, string_to_sign
from channels.webhooks import secret_key, sign_webhook, verify_webhook

VECTORS = Path(__file__).parent / "webhook_vectors"
PEM = (VECTORS / "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem").read_bytes()


def vector(name: str) -> dict:
    """The file named `name`, or the one whose name begins with `name-`."""
    exact = VECTORS / f"{name}.json"
    (path,) = [exact] if exact.exists() else VECTORS.glob(f"{name}-*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def lower(headers: dict) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def payload(name: str) -> dict:
    data = vector(name)
    return json.loads(data.get("body_json_repaired") or data["body"])


def reserialised(body: str) -> bytes:
    """The same JSON, written again the way a framework would (compact)."""
    return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()


# Standard Webhooks


@pytest.mark.parametrize("name", [f"sw-{n:02}" for n in range(1, 11)])
def test_standard_webhooks_vectors(name):
    data = vector(name)
    check = lambda: verify_webhook(  # noqa: E731
        secret_key(data["secret_or_key"]),
        lower(data["headers"]),
        data["body"].encode(),
        now=data["now_unix"],
    )
    if data["expect"] == "valid":
        assert check() == data["headers"]["webhook-id"]
    else:
        with pytest.raises(InvalidSignature):
            check()


def test_kizunas_signer_makes_the_published_signature():
    data = vector("sw-01")
    headers = data["headers"]
    signature = sign_webhook(
        data["secret_or_key"],
        headers["webhook-id"],
        int(headers["webhook-timestamp"]),
        data["body"].encode(),
    )
    assert signature == headers["webhook-signature"]


def test_a_standard_webhook_fails_with_another_key_or_a_reserialised_body():
    data = vector("sw-01")
    headers, now = lower(data["headers"]), data["now_unix"]
    with pytest.raises(InvalidSignature):
        verify_webhook(b"another key", headers, data["body"].encode(), now=now)
    with pytest.raises(InvalidSignature):
        verify_webhook(secret_key(data["secret_or_key"]), headers, reserialised(data["body"]), now)


@pytest.mark.parametrize(
    ("offset", "valid"), [(300, True), (301, False), (-300, True), (-301, False)]
)
def test_a_standard_webhook_is_good_for_five_minutes_either_way(offset, valid):
    data = vector("sw-01")
    key, headers, body = secret_key(data["secret_or_key"]), lower(data["headers"]), data["body"]
    if valid:
        verify_webhook(key, headers, body.encode(), now=data["now_unix"] + offset)
    else:
        with pytest.raises(InvalidSignature, match="too far"):
            verify_webhook(key, headers, body.encode(), now=data["now_unix"] + offset)


# SendGrid


@pytest.mark.parametrize("name", [f"sg-{n:02}" for n in range(1, 10)])
def test_sendgrid_vectors(name):
    data = vector(name)
    verifier = SendGridVerifier(data["secret_or_key"])
    headers, body = lower(data["headers"]), data["body"].encode()
    if data["expect"] == "valid":
        verifier.check(headers, body)
    else:
        with pytest.raises(InvalidSignature):
            verifier.check(headers, body)


def test_a_sendgrid_batch_fails_once_its_json_is_written_again():
    data = vector("sg-07")
    verifier = SendGridVerifier(data["secret_or_key"])
    with pytest.raises(InvalidSignature):
        verifier.check(lower(data["headers"]), reserialised(data["body"]))


async def test_a_verified_sendgrid_batch_gives_the_events_that_concern_the_address():
    data = vector("sg-07")
    verified = await SendGridVerifier(data["secret_or_key"]).verify(
        lower(data["headers"]), data["body"].encode()
    )
    items = json.loads(data["body"])
    acted_on = [i for i in items if i["event"] in {"delivered", "open", "click", "bounce"}]
    assert [e.event_id for e in verified.events] == [i["sg_event_id"] for i in acted_on]
    assert all(e.message_id and e.message_id.startswith("<") for e in verified.events)


# Mailgun


@pytest.mark.parametrize("name", [f"mg-{n:02}" for n in range(1, 6)])
async def test_mailgun_vectors(name):
    data = vector(name)
    verifier = MailgunVerifier(data["secret_or_key"], clock=lambda: data.get("now_unix") or 0)
    body = data["body"].encode()
    if data["expect"] == "valid":
        verified = await verifier.verify(lower(data["headers"]), body)
        assert verified.replay_token == data["signature_fields"]["token"]
        assert [(e.type, e.event_id) for e in verified.events] == [
            ("delivered", "hK7mQVt1QtqRiOfQXta4sw")
        ]
    else:
        with pytest.raises(InvalidSignature):
            await verifier.verify(lower(data["headers"]), body)


async def test_a_mailgun_signature_goes_stale_and_fails_with_another_key():
    data = vector("mg-01")
    body = data["body"].encode()
    stale = MailgunVerifier(data["secret_or_key"], clock=lambda: data["now_unix"] + 301)
    with pytest.raises(InvalidSignature, match="too far"):
        await stale.verify({}, body)
    wrong = MailgunVerifier("key-another", clock=lambda: data["now_unix"])
    with pytest.raises(InvalidSignature, match="does not match"):
        await wrong.verify({}, body)


@pytest.mark.parametrize(
    ("name", "bounce_type"),
    [("mg-event-failed-permanent", "hard"), ("mg-event-failed-temporary", "soft")],
)
def test_mailgun_failures_are_hard_or_soft_bounces(name, bounce_type):
    data = payload(name)
    data.setdefault("id", "an-id")
    data.setdefault("event", "failed")
    event = mailgun_event(data)
    assert (event.type, event.bounce_type, event.email) == (
        "bounce",
        bounce_type,
        data["recipient"],
    )


# Postmark


@pytest.mark.parametrize("name", [f"pm-basic-{n:02}" for n in range(1, 5)])
def test_postmark_basic_auth_vectors(name):
    data = vector(name)
    credentials = data["secret_or_key"]
    verifier = PostmarkVerifier(credentials["username"], credentials["password"])
    if data["expect"] == "valid":
        verifier.check(lower(data["headers"]))
    else:
        with pytest.raises(InvalidSignature):
            verifier.check(lower(data["headers"]))


def test_postmark_refuses_another_user_with_the_right_password():
    data = vector("pm-basic-01")
    verifier = PostmarkVerifier("someone else", data["secret_or_key"]["password"])
    with pytest.raises(InvalidSignature):
        verifier.check(lower(data["headers"]))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pm-01", ("delivered", None)),
        ("pm-02", ("bounce", "hard")),
        ("pm-03", ("complaint", None)),
        ("pm-04", ("open", None)),
        ("pm-05", ("click", None)),
        ("pm-06", ("unsubscribe", None)),
    ],
)
def test_postmark_record_types(name, expected):
    event = postmark_event(payload(name))
    assert (event.type, event.bounce_type) == expected
    assert event.email == "john@example.com"


# SES via SNS


class Certificates:
    """The vectors' certificate, handed out for any URL; remembers what was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, url: str) -> bytes:
        self.asked.append(url)
        return PEM


def sns_verifier(data: dict, fetcher: Certificates) -> SesVerifier:
    return SesVerifier(json.loads(data["body"])["TopicArn"], fetcher)


@pytest.mark.parametrize("name", [f"sns-{n:02}" for n in range(1, 13)])
async def test_sns_vectors(name):
    data = vector(name)
    fetcher = Certificates()
    verifier = sns_verifier(data, fetcher)
    if data["expect"] == "valid":
        envelope = await verifier.check(data["body"].encode())
        assert string_to_sign(envelope) == data["string_to_sign"].encode()
    else:
        with pytest.raises(InvalidSignature):
            await verifier.check(data["body"].encode())
        assert all(allowed_certificate_url(url) for url in fetcher.asked)


async def test_sns_signature_versions_1_and_2_both_verify():
    for name, version in (("sns-01", "1"), ("sns-02", "2")):
        data = vector(name)
        envelope = await sns_verifier(data, Certificates()).check(data["body"].encode())
        assert envelope["SignatureVersion"] == version


async def test_a_certificate_on_another_host_is_never_fetched():
    data = vector("sns-09")
    fetcher = Certificates()
    with pytest.raises(InvalidSignature, match="not an SNS one"):
        await sns_verifier(data, fetcher).check(data["body"].encode())
    assert fetcher.asked == []


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.txt",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
    ],
)
def test_only_sns_certificate_urls_are_allowed(url):
    assert not allowed_certificate_url(url)


def test_sns_certificate_urls_of_every_region_are_allowed():
    assert allowed_certificate_url(
        "https://sns.ap-northeast-1.amazonaws.com/SimpleNotificationService-x.pem"
    )
    assert allowed_certificate_url(
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem"
    )


async def test_certificates_are_fetched_once_per_url():
    fetcher = Certificates()
    first, second = vector("sns-01"), vector("sns-02")
    verifier = sns_verifier(first, fetcher)
    await verifier.check(first["body"].encode())
    await verifier.check(first["body"].encode())
    assert len(fetcher.asked) == 1
    await sns_verifier(second, fetcher).check(second["body"].encode())


async def test_a_message_from_another_topic_is_refused():
    data = vector("sns-01")
    verifier = SesVerifier("arn:aws:sns:us-east-2:295079676684:another", Certificates())
    with pytest.raises(InvalidSignature, match="another topic"):
        await verifier.check(data["body"].encode())


def test_an_ses_notification_names_each_recipient():
    events = parse_events(payload("ses-notification-02"), "sns-message-1")
    assert [(e.type, e.bounce_type, e.email) for e in events] == [
        ("bounce", "hard", "jane@example.com"),
        ("bounce", "hard", "richard@example.com"),
    ]
    assert {e.event_id for e in events} == {"sns-message-1"}


@pytest.mark.parametrize(
    ("name", "kind"),
    [("ses-event-01", "bounce"), ("ses-event-02", "complaint"), ("ses-event-06", "open"),
     ("ses-event-07", "click")],
)  # fmt: skip
def test_ses_event_publishing_types(name, kind):
    events = parse_events(payload(name), "m")
    assert [e.type for e in events] == [kind] * len(events)
    assert events
