"""`/v1/tasks`: workers claim tasks with a lease, keep it alive, complete or fail them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path

from app.auth import WorkerKey
from app.deps import RuntimeDep, SessionDep
from app.schemas.problems import problem_responses
from app.schemas.tasks import TaskList, TaskPublic, TaskState
from orchestrator.services.tasks import (
    TaskClaim,
    TaskCompletion,
    TaskFailure,
    TaskHeartbeat,
    TaskService,
)

router = APIRouter(
    prefix="/v1/tasks", tags=["tasks"], responses=problem_responses(400, 401, 403, 422)
)

TaskId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_HELD = problem_responses(404, 409)


def _service(session: SessionDep, runtime: RuntimeDep) -> TaskService:
    return TaskService(session, runtime.clock, runtime.channels, runtime.catalog)


ServiceDep = Annotated[TaskService, Depends(_service)]


@router.post("/claim", response_model=TaskList)
async def claim_tasks(
    claim: TaskClaim, service: ServiceDep, runtime: RuntimeDep, key: WorkerKey
) -> TaskList:
    """Lease the oldest open tasks of a channel: each with its contact, the rendered
    content, the contact's recent history and the outcomes its form offers. Only the key
    that claimed a task may act on it while its lease lasts."""
    claimed = await service.claim(claim, key)
    outcomes = sorted(runtime.channels[claim.channel].outcomes)
    return TaskList(tasks=[TaskPublic.of_claim(task, outcomes) for task in claimed])


@router.post("/{task_id:int}/heartbeat", response_model=TaskState, responses=_HELD)
async def heartbeat(
    task_id: TaskId, beat: TaskHeartbeat, service: ServiceDep, key: WorkerKey
) -> TaskState:
    """Extend the lease; 409 once it has expired or the task is someone else's (another
    worker's, or leased under another key)."""
    return TaskState.of(await service.heartbeat(task_id, beat, key))


@router.post("/{task_id:int}/complete", response_model=TaskState, responses=_HELD)
async def complete_task(
    task_id: TaskId,
    completion: TaskCompletion,
    service: ServiceDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    key: WorkerKey,
) -> TaskState:
    """Report the outcome: it becomes a `call_outcome` / `task_outcome` event (enrollments
    waiting for it go on at once), and consent given on the call is logged."""
    touch = await service.complete(task_id, completion, key)
    background.add_task(runtime.wake)
    return TaskState.of(touch)


@router.post("/{task_id:int}/fail", response_model=TaskState, responses=_HELD)
async def fail_task(
    task_id: TaskId, failure: TaskFailure, service: ServiceDep, key: WorkerKey
) -> TaskState:
    """Give the task back (`retry`, the default) or fail it for good."""
    return TaskState.of(await service.fail(task_id, failure, key))
