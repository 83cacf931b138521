"""What ``/metrics`` reports, in the Prometheus text format (prometheus_client writes it).

Counts are per process: under ``policy serve --workers N`` each worker reports its own, which a
Prometheus server sums across scrapes of the workers' instances.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from policy.model.verdict import Verdict

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Seconds; a check takes tens to hundreds of microseconds, a long post milliseconds."""


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series only repeat the process start
        self.registry = CollectorRegistry()
        self.checks = Counter("policy_checks", "Posts checked, by decision", ["decision"], registry=self.registry)
        self.rules = Counter("policy_rule_matches", "Enforced rules that fired, by rule", ["rule"],
                             registry=self.registry)
        self.latency = Histogram("policy_check_seconds", "Time of one engine check", buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.info = Gauge("policy_info", "The policy being served (value 1)", ["name", "version"],
                          registry=self.registry)
        self.brakes = Gauge("policy_brakes_tripped", "Rules whose emergency brake is tripped (-1: no ledger)",
                            registry=self.registry)
        self._served: tuple[str, str] | None = None

    def observe(self, verdict: Verdict, seconds: float) -> None:
        self.checks.labels(verdict.decision).inc()
        for violation in verdict.violations:
            self.rules.labels(violation.rule).inc()
        self.latency.observe(seconds)

    def render(self, name: str, version: str, tripped: int | None) -> tuple[bytes, str]:
        if self._served != (name, version):
            if self._served is not None:
                self.info.remove(*self._served)
            self.info.labels(name, version).set(1)
            self._served = (name, version)
        self.brakes.set(-1 if tripped is None else tripped)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
