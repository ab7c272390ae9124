"""The contact-frequency policy: pure rules over plain data, no I/O."""

from policies.decision import Allow, Block, Decision, Defer, Hold
from policies.evaluate import evaluate
from policies.facts import Candidate, ContactFacts, CountedTouch
from policies.history import History
from policies.model import Policy
from policies.rules import RULE_TYPES

__all__ = [
    "RULE_TYPES",
    "Allow",
    "Block",
    "Candidate",
    "ContactFacts",
    "CountedTouch",
    "Decision",
    "Defer",
    "History",
    "Hold",
    "Policy",
    "evaluate",
]
