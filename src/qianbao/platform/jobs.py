"""Periodic jobs as workers: each job on its own thread and schedule (ADR 0411).

A job is a bounded, idempotent function of nothing (it closes over its platform) that a process
runs for the units it owns. Each job has its own worker thread, so a slow one (a merchant's
webhook that takes seconds to answer) delays only itself: the books' close keeps its schedule.
A run that fails is logged and counted, and the job runs again at its next tick; a job never
runs twice at once (its one thread runs it), and a stopped scheduler finishes the runs in
progress, starts no new one, and can be started again (restartable). Metrics per job:
``qianbao_job_runs_total{job,outcome}``, ``qianbao_job_duration_seconds{job}``,
``qianbao_job_last_success_timestamp_seconds{job}``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from qianbao.platform.metrics import JOB_DURATION, JOB_LAST_SUCCESS, JOB_RUNS

log = logging.getLogger("qianbao.jobs")


@dataclass
class Job:
    """``run`` every ``every_s`` seconds (from the start of one run to the start of the next;
    a run that overruns is followed at once by the next, never by a burst of missed ones)."""

    name: str
    every_s: float
    run: Callable[[], Any]
    first_after_s: float = 0.0
    runs: int = 0
    failures: int = 0
    last_duration_s: float = 0.0
    last_success: float = 0.0  # unix time
    last_error: str = ""
    running: bool = field(default=False)

    def status(self) -> dict[str, Any]:
        return {
            "job": self.name,
            "every_s": self.every_s,
            "runs": self.runs,
            "failures": self.failures,
            "running": self.running,
            "last_duration_s": round(self.last_duration_s, 3),
            "last_success": self.last_success,
            "last_error": self.last_error,
        }


class Scheduler:
    """One worker thread per job."""

    def __init__(self, jobs: Iterable[Job], stop: threading.Event | None = None) -> None:
        self.jobs = {job.name: job for job in jobs}
        self._stop = stop or threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Scheduler:
        if self._threads:
            return self
        for job in self.jobs.values():
            thread = threading.Thread(
                target=self._worker, args=(job,), name=f"job-{job.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Start no new run; wait (bounded) for the runs in progress."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("jobs still running at stop: %s", ", ".join(alive))
        self._threads = []
        self._stop = threading.Event()

    def status(self) -> list[dict[str, Any]]:
        return [job.status() for job in self.jobs.values()]

    def _worker(self, job: Job) -> None:
        stop = self._stop
        next_at = time.monotonic() + job.first_after_s
        while not stop.wait(max(0.0, next_at - time.monotonic())):
            started = time.monotonic()
            run_once(job)
            next_at = max(started + job.every_s, time.monotonic())


def run_once(job: Job) -> bool:
    """One run of ``job`` with its metrics; False when it failed (it will run again)."""
    job.running = True
    started = time.monotonic()
    try:
        job.run()
    except Exception as exc:
        job.failures += 1
        job.last_error = f"{type(exc).__name__}: {exc}"[:500]
        JOB_RUNS.labels(job.name, "error").inc()
        log.exception("job %s failed; will retry", job.name)
        return False
    else:
        job.last_success = time.time()
        job.last_error = ""
        JOB_RUNS.labels(job.name, "ok").inc()
        JOB_LAST_SUCCESS.labels(job.name).set(job.last_success)
        return True
    finally:
        job.runs += 1
        job.running = False
        job.last_duration_s = time.monotonic() - started
        JOB_DURATION.labels(job.name).observe(job.last_duration_s)
