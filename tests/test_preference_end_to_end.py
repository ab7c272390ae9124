"""End to end: `kizuna serve` as a process, real SMTP, real HTTP. A mail's footer links to
the preference page; a client with no browser posts "email at most 1 a week, no セミナー";
the next seminar mail is blocked with the preference's sentence, and the next product mail
waits for the week to roll."""

from __future__ import annotations

import re
import subprocess

import httpx

from tests.app.test_cli import free_port
from tests.smtp_sink import smtp_sink
from tests.test_end_to_end import ADMIN, KIZUNA, environment, eventually, running

TOPICS = ["新製品", "セミナー", "事例"]


def mailing(name: str, topic: str) -> dict:
    return {
        "name": name,
        "topic": topic,
        "steps": [{"id": "mail", "type": "send", "channel": "email", "max_delay": "P30D",
                   "template": {"subject": name, "text": "https://shop.example.jp/"}}],
    }  # fmt: skip


def test_a_customer_sets_preferences_from_a_mail_and_every_campaign_obeys(database_url):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with smtp_sink() as sink:
        env = environment(database_url, port) | {
            "KIZUNA_SMTP_PORT": str(sink.port),
            "KIZUNA_PUBLIC_URL": base,
        }
        assert subprocess.run([KIZUNA, "migrate"], env=env, check=False).returncode == 0
        with running("serve", env=env):
            eventually(lambda: httpx.get(f"{base}/readyz").json().get("scheduler") == "ok")
            http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN}"})
            http.put("/v1/policy", json={"topics": TOPICS}).raise_for_status()
            contact = http.post(
                "/v1/contacts", json={"external_id": "e2e-pref", "email": "pref@example.jp"}
            ).json()
            http.put(
                f"/v1/contacts/{contact['id']}/consent/email",
                json={"status": "opted_in", "source": "web form"},
            ).raise_for_status()

            def launch(definition: dict) -> int:
                campaign = http.post("/v1/campaigns", json=definition).json()
                http.post(f"/v1/campaigns/{campaign['id']}/activate").raise_for_status()
                http.post(
                    f"/v1/campaigns/{campaign['id']}/enrollments",
                    json={"contact_ids": [contact["id"]]},
                ).raise_for_status()
                return int(campaign["id"])

            launch(mailing("New products", "新製品"))
            (mail,) = eventually(lambda: sink.to("pref@example.jp"))
            footer = mail.get_body(("plain",)).get_content()
            (page,) = re.findall(r"配信設定 / Preferences: (\S+)", footer)
            assert page.startswith(f"{base}/p/")

            browserless = httpx.Client()
            assert "配信設定 / Your preferences" in browserless.get(page).text
            saved = browserless.post(
                page,
                data={"email.allowed": "yes", "email.max": "1", "email.per": "week",
                      "topic": ["新製品", "事例"]},
            )  # fmt: skip
            assert saved.status_code == 200, saved.text
            assert "保存しました / Saved." in saved.text

            seminar = launch(mailing("Seminar", "セミナー"))
            again = launch(mailing("More products", "新製品"))

            def decided() -> dict[int, dict] | None:
                items = http.get(f"/v1/contacts/{contact['id']}/timeline").json()["items"]
                touches = {
                    e["campaign_id"]: e
                    for e in items
                    if e["kind"] == "touch" and e["campaign_id"] in (seminar, again)
                }
                return touches if len(touches) == 2 else None

            touches = eventually(decided)
            assert touches[seminar]["status"] == "blocked"
            assert touches[seminar]["reason"].startswith(
                "preference: the customer did not choose the topic セミナー"
            )
            assert (touches[again]["status"], touches[again]["rule"]) == ("deferred", "preference")
            assert "at most 1 email a week; 1 used since" in touches[again]["reason"]
            assert len(sink.to("pref@example.jp")) == 1
