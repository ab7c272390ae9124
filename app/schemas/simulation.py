"""The simulator's shapes: forecast and what-if requests, and their answers."""

from __future__ import annotations

from pydantic import Field

from app.schemas.policy import PolicyDocument
from orchestrator.simulation import Forecast, ForecastRequest, WhatIf, WhatIfOptions

__all__ = ["Forecast", "ForecastRequest", "PolicyWhatIfRequest", "WhatIf"]


class PolicyWhatIfRequest(WhatIfOptions):
    """A proposed policy (validated like `PUT /v1/policy`, never stored), how many days to
    look ahead, and the assumed engagement."""

    policy: PolicyDocument = Field(
        description="the proposed policy document, as `PUT /v1/policy` takes it"
    )
