"""`/v1/contacts`: upsert one or many, read, erase, consent, preferences, timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.auth import CampaignsKey
from app.bulk_body import NDJSON_TYPES, read_rows
from app.deps import RuntimeDep, SessionDep, contact_validation
from app.metrics import CONTACTS_UPSERTED
from app.schemas.contacts import (
    BulkUpsertResult,
    ConsentEntryPublic,
    ContactList,
    ContactPublic,
    PreferencesUpdate,
    RowProblem,
)
from app.schemas.policy import PressurePublic
from app.schemas.problems import problem_responses
from app.schemas.timeline import Timeline, entry_schema
from orchestrator.models import ContactUpsert
from orchestrator.models.contact import ContactPreferences
from orchestrator.services.contacts import MAX_BULK_ROWS, ConsentChange, ContactService
from orchestrator.services.preferences import PreferenceService
from orchestrator.services.pressure import PressureService
from orchestrator.services.timeline import TimelineService

router = APIRouter(
    prefix="/v1/contacts",
    tags=["contacts"],
    dependencies=[Depends(contact_validation)],
    responses=problem_responses(400, 401, 403, 422),
)

ContactId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Kizuna's id of the contact")]


def _service(session: SessionDep, runtime: RuntimeDep) -> ContactService:
    return ContactService(
        session,
        runtime.clock,
        default_timezone=runtime.settings.default_timezone,
        pool=runtime.bulk_pool,
        pool_size=runtime.settings.bulk_processes,
    )


ServiceDep = Annotated[ContactService, Depends(_service)]


@router.post(
    "",
    response_model=ContactPublic,
    responses={201: {"model": ContactPublic, "description": "created"}, **problem_responses(413)},
    summary="Upsert one contact by external_id",
)
async def upsert_contact(
    payload: ContactUpsert, service: ServiceDep, response: Response, _key: CampaignsKey
) -> ContactPublic:
    """Create the contact, or set the fields given on the one with this `external_id`."""
    contact, created = await service.upsert(payload)
    CONTACTS_UPSERTED.labels("created" if created else "updated").inc()
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return ContactPublic.model_validate(contact)


_BULK_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "maxItems": MAX_BULK_ROWS,
                "items": {"$ref": "#/components/schemas/ContactUpsert"},
            }
        },
        NDJSON_TYPES[0]: {
            "schema": {"type": "string", "description": "one ContactUpsert JSON object a line"}
        },
    },
}


@router.post(
    "/bulk",
    response_model=BulkUpsertResult,
    openapi_extra={"requestBody": _BULK_BODY},
    responses=problem_responses(413, 415),
    summary="Upsert up to 10,000 contacts",
)
async def bulk_upsert_contacts(
    request: Request, service: ServiceDep, _key: CampaignsKey
) -> BulkUpsertResult:
    """Store every valid row; answer each rejected row with its index and reasons."""
    rows = await read_rows(request, MAX_BULK_ROWS)
    result = await service.bulk_upsert(rows)
    CONTACTS_UPSERTED.labels("created").inc(result.created)
    CONTACTS_UPSERTED.labels("updated").inc(result.updated)
    return BulkUpsertResult(
        received=result.received,
        created=result.created,
        updated=result.updated,
        failed=len(result.errors),
        errors=[
            RowProblem.model_validate(
                {"index": e.index, "external_id": e.external_id, "errors": e.errors}
            )
            for e in result.errors
        ],
    )


@router.get("", response_model=ContactList, summary="List contacts, or find one by external_id")
async def list_contacts(
    service: ServiceDep,
    _key: CampaignsKey,
    external_id: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00]*$")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ContactList:
    """Contacts in id order, `limit` at a time after the id `after`."""
    contacts = await service.page(external_id=external_id, after=after, limit=limit + 1)
    page = contacts[:limit]
    return ContactList(
        items=[ContactPublic.model_validate(c) for c in page],
        next_after=page[-1].id if len(contacts) > limit else None,
    )


@router.get(
    "/{contact_id:int}",
    response_model=ContactPublic,
    responses=problem_responses(404),
    summary="Read a contact",
)
async def get_contact(
    contact_id: ContactId, service: ServiceDep, _key: CampaignsKey
) -> ContactPublic:
    """The contact with its current consent per channel."""
    return ContactPublic.model_validate(await service.get(contact_id))


@router.delete(
    "/{contact_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Erase a contact",
)
async def erase_contact(contact_id: ContactId, service: ServiceDep, _key: CampaignsKey) -> None:
    """Remove the contact's personal data; suppressions stay, as hashes of its addresses."""
    await service.erase(contact_id)


@router.put(
    "/{contact_id:int}/consent/{channel}",
    response_model=ConsentEntryPublic,
    responses=problem_responses(404, 413),
    summary="Record consent for a channel",
)
async def record_consent(
    contact_id: ContactId,
    channel: Annotated[str, Path(max_length=32)],
    change: ConsentChange,
    service: ServiceDep,
    _key: CampaignsKey,
) -> ConsentEntryPublic:
    """Append `{status, source, evidence}` to the consent log; it becomes the current consent."""
    entry = await service.record_consent(contact_id, channel, change)
    return ConsentEntryPublic.model_validate(entry)


@router.put(
    "/{contact_id:int}/preferences",
    response_model=ContactPreferences,
    responses=problem_responses(404, 413),
    summary="Set the contact's own preferences",
)
async def set_preferences(
    contact_id: ContactId,
    update: PreferencesUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    _key: CampaignsKey,
) -> ContactPreferences:
    """Replace the contact's channels, caps, topics and pause; each change is logged with
    source `api`. Every campaign, channel and caller obeys them from the next decision."""
    service = PreferenceService(session, runtime.clock, runtime.channels)
    return await service.replace(
        contact_id, update.chosen(), source="api", evidence=update.evidence
    )


@router.get(
    "/{contact_id:int}/timeline",
    response_model=Timeline,
    responses=problem_responses(404),
    summary="A contact's history",
)
async def timeline(
    contact_id: ContactId,
    session: SessionDep,
    _key: CampaignsKey,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Timeline:
    """Touches with their policy decisions, events, consent and preference changes, newest
    first."""
    page = await TimelineService(session).page(contact_id, cursor, limit)
    return Timeline(items=[entry_schema(e) for e in page.entries], next_cursor=page.next_cursor)


@router.get(
    "/{contact_id:int}/pressure",
    response_model=PressurePublic,
    responses=problem_responses(404),
    summary="How close a contact is to each limit",
)
async def pressure(
    contact_id: ContactId, session: SessionDep, runtime: RuntimeDep, _key: CampaignsKey
) -> PressurePublic:
    """For each rule of the policy: used, limit and the next free time; for each channel:
    whether a marketing touch could go now, or when, and what decides it."""
    found = await PressureService(session, runtime.channels).pressure(
        contact_id, runtime.clock.now()
    )
    return PressurePublic.model_validate(found, from_attributes=True)
