"""How fast the sglang parser handles a big --output-details file, against a bare json.loads.

Generates one sglang --output-file record for N requests with per-request arrays (ttfts, itls
with one gap per output token, texts, errors), then times recipebench's parse and json.loads of
the same text, R rounds each, and prints the medians and their ratio.
usage: python benchmarks/parse_sglang_details.py [N=10000] [R=7] [OUTPUT_TOKENS=256]
"""

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from recipebench.parsers import parse  # noqa: E402


def sample(n: int, out_tokens: int) -> str:
    rnd = random.Random(1)
    ttfts = [rnd.uniform(0.05, 2.0) for _ in range(n)]
    itls = [[rnd.uniform(0.01, 0.05) for _ in range(out_tokens - 1)] for _ in range(n)]
    record = {
        "backend": "sglang", "dataset_name": "random", "request_rate": float("inf"), "max_concurrency": 256,
        "random_input_len": 1000, "random_output_len": out_tokens, "random_range_ratio": 1.0, "duration": 600.0,
        "completed": n, "total_input_tokens": 1000 * n, "total_output_tokens": out_tokens * n,
        "request_throughput": n / 600, "output_throughput": out_tokens * n / 600,
        "mean_ttft_ms": 1000 * statistics.mean(ttfts), "median_ttft_ms": 1000 * statistics.median(ttfts),
        "p99_ttft_ms": 1900.0, "mean_itl_ms": 30.0, "median_itl_ms": 30.0, "p99_itl_ms": 49.0,
        "input_lens": [1000] * n, "output_lens": [out_tokens] * n, "ttfts": ttfts, "itls": itls,
        "generated_texts": ["lorem ipsum " * 20] * n, "errors": [""] * n,
    }
    return json.dumps(record) + "\n"


def median_seconds(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(n: int, rounds: int, out_tokens: int) -> None:
    text = sample(n, out_tokens)
    parsed = parse(text, "generated.jsonl")
    assert parsed.records[0]["completed"] == n and parsed.records[0]["num_prompts"] == n
    ours = median_seconds(lambda: parse(text, "generated.jsonl"), rounds)
    bare = median_seconds(lambda: json.loads(text), rounds)
    print(f"sglang --output-details, {n} requests, {len(text) / 1e6:.1f} MB: recipebench parse median "
          f"{ours * 1000:.0f} ms, json.loads median {bare * 1000:.0f} ms, ratio {ours / bare:.2f} ({rounds} rounds)")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [10000, 7, 256][len(args):]))
