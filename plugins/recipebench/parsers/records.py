"""What every parsed record goes through last, whatever tool wrote it: one place for the schema's
types, for values a tool prints where nothing was measured, and for "is this record complete".
"""

from __future__ import annotations

from recipebench.catalog.metrics import MEASURED
from recipebench.parsers.common import ParseError, number

TYPES = {c.name: c.type for c in MEASURED}
LATENCIES = tuple(c.name for c in MEASURED if c.name.startswith(("ttft_", "tpot_", "itl_", "e2e_")))
PER_TOKEN = tuple(c for c in LATENCIES if c.startswith(("tpot_", "itl_")))
THROUGHPUTS = ("request_throughput", "input_throughput", "output_throughput", "total_throughput")


def coerce(record: dict) -> None:
    """Each measured column as the schema types it: INT64 columns hold integers (sglang writes
    lengths as 1024.0), FLOAT64 ones finite floats or nothing."""
    for key, value in record.items():
        kind = TYPES.get(key)
        if kind is None or value is None:
            continue
        v = number(value)
        record[key] = None if v is None else int(round(v)) if kind == "INT64" else v


def finish(records: list[dict], source: str) -> list[str]:
    """Types, then what the numbers can mean; returns warnings, raises ParseError on a record with
    nothing measured in it."""
    warnings: list[str] = []
    for n, record in enumerate(records):
        label = f"record {n + 1}: " if len(records) > 1 else ""
        coerce(record)
        if record.get("completed") == 0:
            # no request succeeded: tools print 0 or NaN for latency and throughput, neither is a number
            for key in (*LATENCIES, *THROUGHPUTS):
                record[key] = None
            warnings.append(f"{label}every request failed: latency and throughput are left empty, not zero")
            continue
        zero = [k for k in PER_TOKEN if record.get(k) == 0]
        if zero:
            # tools print 0 when no request produced a second token (output length 1): undefined, and a
            # zero would pull a regression baseline down
            for key in zero:
                record[key] = None
            warnings.append(f"{label}{', '.join(sorted({k.split('_')[0].upper() for k in zero}))} of 0 ms: no "
                            "request produced a second token, so it is undefined and left empty")
        warnings += _completeness(record, source, label)
    return warnings


def _completeness(record: dict, source: str, label: str) -> list[str]:
    latency = any(record.get(k) is not None for k in LATENCIES)
    throughput = any(record.get(k) is not None for k in THROUGHPUTS)
    if not latency and not throughput:
        keys = sorted(k for k in record if k not in ("tool", "extra") and record[k] is not None)
        raise ParseError(source, f"{label}no latency and no throughput figure: nothing measured was found "
                                 f"(it has {', '.join(keys) or 'no measured field'}; latencies must be in ms "
                                 "under the tool's names)")
    missing = [what for what, present in (("latency", latency), ("throughput", throughput)) if not present]
    # a renamed key lands in extra under the tool's own name: say which, so the mapping can be extended
    like = {"latency": ("ttft", "tpot", "itl", "latency", "e2e", "time_to", "_ms"), "throughput": ("throughput",)}
    out = []
    for what in missing:
        found = sorted(k for k in record.get("extra") or {} if any(w in k.lower() for w in like[what]))
        out.append(f"{label}no {what} figure in this output"
                   + (f" (keys that look like one, kept in extra: {', '.join(found[:8])})" if found else ""))
    return out
