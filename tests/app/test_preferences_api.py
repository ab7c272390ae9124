"""The contact's own preferences over HTTP: set, read, logged in the timeline, obeyed by
every campaign and caller, shown in pressure, erased with the contact."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from orchestrator.models import Contact, PreferenceLog
from tests.app.test_auth import bearer, make_key
from tests.app.test_campaigns_api import activate, define
from tests.app.test_contacts_api import assert_problem
from tests.engine import touches
from tests.factories import contact_payload

TOPICS = ["新製品", "セミナー", "事例"]
ONE_MAIL_A_WEEK_NO_SEMINARS = {
    "channels": {"email": {"allowed": True, "max": 1, "per": "week"}, "phone": {"allowed": False}},
    "topics": ["新製品", "事例"],
}


def mailing(name: str, topic: str | None = None) -> dict:
    return {
        "name": name,
        **({"topic": topic} if topic else {}),
        "steps": [{"id": "mail", "type": "send", "channel": "email", "max_delay": "P60D",
                   "template": {"subject": name, "text": "..."}}],
    }  # fmt: skip


@pytest.fixture
async def topics(client) -> None:
    stored = await client.put("/v1/policy", json={"topics": TOPICS})
    assert stored.status_code == 200, stored.text


@pytest.fixture
async def contact(client) -> dict:
    created = (await client.post("/v1/contacts", json=contact_payload())).json()
    consent = await client.put(
        f"/v1/contacts/{created['id']}/consent/email", json={"status": "opted_in", "source": "form"}
    )
    assert consent.status_code == 200, consent.text
    return created


async def set_preferences(client, contact_id: int, preferences: dict) -> dict:
    response = await client.put(f"/v1/contacts/{contact_id}/preferences", json=preferences)
    assert response.status_code == 200, response.text
    return response.json()


async def run(app, client, definition: dict, contact_id: int) -> int:
    """Launch the campaign for the contact and dispatch; the campaign's id."""
    campaign = await define(client, definition)
    await activate(client, campaign["id"])
    enrolled = await client.post(
        f"/v1/campaigns/{campaign['id']}/enrollments", json={"contact_ids": [contact_id]}
    )
    assert enrolled.status_code == 200, enrolled.text
    await app.state.runtime.dispatcher().run_until_idle()
    return campaign["id"]


async def test_preferences_are_set_read_back_and_logged_in_the_timeline(client, topics, contact):
    chosen = {**ONE_MAIL_A_WEEK_NO_SEMINARS, "paused_until": "2027-01-10T00:00:00+09:00"}
    answer = await set_preferences(client, contact["id"], {**chosen, "evidence": {"form": "crm"}})
    assert answer["channels"]["email"] == {"allowed": True, "max": 1, "per": "week"}
    assert answer["topics"] == ["新製品", "事例"]
    read = (await client.get(f"/v1/contacts/{contact['id']}")).json()
    assert read["preferences"]["channels"]["phone"] == {"allowed": False, "max": None, "per": None}
    assert read["preferences"]["topics"] == ["新製品", "事例"]
    assert read["paused_until"].startswith("2027-01-09T15:00:00")

    timeline = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()["items"]
    changes = {e["item"]: e for e in timeline if e["kind"] == "preference"}
    assert set(changes) == {"channels.email", "channels.phone", "topics", "paused_until"}
    assert changes["channels.email"]["old"] is None
    assert changes["channels.email"]["new"] == {"allowed": True, "max": 1, "per": "week"}
    assert {e["source"] for e in changes.values()} == {"api"}
    assert changes["topics"]["evidence"] == {"form": "crm"}

    # a second PUT replaces the whole: what it leaves out is cleared, and only changes log
    await set_preferences(client, contact["id"], {"topics": ["新製品", "事例"]})
    after = (await client.get(f"/v1/contacts/{contact['id']}")).json()
    assert after["preferences"] == {"channels": {}, "topics": ["新製品", "事例"]}
    assert after["paused_until"] is None
    timeline = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()["items"]
    latest = [e for e in timeline if e["kind"] == "preference"][:3]
    assert sorted(e["item"] for e in latest) == ["channels.email", "channels.phone", "paused_until"]
    assert all(e["new"] is None for e in latest)


async def test_unknown_channels_and_topics_are_refused_at_their_places(client, topics, contact):
    body = assert_problem(
        await client.put(
            f"/v1/contacts/{contact['id']}/preferences",
            json={"channels": {"fax": {"allowed": False}}, "topics": ["事例", "ゴルフ"]},
        ),
        422,
    )
    assert [p["loc"] for p in body["errors"]] == [
        ["body", "channels", "fax"],
        ["body", "topics", 1],
    ]
    assert "新製品, セミナー, 事例" in body["errors"][1]["msg"]
    shape = await client.put(
        f"/v1/contacts/{contact['id']}/preferences",
        json={"channels": {"email": {"max": 2}}},
    )
    assert_problem(shape, 422)
    read = (await client.get(f"/v1/contacts/{contact['id']}")).json()
    assert read["preferences"] is None
    missing = await client.put("/v1/contacts/999999/preferences", json={})
    assert_problem(missing, 404)


async def test_a_campaigns_topic_must_be_one_the_policy_lists(client, topics):
    body = assert_problem(await client.post("/v1/campaigns", json=mailing("Golf", "ゴルフ")), 422)
    assert [p["loc"] for p in body["errors"]] == [["body", "topic"]]
    assert body["errors"][0]["msg"] == "one of: 新製品, セミナー, 事例"
    campaign = await define(client, mailing("Seminar", "セミナー"))
    assert campaign["definition"]["topic"] == "セミナー"
    # the policy drops the topic before the campaign is activated
    await client.put("/v1/policy", json={"topics": ["新製品"]})
    refused = assert_problem(await client.post(f"/v1/campaigns/{campaign['id']}/activate"), 422)
    assert [p["loc"] for p in refused["errors"]] == [["definition", "topic"]]


async def test_every_campaign_obeys_the_contacts_channels_caps_and_topics(
    app, client, clock, sessions, topics, contact
):
    await set_preferences(client, contact["id"], ONE_MAIL_A_WEEK_NO_SEMINARS)
    seminar = await run(app, client, mailing("Seminar", "セミナー"), contact["id"])
    product = await run(app, client, mailing("Product", "新製品"), contact["id"])
    case = await run(app, client, mailing("Case study", "事例"), contact["id"])

    (blocked,) = await touches(sessions, campaign_id=seminar)
    assert (blocked.status, blocked.rule) == ("blocked", "preference")
    assert blocked.reason.startswith("preference: the customer did not choose the topic セミナー")
    (sent,) = await touches(sessions, campaign_id=product)
    assert sent.status in ("queued", "sending", "sent")
    (waiting,) = await touches(sessions, campaign_id=case)
    assert (waiting.status, waiting.rule) == ("deferred", "preference")
    assert waiting.defer_until == sent.created_at + timedelta(days=7)
    assert "the customer asked for at most 1 email a week; 1 used since" in (waiting.reason or "")

    pressure = (await client.get(f"/v1/contacts/{contact['id']}/pressure")).json()
    (cap,) = [r for r in pressure["rules"] if r["type"] == "preference"]
    assert (cap["channels"], cap["used"], cap["limit"]) == (["email"], 1, 1)
    email = next(c for c in pressure["channels"] if c["channel"] == "email")
    assert (email["decision"], email["rule"]) == ("defer", "preference")
    phone = next(c for c in pressure["channels"] if c["channel"] == "phone")
    assert (phone["decision"], phone["rule"]) == ("block", "preference")


async def test_switching_a_channel_off_withdraws_its_queued_marketing(
    app, client, sessions, contact
):
    campaign = await run(app, client, mailing("Product"), contact["id"])
    (queued,) = await touches(sessions, campaign_id=campaign)
    assert queued.status == "queued"  # the outbox has not taken it yet
    await set_preferences(client, contact["id"], {"channels": {"email": {"allowed": False}}})
    (withdrawn,) = await touches(sessions, campaign_id=campaign)
    assert (withdrawn.status, withdrawn.rule) == ("canceled", "preference")


async def test_erasure_clears_the_preferences_and_the_evidence_of_their_log(
    client, sessions, topics, contact
):
    chosen = {**ONE_MAIL_A_WEEK_NO_SEMINARS, "paused_until": "2027-01-10T00:00:00+09:00"}
    await set_preferences(client, contact["id"], {**chosen, "evidence": {"ip": "192.0.2.1"}})
    assert (await client.delete(f"/v1/contacts/{contact['id']}")).status_code == 204
    async with sessions() as session:
        erased = await session.get(Contact, contact["id"])
        assert erased is not None
        assert (erased.preferences, erased.paused_until) == (None, None)
        log = (
            await session.exec(
                select(PreferenceLog).where(col(PreferenceLog.contact_id) == contact["id"])
            )
        ).all()
    assert len(log) == 4
    assert all(entry.evidence == {"erased": True} for entry in log)


async def test_a_callers_completion_with_preferences_changes_what_the_next_campaign_may_do(
    app, client, sessions, topics, contact
):
    call = {"id": "call", "type": "send", "channel": "phone", "template": {"script": "Hello"}}
    calls = {"name": "Calls", "steps": [call]}
    await run(app, client, calls, contact["id"])
    worker = bearer(await make_key(client, "worker", name="call-team"))
    claimed = await client.post(
        "/v1/tasks/claim", json={"channel": "phone", "worker": "alice"}, headers=worker
    )
    (task,) = claimed.json()["tasks"]
    unknown = await client.post(
        f"/v1/tasks/{task['id']}/complete",
        json={"worker": "alice", "outcome": "connected",
              "preferences": {"topics": ["ゴルフ"]}},
        headers=worker,
    )  # fmt: skip
    assert [p["loc"] for p in assert_problem(unknown, 422)["errors"]] == [
        ["body", "preferences", "topics", 0]
    ]
    completed = await client.post(
        f"/v1/tasks/{task['id']}/complete",
        json={"worker": "alice", "outcome": "interested", "consent": {"email": "opted_in"},
              "preferences": {"channels": {"email": {"max": 1, "per": "month"}},
                              "topics": ["新製品"]},
              "notes": "mail is fine, once a month"},
        headers=worker,
    )  # fmt: skip
    assert completed.status_code == 200, completed.text

    first = await run(app, client, mailing("Product", "新製品"), contact["id"])
    second = await run(app, client, mailing("Product again", "新製品"), contact["id"])
    seminar = await run(app, client, mailing("Seminar", "セミナー"), contact["id"])
    (admitted,) = await touches(sessions, campaign_id=first)
    assert admitted.rule is None
    (held,) = await touches(sessions, campaign_id=second)
    assert (held.status, held.rule) == ("deferred", "preference")
    assert held.defer_until == admitted.created_at + timedelta(days=30)
    (blocked,) = await touches(sessions, campaign_id=seminar)
    assert (blocked.status, blocked.rule) == ("blocked", "preference")

    timeline = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()["items"]
    changes = [e for e in timeline if e["kind"] == "preference"]
    assert {e["item"] for e in changes} == {"channels.email", "topics"}
    assert {(e["source"], e["touch_id"]) for e in changes} == {("call", task["id"])}
    assert changes[0]["evidence"]["notes"] == "mail is fine, once a month"
