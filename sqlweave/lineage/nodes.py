"""The named kinds of the lineage graph's nodes and edges, and the nodes themselves.

A node is a dataset, a column of a dataset, or a run (one statement execution); its ``id``
is the key the networkx graph behind :class:`~sqlweave.lineage.graph.LineageGraph` uses.

>>> column_node("orders", "total").id
'column:orders.total'
>>> str(column_node("orders", "total")), dataset_node("orders").kind is NodeKind.DATASET
('orders.total', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class NodeKind(str, Enum):
    """What a graph node stands for."""

    DATASET = "dataset"
    COLUMN = "column"
    RUN = "run"


class DatasetKind(str, Enum):
    """What a dataset node is, as far as the notebook knows (node attribute ``dataset_kind``)."""

    TABLE = "table"  # a catalog table or view (or a file) of the engine
    NOTEBOOK_VARIABLE = "notebook variable"  # a result bound by ``%%sql name <<``, ``x = %sql``
    DATAFRAME = "dataframe"  # a notebook DataFrame read by its name


class EdgeKind(str, Enum):
    """What a graph edge stands for (direction in the comment)."""

    READS = "reads"  # dataset -> run
    WRITES = "writes"  # run -> dataset
    HAS_COLUMN = "has_column"  # dataset -> column
    DERIVES = "derives"  # column -> column
    DROPS = "drops"  # run -> dataset
    RENAMES = "renames"  # run -> dataset (its new name)


#: edges along which data flows; the only ones lineage queries follow
FLOW_EDGES = frozenset({EdgeKind.READS, EdgeKind.WRITES, EdgeKind.DERIVES})


@dataclass(frozen=True, order=True)
class Node:
    """A node of the graph: a dataset, a column of a dataset, or a run (key = run id)."""

    kind: NodeKind
    name: str
    column: str | None = None

    @property
    def id(self) -> str:
        if self.kind is NodeKind.COLUMN:
            return f"column:{self.name}.{self.column}"
        return f"{self.kind.value}:{self.name}"

    def __str__(self) -> str:
        return f"{self.name}.{self.column}" if self.kind is NodeKind.COLUMN else self.name


def dataset_node(name: str) -> Node:
    return Node(NodeKind.DATASET, name)


def column_node(dataset: str, column: str) -> Node:
    return Node(NodeKind.COLUMN, dataset, column)


def run_node(run_id: str) -> Node:
    return Node(NodeKind.RUN, run_id)
