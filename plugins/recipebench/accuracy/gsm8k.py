"""GSM8K: grade-school maths word problems, scored by exact match of the final number.

The data set's text is not ours: `recipebench stage-data gsm8k` copies it once from its public
source (openai/grade-school-math's JSON-lines files, the ones sglang's benchmark/gsm8k reads) into
the artifacts location, and every run reads it from there (resolve refuses a run whose recipe asks
for the check when it is missing). The client (include/accuracy/gsm8k_client.py) only asks and
records; the scoring is here, pure.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from recipebench.catalog.paths import INCLUDE
from recipebench.errors import RecipebenchError

TASK = "gsm8k"
BASE = "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data"
SOURCES = {"test.jsonl": f"{BASE}/test.jsonl", "train.jsonl": f"{BASE}/train.jsonl"}  # questions; few-shot examples
CLIENT = INCLUDE / "accuracy" / "gsm8k_client.py"
TEST_SIZE = 1319  # questions in GSM8K's test split

_MARKED = re.compile(r"####\s*(-?[\d,]*\.?\d+)")  # GSM8K's own answer format: "#### 72"
_STATED = re.compile(r"answer is\s*\$?\s*(-?[\d,]*\.?\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?[\d,]*\.?\d+")


class AccuracyDataMissing(RecipebenchError):
    """The evaluation's data set is not where runs read it from: says where, and how to put it there."""


def final_number(text: str | None) -> Decimal | None:
    """The answer a completion gives: after GSM8K's "####" marker, else after "the answer is", else
    the last number in it (sglang's benchmark/gsm8k get_answer_value takes the last number); None
    when it has no number."""
    if not text:
        return None
    for pattern in (_MARKED, _STATED):
        found = pattern.findall(text)
        if found:
            return _decimal(found[0] if pattern is _MARKED else found[-1])
    numbers = _NUMBER.findall(text)
    return _decimal(numbers[-1]) if numbers else None


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "")).normalize()
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Score:
    task: str
    questions: int
    correct: int
    errors: int  # requests the server did not answer
    no_number: int  # answers with no number in them

    @property
    def score(self) -> float:
        return self.correct / self.questions if self.questions else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"score": round(self.score, 4)}


def score(answers: list[dict[str, Any]]) -> Score:
    """Exact match of the final number of each answer against its reference's; an unanswered
    question counts as wrong (the server failed it)."""
    correct = errors = no_number = 0
    for a in answers:
        if a.get("error") or a.get("completion") is None:
            errors += 1
            continue
        got = final_number(a["completion"])
        if got is None:
            no_number += 1
        elif got == final_number(a.get("reference")):
            correct += 1
    return Score(TASK, len(answers), correct, errors, no_number)


# ---- the data set, where runs read it ------------------------------------------------------------------


def jsonl(rows: list[dict]) -> str:
    """Items as the data set's files hold them: one JSON object per line."""
    return "".join(json.dumps(r) + "\n" for r in rows)



def location(root: str):
    """Where the staged files live: the datasets/gsm8k folder of the artifacts location `root` (a URL
    ObjectStoragePath understands: file:// here, gs:// in production)."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(root) / "datasets" / TASK


def read(root: str, questions: int, shots: int) -> tuple[list[dict], list[dict]]:
    """(the first `questions` of the test split, the first `shots` of the train split) as staged;
    AccuracyDataMissing naming the place and the command when they are not there."""
    where = location(root)
    out = []
    for name, n in (("test.jsonl", questions), ("train.jsonl", shots)):
        path = where / name
        if not path.exists():
            raise AccuracyDataMissing(f"the {TASK} data set is not staged: {path} is missing; stage it once with "
                                      f"`recipebench stage-data {TASK}` (it copies {SOURCES[name]})")
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        bad = next((i for i, r in enumerate(rows[:n]) if not {"question", "answer"} <= set(r)), None)
        if bad is not None:
            raise AccuracyDataMissing(f"{path} line {bad + 1} lacks question/answer: not a {TASK} file")
        if len(rows) < n:
            raise AccuracyDataMissing(f"{path} holds {len(rows)} items, the recipe asks for {n}")
        out.append(rows[:n])
    return out[0], out[1]


def stage(root: str, files: dict[str, str]) -> list[str]:
    """Write the data set's files (name -> JSON-lines text) where runs read them; their addresses.
    Each is checked to hold GSM8K items first, so a wrong download is refused, not staged."""
    where = location(root)
    addresses = []
    for name, text in files.items():
        if name not in SOURCES:
            raise ValueError(f"{name}: not a file of the {TASK} data set ({', '.join(SOURCES)})")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        if not rows or any(not {"question", "answer"} <= set(r) or final_number(r["answer"]) is None for r in rows):
            raise ValueError(f"{name}: not {TASK} JSON lines (each needs a question and an answer ending in #### N)")
        where.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
        addresses.append(f"{where / name} ({len(rows)} items)")
    return addresses


def fetch_public(timeout: float = 60.0) -> dict[str, str]:
    """The data set's files from their public source."""
    import urllib.request

    out = {}
    for name, url in SOURCES.items():
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (a fixed https address)
            out[name] = response.read().decode()
    return out
