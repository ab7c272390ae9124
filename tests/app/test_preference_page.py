"""The contact's own page, `/p/{token}`: linked from every marketing mail's footer, read
without changing anything, saved in one go, and obeyed by the next campaigns."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.tracking import LinkMaker, TokenSigner
from tests.app.test_contacts_api import assert_problem
from tests.app.test_preferences_api import TOPICS, contact, mailing, run, topics
from tests.channels.test_email_message import CONTENT, bodies, received
from tests.engine import touches

__all__ = ["contact", "topics"]  # fixtures


async def test_every_marketing_mail_links_to_the_preference_page_beside_unsubscribe():
    links = LinkMaker("https://k.example", TokenSigner("a secret")).for_touch(7)
    assert links.preferences is not None
    assert links.preferences.startswith("https://k.example/p/")
    plain, html = bodies((await received(CONTENT, links=links))[0])
    assert f"配信設定 / Preferences: {links.preferences}" in plain
    assert f'<a href="{links.preferences}">配信設定 / Preferences</a>' in html
    plain, html = bodies((await received(CONTENT, "transactional", links=links))[0])
    assert links.preferences not in plain + html


async def page_of(app, sessions, campaign_id: int) -> str:
    """The preference page's path from the campaign's touch, as its mail links it."""
    (touch,) = await touches(sessions, campaign_id=campaign_id)
    assert touch.id is not None
    links = LinkMaker("", app.state.runtime.tokens()).for_touch(touch.id)
    assert links.preferences is not None
    return links.preferences


async def test_the_page_shows_the_choices_and_reading_it_changes_nothing(
    app, client, sessions, topics, contact
):
    first = await run(app, client, mailing("Product", "新製品"), contact["id"])
    path = await page_of(app, sessions, first)
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for topic in TOPICS:
        assert f'name="topic" value="{topic}" checked' in page.text
    assert "配信設定 / Your preferences" in page.text
    read = (await client.get(f"/v1/contacts/{contact['id']}")).json()
    assert read["preferences"] is None
    assert_problem(await client.get("/p/1.AAAAAAAAAAAAAAAA"), 404)
    assert_problem(await client.post("/p/not-a-token", data={}), 404)


async def test_a_customer_who_asks_for_one_mail_a_week_and_no_seminars_is_obeyed(
    app, client, sessions, topics, contact
):
    product = await run(app, client, mailing("Product", "新製品"), contact["id"])
    path = await page_of(app, sessions, product)
    saved = await client.post(
        path,
        data={
            "email.allowed": "yes", "email.max": "1", "email.per": "week",
            "phone.allowed": "no", "topic": ["新製品", "事例"],
            "paused_until": "",
        },
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert "保存しました / Saved." in saved.text
    assert 'name="email.max" value="1"' in saved.text
    assert 'name="topic" value="セミナー">' in saved.text  # shown unticked
    assert "channels.email" in saved.text  # the change, in the history

    read = (await client.get(f"/v1/contacts/{contact['id']}")).json()
    assert read["preferences"]["channels"]["email"] == {"allowed": True, "max": 1, "per": "week"}
    assert read["preferences"]["topics"] == ["新製品", "事例"]
    timeline = (await client.get(f"/v1/contacts/{contact['id']}/timeline")).json()["items"]
    (topics_change,) = [e for e in timeline if e["kind"] == "preference" and e["item"] == "topics"]
    (product_touch,) = await touches(sessions, campaign_id=product)
    assert (topics_change["source"], topics_change["touch_id"]) == (
        "preference_center",
        product_touch.id,
    )

    seminar = await run(app, client, mailing("Seminar", "セミナー"), contact["id"])
    (blocked,) = await touches(sessions, campaign_id=seminar)
    assert (blocked.status, blocked.rule) == ("blocked", "preference")
    assert "did not choose the topic セミナー" in (blocked.reason or "")
    again = await run(app, client, mailing("Product again", "新製品"), contact["id"])
    (waiting,) = await touches(sessions, campaign_id=again)
    assert (waiting.status, waiting.rule) == ("deferred", "preference")
    assert waiting.defer_until == product_touch.created_at + timedelta(days=7)


async def test_a_form_it_cannot_read_is_refused_and_changes_nothing(
    app, client, sessions, topics, contact
):
    product = await run(app, client, mailing("Product", "新製品"), contact["id"])
    path = await page_of(app, sessions, product)
    refused = await client.post(
        path, data={"email.max": "many", "paused_until": "next spring", "topic": TOPICS}
    )
    body = assert_problem(refused, 422)
    assert [p["loc"] for p in body["errors"]] == [
        ["form", "email.max"],
        ["form", "paused_until"],
    ]
    read = (await client.get(f"/v1/contacts/{contact['id']}")).json()
    assert read["preferences"] is None


async def test_a_pause_set_on_the_page_starts_the_day_on_the_contacts_clock(
    app, client, sessions, topics, contact
):
    product = await run(app, client, mailing("Product", "新製品"), contact["id"])
    path = await page_of(app, sessions, product)
    saved = await client.post(path, data={"paused_until": "2027-01-10", "topic": TOPICS})
    assert saved.status_code == 200, saved.text
    assert 'name="paused_until" value="2027-01-10"' in saved.text
    read = (await client.get(f"/v1/contacts/{contact['id']}")).json()
    assert read["paused_until"].startswith("2027-01-09T15:00:00")  # 00:00 in Tokyo
    assert read["preferences"] is None  # every topic ticked: no choice of topics
