"""Keep secrets out of logs and messages: a filter that masks the Discord token, API keys
(including the variable ``answers.llm_api_key_env`` names) and every form a database password
takes in a URL or connection string."""

from __future__ import annotations

import logging
import os
import re

SECRET_VARIABLES = ("DISCORD_TOKEN", "NEWSDESK_LLM_API_KEY", "OPENAI_API_KEY", "PGPASSWORD")
_extra_variables: set[str] = set()

MASK = "***"
# scheme://user:password@host — from the scheme's start only (no rescans), the password up to "@"
_USERINFO = re.compile(r"(?<![\w+.-])([a-zA-Z][\w+.-]*://[^\s/:@]*):[^\s/@]*@")
# password=… in a URL query (?password=, &password=) or a key=value connection string
# (libpq "host=db password='se cret'"), with or without quotes
_KEYWORD = re.compile(
    r"(?<![\w-])((?:ssl)?pass(?:word|wd)?\s*=\s*)('[^']{0,200}'?|\"[^\"]{0,200}\"?|[^\s&;#'\"]+)", re.I
)


def register_secret_variable(name: str | None) -> None:
    """Also mask the value of this environment variable (e.g. the configured LLM key's variable)."""
    if name:
        _extra_variables.add(name)


def secrets() -> list[str]:
    names = (*SECRET_VARIABLES, *sorted(_extra_variables))
    values = [os.environ.get(name, "") for name in names]
    return [v for v in values if len(v) >= 8]


def redact_passwords(text: str) -> str:
    """The text with every URL userinfo password and every ``password=`` value masked."""
    if "@" in text:
        text = _USERINFO.sub(rf"\1:{MASK}@", text)
    if "=" in text:
        text = _KEYWORD.sub(rf"\1{MASK}", text)
    return text


def redact(text: str) -> str:
    for secret in secrets():
        text = text.replace(secret, "[redacted]")
    return redact_passwords(text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return True


def install_redaction(*variables: str) -> None:
    """Attach the filter to every handler of the root logger (and future records via the root);
    ``variables``: more environment variables whose values are secrets."""
    for name in variables:
        register_secret_variable(name)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
