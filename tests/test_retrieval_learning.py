"""Retrieval that learns from labelled questions: the examples retriever, its leakage guard, K-fold
cross-validation (checked against K separate ``retrieve`` calls counted by hand), fusion, the
cross-encoder reranker with a tiny local model, and the question reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from malpyeong_eval.retrieval import Query, is_relevant, load_corpus
from malpyeong_eval.retrieval.examples import Example, ExamplesRetriever
from malpyeong_eval.retrieval.fusion import FusedRetriever
from malpyeong_eval.retrieval.question import read_question

SPACING = "<띄어쓰기 - 한글 맞춤법 제42항>"
COMMA = "<문장 부호 - 문장 부호 쉼표 규정>"
LOANWORD = "<외래어 표기법 - 외래어 표기법 제2장 표1>"
# rule texts that share no word with the questions below: only labelled questions can tell them apart
CORPUS = f"""{SPACING}
의존 명사는 앞말과 띄어 쓴다.

{COMMA}
같은 자격의 어구를 열거할 때 쓴다.

{LOANWORD}
국제 음성 기호와 한글 대조표.

<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제1항>
소리대로 적되 어법에 맞도록 한다.
"""
SELECTION = "{} 가운데 올바른 것을 선택하고, 그 이유를 설명하세요."


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MALPYEONG_CACHE_DIR", str(tmp_path / "cache"))


def item(item_id: str, sentence: str, article: str | None) -> dict:
    record = {"id": item_id, "input": {"question_type": "선택형", "question": SELECTION.format(f'"{sentence}"')}}
    if article is not None:
        record["output"] = {"answer": f'"{sentence}"가 옳다. 이유.', "article": article}
    return record


TRAIN = [
    item("t1", "집에 {간 지/간지} 오래다.", SPACING), item("t2", "할 {수/ 수} 있다.", SPACING),
    item("t3", "그를 {본 지/본지} 한참이다.", SPACING), item("t4", "먹을 {만큼/ 만큼} 먹어라.", SPACING),
    item("t5", "사과{,/} 배를 샀다.", COMMA), item("t6", "연필{,/} 공책을 챙겼다.", COMMA),
    item("t7", "빨강{,/} 파랑이 좋다.", COMMA), item("t8", "{쥬스/주스}를 마셨다.", LOANWORD),
    item("t9", "{메세지/메시지}를 보냈다.", LOANWORD), item("t10", "{쵸콜릿/초콜릿}을 샀다.", LOANWORD),
]
TEST = [
    item("q1", "떠난 {지/ 지} 삼 년이다.", SPACING), item("q2", "귤{,/} 감을 샀다.", COMMA),
    item("q3", "{쥬스/주스} 한 잔 주세요.", LOANWORD), item("q4", "온 {지/ 지} 오래다.", SPACING),
    item("q5", "책{,/} 가방을 샀다.", COMMA), item("q6", "{케잌/케이크}을 먹었다.", LOANWORD),
]


def write(path: Path, records) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    corpus = tmp_path / "rules.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    return corpus, write(tmp_path / "train.json", TRAIN), write(tmp_path / "test.json", TEST)


def recall_at(cli, *args) -> dict:
    status, out, err = cli("retrieve", *args, "--json")
    assert status == 0, err
    return json.loads(out)


def test_examples_beat_retrieval_without_them(cli, files):
    corpus, train, test = files
    without = recall_at(cli, str(test), "--corpus", str(corpus), "--top-k", "1")
    learned = recall_at(cli, str(test), "--corpus", str(corpus), "--top-k", "1", "--examples", str(train))
    assert learned["settings"]["retriever"] == "learned(bm25-mecab+bm25-char+examples+category)"  # the default with examples
    rrf = recall_at(cli, str(test), "--corpus", str(corpus), "--top-k", "1", "--examples", str(train), "--fusion", "rrf")
    assert rrf["settings"]["retriever"].startswith("rrf(") and "examples" in rrf["settings"]["retriever"]
    for result in (learned, rrf):
        assert result["metrics"]["overall"]["recall@1"] > without["metrics"]["overall"]["recall@1"]
        assert result["metrics"]["overall"]["recall@1"] >= 5 / 6
        assert result["self_excluded"] == 0


def test_an_item_never_finds_its_rule_through_itself(cli, files, tmp_path):
    """Every rule has exactly one labelled question, the item itself: with the item left out of its own
    examples, no neighbour names its rule (no hit of a positive score); without the guard, each
    would find its rule at rank 1 through itself."""
    corpus, _, _ = files
    alone = [item("a1", "집에 {간 지/간지} 오래다.", SPACING), item("a2", "사과{,/} 배를 샀다.", COMMA),
             item("a3", "{쥬스/주스}를 마셨다.", LOANWORD)]
    data = write(tmp_path / "alone.json", alone)
    out = tmp_path / "out.json"
    status, _, err = cli("retrieve", str(data), "--corpus", str(corpus), "--examples", str(data),
                         "--retriever", "examples", "--top-k", "4", "-o", str(out))
    assert status == 0, err
    assert "3 items of alone.json are also examples: each was left out of its own examples" in err
    for record in json.loads(out.read_text(encoding="utf-8")):
        voted = [pid for pid, score in zip(record["retrieval"]["passage_ids"], record["retrieval"]["scores"], strict=True) if score > 0]
        assert not any(is_relevant(f"<{pid}>", record["output"]["article"]) for pid in voted)
    # the same guard by question text alone: the examples under other ids
    renamed = write(tmp_path / "renamed.json", [{**record, "id": f"x{record['id']}"} for record in alone])
    result = recall_at(cli, str(data), "--corpus", str(corpus), "--examples", str(renamed), "--retriever", "examples")
    assert result["self_excluded"] == 3


def test_examples_retriever_leaves_out_the_same_id_and_the_same_question():
    corpus = load_corpus_text(CORPUS)
    examples = [Example("e1", "a {b/c}", COMMA), Example("e2", "x  y", SPACING)]
    retriever = ExamplesRetriever(corpus, examples)
    assert retriever.own_rows(Query("different text", "e1")) == {0}
    assert retriever.own_rows(Query("x y", "other")) == {1}
    assert retriever.own_rows(Query("x y z", None)) == set()


def test_searching_the_examples_again_reuses_their_cross_fitted_models(monkeypatch):
    """A learned fusion fits each part's cross-fitting models on its examples; searching those same items
    (DATA given as its own examples) reuses them rather than fitting them again, with the same hits."""
    from malpyeong_eval.retrieval.category import CategoryRetriever
    from malpyeong_eval.retrieval.learned import LearnedFusion

    corpus = load_corpus_text(CORPUS)
    examples = [Example(record["id"], record["input"]["question"], record["output"]["article"]) for record in TRAIN]
    queries = [Query(example.question, example.id) for example in examples]
    parts = [ExamplesRetriever(corpus, examples), CategoryRetriever(corpus, examples)]
    fusion = LearnedFusion(parts, corpus, examples)
    fits = []
    for part in parts:
        monkeypatch.setattr(part, "fit", lambda matrix, targets, fit=part.fit: fits.append(1) or fit(matrix, targets))
    hits = fusion.search(queries, 4)
    assert fits == []  # every query is an example: its group's model, fitted while the fusion learned
    fresh = [ExamplesRetriever(corpus, examples), CategoryRetriever(corpus, examples)]
    assert [part.search(queries, 4) for part in parts] == [part.search(queries, 4) for part in fresh]
    assert hits == LearnedFusion(fresh, corpus, examples).search(queries, 4)


def test_cross_validation_with_an_auto_weight_searches_each_question_once_per_fixed_part(files, tmp_path, monkeypatch):
    """The BM25 parts learn nothing: across the folds and the inner choice of the auto weight, each
    question is searched once per part (the inner choice asks the examples as the items are asked)."""
    from malpyeong_eval.retrieval import RetrievalPlan, RetrievalRequest, retrieve
    from malpyeong_eval.retrieval.bm25 import BM25Retriever

    corpus, _, _ = files
    data = write(tmp_path / "all.json", TRAIN + TEST)
    searched: list[str] = []
    search = BM25Retriever.search
    monkeypatch.setattr(BM25Retriever, "search",
                        lambda self, queries, k: searched.extend(q.question for q in queries) or search(self, queries, k))
    plan = RetrievalPlan.parse("bm25,bm25-char,examples:auto", fusion="rrf")
    outcome = retrieve(RetrievalRequest(data, corpus, plan, top_k=3, cross_validate=3))
    assert "examples:auto" not in outcome.retriever  # the weight was chosen (inner cross-validation ran)
    questions = [record["input"]["question"] for record in TRAIN + TEST]
    assert sorted(searched) == sorted(questions * 2)  # two BM25 parts, each question once each


def load_corpus_text(text: str, tmp=[]):  # noqa: B006 - one folder per test session is enough
    import tempfile

    if not tmp:
        tmp.append(Path(tempfile.mkdtemp()))
    path = tmp[0] / f"c{abs(hash(text))}.txt"
    path.write_text(text, encoding="utf-8")
    return load_corpus(path)


@pytest.mark.parametrize("fusion", ["learned", "rrf"])
def test_cross_validation_equals_k_separate_calls_counted_by_hand(cli, files, tmp_path, fusion):
    corpus, train, test = files
    everything = TRAIN + TEST
    data = write(tmp_path / "all.json", everything)
    result = recall_at(cli, str(data), "--corpus", str(corpus), "--examples", str(data), "--cross-validate", "3",
                       "--seed", "7", "--top-k", "3", "--fusion", fusion)
    assert f"{fusion}(" in result["settings"]["retriever"]
    folds = result["cross_validation"]["folds"]
    assert result["cross_validation"]["k"] == 3 and result["cross_validation"]["seed"] == 7
    assert sorted(folds) == sorted(record["id"] for record in everything) and set(folds.values()) == {0, 1, 2}
    found_at: dict[int, int] = {1: 0, 3: 0}
    for fold in range(3):
        members = [record for record in everything if folds[record["id"]] == fold]
        others = [record for record in everything if folds[record["id"]] != fold]
        out = tmp_path / f"fold{fold}.json"
        status, _, err = cli("retrieve", str(write(tmp_path / f"d{fold}.json", members)), "--corpus", str(corpus),
                             "--examples", str(write(tmp_path / f"e{fold}.json", others)), "--top-k", "3", "-o", str(out),
                             "--fusion", fusion)
        assert status == 0, err
        for record in json.loads(out.read_text(encoding="utf-8")):
            ranks = [rank for rank, pid in enumerate(record["retrieval"]["passage_ids"], start=1)
                     if is_relevant(f"<{pid}>", record["output"]["article"])]
            for k in found_at:
                found_at[k] += bool(ranks and ranks[0] <= k)
    for k in found_at:
        assert result["metrics"]["overall"][f"recall@{k}"] == pytest.approx(found_at[k] / len(everything))
    if fusion == "rrf":
        return
    # the same seed deals the same folds; another seed deals others
    again = recall_at(cli, str(data), "--corpus", str(corpus), "--cross-validate", "3", "--seed", "7")
    assert again["cross_validation"]["folds"] == folds
    other = recall_at(cli, str(data), "--corpus", str(corpus), "--cross-validate", "3", "--seed", "8")
    assert other["cross_validation"]["folds"] != folds


def test_cross_validation_writes_each_item_with_its_folds_passages(cli, files, tmp_path):
    corpus, _, _ = files
    data = write(tmp_path / "all.json", TRAIN + TEST)
    out = tmp_path / "cv.jsonl"
    status, _, err = cli("retrieve", str(data), "--corpus", str(corpus), "--cross-validate", "2", "-o", str(out))
    assert status == 0, err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(TRAIN + TEST)
    assert all(row["retrieval"]["cross_validation"] == {"k": 2, "seed": 0} for row in rows)
    assert "2-fold cross-validation (seed 0)" in err


BAD = {
    "examples without labels": (lambda d, t: ["--examples", str(write(t / "nolabel.json", [item("z", "a {b/c}", None)]))],
                                "no item has a rule label"),
    "one fold": (lambda d, t: ["--cross-validate", "1"], "--cross-validate: needs at least 2 folds, got 1"),
    "examples part without examples": (lambda d, t: ["--retriever", "bm25,examples"], "needs --examples FILE"),
    "unknown part": (lambda d, t: ["--retriever", "bm25,tfidf"], "unknown part 'tfidf'"),
    "bad weight": (lambda d, t: ["--retriever", "bm25:-1"], "must be a positive number or auto"),
    "missing examples file": (lambda d, t: ["--examples", str(t / "nope.json")], "not found"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_retrieve_flags_are_one_line_and_exit_2(cli, files, tmp_path, case):
    corpus, _, test = files
    extra, message = BAD[case]
    out = tmp_path / "o.json"
    status, stdout, err = cli("retrieve", str(test), "--corpus", str(corpus), "-o", str(out), *extra(test, tmp_path))
    assert status == 2
    assert err.strip().count("\n") == 0 and message in err and "Traceback" not in err
    assert not out.exists()


def test_fusion_adds_reciprocal_ranks_and_ignores_filler():
    class Fixed:
        def __init__(self, name, hits):
            self.name, self.hits = name, hits

        def search(self, queries, k):
            return [self.hits[:k] for _ in queries]

    a = Fixed("a", [(0, 3.0), (1, 2.0), (2, 0.0)])
    b = Fixed("b", [(1, 9.0), (2, 1.0)])
    fused = FusedRetriever([(a, 1.0), (b, 2.0)], k_rrf=1)
    [hits] = fused.search([Query("q")], 3)
    expected = {0: 1 / 2, 1: 1 / 3 + 2 / 2, 2: 2 / 3}  # passage 2's filler rank in a counts nothing
    assert [index for index, _ in hits] == [1, 2, 0]
    assert {index: score for index, score in hits} == pytest.approx(expected)
    assert fused.name == "rrf(a+b:2)"


def test_question_reader_sees_where_the_alternatives_differ():
    spacing = read_question(SELECTION.format('"나는 그를 {본 지/본지} 오래되었다."'))
    assert spacing.sentence == "나는 그를 {본 지/본지} 오래되었다."
    assert "Δspace" in spacing.difference and "Δspace>지" in spacing.difference and "pos:NNB" in spacing.difference
    assert "가운데" not in spacing.query_text()  # the instruction is not part of a query
    comma = read_question('"사과{,/} 배를 샀다."')
    assert "Δpunct:," in comma.difference and comma.query_text().endswith("쉼표")
    loan = read_question('"{메세지/메시지}"')
    assert loan.difference[0] == "Δ중:ㅔ|ㅣ"
    final = read_question('"{커피숍/커피숖}"')
    assert "Δ종:ㅂ|ㅍ" in final.difference
    correction = read_question('다음 문장에서 어문 규범에 부합하지 않는 부분을 찾아 고치고, 그 이유를 설명하세요.\n"숙제를 않 했다."')
    assert correction.sentence == "숙제를 않 했다." and correction.variants == () and correction.difference == ()


@pytest.mark.slow
def test_cross_encoder_reranks_the_first_stage_with_a_tiny_local_model(cli, files, tmp_path, tiny_cross_encoder):
    from sentence_transformers import CrossEncoder

    from malpyeong_eval.retrieval.plan import RetrievalPlan, RetrieverBuilder, parse_parts
    from malpyeong_eval.retrieval.question import read_question as reader

    corpus_path, _, test = files
    corpus = load_corpus(corpus_path)
    builder = RetrieverBuilder(RetrievalPlan(parse_parts("bm25-char"), rerank_model=tiny_cross_encoder, rerank_depth=4), corpus)
    reranker = builder.build()
    queries = [Query(record["input"]["question"], record["id"]) for record in TEST]
    first = builder.build().first_stage.search(queries, 4)
    model = CrossEncoder(tiny_cross_encoder)
    for query, candidates, hits in zip(queries, first, reranker.search(queries, 4), strict=True):
        scores = model.predict([(reader(query.question).query_text(), corpus.passages[i].render()) for i, _ in candidates])
        expected = [candidates[j][0] for j in sorted(range(len(candidates)), key=lambda j: -scores[j])]
        assert [index for index, _ in hits] == expected
    status, out, err = cli("retrieve", str(test), "--corpus", str(corpus_path), "--rerank", tiny_cross_encoder, "--json")
    assert status == 0, err
    assert json.loads(out)["settings"]["retriever"] == f"bm25-mecab+bm25-char>rerank:{tiny_cross_encoder}".replace(
        "bm25-mecab+bm25-char", "rrf(bm25-mecab+bm25-char)")
    status, _, err = cli("retrieve", str(test), "--corpus", str(corpus_path), "--top-k", "2", "--rerank", str(tmp_path / "missing"))
    assert status == 2 and err.strip().count("\n") == 0 and "--rerank" in err


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A tiny BERT with a one-logit head, saved as a local folder sentence-transformers' CrossEncoder loads."""
    from malpyeong_eval.tiny_models import build_tiny_bert

    texts = [CORPUS, *(record["input"]["question"] for record in TRAIN + TEST)]
    folder = build_tiny_bert(tmp_path_factory.mktemp("tiny-ce"), texts)
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    config = BertConfig.from_pretrained(folder, num_labels=1)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(folder).save_pretrained(folder)
    return str(folder)


def test_python_api_gives_the_commands_recall_and_json(cli, files, tmp_path):
    """From Python (no command line): retrieve with examples under cross-validation, the same numbers as the command."""
    from malpyeong_eval.retrieval import RetrievalPlan, RetrievalRequest, retrieve

    corpus, _, _ = files
    data = write(tmp_path / "all.json", TRAIN + TEST)
    command = recall_at(cli, str(data), "--corpus", str(corpus), "--cross-validate", "3", "--seed", "7", "--top-k", "3")
    outcome = retrieve(RetrievalRequest(str(data), str(corpus), RetrievalPlan(), top_k=3, cross_validate=3, seed=7))
    assert outcome.to_json() == command
    assert outcome.report.overall.recall[3] == command["metrics"]["overall"]["recall@3"]
    assert outcome.cross_validation is not None and outcome.cross_validation.folds == command["cross_validation"]["folds"]
    assert "R@3" in outcome._repr_html_() and "3-fold cross-validation (seed 7)" in outcome._repr_html_()


@pytest.mark.parametrize(("settings", "message"), [
    ({"top_k": 0}, "--top-k: must be at least 1, got 0"),
    ({"cross_validate": 1}, "--cross-validate: needs at least 2 folds, got 1"),
    ({"field": "question"}, "--field: 'question' cannot receive the passages"),
    ({"plan": "examples"}, "--retriever: the examples part needs --examples FILE"),
    ({"plan": "bm25", "examples": ("e.json",)}, "--examples/--cross-validate: --retriever has no examples part"),
])
def test_a_request_checks_itself_naming_the_flag(settings, message):
    from malpyeong_eval.errors import MalpyeongError
    from malpyeong_eval.retrieval import RetrievalPlan, RetrievalRequest

    if "plan" in settings:
        settings = {**settings, "plan": RetrievalPlan.parse(settings["plan"])}
    with pytest.raises(MalpyeongError, match=message.replace("(", r"\(")):
        RetrievalRequest("d.json", "c.txt", **settings)


# -- the norm category decides: rules of two categories with the same words, told apart only by the
# instruction (which neither BM25 nor the examples classifier reads) ---------------------------------

SPELLING, LOANWORDS = "한글 맞춤법, 표준어 규정", "외래어 표기법"
TWIN_WORDS = ["사과 바구니", "책상 서랍", "기차 선로", "바다 모래"]
# the loanword rules first: where nothing tells the twins apart, a tie goes to them
TWIN_CORPUS = "".join(f"<{category} - 규정 제{rule + 1}항>\n{words}에 관한 규칙이다.\n\n"
                      for category in (LOANWORDS, SPELLING) for rule, words in enumerate(TWIN_WORDS))
INSTRUCTION = {SPELLING: "가운데 표기가 올바른 것을 선택하고, 그 이유를 설명하세요.",
               LOANWORDS: "가운데 외래어 표기가 올바른 것을 선택하고, 그 이유를 설명하세요."}
TWIN_ALTERNATIVES = ["{다시/다씨}", "{자주/자쭈}", "{가만히/가만이}", "{살짝/살작}"]


def twin_item(item_id: str, category: str, rule: int, name: str, alternative: str) -> dict:
    question = f'"{name}는 {TWIN_WORDS[rule]}을 {alternative} 보았다." {INSTRUCTION[category]}'
    return {"id": item_id, "input": {"question_type": "선택형", "question": question},
            "output": {"answer": "이유.", "article": f"<{category} - 규정 제{rule + 1}항>"}}


@pytest.fixture
def twins(tmp_path):
    """Training questions: 2 per spelling rule, 4 per loanword rule, each with a name of its own (which a
    model that saw the question memorises); test questions: one per rule, names never seen."""
    train, test = [], []
    for category, count in ((SPELLING, 2), (LOANWORDS, 4)):
        for rule in range(4):
            for copy in range(count):
                number = len(train) + 1
                train.append(twin_item(f"t{number}", category, rule, f"사람{number}", TWIN_ALTERNATIVES[(number + copy) % 4]))
    for number, (category, rule) in enumerate(((category, rule) for category in (SPELLING, LOANWORDS) for rule in range(4)), 1):
        test.append(twin_item(f"q{number}", category, rule, f"손님{number}", TWIN_ALTERNATIVES[number % 4]))
    corpus = tmp_path / "twins.txt"
    corpus.write_text(TWIN_CORPUS, encoding="utf-8")
    return corpus, write(tmp_path / "train.json", train), write(tmp_path / "test.json", test)


def test_the_category_decides_and_learned_fusion_beats_rrf(twins):
    """BM25 and the examples classifier see the twins' words only; the category part reads the instruction.
    The learned fusion finds every rule at rank 1, RRF (the default parts, or with the category part) does
    not. Its weights are fitted on cross-fitted scores: without that guard the examples classifier, which
    has memorised each training question's name, looks perfect on them, gets the weight, and at test time
    follows its bias to the more frequent loanword rules — half the questions are lost (checked by removing
    the guard in CrossFitted.models_for)."""
    from malpyeong_eval.retrieval import RetrievalPlan, RetrievalRequest, retrieve

    corpus, train, test = twins

    def at_1(spec: str | None, fusion: str | None) -> float:
        request = RetrievalRequest(test, corpus, RetrievalPlan.parse(spec, fusion=fusion), top_k=3, examples=(train,))
        return retrieve(request).report.overall.recall[1]

    learned = at_1(None, None)
    assert learned == 1.0
    assert at_1(None, "rrf") <= 0.5
    assert at_1("bm25,bm25-char,examples,category", "rrf") < learned


def test_category_accuracy_under_cross_validation_counted_by_hand(twins):
    """The category part of each fold, learned from the other folds' questions, against the gold categories."""
    from malpyeong_eval.data import load_items
    from malpyeong_eval.retrieval import RetrievalRequest, retrieve
    from malpyeong_eval.retrieval.category import CategoryRetriever
    from malpyeong_eval.retrieval.pipeline import examples_of, queries_of
    from malpyeong_eval.retrieval.plan import deal_folds

    corpus_path, train, _ = twins
    outcome = retrieve(RetrievalRequest(train, corpus_path, cross_validate=3))
    items, corpus = load_items(train), load_corpus(corpus_path)
    examples, queries, folds = examples_of(items), queries_of(items), deal_folds(len(items), 3, 0)
    right = 0
    for fold in range(3):
        part = CategoryRetriever(corpus, [example for example, f in zip(examples, folds, strict=True) if f != fold])
        members = [i for i, f in enumerate(folds) if f == fold]
        for i, probabilities in zip(members, part.probabilities([queries[i] for i in members]), strict=True):
            right += max(probabilities, key=probabilities.get) == examples[i].label[1:].split(" - ")[0]
    assert outcome.category_accuracy == right / len(items) >= 0.9
    assert outcome.to_json()["cross_validation"]["category_accuracy"] == outcome.category_accuracy


def test_kiwi_proposes_the_correction_of_a_correction_question():
    pytest.importorskip("kiwipiepy")
    from malpyeong_eval.retrieval.proposals import KiwiProposer, with_proposal

    proposer = KiwiProposer()
    correction = '다음 문장에서 어문 규범에 부합하지 않는 부분을 찾아 고치고, 그 이유를 설명하세요.\n"숙제를 않 했다."'
    assert with_proposal(correction, proposer).endswith('\n"숙제를 {않/안} 했다."')
    query = proposer.query(Query(correction, "c1"))
    assert query.question_type == "교정형" and query.id == "c1"
    assert read_question(query.question).variants == ("숙제를 않 했다.", "숙제를 안 했다.")  # what every part reads
    selection = SELECTION.format('"숙제를 {않/안} 했다."')
    assert with_proposal(selection, proposer) == selection  # a 선택형 has its alternatives already


def test_proposals_without_kiwi_name_the_extra(cli, files, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "kiwipiepy", None)  # import fails as if not installed
    corpus, _, test = files
    status, _, err = cli("retrieve", str(test), "--corpus", str(corpus), "--proposals", "kiwi")
    assert status == 2 and "pip install 'malpyeong-eval[kiwi]'" in err and err.strip().count("\n") == 0
