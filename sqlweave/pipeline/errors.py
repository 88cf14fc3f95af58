"""Errors of pipeline planning and running: every one names the notebooks and tables at fault."""

from __future__ import annotations

from ..errors import UsageError


class PipelineError(UsageError):
    """A pipeline cannot be planned or run as asked."""


class CycleError(PipelineError):
    """Notebooks depend on each other in a circle."""


class ConflictingWritersError(PipelineError):
    """Two notebooks write the same table: the order between them is undefined."""
