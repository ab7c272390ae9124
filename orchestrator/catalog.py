"""Campaign definitions by (campaign, version), parsed once per process: versions never change."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel.ext.asyncio.session import AsyncSession

from orchestrator.definitions import CampaignDefinition
from orchestrator.store.campaigns import CampaignStore

__all__ = ["CampaignCatalog"]


class CampaignCatalog:
    """A cache of parsed campaign versions, filled from the database on demand."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[int, int], CampaignDefinition] = {}

    async def get_many(
        self, session: AsyncSession, keys: Collection[tuple[int, int]]
    ) -> dict[tuple[int, int], CampaignDefinition]:
        """The definitions of these (campaign id, version) pairs."""
        missing = [key for key in keys if key not in self._parsed]
        if missing:
            for key, definition in (await CampaignStore(session).versions(missing)).items():
                self._parsed[key] = CampaignDefinition.model_validate(definition)
        return {key: self._parsed[key] for key in keys if key in self._parsed}
