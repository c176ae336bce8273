"""MkDocs hook: the site's front page is README.md, with its links into ``docs/`` made relative to the site.

README.md is the one copy of the front page (GitHub and PyPI show it); ``docs/index.md`` only
names it. The README links to the pages as ``docs/PAGE.md`` and to images as ``docs/images/…``,
which are ``PAGE.md`` and ``images/…`` from the site's root, and to the scoring spec as the
package's ``malpyeong_eval/docs/scoring.md``, which the site shows as ``spec.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOCS_LINK = re.compile(r"\]\(docs/")
SPEC_LINK = "](malpyeong_eval/docs/scoring.md"


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    """Replace ``index.md`` by the README, its ``](docs/…)`` links rewritten; other pages pass unchanged."""
    if page.file.src_uri != "index.md":
        return markdown
    readme = Path(config.config_file_path).parent / "README.md"
    return DOCS_LINK.sub("](", readme.read_text(encoding="utf-8")).replace(SPEC_LINK, "](spec.md")
