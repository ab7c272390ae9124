"""`/p/{token}`: the contact's own preference page, linked from every marketing mail.

The token in the path is the capability, as on the unsubscribe page: no key, cookie or CSRF
token. Reading the page changes nothing (link scanners open it too); saving is one
transaction, and the page shows the choices back."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from app.deps import RuntimeDep, SessionDep
from app.preference_page import read_form, render
from app.runtime import Runtime
from app.schemas.problems import problem_responses
from orchestrator.services.preferences import PreferenceCenter
from orchestrator.tracking import PREFERENCES_PATH

router = APIRouter(tags=["tracking"], responses=problem_responses(404, 422))

_HTML_PAGE: dict[int | str, dict[str, object]] = {
    200: {"description": "a page", "content": {"text/html": {"schema": {"type": "string"}}}}
}


def _center(session: AsyncSession, runtime: Runtime) -> PreferenceCenter:
    return PreferenceCenter(session, runtime.clock, runtime.tokens(), runtime.channels)


@router.get(f"{PREFERENCES_PATH}{{token}}", response_model=None, responses=_HTML_PAGE)
async def preference_page(token: str, session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    """The contact's choices as a form, and what it chose before and when."""
    page = await _center(session, runtime).page(token)
    return HTMLResponse(render(page, saved=False))


@router.post(f"{PREFERENCES_PATH}{{token}}", response_model=None, responses=_HTML_PAGE)
async def save_preferences(
    token: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> HTMLResponse:
    """Save the form's choices (logged with source `preference_center`) and show them."""
    center = _center(session, runtime)
    before = await center.page(token)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    chosen, pause = read_form(form, before.channels, before.topics)
    agent = request.headers.get("user-agent", "")[:200]
    page = await center.save(token, chosen, pause, {"user_agent": agent})
    return HTMLResponse(render(page, saved=True))
