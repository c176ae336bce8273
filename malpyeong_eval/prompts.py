"""The contest prompt: a system turn, a per-type instruction with one worked example, then ``[질문]``.

Modelled on the organizers' baseline (malpyeong_eval/docs/scoring.md §5) in our own words. A run records
the prompt's id and a hash of its full text, so scores stay tied to the prompt that
produced them. ``--prompt-file`` takes a JSON file of the same shape as
:data:`DEFAULT_PROMPT` (``id``, ``system``, ``instructions`` by question type with a
``default``), optionally with ``user`` (the user turn's template, see below) and
``extra_header``.

Extra ``input`` fields (a retriever's ``references``, any other field a team writes into
the data) are rendered as the organizers' baseline does. Its ``make_chat`` (``src/data.py``
of the baseline repository, copied into many participants' code) keeps every ``input``
field but ``question`` and ``question_type`` as ``other_info``, and when there is any, puts
``"[기타 정보]"`` followed by one ``f"- {key}: {value}"`` line per field (in the data's
order) between the instruction and ``[질문]``, the three parts joined by a blank line::

    {instruction}

    [기타 정보]
    - key: value

    [질문]
    {question}

Its ``value`` is Python's ``str`` of the JSON value, which prints a list as one
``['…', '…']`` line with escaped line breaks. We keep the block and the ``- key: value``
lines, and choose, for a list (the passages a retriever returns), ``- key:`` followed by one
``  - entry`` line per entry, an entry's own line breaks (``"{title}\n{text}"``) joined into
one space, an empty list as ``- key: []``. A string value is written as is (as the
baseline); any other value as compact JSON (``true``, ``null``, ``{"a": 1}``, where the
baseline would print Python's ``True``, ``None``, ``{'a': 1}``). See :func:`render_extra`.
An item without extra fields renders exactly as without this block.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .citation import CANDIDATES_FIELD, CITATION_LABEL, candidate_titles, split_citation
from .errors import MalpyeongError

ANSWER_PREFIX = re.compile(r"^\s*답변\s*[:：]\s*")
EXTRA_HEADER = "[기타 정보]"
# The user turn: ``{extra}`` is the [기타 정보] block and a blank line, or nothing for an item
# without extra input fields (so such an item renders as ``{instruction}\n\n[질문]\n{question}``).
DEFAULT_USER_TEMPLATE = "{instruction}\n\n{extra}[질문]\n{question}"
# Names the extra-field layout of render_extra; a run on data with extra fields records it in its
# generation key, so changing the layout never reuses generations made with another.
EXTRA_LAYOUT = "baseline-kv-list-lines-v1"
_PLACEHOLDER = re.compile(r"\{(instruction|extra|question|candidates)\}")
CANDIDATES_HEADER = "[후보 규범]"
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def render_extra(fields: Mapping[str, Any], header: str = EXTRA_HEADER) -> str:
    """The ``[기타 정보]`` block of an item's extra ``input`` fields ("" when there are none).

    One ``- key: value`` line per field in order; a list as ``- key:`` and one ``  - entry``
    line per entry (an entry's line breaks joined into one space); see the module docstring.
    """
    if not fields:
        return ""
    lines = [header]
    for key, value in fields.items():
        if isinstance(value, list) and value:
            lines.append(f"- {key}:")
            lines += [f"  - {_LINE_BREAKS.sub(' ', _value_text(entry).strip())}" for entry in value]
        else:
            lines.append(f"- {key}: {_value_text(value)}")
    return "\n".join(lines)


def render_candidates(passages: Any, header: str = CANDIDATES_HEADER) -> str:
    """The numbered block of an item's candidate passages ("" when there are none): the header, then
    per passage ``[N] <title>`` and its text on the next line (its line breaks joined into a space).

    >>> print(render_candidates(["<가 제1항>\\n본문 하나", "<나 제2항>\\n본문\\n둘"]))
    [후보 규범]
    [1] <가 제1항>
    본문 하나
    [2] <나 제2항>
    본문 둘
    """
    titles = candidate_titles(passages)
    if not titles:
        return ""
    lines = [header]
    for number, (title, passage) in enumerate(zip(titles, passages, strict=True), start=1):
        lines.append(f"[{number}] {title}")
        text = _LINE_BREAKS.sub(" ", passage.split("\n", 1)[1]).strip() if "\n" in passage else ""
        if text:
            lines.append(text)
    return "\n".join(lines)


DEFAULT_PROMPT: dict[str, Any] = {
    "id": "malpyeong-contest-v1",
    "system": (
        "당신은 한국어 어문 규범(한글 맞춤법, 표준어 규정, 외래어 표기법, 띄어쓰기, 문장 부호)과 한국의 문화, "
        "역사, 사회를 잘 아는 유능한 AI 어시스턴트입니다. 사용자의 질문에 정확하고 친절하게 답하세요. "
        "같은 문장을 되풀이하지 마세요."
    ),
    "instructions": {
        "선택형": (
            "[지침]\n주어진 문장의 {} 안 선택지 가운데 어문 규범에 맞는 것을 골라 문장을 완성하고, 그 이유를 설명하세요. "
            '답은 반드시 "{완성한 문장}"가 옳다. {이유} 의 형식으로 쓰세요.\n\n'
            "[예시]\n질문: \"국물이 {졸아서/쫄아서} 짜다.\" 가운데 올바른 것을 선택하고, 그 이유를 설명하세요.\n"
            "답변: \"국물이 졸아서 짜다.\"가 옳다. '찌개나 국물의 양이 줄다'라는 뜻의 표준어는 '졸다'이며, "
            "'쫄다'는 비표준어이다. 따라서 '졸아서'로 써야 한다."
        ),
        "교정형": (
            "[지침]\n주어진 문장에서 어문 규범에 맞지 않는 부분을 찾아 고친 문장을 쓰고, 그 이유를 설명하세요. "
            '답은 반드시 "{고친 문장}"이 옳다. {이유} 의 형식으로 쓰세요.\n\n'
            "[예시]\n질문: 다음 문장에서 어문 규범에 부합하지 않는 부분을 찾아 고치고, 그 이유를 설명하세요.\n"
            "\"그는 어릴 적부터 할아버지 밑에서 자랏다.\"\n"
            "답변: \"그는 어릴 적부터 할아버지 밑에서 자랐다.\"가 옳다. '자라다'의 어간 '자라-'에 과거를 나타내는 "
            "어미 '-았-'이 붙으면 '자랐다'가 되므로 받침은 'ㅆ'으로 적는다."
        ),
        "default": (
            "[지침]\n질문에 알맞은 문장을 쓰고 그 이유를 설명하세요. "
            '답은 반드시 "{문장}"가 옳다. {이유} 의 형식으로 쓰세요.'
        ),
    },
}


@dataclass(frozen=True)
class ContestPrompt:
    """A prompt definition and the hash that names it."""

    id: str
    system: str
    instructions: dict[str, str]
    user: str = DEFAULT_USER_TEMPLATE
    extra_header: str = EXTRA_HEADER

    @property
    def hash(self) -> str:
        """Hash of the prompt's definition. ``user`` and ``extra_header`` count only where they
        differ from the defaults, so a prompt rendering as before keeps the hash it had."""
        definition: dict[str, Any] = {"id": self.id, "system": self.system, "instructions": self.instructions}
        if self.user != DEFAULT_USER_TEMPLATE:
            definition["user"] = self.user
        if self.extra_header != EXTRA_HEADER:
            definition["extra_header"] = self.extra_header
        canonical = json.dumps(definition, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def cites(self) -> bool:
        """Whether the prompt numbers the candidates and asks for a ``근거: [N]`` line (``{candidates}``)."""
        return "{candidates}" in self.user

    def messages(self, question_type: str, question: str,
                 extra: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
        """The conversation for one item: system turn, then instruction, example, the item's
        extra input fields as ``[기타 정보]`` (when it has any) and ``[질문]``.

        A citing prompt (:attr:`cites`) puts the ``references`` field as the numbered
        ``[후보 규범]`` block at ``{candidates}`` instead, and leaves it out of ``[기타 정보]``."""
        instruction = self.instructions.get(question_type, self.instructions["default"])
        fields = dict(extra or {})
        candidates = render_candidates(fields.pop(CANDIDATES_FIELD, None)) if self.cites else ""
        block = render_extra(fields, self.extra_header)
        values = {"instruction": instruction, "extra": f"{block}\n\n" if block else "", "question": question,
                  "candidates": f"{candidates}\n\n" if candidates else ""}
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": _PLACEHOLDER.sub(lambda match: values[match.group(1)], self.user)},
        ]

    def item_messages(self, item) -> list[dict[str, str]]:
        """:meth:`messages` of a :class:`~malpyeong_eval.data.Item` (its extra input fields included)."""
        return self.messages(item.question_type, item.question, getattr(item, "extra_inputs", None))


# What a citing prompt adds to each instruction: the line ``split_citation`` reads (see citation.py).
CITE_RULE = (
    "\n\n[근거]\n[후보 규범]의 후보 가운데 답의 근거가 되는 규범을 하나 고르고, 답을 쓰기 전에 그 번호를 한 줄에 "
    f"'{CITATION_LABEL}: [번호]'의 형식으로 쓰세요. 그다음 줄에 답을 쓰세요."
)
CITE_PROMPT: dict[str, Any] = {
    "id": "malpyeong-contest-cite-v1",
    "system": DEFAULT_PROMPT["system"],
    "instructions": {key: text + CITE_RULE for key, text in DEFAULT_PROMPT["instructions"].items()},
    "user": "{instruction}\n\n{candidates}{extra}[질문]\n{question}",
}
# Prompts ``--prompt-file`` takes by name (a file of that name, where there is one, comes first).
PACKAGED_PROMPTS: dict[str, dict[str, Any]] = {"contest": DEFAULT_PROMPT, "contest-cite": CITE_PROMPT}


def load_prompt(path: str | Path | None = None) -> ContestPrompt:
    """The default prompt, or the one in a JSON file (``id``, ``system``, ``instructions`` with ``default``).

    A prompt file may also give ``user``, the user turn's template, where ``{instruction}``
    (the item type's instruction), ``{extra}`` (the ``[기타 정보]`` block of the item's extra
    input fields followed by a blank line, or nothing when it has none) and ``{question}`` are
    replaced, and nothing else (other braces stay as written); it must hold ``{question}``,
    and a template without ``{extra}`` leaves the extra fields out. The default is
    ``"{instruction}\\n\\n{extra}[질문]\\n{question}"``. ``extra_header`` renames the block's
    first line (default ``[기타 정보]``). Both count in the prompt's hash when not the defaults.
    ``{candidates}`` makes the prompt cite: the ``references`` field goes there as numbered
    candidates (:func:`render_candidates`) and the model is to name its choice (``근거: [N]``).

    ``path`` may also name a packaged prompt (:data:`PACKAGED_PROMPTS`): ``contest`` (the
    default) or ``contest-cite`` (the default with numbered candidates and the citation line).
    """
    data = DEFAULT_PROMPT
    if path is not None and str(path) in PACKAGED_PROMPTS and not Path(path).exists():
        data = PACKAGED_PROMPTS[str(path)]
    elif path is not None:
        from .inputs import read_json

        data = read_json(path, what="prompt file")
        if not isinstance(data, dict) or not isinstance(data.get("instructions"), dict) or "default" not in data["instructions"]:
            raise MalpyeongError(f"{path}: a prompt file needs 'id', 'system' and 'instructions' with a 'default' entry")
        user = data.get("user", DEFAULT_USER_TEMPLATE)
        if not isinstance(user, str) or "{question}" not in user:
            raise MalpyeongError(f"{path}: 'user' must be a template string holding {{question}} "
                                 "(and {instruction}, {extra} where they go)")
        if not isinstance(data.get("extra_header", EXTRA_HEADER), str):
            raise MalpyeongError(f"{path}: 'extra_header' must be a string")
    return ContestPrompt(id=str(data.get("id") or Path(str(path)).stem), system=str(data.get("system", "")),
                         instructions={str(k): str(v) for k, v in data["instructions"].items()},
                         user=data.get("user", DEFAULT_USER_TEMPLATE), extra_header=data.get("extra_header", EXTRA_HEADER))


def clean_output(text: str) -> str:
    """A generated answer as submitted: leading ``근거:`` citation lines
    (:func:`~malpyeong_eval.citation.split_citation`) and a leading ``답변:`` (as in the example)
    stripped, whitespace trimmed.

    >>> clean_output('근거: [2]\\n답변: "가"가 옳다. 이유.')
    '"가"가 옳다. 이유.'
    """
    return ANSWER_PREFIX.sub("", split_citation(text).answer.strip(), count=1).strip()
