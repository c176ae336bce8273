"""``retrieve``: corpus reading (text, PDF, JSONL), BM25 with its on-disk cache, dense retrieval
with a tiny local model, recall@k/MRR by hand, and the data written for ``run``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from malpyeong_eval.data import load_items, sample_path
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.retrieval import (
    Query, SETTINGS_KEYS, CorpusError, is_relevant, load_corpus, normalize_title, retrieval_metrics, retrieve_into,
)
from malpyeong_eval.retrieval.bm25 import BM25Retriever
from malpyeong_eval.retrieval.corpus import sample_corpus_path

HEAD = "한글 맞춤법, 표준어 규정 - "


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test caches BM25 indexes in its own folder, never the user's."""
    monkeypatch.setenv("MALPYEONG_CACHE_DIR", str(tmp_path / "cache"))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def sample_pdf(path: Path, text: str) -> Path:
    """``text`` laid out line for line as a PDF, with reportlab's built-in Korean CID font (no font file).

    Each line of ``text`` is one line of the page, its trailing space kept, as in the organizers'
    document: a hard-wrapped text file becomes a PDF with the same wraps. A blank line is drawn as
    one space (pypdf drops a line with nothing on it).
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("HYSMyeongJo-Medium"))
    page = canvas.Canvas(str(path))
    y = 800
    page.setFont("HYSMyeongJo-Medium", 9)
    for line in text.splitlines():
        if y < 40:
            page.showPage()
            page.setFont("HYSMyeongJo-Medium", 9)
            y = 800
        page.drawString(40, y, line or " ")
        y -= 13
    page.save()
    return path


def sample_docx(path: Path, corpus) -> Path:
    """The passages of ``corpus`` as a Word document: a heading paragraph, then one paragraph per line."""
    import docx

    document = docx.Document()
    document.add_paragraph("어문 규범 요약 (예시 자료)")
    for passage in corpus.passages:
        document.add_paragraph(passage.title)
        for line in passage.text.split("\n"):
            document.add_paragraph(line)
    document.save(str(path))
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- corpus files -------------------------------------------------------------------------------------

EVERY_FORM = (
    "표지와 머리말: <보기> 같은 괄호 말은 제목이 아니다.\n"
    f"<{HEAD}한글 맞춤법 제1항>\n"
    "한글 맞춤법은 표준어를 소리대로 적되, 어법에 맞도록 함을 원칙으로 \n"
    "한다. 어디\n"
    "까지나 원칙이다.\n"
    "\n"
    "- 첫째 보기, \n"
    "  이어지는 보기\n"
    "다만, 예외가 있다.\n"
    "[붙임] 붙임 문단.\n"
    "<문장 부호 - 문장 부호 제2항>\n"  # a heading with nothing under it (a table of contents): not a passage
    "<문장 부호 - 문장 부호 \n"
    "쉼표 규정>\n"  # a heading broken over two lines, a rule name ending in 규정
    "쉼표는 같은 자격의 어구를 열거할 때 쓴다. <보기>처럼 \n"
    "쓴다.\n"
    "\n"
    "<보기>\n"  # an angle-bracketed word alone on a line, without ' - ': text, not a heading
    "\n"
    "사과, 배, 귤\n"
    "<외래어 표기법 - 외래어 표기법 제2장 표1>\n"
    "[p] ㅍ ㅂ, 프\n"
    "[b] ㅂ 브\n"
    "<외래어 표기법 - 외래어 표기법 제3장 제1절 제2항>\n"
    "유성 파열음은 '으'를 붙여 적는다.\n"
    f"<{HEAD}한글 맞춤법 제1항>\n"
    "다시 나온 제\n"
    "목.\n"
)
EVERY_FORM_PASSAGES = [
    (f"{HEAD}한글 맞춤법 제1항", f"<{HEAD}한글 맞춤법 제1항>",
     "한글 맞춤법은 표준어를 소리대로 적되, 어법에 맞도록 함을 원칙으로 한다. 어디까지나 원칙이다.\n"
     "- 첫째 보기, 이어지는 보기\n다만, 예외가 있다.\n[붙임] 붙임 문단."),
    ("문장 부호 - 문장 부호 쉼표 규정", "<문장 부호 - 문장 부호 쉼표 규정>",
     "쉼표는 같은 자격의 어구를 열거할 때 쓴다. <보기>처럼 쓴다.\n<보기>\n사과, 배, 귤"),
    ("외래어 표기법 - 외래어 표기법 제2장 표1", "<외래어 표기법 - 외래어 표기법 제2장 표1>", "[p] ㅍ ㅂ, 프\n[b] ㅂ 브"),
    ("외래어 표기법 - 외래어 표기법 제3장 제1절 제2항", "<외래어 표기법 - 외래어 표기법 제3장 제1절 제2항>",
     "유성 파열음은 '으'를 붙여 적는다."),
    (f"{HEAD}한글 맞춤법 제1항#2", f"<{HEAD}한글 맞춤법 제1항>", "다시 나온 제목."),
]


def test_every_heading_form_and_hard_wraps(tmp_path):
    path = write_text(tmp_path / "rules.txt", EVERY_FORM)
    corpus = load_corpus(path)
    assert [(p.id, p.title, p.text) for p in corpus.passages] == EVERY_FORM_PASSAGES
    import hashlib

    assert corpus.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_form_reads_the_same_from_pdf_and_docx(tmp_path):
    pytest.importorskip("reportlab")
    from_pdf = load_corpus(sample_pdf(tmp_path / "rules.pdf", EVERY_FORM))
    assert [(p.id, p.title, p.text) for p in from_pdf.passages] == EVERY_FORM_PASSAGES
    text_form = load_corpus(write_text(tmp_path / "rules.txt", EVERY_FORM))
    from_docx = load_corpus(sample_docx(tmp_path / "rules.docx", text_form))
    assert [(p.id, p.title, p.text) for p in from_docx.passages] == EVERY_FORM_PASSAGES


def test_docx_tables_are_lines_of_cells(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("<외래어 표기법 - 외래어 표기법 제2장 표1>")
    table = document.add_table(rows=2, cols=3)
    for row, cells in zip(table.rows, [("[p]", "ㅍ", "ㅂ, 프"), ("[b]", "ㅂ", "브")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("<외래어 표기법 - 외래어 표기법 제2장 표2>")
    document.add_paragraph("모음 표.")
    document.save(str(tmp_path / "t.docx"))
    corpus = load_corpus(tmp_path / "t.docx")
    assert [p.text for p in corpus.passages] == ["[p] | ㅍ | ㅂ, 프\n[b] | ㅂ | 브", "모음 표."]


def test_sample_corpus_has_every_heading_form_and_covers_every_sample_label():
    corpus = load_corpus(sample_corpus_path())
    titles = [passage.title for passage in corpus.passages]
    assert len(titles) == len(set(titles)) >= 50
    assert sum(title.endswith("규정>") for title in titles) >= 10
    assert any(re.search(r"제2장 표\d+>$", title) for title in titles)
    assert any(re.search(r"제\d+장 제\d+절 제\d+항>$", title) for title in titles)
    assert {title[1:].split(" - ")[0] for title in titles} == {"한글 맞춤법, 표준어 규정", "띄어쓰기", "문장 부호", "외래어 표기법"}
    for name in ("gold", "labelled"):
        items = json.loads(sample_path(name).read_text(encoding="utf-8"))
        assert all(item["output"]["article"] in titles for item in items), name


def test_sample_corpus_is_hard_wrapped_and_its_passages_are_not():
    """The sample is hard-wrapped like the organizers' PDF text (one heading broken over two lines,
    wraps inside words); in its passages every word cut by a wrap is whole again."""
    lines = sample_corpus_path().read_text(encoding="utf-8").splitlines()
    corpus = load_corpus(sample_corpus_path())
    heading_starts = [line for line in lines if line.startswith("<") and " - " in line]
    assert len(heading_starts) == len(corpus)
    assert sum(not line.rstrip().endswith(">") for line in heading_starts) == 1
    text = "\n".join(passage.text for passage in corpus.passages)
    cuts = [
        (before.split()[-1], after.split()[0]) for before, after in zip(lines, lines[1:], strict=False)
        if before.strip() and after.strip() and not before.endswith(" ") and not before.startswith("<")
        and not after.startswith(("<", "- ", "[", "다만", "붙임")) and "".join(before.split()[-1:])[-1:] not in ".:>)"
    ]
    assert len(cuts) >= 15
    for first, second in cuts:
        assert first + second in text, (first, second)
    assert all(not line.endswith(" ") for passage in corpus.passages for line in passage.text.split("\n"))


def test_pdf_and_docx_of_the_sample_corpus_give_its_passages(tmp_path):
    pytest.importorskip("reportlab")
    from_text = load_corpus(sample_corpus_path())
    from_pdf = load_corpus(sample_pdf(tmp_path / "rules.pdf", sample_corpus_path().read_text(encoding="utf-8")))
    from_docx = load_corpus(sample_docx(tmp_path / "rules.docx", from_text))
    expected = [(p.id, p.title, p.text) for p in from_text.passages]
    assert [(p.id, p.title, p.text) for p in from_pdf.passages] == expected
    assert [(p.id, p.title, p.text) for p in from_docx.passages] == expected


def test_jsonl_corpus(tmp_path):
    path = write_jsonl(tmp_path / "rules.jsonl", [
        {"id": "r1", "title": "<가 - 나 제1항>", "text": "하나"},
        {"id": 2, "text": "둘"},
    ])
    corpus = load_corpus(path)
    assert [(p.id, p.title, p.text) for p in corpus.passages] == [("r1", "<가 - 나 제1항>", "하나"), ("2", "", "둘")]
    assert corpus.passages[0].render() == "<가 - 나 제1항>\n하나"


BAD_CORPORA = {
    "empty": (b"  \n", "is empty"),
    "not-utf8": ("<가 - 나 제1항>\n규칙".encode("cp949"), "not valid UTF-8"),
    "no-heading": ("그냥 문장들뿐인 파일.\n제목이 없다.".encode(), "no rule heading"),
    "no-text": (b'{"id": "a", "text": "x"}\n{"id": "b", "title": "t"}\n', 'line 2: no "text"'),
    "duplicate-id": (b'{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "duplicate id 'a'"),
    "broken-pdf": (b"%PDF-1.7\n garbage", "cannot be read as a PDF"),
    "not-a-docx": (b"PK\x03\x04 this is no zip at all", "not a .docx"),
}


@pytest.mark.parametrize("case", sorted(BAD_CORPORA))
def test_bad_corpus_is_one_line_and_exit_2(cli, tmp_path, case):
    content, message = BAD_CORPORA[case]
    corpus = tmp_path / f"{case}.txt"
    corpus.write_bytes(content)
    status, out, err = cli("retrieve", str(sample_path("gold")), "--corpus", str(corpus), "--output", str(tmp_path / "o.json"))
    assert status == 2
    assert err.strip().count("\n") == 0 and message in err and "Traceback" not in err
    assert not (tmp_path / "o.json").exists()
    with pytest.raises(CorpusError):
        load_corpus(corpus)


# -- relevance and metrics ----------------------------------------------------------------------------


@pytest.mark.parametrize(("title", "label", "relevant"), [
    (f"<{HEAD}한글 맞춤법 제18항>", f"<{HEAD}한글 맞춤법 제18항>", True),
    (f"<{HEAD}한글 맞춤법 제18항>", f"{HEAD}한글 맞춤법 제18항", True),  # the bracket mismatch
    (f"{HEAD}한글 맞춤법 제18항", f"<{HEAD}한글  맞춤법\n제18항>", True),  # and whitespace
    ("한글 맞춤법 제18항", f"<{HEAD}한글 맞춤법 제18항>", True),  # the part after the last " - "
    ("<한글 맞춤법 제18항>", f"{HEAD}한글 맞춤법 제18항", True),
    (f"<{HEAD}한글 맞춤법 제18항>", "한글 맞춤법 제18항", False),  # the rule is one way only
    (f"<{HEAD}한글 맞춤법 제1항>", f"<{HEAD}한글 맞춤법 제18항>", False),
    ("표준어 규정 제18항", f"<{HEAD}한글 맞춤법 제18항>", False),
    (f"<{HEAD}한글 맞춤법 제18항>", ["<가 - 나 제1항>", f"{HEAD}한글 맞춤법 제18항"], True),  # any of a list
])
def test_relevance_rule(title, label, relevant):
    assert is_relevant(title, label) is relevant


def test_normalize_title():
    assert normalize_title(" <가,  나 -\t다 제1항> ") == "가, 나 - 다 제1항"


class FixedRetriever:
    """Returns a fixed ranking per query (by question text) and remembers the queries it was given."""

    name = "fixed"

    def __init__(self, rankings: dict[str, list[int]]):
        self.rankings = rankings
        self.queries: list[str] = []

    def search(self, queries, k):
        self.queries += [query.question for query in queries]
        return [[(index, 1.0 / (rank + 1)) for rank, index in enumerate(self.rankings[q.question][:k])] for q in queries]


def known_case(tmp_path):
    """Ten passages P0..P9; four labelled items with the right passage at ranks 1, 3, 6 and none; one unlabelled.

    P7's title is the short form (a team's own JSONL), which matches the label's part after its last " - ".
    """
    corpus_path = write_jsonl(tmp_path / "known.jsonl", [
        {"id": f"p{i}", "title": "규정 제7항" if i == 7 else f"<규범 - 규정 제{i}항>", "text": f"규칙 {i}"}
        for i in range(10)
    ])
    items = [
        {"id": "a", "input": {"question_type": "선택형", "question": "qa"}, "output": {"answer": "A", "article": "규범 - 규정 제0항"}},
        {"id": "b", "input": {"question_type": "선택형", "question": "qb"}, "output": {"answer": "B", "article": "<규범 - 규정 제7항>"}},
        {"id": "c", "input": {"question_type": "교정형", "question": "qc"}, "output": {"answer": "C", "article": "<규범 - 규정 제5항>"}},
        {"id": "d", "input": {"question_type": "교정형", "question": "qd"}, "output": {"answer": "D", "article": "<규범 - 규정 제9항>"}},
        {"id": "e", "input": {"question_type": "교정형", "question": "qe"}, "output": {"answer": "E"}},
    ]
    rankings = {
        "qa": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],  # rank 1
        "qb": [1, 2, 7, 0, 3, 4, 5, 6, 8, 9],  # rank 3 (label in the after-last-" - " form)
        "qc": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],  # rank 6
        "qd": [0, 1, 2, 3, 4, 5, 6, 7, 8, 8],  # never
        "qe": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    }
    data = tmp_path / "items.json"
    data.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return corpus_path, data, items, rankings


def test_recall_and_mrr_equal_a_hand_count(cli, tmp_path, monkeypatch):
    corpus_path, data, items, rankings = known_case(tmp_path)
    fixed = FixedRetriever(rankings)
    monkeypatch.setattr("malpyeong_eval.retrieval.plan.RetrieverBuilder.build", lambda *args, **kwargs: fixed)
    status, out, err = cli("retrieve", str(data), "--corpus", str(corpus_path), "--top-k", "10",
                           "--output", str(tmp_path / "out.json"), "--json")
    assert status == 0, err
    metrics = json.loads(out)["metrics"]
    # ranks of the labelled items a, b, c, d: 1, 3, 6, none
    assert metrics["n_labelled"] == 4 and metrics["n_unlabelled"] == 1
    overall = metrics["overall"]
    assert overall["recall@1"] == pytest.approx(1 / 4)
    assert overall["recall@3"] == pytest.approx(2 / 4)
    assert overall["recall@5"] == pytest.approx(2 / 4)
    assert overall["recall@10"] == pytest.approx(3 / 4)
    assert overall["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 6 + 0) / 4)
    by_type = metrics["by_question_type"]
    assert by_type["선택형"]["n"] == 2 and by_type["선택형"]["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert by_type["교정형"]["n"] == 2 and by_type["교정형"]["recall@10"] == pytest.approx(1 / 2)
    assert by_type["교정형"]["mrr"] == pytest.approx((1 / 6) / 2)

    # the same through --labels (which takes precedence over output.article), and with K = 3
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"a": "<규범 - 규정 제1항>", "e": "규범 - 규정 제0항"}, ensure_ascii=False), encoding="utf-8")
    status, out, err = cli("retrieve", str(data), "--corpus", str(corpus_path), "--top-k", "3",
                           "--output", str(tmp_path / "out.json"), "--labels", str(labels), "--json")
    overall = json.loads(out)["metrics"]["overall"]
    # a: rank 2 now; b: 3; c: outside the top 3; d: none; e: rank 1
    assert overall["n"] == 5
    assert overall["recall@1"] == pytest.approx(1 / 5) and overall["recall@3"] == pytest.approx(3 / 5)
    assert overall["recall@5"] is None and overall["recall@10"] is None  # cannot be told from 3 passages
    assert overall["mrr"] == pytest.approx((1 / 2 + 1 / 3 + 1) / 5)


def test_metrics_function_matches_the_table(cli, tmp_path, monkeypatch):
    corpus_path, data, items, rankings = known_case(tmp_path)
    monkeypatch.setattr("malpyeong_eval.retrieval.plan.RetrieverBuilder.build", lambda *args, **kwargs: FixedRetriever(rankings))
    status, out, err = cli("retrieve", str(data), "--corpus", str(corpus_path), "--output", str(tmp_path / "out.json"))
    assert status == 0, err
    assert "R@1" in out and "MRR" in out and "1 of 5 items without a label" in out
    report = retrieval_metrics([["<x - 제1항>"]], [None], ["선택형"], top_k=1)
    assert report.overall.n == 0 and report.overall.mrr is None and report.n_unlabelled == 1


# -- the written data ---------------------------------------------------------------------------------


def test_output_adds_references_and_retrieval_and_keeps_every_field(cli, tmp_path):
    items = json.loads(sample_path("gold").read_text(encoding="utf-8"))[:6]
    for item in items:
        item["input"]["extra"] = {"nested": [1, 2]}
        item["team_note"] = "kept"
    data = write_jsonl(tmp_path / "items.jsonl", items)
    out = tmp_path / "with_refs.jsonl"
    status, _, err = cli("retrieve", str(data), "--corpus", str(sample_corpus_path()), "--top-k", "3", "--retriever", "bm25",
                         "--output", str(out))
    assert status == 0, err
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    corpus = load_corpus(sample_corpus_path())
    by_id = {p.id: p for p in corpus.passages}
    assert len(written) == len(items)
    # the rule of item 1 (붇기, 'ㄷ' 불규칙) is among its passages
    assert f"{HEAD}한글 맞춤법 제18항" in written[0]["retrieval"]["passage_ids"]
    for before, after in zip(items, written, strict=True):
        retrieval = after.pop("retrieval")
        references = after["input"].pop("references")
        assert after == before  # every other field as it was
        assert {key: retrieval[key] for key in SETTINGS_KEYS} == {
            "retriever": "bm25-mecab", "corpus": "sample_corpus.txt", "corpus_hash": corpus.sha256,
            "top_k": 3, "field": "references",
        }
        assert len(references) == len(retrieval["passage_ids"]) == len(retrieval["scores"]) == 3
        assert references == [f"{by_id[i].title}\n{by_id[i].text}" for i in retrieval["passage_ids"]]
        assert retrieval["scores"] == sorted(retrieval["scores"], reverse=True)


def test_data_is_read_once_also_as_its_own_examples(cli, tmp_path, monkeypatch):
    from reading_support import count_reads

    data = write_jsonl(tmp_path / "items.jsonl", json.loads(sample_path("gold").read_text(encoding="utf-8")))
    reads = count_reads(monkeypatch, data)
    status, out, err = cli("retrieve", str(data), "--corpus", str(sample_corpus_path()), "--top-k", "3",
                           "--retriever", "bm25,examples", "--examples", str(data), "--output", str(tmp_path / "o.json"),
                           "--json")
    assert status == 0, err
    assert reads == ["rb"]
    summary = json.loads(out)
    assert summary["examples"] == summary["self_excluded"] == summary["metrics"]["n_labelled"] == 40


def test_field_name_and_json_list_output(cli, tmp_path):
    out = tmp_path / "out.json"
    status, stdout, err = cli("retrieve", str(sample_path("test")), "--corpus", str(sample_corpus_path()), "--top-k", "2",
                              "--field", "context", "--output", str(out), "--json")
    assert status == 0, err
    written = json.loads(out.read_text(encoding="utf-8"))
    assert all(len(item["input"]["context"]) == 2 and item["retrieval"]["field"] == "context" for item in written)
    summary = json.loads(stdout)
    assert summary["settings"]["field"] == "context" and summary["metrics"]["n_labelled"] == 0


def test_queries_are_the_questions_never_the_answers(tmp_path):
    items = load_items(sample_path("gold"))
    corpus = load_corpus(sample_corpus_path())
    fixed = FixedRetriever({item.question: list(range(len(corpus))) for item in items})
    written = retrieve_into(items, fixed, corpus, 3)
    assert fixed.queries == [item.question for item in items]
    for query, item in zip(fixed.queries, items, strict=True):
        assert item.answer and item.article and item.answer not in query and item.article not in query
    assert [record["output"] for record in written] == [record["output"] for record in json.loads(
        sample_path("gold").read_text(encoding="utf-8"))]  # written from the items' source records


def test_items_without_a_question_are_one_line(cli, tmp_path):
    data = write_jsonl(tmp_path / "bad.jsonl", [{"id": "1", "input": {"question_type": "선택형"}}])
    status, _, err = cli("retrieve", str(data), "--corpus", str(sample_corpus_path()), "--output", str(tmp_path / "o.json"))
    assert status == 2 and "no input.question" in err and err.strip().count("\n") == 0


# -- BM25 and its cache -------------------------------------------------------------------------------


def test_bm25_index_is_cached_by_corpus_hash(tmp_path, monkeypatch):
    import bm25s

    built = []
    original = bm25s.BM25.index
    monkeypatch.setattr(bm25s.BM25, "index", lambda self, *a, **k: (built.append(1), original(self, *a, **k))[1])
    path = tmp_path / "rules.txt"
    path.write_text(f"<{HEAD}한글 맞춤법 제1항>\n사과는 빨갛다.\n<{HEAD}한글 맞춤법 제2항>\n바나나는 노랗다.\n", encoding="utf-8")
    cache = tmp_path / "bm25-cache"

    first = BM25Retriever(load_corpus(path), cache_dir=cache)
    assert first.built and len(built) == 1
    second = BM25Retriever(load_corpus(path), cache_dir=cache)
    assert not second.built and len(built) == 1  # loaded from disk, not rebuilt
    assert second.search([Query("노란 바나나")], 2) == first.search([Query("노란 바나나")], 2)
    assert second.search([Query("노란 바나나")], 1)[0][0][0] == 1

    path.write_text(path.read_text(encoding="utf-8") + f"<{HEAD}한글 맞춤법 제3항>\n포도는 보랗다.\n", encoding="utf-8")
    third = BM25Retriever(load_corpus(path), cache_dir=cache)
    assert third.built and len(built) == 2 and third.index_dir != first.index_dir
    assert third.search([Query("보라색 포도는 보랗다")], 1)[0][0][0] == 2


def test_bm25_query_with_no_known_morpheme(tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text(f"<{HEAD}한글 맞춤법 제1항>\n사과.\n<{HEAD}한글 맞춤법 제2항>\n배.\n", encoding="utf-8")
    retriever = BM25Retriever(load_corpus(path), cache_dir=tmp_path / "c")
    assert retriever.search([Query("zzz"), Query("!!!")], 5) == [[(0, 0.0), (1, 0.0)], [(0, 0.0), (1, 0.0)]]


def test_top_k_above_the_corpus_size_takes_all(cli, tmp_path):
    path = tmp_path / "rules.txt"
    path.write_text(f"<{HEAD}한글 맞춤법 제1항>\n사과.\n<{HEAD}한글 맞춤법 제2항>\n배.\n", encoding="utf-8")
    status, _, err = cli("retrieve", str(sample_path("test")), "--corpus", str(path), "--top-k", "5", "--output", str(tmp_path / "o.json"))
    assert status == 0 and "taking all 2" in err
    assert all(item["retrieval"]["top_k"] == 2 for item in json.loads((tmp_path / "o.json").read_text(encoding="utf-8")))


# -- dense --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_dense_retriever_with_a_tiny_local_model(cli, tmp_path, tiny_bert):
    st = pytest.importorskip("sentence_transformers")
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    model = st.SentenceTransformer(modules=[
        (transformer := Transformer(tiny_bert)),
        Pooling(transformer.get_embedding_dimension(), pooling_mode="mean"),
    ])
    model.save(str(tmp_path / "tiny-st"))
    corpus = load_corpus(sample_corpus_path())
    from malpyeong_eval.retrieval.dense import DenseRetriever

    retriever = DenseRetriever(corpus, str(tmp_path / "tiny-st"), device="cpu")
    assert retriever.name == f"dense:{tmp_path / 'tiny-st'}"
    hits = retriever.search([Query(corpus.passages[7].render()), Query("질문")], 4)
    assert [len(row) for row in hits] == [4, 4]
    assert hits[0][0][0] == 7 and hits[0][0][1] == pytest.approx(1.0, abs=1e-4)  # a passage finds itself
    assert all(row == sorted(row, key=lambda hit: -hit[1]) for row in hits)

    status, out, err = cli("retrieve", str(sample_path("gold")), "--corpus", str(sample_corpus_path()), "--retriever", "dense",
                           "--dense-model", str(tmp_path / "tiny-st"), "--device", "cpu", "--top-k", "3",
                           "--output", str(tmp_path / "o.json"), "--json")
    assert status == 0, err
    assert json.loads(out)["settings"]["retriever"] == f"dense:{tmp_path / 'tiny-st'}"


def test_dense_without_sentence_transformers_names_the_extra(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails as if not installed
    status, _, err = cli("retrieve", str(sample_path("gold")), "--corpus", str(sample_corpus_path()), "--retriever", "dense",
                         "--output", str(tmp_path / "o.json"))
    assert status == 2 and "pip install 'malpyeong-eval[dense]'" in err and err.strip().count("\n") == 0


def test_unknown_retriever(cli, tmp_path):
    status, _, err = cli("retrieve", str(sample_path("gold")), "--corpus", str(sample_corpus_path()), "--retriever", "tfidf",
                         "--output", str(tmp_path / "o.json"))
    assert status == 2 and "unknown part 'tfidf'" in err


def test_missing_dense_model_is_one_line(tmp_path):
    pytest.importorskip("sentence_transformers")
    from malpyeong_eval.retrieval.dense import DenseRetriever

    with pytest.raises(MalpyeongError, match="cannot (be )?load"):
        DenseRetriever(load_corpus(sample_corpus_path()), str(tmp_path / "no-such-model"), device="cpu")


@pytest.mark.parametrize("name", ["malpyeong_eval.retrieval.corpus", "malpyeong_eval.retrieval.base", "malpyeong_eval.retrieval.metrics",
                                  "malpyeong_eval.retrieval.question", "malpyeong_eval.retrieval.plan"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_recall_at_20_and_30_by_norm_category_by_hand():
    titles = [f"<a - 제{i}항>" for i in range(1, 31)]
    report = retrieval_metrics([titles, titles, titles], ["a - 제1항", "a - 제25항", "<b - 제2항>"], ["선택형", "교정형", "교정형"],
                               30, categories=["a", "a", "b"])
    # ranks 1, 25 and none; the first passage is of category a for all three
    assert [report.overall.recall[k] for k in (1, 20, 30)] == pytest.approx([1 / 3, 1 / 3, 2 / 3])
    assert report.by_category["a"].n == 2 and report.by_category["a"].recall[30] == 1.0 and report.by_category["a"].recall[20] == 0.5
    assert report.by_category["b"].n == 1 and report.by_category["b"].recall[30] == 0.0
    assert report.top1_category_accuracy == pytest.approx(2 / 3)
    assert report.to_dict()["by_norm_category"]["a"]["recall@30"] == 1.0
