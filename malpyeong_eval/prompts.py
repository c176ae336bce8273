"""The contest prompt: a system turn, a per-type instruction with one worked example, then ``[질문]``.

Modelled on the organizers' baseline (SCORING.md §5) in our own words. A run records
the prompt's id and a hash of its full text, so scores stay tied to the prompt that
produced them. ``--prompt-file`` takes a JSON file of the same shape as
:data:`DEFAULT_PROMPT` (``id``, ``system``, ``instructions`` by question type with a
``default``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MalpyeongError

ANSWER_PREFIX = re.compile(r"^\s*답변\s*[:：]\s*")

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

    @property
    def hash(self) -> str:
        canonical = json.dumps({"id": self.id, "system": self.system, "instructions": self.instructions},
                               ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def messages(self, question_type: str, question: str) -> list[dict[str, str]]:
        """The conversation for one item: system turn, then instruction, example and ``[질문]``."""
        instruction = self.instructions.get(question_type, self.instructions["default"])
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": f"{instruction}\n\n[질문]\n{question}"},
        ]


def load_prompt(path: str | Path | None = None) -> ContestPrompt:
    """The default prompt, or the one in a JSON file (``id``, ``system``, ``instructions`` with ``default``)."""
    data = DEFAULT_PROMPT
    if path is not None:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalpyeongError(f"{path}: cannot read the prompt file ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("instructions"), dict) or "default" not in data["instructions"]:
            raise MalpyeongError(f"{path}: a prompt file needs 'id', 'system' and 'instructions' with a 'default' entry")
    return ContestPrompt(id=str(data.get("id") or Path(str(path)).stem), system=str(data.get("system", "")),
                         instructions={str(k): str(v) for k, v in data["instructions"].items()})


def clean_output(text: str) -> str:
    """A generated answer as submitted: a leading ``답변:`` (as in the example) stripped, whitespace trimmed."""
    return ANSWER_PREFIX.sub("", text.strip(), count=1).strip()
