"""The simulator: the real engine over a copy of the live tables, on a virtual clock."""

from orchestrator.simulation.assumptions import Assumptions
from orchestrator.simulation.campaign_forecast import ForecastRequest, forecast
from orchestrator.simulation.limits import MAX_AUDIENCE, MAX_DAYS
from orchestrator.simulation.policy_what_if import WhatIfOptions, what_if
from orchestrator.simulation.report import Forecast, WhatIf
from orchestrator.simulation.run import in_memory_channels, run_engine
from orchestrator.simulation.scratch import Scratch

__all__ = [
    "MAX_AUDIENCE",
    "MAX_DAYS",
    "Assumptions",
    "Forecast",
    "ForecastRequest",
    "Scratch",
    "WhatIf",
    "WhatIfOptions",
    "forecast",
    "in_memory_channels",
    "run_engine",
    "what_if",
]
