"""Griffe extension: the docstrings' Sphinx roles and reST literal blocks rendered as Markdown.

The docstrings are written for readers of the source, in reST's habits: ``:func:`~a.b.c```,
``:mod:`.prompts```, ``:meth:`text <a.B.m>```, a paragraph ending ``::`` before an indented block, and
doctest lines (``>>>``). mkdocstrings reads Markdown, so each role becomes an optional cross-reference
(a link where the target is documented on the site, plain code where it is not, never a warning), a
relative target is resolved against the docstring's module, ``::`` becomes ``:``, and a run of doctest
lines a ``pycon`` code block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|data|attr|exc|obj|const):`(?P<body>[^`]+)`")
EXPLICIT = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^>]+)>$")
PACKAGES = ("malpyeong_eval", "rewards", "train", "leaderboard")


def _package(obj: griffe.Object) -> str:
    module = obj if obj.is_module else obj.module
    return module.path if module.is_package else module.path.rpartition(".")[0]


def _resolve(target: str, obj: griffe.Object, loader: griffe.GriffeLoader) -> str:
    """The full dotted path of a role's target: relative (``.x``, ``..x``) to the docstring's package,
    else as written where it starts with a package, else within the docstring's module where it is found."""
    if target.startswith("."):
        stripped = target.lstrip(".")
        base = _package(obj)
        for _ in range(len(target) - len(stripped) - 1):
            base = base.rpartition(".")[0]
        return f"{base}.{stripped}" if base else stripped
    if target.split(".")[0] in PACKAGES:
        return target
    module = obj if obj.is_module else obj.module
    for scope in (obj.path, module.path):
        try:
            loader.modules_collection[f"{scope}.{target}"]
        except (KeyError, ValueError, griffe.AliasResolutionError):
            continue
        return f"{scope}.{target}"
    return target


def _role(match: re.Match[str], obj: griffe.Object, loader: griffe.GriffeLoader) -> str:
    body = match["body"]
    explicit = EXPLICIT.match(body)
    if explicit:
        title, target = explicit["title"], explicit["target"]
    else:
        target = body.lstrip("~")
        title = target.rsplit(".", 1)[-1] if body.startswith("~") else target.lstrip(".")
    return f'<autoref identifier="{_resolve(target, obj, loader)}" optional><code>{title}</code></autoref>'


def _doctests(text: str) -> str:
    """Each run of ``>>>`` lines and their output (up to a blank line) fenced as ``pycon``."""
    out: list[str] = []
    in_block = False
    for line in text.splitlines():
        starts = line.lstrip().startswith(">>>")
        if starts and not in_block:
            out.append("```pycon")
            in_block = True
        elif in_block and not line.strip():
            out.append("```")
            in_block = False
        out.append(line.strip() if in_block else line)
    if in_block:
        out.append("```")
    return "\n".join(out)


def markdown_docstring(text: str, obj: griffe.Object, loader: griffe.GriffeLoader) -> str:
    """One docstring's reST habits as Markdown."""
    text = ROLE.sub(lambda match: _role(match, obj, loader), text)
    text = re.sub(r"(\S)::$", r"\1:", text, flags=re.M)
    return _doctests(text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring of the loaded packages once the object tree is complete."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """The package itself (griffe calls ``on_object`` for its members only)."""
        self.on_object(obj=pkg, loader=loader)

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value, obj, loader)
