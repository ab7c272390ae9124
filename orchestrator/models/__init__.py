"""The tables of Kizuna, one module per aggregate, all on one metadata."""

from orchestrator.models.api_key import ApiKey
from orchestrator.models.base import metadata
from orchestrator.models.campaign import Campaign, CampaignVersion
from orchestrator.models.contact import ConsentLog, Contact, PreferenceLog, Suppression
from orchestrator.models.contact_input import ContactUpsert, PostalAddress
from orchestrator.models.enrollment import Enrollment
from orchestrator.models.event import Event
from orchestrator.models.installation import InstallationValue
from orchestrator.models.policy import PolicyVersion
from orchestrator.models.schedule_run import ScheduleRun
from orchestrator.models.step_entry import StepEntry
from orchestrator.models.touch import Touch
from orchestrator.models.webhook_receipt import WebhookReceipt

__all__ = [
    "ApiKey",
    "Campaign",
    "CampaignVersion",
    "ConsentLog",
    "Contact",
    "ContactUpsert",
    "Enrollment",
    "Event",
    "InstallationValue",
    "PolicyVersion",
    "PostalAddress",
    "PreferenceLog",
    "ScheduleRun",
    "StepEntry",
    "Suppression",
    "Touch",
    "WebhookReceipt",
    "metadata",
]
