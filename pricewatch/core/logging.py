"""Logging filters: request/task context on every line, and secrets kept out of the logs."""

from __future__ import annotations

import logging
import re

from pricewatch.core import context

# Patterns for things that must never reach a log: JWTs, bearer credentials, passwords and keys
# in query strings or form dumps, and the one-time keys that sit in verification/reset URLs.
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*"), "[redacted-jwt]"),
    (re.compile(r"(?i)\b(bearer|token|basic)\s+[\w\-.~+/=]{8,}"), r"\1 [redacted]"),
    (
        re.compile(
            r"(?i)\b(password\d?|passwd|secret|token|refresh_token|access_token|session_token"
            r"|api_key|key|sessionid|csrftoken)(['\"]?\s*[:=]\s*['\"]?)[^\s&'\",;}]+"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"(confirm-email|reset/key|unsubscribe|mute)/[^/\s?\"']+"), r"\1/[redacted]"),
    (re.compile(r"(?i)(://[^:/\s]+:)[^@/\s]+@"), r"\1[redacted]@"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    """Adds request_id, user_id and task_id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = context.request_id.get()
        if not hasattr(record, "user_id"):
            record.user_id = context.user_id.get()
        if not hasattr(record, "task_id"):
            record.task_id = context.task_id.get()
        # One short field for text lines: whichever of request id and task id applies.
        request_id = getattr(record, "request_id", "-")
        record.ctx = request_id if request_id != "-" else getattr(record, "task_id", "-")
        return True


class RedactingFilter(logging.Filter):
    """Rewrites the formatted message so that secrets never leave the process."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the line
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
