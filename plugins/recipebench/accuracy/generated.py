"""Maths word problems the project writes itself, in GSM8K's layout ("question", and an "answer"
whose last line is "#### N"), seeded and with known answers: the tests' and the local demo's stand-in
for the real data set, whose text is not ours to ship."""

from __future__ import annotations

import random

from recipebench.accuracy.gsm8k import jsonl

# (question, the working, the answer) from drawn numbers a, b, c
TEMPLATES = (
    (lambda a, b, c: f"A baker makes {a} loaves every day for {b} days and sells {c} of them. How many loaves "
                     "are left?",
     lambda a, b, c: f"She makes {a} * {b} = {a * b} loaves.\nAfter selling, {a * b} - {c} = {a * b - c} are left.",
     lambda a, b, c: a * b - c),
    (lambda a, b, c: f"Tom has {a} boxes with {b} marbles each. He gives {c} marbles to his sister. How many "
                     "marbles does he keep?",
     lambda a, b, c: f"He has {a} * {b} = {a * b} marbles.\nHe keeps {a * b} - {c} = {a * b - c}.",
     lambda a, b, c: a * b - c),
    (lambda a, b, c: f"A train travels {a} km on Monday, {b} km on Tuesday and {c} km on Wednesday. How far does "
                     "it travel in the three days?",
     lambda a, b, c: f"It travels {a} + {b} + {c} = {a + b + c} km.",
     lambda a, b, c: a + b + c),
    (lambda a, b, c: f"A class of {a * b} pupils is split into {a} equal teams, and {c} more pupils join each "
                     "team. How many pupils are in a team?",
     lambda a, b, c: f"Each team starts with {a * b} / {a} = {b} pupils.\nThen {b} + {c} = {b + c}.",
     lambda a, b, c: b + c),
)


def problems(n: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        question, working, answer = rnd.choice(TEMPLATES)
        a, b = rnd.randint(2, 40), rnd.randint(2, 40)
        c = rnd.randint(1, a * b - 1)
        out.append({"question": question(a, b, c), "answer": f"{working(a, b, c)}\n#### {answer(a, b, c)}"})
    return out


def files(questions: int = 200, shots: int = 8, seed: int = 0) -> dict[str, str]:
    """Both of the data set's files, generated: what `recipebench stage-data gsm8k --generated` stages."""
    return {"test.jsonl": jsonl(problems(questions, seed)), "train.jsonl": jsonl(problems(shots, seed + 1))}
