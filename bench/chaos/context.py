"""What every scenario is given: the PostgreSQL cluster, the run's size, its randomness."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.chaos.cluster import Cluster

__all__ = ["Context"]


@dataclass(frozen=True)
class Context:
    """`short`: the CI size, a few seconds a scenario."""

    cluster: Cluster
    short: bool
    random: random.Random
