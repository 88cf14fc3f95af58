"""EXPLAIN of a distributed query as a typed value: the plan as text, and as a graph.

The cluster builds a :class:`DistributedExplain` (``cluster/explain.py``), sends it in its
answer to the query (``QueryResult.explain``), and the client's :class:`~sqlweave.result.Result`
carries it as ``Result.explain``; the notebook draws ``graph``. Nobody recognises a plan
by the names of a table's columns.

>>> graph = ExplainGraph(
...     (ExplainNode("table:t", NodeKind.TABLE, "t"), ExplainNode("stage0", NodeKind.STAGE, "scan")),
...     (ExplainEdge("table:t", "stage0", "scan"),),
...     (),
... )
>>> explained = DistributedExplain("Distributed plan: 1 stages", graph)
>>> explained.table().to_pylist()
[{'plan_type': 'distributed_plan', 'plan': 'Distributed plan: 1 stages'}]
>>> sorted(explained.graph.to_dict())
['edges', 'nodes', 'notes']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

#: the ``plan_type`` of the row EXPLAIN of a distributed query answers with
PLAN_TYPE = "distributed_plan"


class NodeKind:
    TABLE = "table"
    STAGE = "stage"


@dataclass(frozen=True)
class TaskInfo:
    """Where one task of a stage ran and what it did."""

    index: int
    worker: str
    status: str
    rows: int
    seconds: float
    attempt: int


@dataclass(frozen=True)
class ExplainNode:
    """A base table or a stage."""

    id: str
    kind: str
    label: str
    location: str = ""
    parallelism: int = 0
    rows: int = 0
    seconds: float = 0.0
    tasks: tuple[TaskInfo, ...] = ()


@dataclass(frozen=True)
class ExplainEdge:
    """A scan (table -> stage) or an exchange (stage -> stage) and its keys."""

    source: str
    target: str
    kind: str
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExplainGraph:
    """The stages of a distributed plan, the tables they read, and how data flows."""

    nodes: tuple[ExplainNode, ...]
    edges: tuple[ExplainEdge, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data for the notebook's drawing code."""
        return asdict(self)


@dataclass(frozen=True)
class DistributedExplain:
    """The answer to ``EXPLAIN`` of a distributed query."""

    text: str
    graph: ExplainGraph

    def table(self) -> pa.Table:
        """The rows EXPLAIN shows: one, its plan as text (like DataFusion's own EXPLAIN)."""
        return pa.table({"plan_type": [PLAN_TYPE], "plan": [self.text]})


#: every class of the value, for the wire protocol to rebuild it
VALUE_TYPES = (TaskInfo, ExplainNode, ExplainEdge, ExplainGraph, DistributedExplain)
