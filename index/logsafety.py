"""Keep secrets out of logs: a filter that masks the Discord token and API keys."""

from __future__ import annotations

import logging
import os

SECRET_VARIABLES = ("DISCORD_TOKEN", "NEWSDESK_LLM_API_KEY", "OPENAI_API_KEY")


def secrets() -> list[str]:
    values = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    return [v for v in values if len(v) >= 8]


def redact(text: str) -> str:
    for secret in secrets():
        text = text.replace(secret, "[redacted]")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if secrets():
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
            if record.exc_info and record.exc_info[1] is not None:
                text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = redact(text)
        return True


def install_redaction() -> None:
    """Attach the filter to every handler of the root logger (and future records via the root)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
