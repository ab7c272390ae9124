"""The contact's preference page (`/p/{token}`) in Japanese and English: the form, and the
form's fields read back as preferences."""

from __future__ import annotations

import json
from datetime import date
from html import escape
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from orchestrator.errors import InvalidInput, problems
from orchestrator.services.preferences import PreferencePage
from policies.preferences import PERIODS, Preferences

__all__ = ["read_form", "render"]

#: How the page names the built-in channels; a plugin's channel is shown by its name.
_CHANNEL_NAMES = {
    "email": "メール / Email",
    "phone": "お電話 / Phone calls",
    "dm": "郵便 / Letters",
    "sns": "SNS / Social media",
}
_PERIOD_NAMES = {"week": "週 / week", "month": "月 / month"}


def read_form(
    form: dict[str, list[str]], channels: list[str], topics: list[str]
) -> tuple[Preferences, date | None]:
    """The preferences and the day touches may resume, as the form says; InvalidInput
    naming each field it cannot read."""
    errors: list[dict[str, object]] = []

    def field(name: str) -> str:
        return (form.get(name) or [""])[-1].strip()

    chosen: dict[str, dict[str, object]] = {}
    for channel in channels:
        if field(f"{channel}.allowed") == "no":
            chosen[channel] = {"allowed": False}
            continue
        most = field(f"{channel}.max")
        if not most:
            continue
        if not most.isdigit():
            errors.append(
                {"loc": ["form", f"{channel}.max"], "msg": "a whole number", "type": "int"}
            )
            continue
        chosen[channel] = {"max": int(most), "per": field(f"{channel}.per") or "month"}
    ticked = [topic for topic in topics if topic in form.get("topic", [])]
    document: dict[str, object] = {"channels": chosen}
    if len(ticked) < len(topics):  # every topic ticked: every topic, those added later too
        document["topics"] = ticked
    pause: date | None = None
    if day := field("paused_until"):
        try:
            pause = date.fromisoformat(day)
        except ValueError:
            errors.append(
                {"loc": ["form", "paused_until"], "msg": "a date, YYYY-MM-DD", "type": "date"}
            )
    try:
        preferences = Preferences.model_validate(document)
    except ValidationError as exc:
        found = problems(exc.errors(include_url=False, include_input=False))
        errors += [{**problem, "loc": ["form", *problem["loc"]]} for problem in found]
    if errors:
        raise InvalidInput("the form has problems", errors=errors)
    return preferences, pause


def render(page: PreferencePage, *, saved: bool) -> str:
    """The page: the choices as a form, pre-filled, and the changes made so far."""
    zone = ZoneInfo(page.timezone)
    chosen = page.chosen
    rows = []
    for channel in page.channels:
        choice = chosen.channels.get(channel)
        off = choice is not None and not choice.allowed
        most = "" if choice is None or choice.max is None else str(choice.max)
        per = "month" if choice is None or choice.per is None else choice.per
        name = escape(channel)
        periods = "".join(
            f'<option value="{p}"{" selected" if p == per else ""}>{_PERIOD_NAMES[p]}</option>'
            for p in PERIODS
        )
        rows.append(
            f"<tr><th>{escape(_CHANNEL_NAMES.get(channel, channel))}</th>"
            f'<td><label><input type="radio" name="{name}.allowed" value="yes"'
            f"{'' if off else ' checked'}> 受け取る / Yes</label> "
            f'<label><input type="radio" name="{name}.allowed" value="no"'
            f"{' checked' if off else ''}> 受け取らない / No</label></td>"
            f'<td>最大 / at most <input type="number" min="1" max="1000" name="{name}.max" '
            f'value="{most}" size="3"> 回 / times per <select name="{name}.per">{periods}'
            "</select></td></tr>"
        )
    topics = "".join(
        f'<label><input type="checkbox" name="topic" value="{escape(topic)}"'
        f"{' checked' if chosen.topics is None or topic in chosen.topics else ''}> "
        f"{escape(topic)}</label><br>"
        for topic in page.topics
    )
    resume = "" if chosen.paused_until is None else chosen.paused_until.astimezone(zone).date()
    history = "".join(
        f"<li>{entry.recorded_at.astimezone(zone):%Y-%m-%d %H:%M %Z}: {escape(entry.item)} "
        f"{escape(json.dumps(entry.old, ensure_ascii=False))} → "
        f"{escape(json.dumps(entry.new, ensure_ascii=False))}</li>"
        for entry in page.history
    )
    body = (
        "<h1>配信設定 / Your preferences</h1>"
        + ("<p><strong>保存しました / Saved.</strong></p>" if saved else "")
        + '<form method="post"><h2>チャネル / Channels</h2><table>'
        + "".join(rows)
        + "</table>"
        + (f"<h2>関心のあるテーマ / Topics</h2><p>{topics}</p>" if page.topics else "")
        + "<h2>一時停止 / Pause</h2><p><label>この日まで配信しない / Nothing until "
        + f'<input type="date" name="paused_until" value="{resume}"></label></p>'
        + '<p><button type="submit">保存する / Save</button></p></form>'
        + "<h2>これまでの変更 / What you chose, and when</h2>"
        + (f"<ul>{history}</ul>" if history else "<p>まだありません / Nothing yet.</p>")
    )
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>配信設定 / Preferences</title></head><body>{body}</body></html>"
    )
