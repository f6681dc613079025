"""What a benchmark client is, once: the base every client class fills in (one module per client).

A client knows its command line in the version the recipes pin (lengths, the result files it
writes), its image and so where it runs, which parser reads its outputs, and what the simulator
prints for it. The recipe schema's tool choices, the manifests, the collection of outputs and the
simulator ask the registry (clients/__init__.py) instead of keeping tables of their own.

Pure: recipe and point in, argv and file names out. The recipe types are imported for the type
checker only: the recipe schema itself asks this package which clients exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from recipebench.catalog.flags import to_flags
from recipebench.catalog.metrics import percentile

if TYPE_CHECKING:
    from recipebench.catalog.recipe import BenchmarkPoint, LengthSpec, Recipe

RESULTS_DIR = "/results"
# What a client reads instead of fetching it from the Hugging Face Hub at every point: staged once per
# run (command_lines.stage_script) into the recipe's bucket under CLIENT_DATA_PREFIX, mounted here.
CLIENT_DATA = "/client-data"
CLIENT_DATA_PREFIX = "recipebench/client-data"


def tokenizer_dir(recipe: Recipe) -> str:
    """Where a client reads the model's tokenizer files (staged from the Hub once)."""
    return f"{CLIENT_DATA}/tokenizers/{recipe.model.name}"


@dataclass(frozen=True)
class DataFile:
    """A file a client reads (its dataset), staged once from its public source."""

    name: str
    url: str

    @property
    def path(self) -> str:
        return f"{CLIENT_DATA}/datasets/{self.name}"


@dataclass(frozen=True)
class ClientImage:
    """A client's own image, built once per version into the recipe's Artifact Registry."""

    repository: str
    tag: str
    build: str  # include/cloudbuild/<build>.yaml
    arch: str = "amd64"


@dataclass(frozen=True)
class Measured:
    """What the simulator's load model measured at one point (sim/outputs.py): the figures a client
    prints in its own format."""

    input_len: int
    output_len: int
    concurrency: int | None
    rate: float | None
    prompts: int
    conc: float  # requests in flight on average
    ttft: float  # ms
    tpot: float  # ms
    itl: float  # ms
    e2e: float  # ms
    duration: float  # s
    in_tokens: int
    out_tokens: int
    req_tput: float  # requests/s
    in_tput: float  # tokens/s
    out_tput: float  # tokens/s
    seed: str = ""
    failed: int = 0  # requests sent that failed (prompts counts the successful ones)
    # each successful request's (TTFT ms, TPOT ms, E2E ms, output tokens): what the per-request files hold
    requests: tuple[tuple[float, float, float, int], ...] = ()

    def q(self, metric: str, p: float) -> float:
        """The p-th percentile (linear, as numpy.percentile) of a latency over the requests; without them,
        the mean (the simulator's outputs of old fixtures)."""
        column = {"ttft": 0, "tpot": 1, "e2e": 2}[metric]
        found = percentile([r[column] for r in self.requests], p)
        return {"ttft": self.ttft, "tpot": self.tpot, "e2e": self.e2e}[metric] if found is None else found


def detail_arrays(m: Measured) -> dict:
    """The per-request arrays sglang's --output-details and vLLM's --save-detailed write (seconds), for
    the simulator: one ITL per output token after the first, a failed request with no output."""
    rows = list(m.requests) + [(0.0, 0.0, 0.0, 0)] * m.failed
    return {"input_lens": [m.input_len] * len(rows), "output_lens": [r[3] for r in rows],
            "ttfts": [round(r[0] / 1000, 6) for r in rows],
            "itls": [[round(r[1] / 1000, 6)] * max(r[3] - 1, 0) for r in rows],
            "generated_texts": ["" if not r[3] else " simulated" for r in rows],
            "errors": ["" if r[3] else "Internal Server Error" for r in rows]}




class BenchmarkClient:
    name: ClassVar[str]  # benchmark.tool in a recipe
    parser: ClassVar[str]  # the parsers' name of its outputs (parsers.parse(..., tool=parser))
    result_files: ClassVar[tuple[str, ...]]  # what it writes that is worth keeping, best first; {point}: point id
    # the file with its per-request records (results.slo reads it; parsers.requests), one of result_files
    # or beside them; None: it writes none
    request_file: ClassVar[str | None] = None
    image: ClassVar[ClientImage | None] = None  # its own image; None: the server's (same version, its node)
    offline: ClassVar[bool] = False  # the workload runs it (there is no server to send requests to)
    runs: ClassVar[str]  # what its command line runs: how the simulator tells the clients apart

    def length_flags(self, lengths: LengthSpec, point: BenchmarkPoint) -> list[str]:
        """The recipe's length distribution in this client's own terms."""
        raise NotImplementedError

    def argv(self, recipe: Recipe, point: BenchmarkPoint, host: str, port: int) -> list[str]:
        """The command line of one point against the server at host:port."""
        raise NotImplementedError(f"{self.name} is not a serving benchmark client")

    def warmup_flags(self, n: int) -> list[str] | None:
        """The option that sends n warm-up requests, never measured, before the measured ones, in the
        version the recipes pin; None: that version has none, and the client Job runs a warm-up pass of
        its own first, whose output is not parsed (command_lines.client_script)."""
        return None

    def warmup_in(self, argv: list[str]) -> int:
        """How many warm-up requests this command line sends itself (the simulator's question)."""
        return 0

    def endpoint(self, recipe: Recipe) -> str | None:
        """The server endpoint its requests go to (completions, chat, generate); None: no server."""
        return None

    def data_files(self, recipe: Recipe) -> list[DataFile]:
        """The files its command line reads for the recipe's dataset (staged before the points)."""
        return []

    def hub_fetches(self, argv: list[str]) -> list[str]:
        """What a command line of this client would fetch from the Hub at point start (empty: nothing):
        a tokenizer named by model id (every client loads it with transformers' from_pretrained)."""
        value = flag_value(argv, "--tokenizer")
        return [] if value and value.startswith("/") else [f"the tokenizer {value or '(the model id)'}"]

    def drawn_means(self, argv: list[str]) -> tuple[float, float] | None:
        """The mean input and output lengths this command line draws, per the tool's sampling code (the
        simulator's tokens follow them); None: the configured lengths themselves."""
        return None

    def simulated(self, measured: Measured) -> tuple[str, dict[str, str]]:
        """(what it prints, its result files by name) for the simulator, in the real tool's format."""
        raise NotImplementedError

    def files(self, point_ids: list[str], repeats: int = 1) -> list[str]:
        """The files the Job prints of these points' trials, by name: each trial's result files and
        (a serving client's) what it printed, under their trial names."""
        extra = [self.request_file] if self.request_file and self.request_file not in self.result_files else []
        names = [*self.result_files, *extra, *([] if self.offline else [STDOUT])]
        return [trial_file(k, n.format(point=p)) for p in point_ids for k in range(1, repeats + 1) for n in names]

    def choose(self, files: dict[str, str], point_id: str) -> str | None:
        """The result file to parse of one trial (its files by their own names), best first; then what
        the client printed; None: neither is there."""
        names = [p.format(point=point_id) for p in self.result_files] + [STDOUT]
        return next((n for n in names if n in files), None)

    @staticmethod
    def extra_flags(recipe: Recipe) -> list[str]:
        return to_flags(recipe.benchmark.extra_args)[0]

    def load_flags(self, point: BenchmarkPoint) -> list[str]:
        """Concurrency and request rate, as most clients spell them."""
        return ([*(["--max-concurrency", str(point.concurrency)] if point.concurrency else []),
                 *(["--request-rate", f"{point.request_rate:g}"] if point.request_rate else [])])

    def __repr__(self) -> str:
        return f"<benchmark client {self.name}>"


STDOUT = "stdout.txt"  # what a serving client printed in one trial, kept beside its result files


def trial_file(k: int, name: str) -> str:
    """The name one trial's file is printed under (a point's trials write the same names)."""
    return f"t{k}.{name}"


def trial_files(files: dict[str, str], k: int) -> dict[str, str]:
    """Trial k's files, by their own names."""
    prefix = trial_file(k, "")
    return {n[len(prefix):]: text for n, text in files.items() if n.startswith(prefix)}


def flag_value(argv: list[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value` in an argv, else None."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def window_mean(length: int, ratio: float | None) -> float:
    """Mean of a uniform integer draw in [int(L * r), L] (sglang's and AIPerf's sglang-style window)."""
    return float(length) if ratio is None or ratio >= 1 else (max(1, int(length * ratio)) + length) / 2
