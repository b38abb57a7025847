"""Per-request and per-task context that log lines carry."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")
user_id: ContextVar[str] = ContextVar("user_id", default="-")
task_id: ContextVar[str] = ContextVar("task_id", default="-")
