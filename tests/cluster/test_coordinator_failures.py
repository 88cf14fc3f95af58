"""A failure inside the coordinator reaches the client that asked, never a worker's socket.

Tier 2: a real Coordinator over inproc:// sockets, no processes. The query state is set up
by hand so the final step fails the way a result with pieces of clashing types did (a cast
error in ``concat_tables``, which used to be answered to the worker and left the client
waiting forever).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
import zmq

from sqlweave.cluster import protocol as P
from sqlweave.cluster.catalog import Catalog
from sqlweave.cluster.coordinator import Coordinator
from sqlweave.cluster.distributed_queries import RunningQuery
from sqlweave.cluster.fragments import (
    DistributedPlan,
    Fragment,
    FragmentFormat,
    Location,
    Output,
    Stage,
)
from sqlweave.cluster.registration import Versions
from sqlweave.cluster.scheduler import QueryCompleted, QueryState


@pytest.fixture
def coordinator() -> Iterator[tuple[zmq.Context, Coordinator]]:
    ctx = zmq.Context()
    coord = Coordinator(
        bind="inproc://fail-clients",
        worker_bind="inproc://fail-workers",
        versions=Versions("1.0", "55.0.0"),
        context=ctx,
    )
    yield ctx, coord
    coord.close()
    ctx.destroy(linger=0)


def test_a_result_that_cannot_be_assembled_fails_the_query_for_its_client(coordinator) -> None:
    ctx, coord = coordinator
    client = ctx.socket(zmq.DEALER)
    client.setsockopt(zmq.IDENTITY, b"client-1")
    client.linger = 0
    client.connect("inproc://fail-clients")
    stage = Stage(0, Fragment(FragmentFormat.SQL, "SELECT 1"), (), Output(), Location.COORDINATOR)
    plan = DistributedPlan((stage,), 0)
    q = RunningQuery("r1", b"client-1", "SELECT 1", plan, QueryState("r1", plan, [], Catalog()))
    q.gathered[(0, 0)] = {0: pa.table({"x": [1]}), 1: pa.table({"x": ["not a number"]})}
    coord.queries[q.key] = q

    coord._feed(q, [QueryCompleted("r1", 2, 0.0)])  # must not raise into the socket loop

    assert client.poll(5000), "the client got no answer"
    _, reply = P.recv(client)
    assert isinstance(reply, P.QueryFailed) and reply.request_id == "r1", reply
    assert "r1" not in coord.queries
    client.close()
