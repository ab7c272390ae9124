"""`/t/c`, `/t/o`, `/u`: clicks of tracked links, open pixels and unsubscribes of email.

The token in the path is the capability: these routes need no key, cookie or CSRF token.
The dispatcher is woken only when an enrollment was waiting for the event: most clicks and
opens concern no journey waiting for one, and a pass for each would cost more than the click."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.deps import RuntimeDep, SessionDep
from app.runtime import Runtime
from app.schemas.problems import problem_responses
from channels.email import EmailChannel
from orchestrator.services.tracking import TrackingService
from orchestrator.tracking import CLICK_PATH, OPEN_PATH, UNSUBSCRIBE_PATH

router = APIRouter(tags=["tracking"], responses=problem_responses(404))

#: A transparent 1x1 GIF.
_PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
#: The unsubscribe routes answer pages; their errors stay problem documents.
_HTML_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"description": "a page", "content": {"text/html": {"schema": {"type": "string"}}}}
}
#: The body of an RFC 8058 one-click unsubscribe, sent by the mailbox provider.
_ONE_CLICK = ("List-Unsubscribe", "One-Click")


def _service(session: AsyncSession, runtime: Runtime) -> TrackingService:
    return TrackingService(
        session,
        runtime.clock,
        runtime.catalog,
        runtime.tokens(),
        channel=EmailChannel.name,
        links=EmailChannel.link_targets,
    )


@router.get(f"{CLICK_PATH}{{token}}", status_code=302, response_class=RedirectResponse)
async def click(
    token: str, session: SessionDep, runtime: RuntimeDep, background: BackgroundTasks
) -> RedirectResponse:
    """Record the click and send the browser on to the link's target."""
    clicked = await _service(session, runtime).click(token)
    if clicked.recorded.woken:
        background.add_task(runtime.wake)
    return RedirectResponse(clicked.target, status_code=302, headers=_NO_CACHE)


@router.get(f"{OPEN_PATH}{{token}}", response_class=Response)
async def open_pixel(
    token: str, session: SessionDep, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    """Record the open; a transparent 1x1 GIF that no cache keeps."""
    recorded = await _service(session, runtime).open(token)
    if recorded.woken:
        background.add_task(runtime.wake)
    return Response(_PIXEL, media_type="image/gif", headers=_NO_CACHE)


@router.get(f"{UNSUBSCRIBE_PATH}{{token}}", response_model=None, responses=_HTML_PAGE)
async def unsubscribe_page(token: str, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    """A page with a button that unsubscribes; the page alone changes nothing (link scanners
    follow links)."""
    await _service(session, runtime).check_unsubscribe(token)
    return HTMLResponse(_page(_FORM))


@router.post(f"{UNSUBSCRIBE_PATH}{{token}}", response_model=None, responses=_HTML_PAGE)
async def unsubscribe(
    token: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> HTMLResponse:
    """Unsubscribe from email: the page's button, or an RFC 8058 one-click POST."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    one_click = _ONE_CLICK[1] in form.get(_ONE_CLICK[0], [])
    recorded = await _service(session, runtime).unsubscribe(
        token, "one-click" if one_click else "unsubscribe_page"
    )
    if recorded.woken:
        background.add_task(runtime.wake)
    return HTMLResponse(_page(_DONE))


_FORM = """<h1>配信停止 / Unsubscribe</h1>
<p>今後、このアドレスへのメール配信を停止します。</p>
<p>You will receive no more marketing email at this address.</p>
<form method="post">
<button type="submit" name="unsubscribe" value="yes">配信を停止する / Unsubscribe</button>
</form>"""

_DONE = """<h1>配信を停止しました / Unsubscribed</h1>
<p>このアドレスへのメール配信を停止しました。</p>
<p>You will receive no more marketing email at this address.</p>"""


def _page(body: str) -> str:
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>配信停止 / Unsubscribe</title></head><body>{body}</body></html>"
    )
