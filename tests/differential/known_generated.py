"""Generated cases that still differ (written by ``python -m tests.differential.update_known``)."""

from __future__ import annotations

from .causes import Cause as C

GENERATED: dict[str, C] = {
    "gen-350": C.EMBEDDED_PLAN_CHECK,
}
