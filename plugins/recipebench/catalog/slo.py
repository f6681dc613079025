"""Service-level objectives and the capacity search of a recipe: `slo:` (what a request must meet) and
`benchmark.search:` (the highest load at which the deployed server meets it, found every night).

An SLO is a set of limits on latency percentiles, keyed `<metric>_<percentile>_ms` (ttft_p99_ms: 2000).
Every recipe has one: the model layer's default (DEFAULT_SLOS, each with its source) unless the recipe
or the trigger form says otherwise.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

SLO_KEY = re.compile(r"^(?P<metric>ttft|tpot|itl|e2e)_(?P<pct>p90|p95|p99)_ms$")
METRIC_NAMES = {"ttft": "TTFT", "tpot": "TPOT", "itl": "ITL", "e2e": "E2E latency"}

# MLPerf Inference's DeepSeek-R1 latency constraints, as its LoadGen enforces them (mlcommons/inference
# loadgen/mlperf.conf: deepseek-r1.Server.ttft_latency = 2000, tpot_latency = 80; deepseek-r1-interactive
# 1500 and 15; *.Server.target_latency_percentile = 99), also the rules' table (mlcommons/inference_policies)
MLPERF_R1_SERVER = {"ttft_p99_ms": 2000.0, "tpot_p99_ms": 80.0,
                    "source": "MLPerf Inference's DeepSeek-R1 server scenario (TTFT p99 2 s, TPOT p99 80 ms)"}
MLPERF_R1_INTERACTIVE = {"ttft_p99_ms": 1500.0, "tpot_p99_ms": 15.0,
                         "source": "MLPerf Inference's DeepSeek-R1 interactive scenario (TTFT p99 1.5 s, TPOT "
                                   "p99 15 ms)"}
# by model family: the first whose key is in the model id (lower case)
DEFAULT_SLOS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("deepseek-r1", MLPERF_R1_SERVER),
    # MLPerf has no Llama 4 scenario: its DeepSeek-R1 server limits, and the source says so
    ("", {**MLPERF_R1_SERVER, "source": "no MLPerf scenario for this model: MLPerf Inference's DeepSeek-R1 "
                                        "server limits (TTFT p99 2 s, TPOT p99 80 ms)"}),
)


def default_slo(model: str) -> dict[str, Any]:
    """The model layer's SLO for a model id (always one: the last entry matches every model)."""
    return dict(next(slo for key, slo in DEFAULT_SLOS if key in model.lower()))


class SloSpec(BaseModel):
    """Limits on latency percentiles; a request meets the SLO when it is within every limit, a point when
    its percentiles are. Written flat in a recipe (`ttft_p99_ms: 2000`, `source: ...`); a limit set to
    null drops the default's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limits: dict[str, Annotated[float, Field(gt=0)]] = Field(min_length=1)
    source: str = Field(min_length=1)  # where the limits come from

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or "limits" in raw:
            return raw
        bad = sorted(k for k in raw if k != "source" and not SLO_KEY.match(str(k)))
        if bad:
            raise ValueError(f"unknown SLO key(s) {', '.join(map(repr, bad))}: a limit is "
                             "<ttft|tpot|itl|e2e>_<p90|p95|p99>_ms, e.g. ttft_p99_ms")
        limits = {k: v for k, v in raw.items() if k != "source" and v is not None}
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in limits.values()):
            raise ValueError(f"SLO limits must be numbers of milliseconds, got {limits}")
        return {"limits": {k: float(v) for k, v in limits.items()}, "source": raw.get("source")}

    @model_serializer
    def _dump(self) -> dict[str, Any]:
        # written back flat, as a recipe spells it, so the layers of defaults merge key by key
        return self.flat()

    def items(self) -> list[tuple[str, str, float]]:
        """(metric, percentile, limit in ms), in a stable order."""
        out = []
        for key, limit in self.limits.items():
            m = SLO_KEY.match(key)
            assert m is not None  # validated
            out.append((m["metric"], m["pct"], limit))
        return sorted(out, key=lambda i: (list(METRIC_NAMES).index(i[0]), i[1]))

    def limit_key(self, metric: str) -> str | None:
        """The recipe's limit key of a metric (its percentile's), the first when it has several."""
        return next((f"{m}_{p}_ms" for m, p, _ in self.items() if m == metric), None)

    def describe(self) -> str:
        """`TTFT p99 <= 2 s, TPOT p99 <= 80 ms`: how messages and pages name it."""
        return ", ".join(f"{METRIC_NAMES[m]} {p} <= {_ms(v)}" for m, p, v in self.items())

    def key(self) -> str:
        """A stable string of the limits: capacity is compared across nights only under the same SLO."""
        return ",".join(f"{k}<={v:g}" for k, v in sorted(self.limits.items()))

    @staticmethod
    def limits_of(key: str | None) -> list[tuple[str, float]]:
        """key()'s (limit key, ms) pairs back, as the warehouse stores them."""
        return [(k, float(v)) for k, _, v in (part.partition("<=") for part in (key or "").split(",")) if v]

    def flat(self) -> dict[str, Any]:
        return {**self.limits, "source": self.source}


def _ms(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"


class SearchSpec(BaseModel):
    """The capacity search after the fixed points (results.search): bracketing from `start` by `growth`
    until a load fails the SLO or validity, then bisection, on the same server, until the bracket is
    within `tolerance` of the capacity or `max_steps` client Jobs ran."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    load: Literal["concurrency", "request_rate"] = "concurrency"
    low: Annotated[float, Field(gt=0)]  # the smallest load tried (the first step)
    high: Annotated[float, Field(gt=0)]  # the largest load tried
    input_len: Annotated[int, Field(ge=1, strict=True)]
    output_len: Annotated[int, Field(ge=1, strict=True)]
    growth: Annotated[float, Field(gt=1, le=8)] = 2.0  # the bracketing factor
    tolerance: Annotated[float, Field(gt=0, lt=1)] = 0.1  # (fail - pass) / pass at which it stops
    max_steps: Annotated[int, Field(ge=2, le=20, strict=True)] = 8
    # requests per step: enough for a stable p99 and to hold the load for a while
    prompts_per_load: Annotated[float, Field(gt=0)] = 8.0  # x concurrency, or x rate (requests/s)
    min_prompts: Annotated[int, Field(ge=1, strict=True)] = 1000

    @model_validator(mode="after")
    def _bounds(self) -> SearchSpec:
        if self.high <= self.low:
            raise ValueError(f"search.high ({self.high:g}) must be above search.low ({self.low:g})")
        if self.load == "concurrency" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("a concurrency search's low and high are whole numbers of requests")
        return self

    def prompts(self, load: float) -> int:
        return max(self.min_prompts, int(round(self.prompts_per_load * load)))
