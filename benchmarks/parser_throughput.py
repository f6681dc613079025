"""How fast the parsers handle large outputs, against a bare json.loads of the same text.

Two generated outputs of real shape: sglang's --output-file with --output-details (per-request
ttfts, itls, texts) and AIPerf's per-request profile_export.jsonl (one JSON record per request).
Each is parsed R rounds; prints the median time, MB/s, requests/s and the ratio to json.loads.
usage: python benchmarks/parser_throughput.py [--requests 10000] [--rounds 7]
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from recipebench.parsers import parse  # noqa: E402


def sglang_details(n: int, out_tokens: int = 256) -> str:
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


def aiperf_records(n: int, out_tokens: int = 256) -> str:
    rnd = random.Random(2)
    lines = []
    for i in range(n):
        ttft = rnd.uniform(50, 2000)
        chunks = [rnd.uniform(10, 50) for _ in range(out_tokens - 1)]
        lines.append(json.dumps({
            "metadata": {"x_request_id": f"req-{i}", "turn_index": 0, "timestamp_ns": 1759522419159192408 + i,
                         "worker_id": "worker_1", "credit_phase": "profiling"},
            "metrics": {"input_sequence_length": {"value": 1000, "unit": "tokens"},
                        "ttft": {"value": ttft, "unit": "ms"},
                        "request_latency": {"value": ttft + sum(chunks), "unit": "ms"},
                        "output_token_count": {"value": out_tokens, "unit": "tokens"},
                        "inter_token_latency": {"value": statistics.mean(chunks), "unit": "ms"},
                        "inter_chunk_latency": {"value": chunks, "unit": "ms"}}}))
    return "\n".join(lines) + "\n"


def median_seconds(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(requests: int, rounds: int) -> list[dict]:
    out = []
    for name, text, bare in (("sglang --output-details", sglang_details(requests), json.loads),
                             ("AIPerf profile_export.jsonl", aiperf_records(requests),
                              lambda t: [json.loads(x) for x in t.splitlines()])):
        parsed = parse(text, "generated")
        assert parsed.records[0]["completed"] == requests, parsed.records[0]
        ours = median_seconds(lambda text=text: parse(text, "generated"), rounds)
        base = median_seconds(lambda text=text, bare=bare: bare(text), rounds)
        out.append({"output": name, "requests": requests, "mb": len(text) / 1e6, "median_s": ours,
                    "mb_per_s": len(text) / 1e6 / ours, "requests_per_s": requests / ours, "ratio_to_json": ours / base,
                    "rounds": rounds})
    return out


def describe(m: dict) -> str:
    return (f"parse {m['output']}, {m['requests']} requests, {m['mb']:.0f} MB: median {m['median_s'] * 1000:.0f} ms "
            f"({m['mb_per_s']:.0f} MB/s, {m['requests_per_s']:,.0f} requests/s), {m['ratio_to_json']:.2f}x a bare "
            f"json.loads ({m['rounds']} rounds)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the measurements as one JSON line")
    args = parser.parse_args()
    results = measure(args.requests, args.rounds)
    print(json.dumps(results) if args.json else "\n".join(describe(m) for m in results))
