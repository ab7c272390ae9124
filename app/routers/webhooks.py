"""`/v1/webhooks/email/{provider}`: what email providers report about the mail they carried."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from app.deps import RuntimeDep, SessionDep
from app.metrics import WEBHOOK_REQUESTS, WEBHOOKS_REFUSED
from app.runtime import Runtime
from app.schemas.problems import problem_responses
from app.webhooks import PROVIDERS
from channels.email.providers import CHANNEL, InvalidSignature, UnreadablePayload
from orchestrator.errors import DomainError, NotFound, TooLarge, Unauthenticated
from orchestrator.services.email_events import EmailEventService

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

#: A SendGrid batch is at most a few hundred kilobytes; nothing a provider sends is larger.
MAX_BODY_BYTES = 4 * 1024 * 1024


class WebhookReceived(BaseModel):
    """Events taken in, and redeliveries of events already taken in (which change nothing)."""

    accepted: int
    duplicates: int


@router.post("/email/{provider}", responses=problem_responses(400, 401, 404, 413))
async def email_webhook(
    provider: str,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> WebhookReceived:
    """Events from `standard`, `sendgrid`, `mailgun`, `postmark` or `ses`, each checked with
    the provider's own signature over the raw body: a bad one is 401 and nothing is stored;
    a provider without its settings is 404."""
    # Only the known providers name a series: a client cannot grow the metric by the path.
    label = provider if provider in PROVIDERS else "unknown"
    try:
        received = await _take_in(provider, request, session, runtime, background)
    except Exception as exc:
        WEBHOOK_REQUESTS.labels(label, _result(exc)).inc()
        raise
    result = "duplicate" if received.duplicates and not received.accepted else "accepted"
    WEBHOOK_REQUESTS.labels(label, result).inc()
    return received


#: The `result` label of a request refused with a domain error, by its status.
_REFUSALS = {401: "refused", 404: "not_configured", 413: "too_large", 400: "unreadable"}


def _result(error: Exception) -> str:
    """The `result` label of a request that failed with `error`."""
    return _REFUSALS.get(error.status, "failed") if isinstance(error, DomainError) else "failed"


async def _take_in(
    provider: str,
    request: Request,
    session: AsyncSession,
    runtime: Runtime,
    background: BackgroundTasks,
) -> WebhookReceived:
    verifier = runtime.email_webhooks.get(provider)
    if verifier is None:
        known = ", ".join(PROVIDERS)
        raise NotFound(f"no webhooks are configured for {provider!r} (providers: {known})")
    body = await _read_body(request)
    service = EmailEventService(
        session,
        runtime.clock,
        runtime.catalog,
        channel=CHANNEL,
        soft_bounce_limit=runtime.settings.soft_bounce_limit,
    )
    try:
        verified = await verifier.verify(request.headers, body)
        intake = await service.take_in(provider, verified)
    except InvalidSignature as exc:
        WEBHOOKS_REFUSED.labels(provider).inc()
        raise Unauthenticated(f"the {provider} signature does not hold: {exc}") from exc
    except Unauthenticated:
        WEBHOOKS_REFUSED.labels(provider).inc()
        raise
    except UnreadablePayload as exc:
        raise DomainError(f"not a {provider} webhook: {exc}") from exc
    if intake.woken:
        background.add_task(runtime.wake)
    return WebhookReceived(accepted=intake.accepted, duplicates=intake.duplicates)


async def _read_body(request: Request) -> bytes:
    """The raw body, as signed: never parsed and serialised again before the check."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge(f"a webhook body is at most {MAX_BODY_BYTES} bytes")
    return bytes(body)
