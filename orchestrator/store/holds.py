"""SQL over the rules that held a touch besides its binding `rule`: `touch.also_held`, a JSON
object of rule name to free time, read as rows by each database's JSON functions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal, or_, true
from sqlalchemy import select as select_columns
from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.models import Touch
from orchestrator.store.dialect import is_postgresql

__all__ = ["HoldStore", "held_by"]

_touch = Touch.__table__  # type: ignore[attr-defined]


def _holds(session: AsyncSession) -> Any:
    """A touch's `also_held` as a table of one row per rule, the rule's name in `key`."""
    each = func.jsonb_each if is_postgresql(session) else func.json_each
    return each(_touch.c.also_held).table_valued("key", "value").alias("hold")


def held_by(session: AsyncSession, rule: str) -> ColumnElement[bool]:
    """Touches `rule` held: as the binding rule, or as one of the others."""
    holds = _holds(session)
    also = exists(select_columns(literal(1)).select_from(holds).where(holds.c.key == rule))
    return or_(_touch.c.rule == rule, also)


class HoldStore:
    """Counts of the rules that held touches without binding them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def also_held_counts(self, campaign_id: int) -> list[tuple[str | None, str, str, int]]:
        """The campaign's touches counted by (step, status, rule) for each rule that held
        them besides the binding one."""
        holds = _holds(self._session)
        rule = holds.c.key
        query = (
            select_columns(_touch.c.step_id, _touch.c.status, rule, func.count())
            .select_from(_touch.join(holds, true()))
            .where(_touch.c.campaign_id == campaign_id, _touch.c.also_held.is_not(None))
            .group_by(_touch.c.step_id, _touch.c.status, rule)
        )
        # The table-valued alias is untyped, so the select is too: no overload matches it.
        result = await self._session.exec(query)  # type: ignore[call-overload]
        return [(step, status, name, count) for step, status, name, count in result.all()]
