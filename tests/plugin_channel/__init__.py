"""A channel plugin installed the way a third-party package installs one.

`installed/` holds the package `kizuna_pager` and its `dist-info` (metadata and the entry
point in the group `kizuna.channels`), as pip would leave them in site-packages. Importing
this module puts that folder on `sys.path`, for this process, and on `PYTHONPATH`, for
the processes tests start, so `importlib.metadata` finds the plugin in both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["INSTALLED"]

INSTALLED = str(Path(__file__).with_name("installed"))

if INSTALLED not in sys.path:
    sys.path.append(INSTALLED)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, (INSTALLED, os.environ.get("PYTHONPATH")))
    )
