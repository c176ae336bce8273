"""Secrets in URLs: what may be printed or recorded of a database URL or a command line holding one.

Every password form is masked: ``user:pw@``, and password-like query parameters (``?password=``,
``sslpassword=``, ``token=`` ...). The leaderboard prints its database this way; a run's recorded
command line (:mod:`.provenance`) goes through :func:`mask_words`. SQLAlchemy parses the URLs,
imported when a URL is masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CREDENTIALS = re.compile(r"^(?P<scheme>[^:/]+://)(?P<user>[^:/@]*):(?P<password>.*)@(?P<rest>[^@]*)$", re.S)
_SECRET_KEY = re.compile(r"pass|secret|token|key", re.I)  # password, passwd, sslpassword, sslkey, ...
_SECRET_PARAMETER = re.compile(r"(?P<key>[?&;][^=&;#]*(?:pass|secret|token|key)[^=&;#]*=)[^&;#]*", re.I)
MASK = "***"


def _secrets(url: str) -> list[str]:
    """Every secret a URL holds: the ``user:PASSWORD@`` part and the values of password-like query
    parameters (``?password=``, ``sslpassword=`` ...), as written and decoded."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    found = []
    match = _CREDENTIALS.match(url)
    if match and match["password"]:
        found.append(match["password"])
    found += [value.group(0).split("=", 1)[1] for value in _SECRET_PARAMETER.finditer(url)]
    try:
        parsed = make_url(url)
        if not match and isinstance(parsed.password, str):  # the pattern reads a raw '@' in it; SQLAlchemy does not
            found.append(parsed.password)
        for key, value in parsed.query.items():
            if _SECRET_KEY.search(key):
                found += [value] if isinstance(value, str) else list(value)
    except (ArgumentError, ValueError):
        pass
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


def has_secret(url: str) -> bool:
    """Whether printing ``url`` as written would show a password."""
    return bool(_secrets(url))


def mask_url(url: str) -> str:
    """The URL as it may be printed: every password form (``user:pw@``, ``?password=``, ...) as ``***``.

    SQLAlchemy renders it (``hide_password``) after the password-like query parameters are replaced;
    a URL it cannot parse is masked by pattern, and any secret left is replaced wherever it appears.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    match = _CREDENTIALS.match(url)
    try:
        if match and "@" in match["password"]:  # a raw '@' in the password: SQLAlchemy splits at the first
            raise ValueError(url)
        parsed = make_url(url)
        hidden = {key: MASK for key in parsed.query if _SECRET_KEY.search(key)}
        shown = (parsed.update_query_dict(hidden) if hidden else parsed).render_as_string(hide_password=True)
        shown = shown.replace("%2A%2A%2A", MASK)
    except (ArgumentError, ValueError):
        shown = f"{match['scheme']}{match['user']}:{MASK}@{match['rest']}" if match else url
        shown = _SECRET_PARAMETER.sub(lambda found: found["key"] + MASK, shown)
    return without_secrets(url, shown)


def without_secrets(url: str, text: str) -> str:
    """``text`` with every secret of ``url`` in it replaced by ``***``."""
    for secret in _secrets(url):
        text = text.replace(secret, MASK)
    return text


def mask_words(words: Iterable[str]) -> list[str]:
    """Command-line words as they may be recorded: each holding a URL (``--db=URL`` too) masked."""
    masked = []
    for word in words:
        flag, equals, value = word.partition("=") if word.startswith("--") else ("", "", word)
        masked.append(f"{flag}{equals}{mask_url(value)}" if "://" in value else word)
    return masked

