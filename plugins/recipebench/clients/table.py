"""The serving-benchmark summary table sglang.bench_serving and vLLM's clients print (the simulator's
copy of their format)."""

from __future__ import annotations


def serving_table(rows: list[tuple[str, object]]) -> str:
    lines = ["", "{s:{c}^{n}}".format(s=" Serving Benchmark Result ", n=50, c="=")]
    for label, value in rows:
        if label.startswith("-"):
            lines.append("{s:{c}^{n}}".format(s=label.strip("-"), n=50, c="-"))
        else:
            lines.append("{:<40} {:<10}".format(label, f"{value:.2f}" if isinstance(value, float) else value))
    lines.append("=" * 50)
    return "\n".join(lines) + "\n"
