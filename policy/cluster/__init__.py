"""Replay and bulk re-check on a Dask distributed cluster (:mod:`policy.cluster.run`), over JSON-lines
files cut into shards of whole lines (:mod:`policy.cluster.shards`)."""
