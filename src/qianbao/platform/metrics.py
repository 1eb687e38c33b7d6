"""The platform's Prometheus metrics, in one place (served at ``/metrics``).

Names follow Prometheus conventions: ``_seconds`` for durations, ``_total`` for counters.
Labels are small sets (unit number, route template, job name), never ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_FAST = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
_SLOW = (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

REQUEST_LATENCY = Histogram(
    "qianbao_http_request_duration_seconds",
    "HTTP request latency by route template, method, status class and the caller's home unit",
    ["route", "method", "status", "unit"],
    buckets=_FAST,
)
WRITER_BATCH_SIZE = Histogram(
    "qianbao_writer_batch_size",
    "Commands per committed writer batch",
    ["unit"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
WRITER_COMMIT = Histogram(
    "qianbao_writer_batch_seconds",
    "Time from taking a batch to its commit (run + write + fsync)",
    ["unit"],
    buckets=_FAST,
)
WRITER_QUEUE_DEPTH = Gauge(
    "qianbao_writer_queue_depth", "Commands waiting for the unit writer", ["unit"]
)
RELAY_LAG = Histogram(
    "qianbao_relay_lag_seconds",
    "From a message's business commit to its application in the destination unit",
    ["transport"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)
RELAY_PENDING = Gauge(
    "qianbao_relay_pending_messages",
    "Confirmed messages of a unit not yet applied at the relay's last pass (capped at a batch)",
    ["unit"],
)
BROKER_BACKLOG = Gauge(
    "qianbao_broker_backlog_messages",
    "Messages the broker holds for a unit that it has not acknowledged (pending + unacked)",
    ["unit"],
)
BROKER_PUBLISHED = Counter(
    "qianbao_broker_published_total", "Messages published to the broker", ["unit"]
)
JOB_RUNS = Counter("qianbao_job_runs_total", "Periodic job runs by outcome", ["job", "outcome"])
JOB_DURATION = Histogram(
    "qianbao_job_duration_seconds", "Periodic job run time", ["job"], buckets=_SLOW
)
JOB_LAST_SUCCESS = Gauge(
    "qianbao_job_last_success_timestamp_seconds", "Unix time of a job's last success", ["job"]
)
