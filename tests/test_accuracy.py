"""The accuracy gate (issue 22, item 4): GSM8K's scoring, the client that asks the server, the data set
staged once, and runs against the simulated cluster whose server answers right or wrong."""

import importlib.util
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recipebench.accuracy import generated, gsm8k


def test_the_final_number_of_an_answer():
    assert gsm8k.final_number("48 / 2 = 24 clips.\n#### 72") == Decimal(72)
    assert gsm8k.final_number("So the answer is $1,250.") == Decimal(1250)
    assert gsm8k.final_number("She has 3 apples, then 5 more: 8") == Decimal(8)
    assert gsm8k.final_number("#### 7.50") == gsm8k.final_number("#### 7.5")  # the same number
    assert gsm8k.final_number("I cannot say.") is None and gsm8k.final_number(None) is None


@given(st.integers(min_value=-10**9, max_value=10**9))
def test_every_integer_survives_the_marker_and_thousands_separators(n):
    assert gsm8k.final_number(f"working\n#### {n:,}") == Decimal(n)


def test_a_score_counts_unanswered_questions_as_wrong():
    answers = [{"reference": "x\n#### 5", "completion": "#### 5"}, {"reference": "#### 6", "completion": "#### 7"},
               {"reference": "#### 8", "completion": None, "error": "timeout"}, {"reference": "#### 9", "completion": "no"}]
    s = gsm8k.score(answers)
    assert (s.questions, s.correct, s.errors, s.no_number, s.score) == (4, 1, 1, 1, 0.25)


def test_generated_problems_are_gsm8k_items_with_known_answers():
    items = generated.problems(50, seed=3)
    assert items == generated.problems(50, seed=3) and items != generated.problems(50, seed=4)
    for item in items:
        assert gsm8k.final_number(item["answer"]) is not None and "####" in item["answer"]


class _Server(BaseHTTPRequestHandler):
    """A completions endpoint that solves the generated problems (or, wrong=True, answers garbage)."""

    answers: dict[str, str] = {}
    wrong = False
    prompts: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).prompts.append(body)
        question = body["prompt"].rsplit("Question: ", 1)[1].split("\nAnswer:")[0]
        text = "lorem ipsum" if self.wrong else f" Working it out.\n#### {self.answers[question]}"
        data = json.dumps({"choices": [{"text": text}], "usage": {"completion_tokens": 9}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _client():
    spec = importlib.util.spec_from_file_location("gsm8k_client", gsm8k.CLIENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("wrong, expected", [(False, 1.0), (True, 0.0)])
def test_the_client_asks_few_shot_and_greedy_and_its_answers_score(tmp_path, wrong, expected):
    files = generated.files(questions=20, shots=5, seed=1)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    items = [json.loads(line) for line in files["test.jsonl"].splitlines()]
    _Server.answers = {i["question"]: i["answer"].rsplit("#### ", 1)[1] for i in items}
    _Server.wrong, _Server.prompts = wrong, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "accuracy.jsonl"
        assert _client().main(["--base-url", f"http://127.0.0.1:{server.server_port}", "--model", "m",
                               "--questions", str(tmp_path / "test.jsonl"), "--shots", str(tmp_path / "train.jsonl"),
                               "--num-shots", "5", "--output", str(out), "--concurrency", "4"]) == 0
    finally:
        server.shutdown()
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert gsm8k.score(answers).score == expected
    first = _Server.prompts[0]
    assert first["temperature"] == 0 and first["prompt"].count("Question: ") == 6  # 5 shots + the question
    assert first["stop"][0] == "Question:"


def test_the_client_reports_a_server_it_cannot_reach(tmp_path):
    files = generated.files(questions=3, shots=1)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    out = tmp_path / "a.jsonl"
    code = _client().main(["--base-url", "http://127.0.0.1:9", "--model", "m", "--questions", str(tmp_path / "test.jsonl"),
                           "--shots", str(tmp_path / "train.jsonl"), "--output", str(out), "--timeout", "2"])
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 1 and all(a["error"] for a in answers) and gsm8k.score(answers).errors == 3


def test_staging_refuses_what_is_not_gsm8k_and_reads_back_what_it_staged(tmp_path):
    root = f"file://{tmp_path}"
    with pytest.raises(gsm8k.AccuracyDataMissing, match=r"not staged: .*test.jsonl is missing; stage it once with "
                                                       r"`recipebench stage-data gsm8k`"):
        gsm8k.read(root, 10, 5)
    with pytest.raises(ValueError, match="not gsm8k JSON lines"):
        gsm8k.stage(root, {"test.jsonl": '{"question": "q", "answer": "no number"}\n'})
    addresses = gsm8k.stage(root, generated.files(questions=30, shots=5))
    assert len(addresses) == 2 and "(30 items)" in addresses[0]
    questions, shots = gsm8k.read(root, 20, 5)
    assert len(questions) == 20 and len(shots) == 5
    with pytest.raises(gsm8k.AccuracyDataMissing, match="holds 30 items, the recipe asks for 200"):
        gsm8k.read(root, 200, 5)
