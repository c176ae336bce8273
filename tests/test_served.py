"""``run --backend openai`` against a real ``transformers serve`` on loopback; ``--batch-size auto``;
``--preset baseline``; ``--version``; vLLM's extra range and engine arguments.

One ``transformers serve`` answers for two tiny chat models, each loaded when a request names it: a Llama
(:func:`served_model`, a plain reply) and the Qwen2 policy (whose reply the server prefixes with a role header).
A real HTTP proxy (:class:`FaultyProxy`, ``http.server`` on loopback) in front of it lists the model a pinned
server would list and answers 500 on purpose.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from importlib.metadata import requires
from pathlib import Path

import pytest
import torch

from leaderboard.store import Leaderboard
from malpyeong_eval.data import load_items
from malpyeong_eval.errors import MalpyeongError

pytest.importorskip("openai")
pytest.importorskip("fastapi")

SECRET = "sk-test-do-not-print-4242"
DECODE = ["--max-new-tokens", "16", "--metrics", "em,rouge1", "--limit", "8"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_model(tiny_policy, tmp_path_factory) -> str:
    """A tiny Llama with the tiny policy's tokenizer and chat template, every matrix drawn from
    N(0, 0.5): greedy decoding writes varied, prompt-dependent tokens (the policy as built writes
    only line breaks). Not the Qwen2 policy itself: ``transformers serve`` 5.24 runs Qwen-family
    replies through its Qwen response parser, which here prepends ``<|im_start|>assisa`` to every
    reply's content; for a Llama it returns the plain decode, as the transformers backend does."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("served") / "model"
    tokenizer = AutoTokenizer.from_pretrained(tiny_policy)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(1)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=None))
    with torch.no_grad():
        for weight in model.parameters():
            if weight.dim() == 2:
                weight.normal_(0, 0.5)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    return str(folder)


def start_serving() -> tuple[subprocess.Popen, str]:
    """``transformers serve`` on 127.0.0.1, on CPU, starting: the process and its base URL. No model is
    pinned: it loads the model each request names (a local folder here) and keeps it, so one server
    answers for both tiny models, each with its family's reply parser."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "transformers"), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--device", "cpu", "--model-timeout", "3600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return process, f"http://127.0.0.1:{port}"


def wait_serving(process: subprocess.Popen, url: str) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else "transformers serve exited"
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    process.kill()
    pytest.fail("transformers serve did not start within 120 s")


@pytest.fixture(scope="module")
def server():
    """``transformers serve`` on 127.0.0.1, on CPU; its base URL."""
    process, url = start_serving()
    wait_serving(process, url)
    yield url
    process.terminate()
    process.wait(timeout=30)


class FaultyProxy:
    """A real HTTP server on loopback in front of ``upstream``: chat completions get 500 for the first
    ``fail_first`` requests, and for every request after ``fail_after`` forwarded ones; ``/version``
    answers ``version``; ``/v1/models`` lists ``models`` (as a server started with that model does: the
    run takes its model id from the list); everything else is forwarded. It keeps each request's
    Authorization header."""

    def __init__(self, upstream: str, *, models: list[str], fail_first: int = 0, fail_after: int | None = None,
                 version: str | None = None) -> None:
        self.upstream, self.fail_first, self.fail_after, self.version = upstream, fail_first, fail_after, version
        self.models = models
        self.failed = self.forwarded = 0
        self.authorizations: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                if self.path == "/v1/models":
                    listed = [{"id": model, "object": "model", "created": 0, "owned_by": "test"} for model in proxy.models]
                    return self._answer(200, json.dumps({"object": "list", "data": listed}).encode())
                if self.path == "/version":
                    if proxy.version is None:
                        return self._answer(404, b'{"detail": "Not Found"}')
                    return self._answer(200, json.dumps({"version": proxy.version}).encode())
                if method == "POST" and self.path.endswith("/chat/completions"):
                    with proxy.lock:
                        proxy.authorizations.append(self.headers.get("Authorization", ""))
                        failing = proxy.failed < proxy.fail_first or (
                            proxy.fail_after is not None and proxy.forwarded >= proxy.fail_after)
                        if failing:
                            proxy.failed += 1
                        else:
                            proxy.forwarded += 1
                    if failing:
                        return self._answer(500, b'{"error": {"message": "failing on purpose"}}')
                request = urllib.request.Request(proxy.upstream + self.path, data=data, method=method,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=120) as response:
                    self._answer(response.status, response.read())

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(server, served_model):
    made: list[FaultyProxy] = []

    def make(**options) -> FaultyProxy:
        made.append(FaultyProxy(server, **{"models": [served_model], **options}))
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture(scope="module")
def local_predictions(served_model, tmp_path_factory) -> dict[str, str]:
    """``--backend transformers`` (greedy) on the same model, items and budget."""
    from cli_support import run_cli

    folder = tmp_path_factory.mktemp("local")
    code, _, err = run_cli("run", served_model, "--no-record", "--runs-dir", str(folder / "runs"),
                           "--output", str(folder / "sub.json"), *DECODE)
    assert code == 0, err
    return predictions(folder / "sub.json")


def predictions(path: Path) -> dict[str, str]:
    return {item.id: str(item.answer) for item in load_items(path, require_answer=True)}


def test_openai_backend_equals_transformers_greedy_and_500s_are_retried(
        served_model, proxy, local_predictions, tmp_path, cli, monkeypatch):
    """Greedy on both sides (temperature 0 / do_sample false), the same chat template rendering
    (the server's ``chat_template_kwargs`` carry ``enable_thinking: false``). The proxy answers the
    first two requests 500, then forwards: the run retries them and finishes."""
    faulty = proxy(fail_first=2, version="proxy-test-1.0")
    monkeypatch.setenv("MALPYEONG_TEST_KEY", SECRET)
    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, out, err = cli("run", "--backend", "openai", "--base-url", faulty.url, "--api-key-env", "MALPYEONG_TEST_KEY",
                         "--db", db, "--runs-dir", str(tmp_path / "runs"), "--output", str(tmp_path / "sub.json"),
                         "--concurrency", "1", "--json", *DECODE)
    assert code == 0, err
    assert faulty.failed == 2 and faulty.forwarded == 8  # two 500s, each retried; eight answers
    assert faulty.authorizations[0] == f"Bearer {SECRET}"  # the key reached the server...
    served = predictions(tmp_path / "sub.json")
    assert served == local_predictions
    assert len(set(served.values())) > 1 and any(served.values())  # not a trivially equal pair of empties
    (run,) = Leaderboard(db).runs()
    assert run.generation["backend"] == "openai"
    assert run.generation["endpoint"] == {"base_url": faulty.url, "model": served_model,
                                          "server_version": "proxy-test-1.0"}
    # ...and is in no output or stored record
    stored = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert all(SECRET.encode() not in blob for blob in stored) and SECRET not in out + err
    # the same endpoint, model and settings again: already recorded
    code, out, _ = cli("run", "--backend", "openai", "--base-url", faulty.url, "--db", db,
                       "--runs-dir", str(tmp_path / "runs"), "--json", *DECODE)
    assert code == 0 and json.loads(out)[0]["already_recorded"]


def test_dead_endpoint_is_one_line_exit_2_nothing_written(tmp_path):
    port = free_port()  # bound, then released: nothing listens there
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "malpyeong_eval", "run", "--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1",
         "--db", str(tmp_path / "board.db"), "--runs-dir", str(tmp_path / "runs"), "--limit", "2"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and time.time() - started < 30
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "cannot connect" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_interrupted_served_run_resumes(proxy, local_predictions, tmp_path, cli):
    """The endpoint dies after three answers (500 from then on, no retries): one line, exit 2,
    three generations kept; the run again against a working endpoint generates only the rest."""
    dying = proxy(fail_after=3)
    common = ["--runs-dir", str(tmp_path / "runs"), "--no-record", "--concurrency", "1", "--json", *DECODE]
    code, _, err = cli("run", "--backend", "openai", "--base-url", dying.url, "--max-retries", "0", *common)
    assert code == 2 and "HTTP 500" in err and err.strip().count("\n") == 0
    (generations,) = (tmp_path / "runs").glob("*/generations.jsonl")
    assert len(generations.read_text(encoding="utf-8").splitlines()) == 3
    working = proxy()
    code, out, err = cli("run", "--backend", "openai", "--base-url", working.url, "--output", str(tmp_path / "sub.json"),
                         *common)
    assert code == 0, err
    assert json.loads(out)[0]["resumed"] == 3 and working.forwarded == 5
    assert predictions(tmp_path / "sub.json") == local_predictions


def test_batch_size_auto_finds_a_size_and_predicts_as_a_fixed_size(served_model, local_predictions, tmp_path, cli):
    """On CPU nothing runs out of memory: auto starts at the item count (8) and keeps it."""
    code, out, err = cli("run", served_model, "--batch-size", "auto", "--no-record", "--runs-dir", str(tmp_path / "runs"),
                         "--output", str(tmp_path / "sub.json"), *DECODE)
    assert code == 0, err
    assert predictions(tmp_path / "sub.json") == local_predictions  # local_predictions: --batch-size 8 (the default)
    assert "--batch-size auto: generation settled on 8" in err


def test_halving_on_out_of_memory():
    """A test-only memory cap: batches above 3 items raise ``torch.cuda.OutOfMemoryError`` (the real
    exception type; on CPU nothing else produces it); a RuntimeError saying so is treated the same."""
    from malpyeong_eval.batching import run_halving

    for error in (torch.cuda.OutOfMemoryError, lambda text: RuntimeError(f"CUDA error: {text}")):
        done: list[list[int]] = []

        def run_batch(batch: list[int], error=error) -> None:
            if len(batch) > 3:
                raise error("out of memory")
            done.append(batch)

        assert run_halving(list(range(10)), 16, run_batch) == 2
        assert [i for batch in done for i in batch] == list(range(10))  # every item once, in order
    with pytest.raises(ValueError):  # anything else is not swallowed
        run_halving([1, 2], 2, lambda batch: (_ for _ in ()).throw(ValueError("broken")))


def test_preset_baseline_is_recorded_and_refuses_a_changed_flag(served_model, tmp_path, cli):
    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, _, err = cli("run", served_model, "--preset", "baseline", "--db", db, "--runs-dir", str(tmp_path / "runs"),
                       "--max-new-tokens", "8", "--metrics", "em,rouge1", "--limit", "3")
    assert code == 0, err
    (run,) = Leaderboard(db).runs()
    assert {key: run.generation[key] for key in ("preset", "do_sample", "temperature", "top_p", "repetition_penalty")} \
        == {"preset": "baseline", "do_sample": True, "temperature": 0.7, "top_p": 0.8, "repetition_penalty": 1.05}
    for flags in (["--temperature", "0.5"], ["--batch-size", "4"], ["--preset", "greedy"]):
        code, _, err = cli("run", served_model, "--preset", "baseline", *flags, "--db", db)
        assert code == 2 and err.startswith("error: ") and err.strip().count("\n") == 0


def test_version(cli):
    from importlib.metadata import version

    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"malpyeong-eval {version('malpyeong-eval')}"


def test_vllm_extra_matches_trl_and_engine_arguments_pass_through(tmp_path, cli):
    import tomllib

    from malpyeong_eval.generation import EngineOptions, parse_engine_args, vllm_engine_args

    ours = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    trl = next(r.split(";")[0] for r in requires("trl") or [] if r.startswith("vllm") and 'extra == "vllm"' in r)
    assert sorted(ours["vllm"][0].removeprefix("vllm").split(",")) == sorted(trl.removeprefix("vllm").split(","))

    args = parse_engine_args("tensor_parallel_size=2, gpu_memory_utilization=0.5,max_model_len=4096,"
                             "enforce_eager=true,dtype=bfloat16")
    engine = EngineOptions(vllm_args=args)
    assert dict(args) == {"tensor_parallel_size": 2, "gpu_memory_utilization": 0.5, "max_model_len": 4096,
                          "enforce_eager": True, "dtype": "bfloat16"}
    assert engine.record("vllm") == {"vllm_args": dict(args)} and engine.record("transformers") == {}
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 48}))
    assert vllm_engine_args(engine, str(adapter))["max_lora_rank"] == 64  # vLLM's default 16 would refuse r=48
    assert vllm_engine_args(EngineOptions(vllm_args=(("max_lora_rank", 256),)), str(adapter))["max_lora_rank"] == 256
    (adapter / "adapter_config.json").write_text('{"r": 48')  # cut short: one line naming it, not rank 0
    with pytest.raises(MalpyeongError, match="adapter_config.json"):
        vllm_engine_args(engine, str(adapter))
    code, _, err = cli("run", "x", "--backend", "vllm", "--vllm-args", "tensor_parallel_size")
    assert code == 2 and "key=value" in err
    code, _, err = cli("run", "x", "--vllm-args", "tensor_parallel_size=2")
    assert code == 2 and "--backend vllm" in err


def test_a_reply_that_begins_with_the_role_header_is_a_server_fault(proxy, tiny_policy, tmp_path, cli):
    """The installed ``transformers serve`` (5.25 here) prepends ``<|im_start|>assisa`` to a tiny Qwen2's
    reply content (its Qwen reply parser): one line naming the endpoint and the header, exit 2, nothing
    scored, recorded or written as a submission. (A plain reply, the Llama's, runs as before: the tests above.)"""
    url = proxy(models=[tiny_policy]).url.removesuffix("/v1")  # a server that serves the tiny Qwen2
    db = tmp_path / "board.db"
    code, out, err = cli("run", "--backend", "openai", "--base-url", url, "--db", str(db), "--runs-dir", str(tmp_path / "runs"),
                         "--output", str(tmp_path / "sub.json"), "--max-new-tokens", "8", "--metrics", "em", "--limit", "2",
                         "--concurrency", "1", "--json")
    assert code == 2 and err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert f"endpoint {url}/v1 (model {tiny_policy}" in err and "role header '<|im_start|>assis" in err
    assert "server fault" in err and "vLLM or SGLang" in err
    assert not (tmp_path / "sub.json").exists() and (not db.exists() or Leaderboard(str(db)).runs() == [])


def test_role_headers_of_chat_templates():
    from malpyeong_eval.served import role_header

    assert role_header("<|im_start|>assistant\n\"가\"가 옳다.") == "<|im_start|>assistant"
    assert role_header("<|start_header_id|>assistant<|end_header_id|>\n\n답") == "<|start_header_id|>assistant<|end_header_id|>"
    assert role_header(" <start_of_turn>model\n답") == "<start_of_turn>model"
    assert role_header("\"우동이 불을 것 같아 걱정이다.\"가 옳다. 이유 <|im_start|>") is None  # only at the start
    assert role_header("") is None
