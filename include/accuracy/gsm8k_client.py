"""recipebench's GSM8K client: few-shot questions to a server's OpenAI-compatible /v1/completions,
greedy, one JSON line per question with the server's whole answer. Scoring is not done here: the
pipeline scores what this prints (recipebench.accuracy.gsm8k.score), so the rule lives in one place.

Standard library only: it runs in whatever image the benchmark client uses (every one has python3),
with no network beyond the server. The questions and the few-shot examples are mounted files
(JSON lines with "question" and "answer", the layout of openai/grade-school-math's data files).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import time
import urllib.error
import urllib.request

# where a few-shot answer ends: the next question (lm-evaluation-harness's gsm8k task stops at the same)
STOP = ["Question:", "</s>", "<|im_end|>"]


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def example(item: dict, with_answer: bool) -> str:
    text = f"Question: {item['question']}\nAnswer:"
    return f"{text} {item['answer']}" if with_answer else text


def ask(base_url: str, model: str, prompt: str, max_tokens: int, timeout: float) -> dict:
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                       "stop": STOP}).encode()
    request = urllib.request.Request(f"{base_url}/v1/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.load(response)
    return {"completion": answer["choices"][0].get("text") or "",
            "output_tokens": (answer.get("usage") or {}).get("completion_tokens")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--shots", required=True)
    parser.add_argument("--num-shots", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)

    questions = read_jsonl(args.questions)
    context = "".join(example(s, True) + "\n\n" for s in read_jsonl(args.shots)[:args.num_shots])

    def one(indexed):
        i, item = indexed
        out = {"id": i, "reference": item["answer"]}
        try:
            out |= ask(args.base_url, args.model, context + example(item, False), args.max_tokens, args.timeout)
        except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError) as exc:
            out |= {"completion": None, "error": f"{type(exc).__name__}: {exc}"[:300]}
        return out

    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        answers = list(pool.map(one, enumerate(questions)))
    with open(args.output, "w", encoding="utf-8") as f:
        for answer in answers:
            f.write(json.dumps(answer) + "\n")
    errors = sum(1 for a in answers if a.get("error"))
    print(f"gsm8k: {len(answers)} questions, {errors} errors, {time.time() - started:.1f} s, answers in {args.output}")
    return 0 if errors < len(answers) else 1


if __name__ == "__main__":
    sys.exit(main())
