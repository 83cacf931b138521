"""Scans and replays on Dask distributed: a local cluster of this machine's cores, or a scheduler's address.

The client cuts the input into shards (:mod:`policy.cluster.shards`) and sends each worker the
compiled policy once (``scatter``); a task checks one shard and sends back what one process would
have printed or counted for it.  Results are taken in shard order, with a bounded number of
shards in flight, so the output is the single-process output and the client's memory stays flat
however long the corpus.  Nothing is recorded: the ledger is one writer's, and a backfill that
records runs as ``policy scan --db`` (batched, resumable).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from policy.cluster.shards import Shard, shard_posts, shard_text
from policy.compiler.compiled import CompiledPolicy
from policy.engine.pipeline import Engine
from policy.tools.replay import ReplayReport, replay_lines
from policy.tools.scan import ScanPart, scan_lines

LOCAL = "local"
"""The ``--cluster`` value that starts a cluster of this machine's cores for the run."""


class ClusterError(Exception):
    """The cluster cannot be reached or started."""


@contextmanager
def connect(address: str, workers: int | None = None, timeout: float = 10.0) -> Iterator[Any]:
    """A Dask client: of a new local cluster (``workers`` processes, one thread each; default every
    core) when ``address`` is ``local``, else of the scheduler at ``address`` (``tcp://host:8786``)."""
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if address == LOCAL:
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
            client = Client(cluster, timeout=timeout)
        else:
            client = Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as error:
        if cluster is not None:
            cluster.close()
        where = "start a local cluster" if address == LOCAL else f"reach the Dask scheduler at {address}"
        raise ClusterError(f"cannot {where}: {error}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def in_order(client: Any, task: Callable[..., Any], shards: Iterable[Shard], *shared: Any,
             window: int | None = None) -> Iterator[Any]:
    """``task(*shared, shard)`` for every shard on the cluster, the results in shard order; at most
    ``window`` shards in flight (default: two a worker), so results never pile up at the client."""
    if window is None:
        window = 2 * max(1, len(client.scheduler_info().get("workers", {})))
    flight: deque = deque()
    for shard in shards:
        flight.append(client.submit(task, *shared, shard, pure=False))
        if len(flight) >= window:
            yield flight.popleft().result()
    while flight:
        yield flight.popleft().result()


def scan(client: Any, policy: CompiledPolicy, options: dict[str, Any], shards: Iterable[Shard],
         fmt: str) -> Iterator[ScanPart]:
    """Check every post of the shards; what ``policy scan`` prints for each shard, in order."""
    [shared] = client.scatter([policy], broadcast=True)
    yield from in_order(client, _scan_shard, shards, shared, options, fmt)


def replay(client: Any, old: CompiledPolicy, new: CompiledPolicy, options: dict[str, Any], shards: Iterable[Shard],
           samples: int, progress: Callable[[int], None] | None = None) -> ReplayReport:
    """``policy replay`` over the shards: the report one process gives for the same lines."""
    old_shared, new_shared = client.scatter([old, new], broadcast=True)
    report = ReplayReport(old.version, new.version)
    for part in in_order(client, _replay_shard, shards, old_shared, new_shared, options, samples):
        report.merge(part, samples)  # in shard order: the samples are the earliest posts, as in one process
        if progress:
            progress(report.posts + report.bad_lines)
    return report


# ---- what runs on a worker -------------------------------------------------------------------------

def _scan_shard(policy: CompiledPolicy, options: dict[str, Any], fmt: str, shard: Shard) -> ScanPart:
    return scan_lines(Engine(policy, **options), shard_posts(shard), fmt)


def _replay_shard(old: CompiledPolicy, new: CompiledPolicy, options: dict[str, Any], samples: int,
                  shard: Shard) -> ReplayReport:
    return replay_lines(Engine(old, **options), Engine(new, **options), shard_text(shard), samples)
