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


# -- against the simulated cluster ------------------------------------------------------------------------
@pytest.mark.e2e
def test_a_server_that_answers_wrong_makes_no_number_and_one_accuracy_alert(cluster_env, monkeypatch):
    from recipebench.results.warehouse import open_warehouse

    from tests.conftest import run

    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "wrong-answers")
    result = run("sglang-a3ultra-llama4-maverick")
    assert result["status"] == "success", result  # the run worked: its server does not
    wh = open_warehouse()
    (row,) = wh.run(f"SELECT * FROM runs WHERE run_id = '{result['run_id']}'")
    assert (row["accuracy_task"], row["accuracy_questions"], row["accuracy_score"], row["accuracy_threshold"],
            row["accuracy_passed"]) == ("gsm8k", 200, 0.0, 0.85, False)
    results = wh.run(f"SELECT valid, invalid_reasons FROM results WHERE run_id = '{result['run_id']}'")
    assert results and all(r["valid"] is False and "accuracy 0.00 < 0.85 (gsm8k, 200 questions)" in
                           str(r["invalid_reasons"]) for r in results)
    kinds = [a["kind"] for a in wh.select("alerts", {"run_id": result["run_id"]}, limit=10)]
    assert kinds.count("accuracy") == 1 and "invalid" not in kinds and "regression" not in kinds, kinds
    (verdict,) = wh.run(f"SELECT verdict FROM verdicts WHERE run_id = '{result['run_id']}'")
    assert verdict["verdict"] == "invalid"  # fast, but never a baseline nor an improvement


@pytest.mark.e2e
def test_a_clean_run_records_its_score_and_a_missing_data_set_stops_it_at_resolve(cluster_env, monkeypatch, tmp_path):
    from recipebench.results.warehouse import open_warehouse

    from tests.conftest import run, runs_row

    result = run("sglang-a3ultra-llama4-scout")
    assert result["status"] == "success", result
    (row,) = open_warehouse().run(f"SELECT accuracy_score, accuracy_passed FROM runs WHERE run_id = '{result['run_id']}'")
    assert row == {"accuracy_score": 1.0, "accuracy_passed": True}
    (point,) = open_warehouse().run(f"SELECT valid, invalid_reasons FROM results WHERE run_id = '{result['run_id']}'")
    assert point["valid"] is True, point  # a clean sglang run keeps every rule
    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}")  # a location nobody staged GSM8K into
    result = run("sglang-a3ultra-llama4-scout")
    row = runs_row(result["run_id"])
    assert row["status"] == "failed" and row["failed_stage"] == "resolve", row
    assert "the gsm8k data set is not staged" in row["reason"] and "recipebench stage-data gsm8k" in row["reason"]
    assert row["gpu_hours"] is None  # no GPU was held


def test_stage_data_from_a_folder_and_generated(tmp_path, monkeypatch, capsys):
    from recipebench.cli.main import main

    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path / 'art'}")
    assert main(["stage-data", "gsm8k", "--generated", "40"]) == 0
    assert "not GSM8K's own text" in capsys.readouterr().out
    folder = tmp_path / "download"
    folder.mkdir()
    for name, text in generated.files(questions=7, shots=3, seed=9).items():
        (folder / name).write_text(text)
    assert main(["stage-data", "gsm8k", "--from", str(folder)]) == 0
    assert "test.jsonl (7 items)" in capsys.readouterr().out
    (folder / "test.jsonl").write_text("not json\n")
    assert main(["stage-data", "gsm8k", "--from", str(folder)]) == 2
    assert "error:" in capsys.readouterr().err
