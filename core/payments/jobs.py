"""Background jobs (being built)."""

from __future__ import annotations

from core.jobs import CronSpec, JobSpec

JOBS: list[JobSpec] = []
CRONS: list[CronSpec] = []
