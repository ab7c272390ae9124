"""What a dispatcher pass writes: the enrollments it is moving, the touch rows of their send
steps (queued, deferred, blocked, failed), and their new positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from channels.base import ContactSnapshot
from orchestrator.admission import CandidateTouch, also_held
from orchestrator.definitions import SendStep
from orchestrator.steps import EnrollmentContext, Position
from orchestrator.store.contacts import ContactRecord
from orchestrator.store.enrollments import DueEnrollment, EnrollmentPosition
from orchestrator.store.touches import NewTouch
from policies import Allow, Block, Decision, Defer

__all__ = ["Advancing", "decided", "fail", "position_row", "refused", "touch_row"]


@dataclass
class Advancing:
    """One enrollment on its way through the pass."""

    enrollment: DueEnrollment
    position: Position
    context: EnrollmentContext
    contact: ContactRecord
    snapshot: ContactSnapshot
    step: SendStep | None = None
    touches: list[NewTouch] = field(default_factory=list)


def fail(item: Advancing, step: SendStep, reason: str, error: str, now: datetime) -> None:
    """The step cannot be carried out for this contact: a failed touch says why, and the
    enrollment ends as failed."""
    item.touches.append(touch_row(item, step, "failed", now, error=error))
    item.position.finish("failed", reason, now)


def decided(
    item: Advancing,
    candidate: CandidateTouch,
    decision: Decision,
    now: datetime,
    *,
    weight: float,
    policy_version: int,
) -> NewTouch:
    if isinstance(decision, Allow):
        return touch_row(
            item,
            candidate.step,
            "queued",
            now,
            weight=weight,
            policy_version=policy_version,
            content=candidate.content,
        )
    assert isinstance(decision, Defer | Block)
    return touch_row(
        item,
        candidate.step,
        "deferred" if isinstance(decision, Defer) else "blocked",
        now,
        weight=weight,
        policy_version=policy_version,
        rule=decision.rule,
        reason=decision.reason,
        also_held=also_held(decision),
        defer_until=decision.until if isinstance(decision, Defer) else None,
    )


def touch_row(
    item: Advancing,
    step: SendStep,
    status: str,
    now: datetime,
    *,
    weight: float = 0.0,
    policy_version: int | None = None,
    content: dict[str, str] | None = None,
    rule: str | None = None,
    reason: str | None = None,
    also_held: dict[str, str | None] | None = None,
    defer_until: datetime | None = None,
    error: str | None = None,
) -> NewTouch:
    enrollment, position, campaign = item.enrollment, item.position, item.context.campaign
    return {
        "contact_id": enrollment.contact_id,
        "enrollment_id": enrollment.id,
        "campaign_id": enrollment.campaign_id,
        "campaign_version": enrollment.campaign_version,
        "step_id": step.id,
        "channel": step.channel,
        "category": campaign.category,
        "status": status,
        "weight": weight,
        "idempotency_key": f"{enrollment.id}:{position.seq}:{position.attempt}",
        "rule": rule,
        "reason": reason,
        "also_held": also_held,
        "policy_version": policy_version,
        "defer_until": defer_until,
        "content": {} if content is None else content,
        "error": error,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def refused(touch: NewTouch, error: str) -> NewTouch:
    """A touch the database would not store, as a failed touch without its content."""
    failed = touch.copy()
    failed["status"], failed["content"], failed["error"] = "failed", {}, error
    failed["rule"] = failed["reason"] = failed["also_held"] = None
    return failed


def position_row(item: Advancing, now: datetime) -> EnrollmentPosition:
    position = item.position
    return {
        "id": item.enrollment.id,
        "state": position.state,
        "step_id": position.step_id,
        "step_entered_at": position.entered_at,
        "step_seq": position.seq,
        "attempt": position.attempt,
        "awaiting_event": position.awaiting_event,
        "next_action_at": position.next_action_at,
        "exit_reason": position.exit_reason,
        "finished_at": position.finished_at,
        "updated_at": now,
    }
