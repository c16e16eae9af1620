"""One place that removes secrets from text before it is shown, logged or stored.

Provider errors echo request URLs and keys; a URL given as `--api-base http://bob:secret@host/v1`
or a database URL carries a password. Every error line, stored error and displayed URL passes
through `redact`. Only the standard library's `re` and `os`; the patterns are compiled on first
use (re's own cache), so importing this costs a command nothing.
"""

from __future__ import annotations

import os
import re

MASK = "***"

# scheme://userinfo@ — userinfo runs to the last "@" of the authority (passwords may hold one).
_URL_USERINFO = r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^\s/?#]*)@"
# ?key=… &token=… in a query string (or a form body): the value goes.
_QUERY_SECRET = (
    r"(?i)(?P<name>[?&;](?:[A-Za-z0-9_\-]*?)(?:key|token|secret|password|passwd|pwd|signature|sig|auth|"
    r"credential|code)s?=)(?P<value>[^&#\s'\"<>]+)"
)
# `Authorization: Bearer xyz`, `Basic xyz`, `x-api-key: xyz` as echoed by some providers.
_AUTH_HEADER = (
    r"(?i)(?P<name>\b(?:Bearer|Basic|Token)\s+|\b(?:x-)?api[-_]?key[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[A-Za-z0-9._~+/=\-]{6,})"
)
# Shapes of well-known API keys and tokens.
_KEY_SHAPES = (
    r"\b(?:"
    r"sk-[A-Za-z0-9_\-]{8,}"  # OpenAI, Anthropic (sk-ant-…), DeepSeek, OpenRouter (sk-or-…)
    r"|gsk_[A-Za-z0-9]{8,}"  # Groq
    r"|xai-[A-Za-z0-9]{8,}"  # xAI
    r"|hf_[A-Za-z0-9]{8,}"  # Hugging Face
    r"|gh[pousr]_[A-Za-z0-9]{16,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{16,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{8,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r")"
)
_SECRET_ENV = r"(?i)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$"
_MIN_ENV_SECRET = 8  # shorter values would mask ordinary words


def redact(text: str) -> str:
    """`text` with URL passwords, query-string secrets, API keys and secret env values masked."""
    if not text:
        return text
    text = _mask_env_secrets(text)
    text = re.sub(_URL_USERINFO, _mask_userinfo, text)
    text = re.sub(_QUERY_SECRET, _keep_name, text)
    text = re.sub(_AUTH_HEADER, _keep_name, text)
    return re.sub(_KEY_SHAPES, _mask_key, text)


def _keep_name(match: re.Match[str]) -> str:
    return match.group("name") + MASK


def _mask_userinfo(match: re.Match[str]) -> str:
    """`user:password@` keeps the user name (it helps to see which account); a bare user stays."""
    info = match.group("info")
    if ":" in info:
        info = info.split(":", 1)[0] + ":" + MASK
    return f"{match.group('scheme')}{info}@"


def _mask_key(match: re.Match[str]) -> str:
    key = match.group(0)
    prefix = re.match(r"[A-Za-z]+[-_]", key)
    return (prefix.group(0) if prefix else key[:4]) + MASK


def _mask_env_secrets(text: str) -> str:
    for name, value in os.environ.items():
        if len(value) >= _MIN_ENV_SECRET and re.search(_SECRET_ENV, name) and value in text:
            text = text.replace(value, MASK)
    return text
