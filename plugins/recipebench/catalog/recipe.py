"""The recipe schema, its layered defaults and its fingerprint.

A recipe file is resolved in three layers, each overriding the one before: the accelerator
profile, the framework defaults, then the file itself. The result is validated strictly:
an unknown key or a bad enum value is an error that names the file and the field.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recipebench.catalog.accelerators import ACCELERATORS
from recipebench.catalog.frameworks import FLAG_STYLE, FRAMEWORK_DEFAULTS, PARALLEL_FLAGS
from recipebench.catalog.paths import RECIPES
from recipebench.catalog.slo import SearchSpec, SloSpec, default_slo
from recipebench.clients import client, names
from recipebench.errors import RecipebenchError
from recipebench.shapes import names as shape_names
from recipebench.shapes import shape

DEFAULT_RECIPES_DIR = RECIPES

ArgValue = bool | int | float | str | list[str | int | float] | dict[str, Any] | None
# strict: YAML `true` is not a number (pydantic's lax mode would read it as 1)
PosInt = Annotated[int, Field(ge=1, strict=True)]
PosFloat = Annotated[float, Field(gt=0, strict=True)]
MAX_PROMPTS = 100_000  # prompts per point; the trigger form has the same bound
MAX_TOKENS = 1 << 20  # tokens per request
MAX_CONCURRENCY = 16_384


class RecipeError(RecipebenchError, ValueError):
    """A recipe that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Strict):
    name: str = Field(min_length=3, pattern=r"^[\w.-]+/[\w.-]+$")  # Hugging Face id
    precision: Literal["fp8", "bf16", "fp16", "nvfp4"]
    # other checkpoints of the same model a person may pick in the trigger form
    variants: list[str] = []
    # where the weights come from: downloaded from Hugging Face at start, or pre-staged in GCS
    source: Literal["huggingface", "gcs"] = "huggingface"
    # size of the weights: the startup budget must leave time to fetch and load them
    size_gb: PosInt | None = None

    @property
    def choices(self) -> list[str]:
        return [self.name, *[v for v in self.variants if v != self.name]]


# an image tag, as distribution/reference (regexp.go, `tag`) defines it
IMAGE_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
IMAGE_TAG_WORDS = "letters, digits, '_', '.' and '-', not starting with '.' or '-', up to 128 characters"


def _image_tag(value: str) -> str:
    if not IMAGE_TAG.match(value):
        raise ValueError(f"{value[:80]!r} is not an image tag ({IMAGE_TAG_WORDS})")
    return value


class ImageSpec(_Strict):
    # with build: the image name inside the Artifact Registry; without: a full reference
    repository: str = Field(min_length=1)
    tag: Annotated[str, AfterValidator(_image_tag)]
    build: Literal["sglang", "vllm", "dynamo-sglang"] | None = None
    # images other than the server's (Dynamo frontend), used as published
    frontend: str | None = None
    # whether the image ships the hf_transfer package: huggingface_hub raises a ValueError when
    # HF_HUB_ENABLE_HF_TRANSFER=1 and the package is missing (file_download.py, http_get), so the
    # variable is set only for images known to have it
    hf_transfer: bool = False
    # the uid the image's processes run as (its Dockerfile's USER): a non-root image cannot run
    # root-only steps (ldconfig, package installs) in its container's script
    user: int = Field(0, ge=0)


class ServingSpec(_Strict):
    port: int = Field(ge=0, le=65535, strict=True)  # 0: no server (offline shape)
    health_path: str
    # command-line flags of the server; a mapping value is written to a file and the flag gets its path
    args: dict[str, ArgValue] = {}
    env: dict[str, str] = {}
    # folders put in front of the image's LD_LIBRARY_PATH by the container's shell: a pod env entry
    # would replace the image's value (NGC images carry CUDA compat and TensorRT paths there)
    library_path: list[str] = []
    # NCCL as the recipe's upstream chart sets it up, so the numbers come from the NCCL upstream measured
    # with: nccl_init sources the network profile's init script (gIB's set_nccl_env.sh, then ldconfig);
    # network_library_path puts the profile's folders (gIB's NCCL and tuner) ahead of library_path
    nccl_init: bool = True
    network_library_path: bool = True
    privileged: bool = False

    @field_validator("env")
    @classmethod
    def _no_library_path_env(cls, env: dict[str, str]) -> dict[str, str]:
        if "LD_LIBRARY_PATH" in env:
            raise ValueError("LD_LIBRARY_PATH replaces the image's own value; list the folders in "
                             "serving.library_path instead, which extends it")
        return env


class RoleSpec(_Strict):
    """One worker role of a disaggregated deployment (prefill or decode)."""

    replicas: PosInt = 1
    nodes: PosInt = 1  # nodes per replica
    args: dict[str, ArgValue] = {}
    env: dict[str, str] = {}
    # "always-true": an exec probe that never fails, as the upstream chart gives prefill workers, whose
    # /live may not answer under a full prefill batch (the operator adds a default probe when none is given)
    liveness: Literal["http", "always-true"] = "http"


class TopologySpec(_Strict):
    shape: str  # a registered workload shape (recipebench.shapes)
    nodes: PosInt = 1
    frontend_replicas: PosInt = 1
    prefill: RoleSpec | None = None
    decode: RoleSpec | None = None

    @field_validator("shape")
    @classmethod
    def _known_shape(cls, name: str) -> str:
        if name not in shape_names():
            raise ValueError(f"no workload shape {name!r}; known: {', '.join(shape_names())}")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> TopologySpec:
        self.kind.check(self)
        return self

    @property
    def kind(self):
        """The workload shape's class (recipebench.shapes): what runs the recipe and how."""
        return shape(self.shape)

    @property
    def total_nodes(self) -> int:
        return self.kind.total_nodes(self)


class BenchmarkPoint(_Strict):
    input_len: Annotated[PosInt, Field(le=MAX_TOKENS)]  # tokens per request; with uniform lengths, the longest
    output_len: Annotated[PosInt, Field(le=MAX_TOKENS)]
    num_prompts: Annotated[PosInt, Field(le=MAX_PROMPTS)]
    concurrency: Annotated[PosInt, Field(le=MAX_CONCURRENCY)] | None = None  # None: unbounded
    request_rate: PosFloat | None = None  # None: send all at once (inf)
    search_step: PosInt | None = None  # a step of the capacity search (results.search), never in a recipe

    @property
    def id(self) -> str:
        """Stable, human-readable identity of the point within a recipe (a search step's: s<k>-...)."""
        rate = "inf" if self.request_rate is None else f"{self.request_rate:g}"
        conc = "max" if self.concurrency is None else str(self.concurrency)
        step = f"s{self.search_step}-" if self.search_step else ""
        return f"{step}i{self.input_len}-o{self.output_len}-c{conc}-r{rate}-n{self.num_prompts}"


class LengthSpec(_Strict):
    """How request lengths vary, stated once per recipe; each tool's flags are translated from it
    (each client's length_flags, recipebench.clients).

    fixed: every request has exactly input_len / output_len tokens.
    uniform: input and output lengths drawn independently and uniformly from the integers in
    [int(L * min_fraction), L], L being the point's length: the semantics of sglang's
    --random-range-ratio (bench_serving.sample_random_requests) and of the vLLM-derived clients
    the upstream Dynamo recipe used.
    """

    distribution: Literal["fixed", "uniform"] = "fixed"
    min_fraction: Annotated[float, Field(gt=0, lt=1, strict=True)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> LengthSpec:
        if (self.distribution == "uniform") != (self.min_fraction is not None):
            raise ValueError("min_fraction is required with distribution uniform and meaningless with fixed")
        return self

    def shortest(self, length: int) -> int:
        return length if self.min_fraction is None else max(1, int(length * self.min_fraction))

    def mean(self, length: int) -> float:
        """The mean of the lengths drawn: a uniform integer draw in [shortest, L] has mean (shortest + L) / 2."""
        return (self.shortest(length) + length) / 2


class ValiditySpec(_Strict):
    """When a point's numbers count (results.validity.judge): the rules' thresholds."""

    max_failed_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.01  # of the requests sent
    # successful requests needed for a stable p99 (about 1,000, MLPerf's and AIPerf's guidance), or all
    # of num_prompts when a point sends fewer
    min_completed: PosInt = 1000
    length_tolerance: Annotated[float, Field(gt=0, lt=1)] = 0.05  # measured mean length vs the planned mean
    min_duration_s: Annotated[float, Field(ge=0)] = 60.0  # measured wall time
    # achieved concurrency (mean requests in flight, where the tool reports it) at least this share of
    # the planned concurrency, or of num_prompts when a point sets none
    min_concurrency_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8
    # the relative range (max - min) / median of output throughput across a point's trials
    max_trial_spread: Annotated[float, Field(gt=0)] = 0.10
    require_warmup: bool = True  # a point measured cold (warmup_requests 0) is invalid


NonNegInt = Annotated[int, Field(ge=0, strict=True)]
MAX_REPEATS = 9


class BenchmarkSpec(_Strict):
    tool: str  # a registered benchmark client (recipebench.clients)
    dataset: Literal["random"] = "random"
    lengths: LengthSpec = LengthSpec()
    # the OpenAI endpoint a client that offers the choice sends to (the chat template adds tokens)
    endpoint: Literal["completions", "chat"] = "completions"
    points: list[BenchmarkPoint] = Field(min_length=1)
    extra_args: dict[str, ArgValue] = {}
    validity: ValiditySpec = ValiditySpec()
    # requests sent before each point's measured ones, never measured (None: warmup_for's default)
    warmup_requests: Annotated[NonNegInt, Field(le=MAX_PROMPTS)] | None = None
    # trials of each point against the same server: the result is the median trial (odd, so there is one)
    repeats: Annotated[PosInt, Field(le=MAX_REPEATS)] = 1
    # after the fixed points: the highest load that meets the recipe's SLO (catalog.slo, results.search)
    search: SearchSpec | None = None

    @field_validator("repeats")
    @classmethod
    def _odd(cls, repeats: int) -> int:
        if repeats % 2 == 0:
            raise ValueError(f"repeats must be odd (the result is the median trial), got {repeats}")
        return repeats

    def warmup_for(self, point: BenchmarkPoint) -> int:
        """Warm-up requests before a point: the recipe's, else twice the concurrency and at least 8
        (InferenceX's rule). A point with no concurrency cap sends everything at once; its warm-up is
        twice its prompts, bounded at 2 x 256 (our bound, so a 10,000-prompt burst does not warm up
        with 20,000)."""
        if self.warmup_requests is not None:
            return self.warmup_requests
        return max(8, 2 * (point.concurrency or min(point.num_prompts, 256)))

    @field_validator("tool")
    @classmethod
    def _known_tool(cls, tool: str) -> str:
        if tool not in names():
            raise ValueError(f"no benchmark client {tool!r}; known: {', '.join(names())}")
        return tool

    @property
    def client(self):
        """The benchmark client class that runs this recipe's points (recipebench.clients)."""
        return client(self.tool)

    @field_validator("points")
    @classmethod
    def _unique(cls, points: list[BenchmarkPoint]) -> list[BenchmarkPoint]:
        if any(p.search_step for p in points):
            raise ValueError("search_step is the capacity search's own: a recipe's points do not set it")
        ids = [p.id for p in points]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate benchmark points: {', '.join(dupes)}")
        return points


class AccuracySpec(_Strict):
    """The accuracy gate (recipebench.accuracy): a short evaluation against the deployed server before the
    performance points; below min_score every point of the run is invalid."""

    task: Literal["gsm8k"] = "gsm8k"
    min_score: Annotated[float, Field(gt=0, le=1)]  # the recipe says where its threshold comes from
    questions: Annotated[PosInt, Field(le=1319)] = 200  # the first of GSM8K's 1,319 test questions
    shots: Annotated[NonNegInt, Field(le=8)] = 5  # few-shot examples from the train split
    max_tokens: Annotated[PosInt, Field(le=32768)] = 512  # per answer; greedy (temperature 0)
    concurrency: Annotated[PosInt, Field(le=256)] = 32


class ClusterSpec(_Strict):
    """The production GKE target; a kubeconfig (the simulated cluster) can replace it at run time."""

    name: str | None = None
    location: str | None = None
    project: str | None = None  # default: the project of the Google connection
    namespace: str = Field(default="default", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    queue: str | None = None  # Kueue LocalQueue
    bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    artifact_registry: str | None = None  # LOCATION-docker.pkg.dev/PROJECT/REPO


class SecretsSpec(_Strict):
    huggingface: bool = True
    ngc: bool = False


class TimeoutsSpec(_Strict):
    lock_minutes: PosInt = 480  # waiting for the node pool's Lease (another run holds its GPUs)
    capacity_minutes: PosInt = 60  # Kueue admission + node scale-up
    ready_minutes: PosInt = 60  # scheduled -> serving (image pull, download, load)
    point_minutes: PosInt = 60  # one trial of a benchmark point (a point runs benchmark.repeats trials)
    keep_alive_hours: PosInt = 8  # how long a kept server may live before the janitor takes it


class Recipe(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    description: str
    owner: str = Field(min_length=1)
    schedule: str | None = None  # cron, UTC
    # when-changed: a run whose image, fingerprint and cluster version are those of the last valid run is
    # skipped before any GPU is held (results.skipping), unless that run is force_every_days old
    schedule_policy: Literal["always", "when-changed"] = "always"
    force_every_days: Annotated[int, Field(ge=1, le=90, strict=True)] = 7
    accelerator: Literal[tuple(ACCELERATORS)]  # type: ignore[valid-type]
    framework: Literal[tuple(FRAMEWORK_DEFAULTS)]  # type: ignore[valid-type]
    model: ModelSpec
    image: ImageSpec
    serving: ServingSpec
    topology: TopologySpec
    benchmark: BenchmarkSpec
    accuracy: AccuracySpec | None = None  # None: no accuracy gate (an offline benchmark has no server to ask)
    slo: SloSpec  # the model layer's default (catalog.slo.DEFAULT_SLOS) unless the recipe says otherwise
    cluster: ClusterSpec = ClusterSpec()
    secrets: SecretsSpec = SecretsSpec()
    timeouts: TimeoutsSpec = TimeoutsSpec()
    tags: list[str] = []

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        """What CronTriggerTimetable will take: five fields croniter can expand (Airflow's timetable
        (timetables/_cron.py, CronMixin) parses with croniter, and a DAG with a bad one fails to import)."""
        from croniter import croniter

        if value is not None and (len(value.split()) != 5 or not croniter.is_valid(value)):
            raise ValueError(f"schedule must be a valid 5-field cron expression (minute hour day month weekday), "
                             f"got {value!r}")
        return value

    @model_validator(mode="after")
    def _flag_names(self) -> Recipe:
        """Server flags are written as the framework's parser spells them (catalog.frameworks.FLAG_STYLE):
        a misspelt one would fail the server at start, hours into a run, or slip past the checks
        here that read flags by name (context length, parallelism)."""
        style = FLAG_STYLE[self.framework]
        for where, args in self._server_arg_sets():
            bad = [k for k in args if not style.pattern.fullmatch(k)]
            if bad:
                raise ValueError(f"{where}: {self.framework} does not spell its flags like "
                                 + ", ".join(f"{k!r} (write {style.spelling(k)!r})" for k in bad))
        return self

    @model_validator(mode="after")
    def _parallelism_fits(self) -> Recipe:
        """tensor x pipeline parallel ranks cannot exceed the GPUs one server instance holds."""
        names = PARALLEL_FLAGS[self.framework]
        gpn = self.acc.gpus_per_node
        for where, args in self._server_arg_sets():
            ranks = 1
            for dimension in ("tp", "pp"):
                given = [args[k] for k in names[dimension] if k in args]
                if given and (isinstance(given[0], bool) or not isinstance(given[0], int) or given[0] < 1):
                    raise ValueError(f"{where}: {names[dimension][0]} must be a positive integer, got {given[0]!r}")
                ranks *= given[0] if given else 1
            nodes = self._nodes_of(where)
            if ranks > gpn * nodes:
                raise ValueError(f"{where}: tensor x pipeline parallel = {ranks} ranks, but a server instance holds "
                                 f"{nodes} node(s) x {gpn} GPUs = {gpn * nodes} ({self.accelerator})")
        return self

    def _server_arg_sets(self) -> list[tuple[str, dict]]:
        sets = [("serving.args", self.serving.args)]
        for role in ("prefill", "decode"):
            spec = getattr(self.topology, role)
            if spec is not None:
                # a role's worker gets the common args with its own on top (manifests.render)
                sets.append((f"topology.{role}.args", {**self.serving.args, **spec.args}))
        return sets

    def _nodes_of(self, where: str) -> int:
        if where.startswith("topology."):
            return getattr(self.topology, where.split(".")[1]).nodes
        return self.topology.kind.server_nodes(self.topology)

    @model_validator(mode="after")
    def _registry_for_builds(self) -> Recipe:
        if self.image.build and not self.cluster.artifact_registry:
            raise ValueError("an image built by Cloud Build needs cluster.artifact_registry to push to")
        if self.benchmark.client.image is not None and not self.cluster.artifact_registry:
            raise ValueError(f"the {self.benchmark.tool} client runs from its own image, built into "
                             "cluster.artifact_registry: set it")
        return self

    @model_validator(mode="after")
    def _shape_fits_tool(self) -> Recipe:
        if self.topology.kind.serves == self.benchmark.client.offline:
            raise ValueError(f"benchmark tool {self.benchmark.tool} does not fit the {self.topology.shape} shape")
        domain = self.acc.nvlink_domain_nodes
        if self.topology.kind.needs_compute_domain and domain and self.topology.total_nodes > domain:
            raise ValueError(f"topology: {self.topology.total_nodes} nodes do not fit one NVLink domain of "
                             f"{self.accelerator} ({domain} nodes): a ComputeDomain's IMEX channels work within "
                             "one domain only")
        if self.accuracy is not None and not self.topology.kind.serves:
            raise ValueError(f"accuracy: the {self.topology.shape} shape runs no server to ask; an offline "
                             "benchmark cannot have an accuracy gate")
        if self.topology.kind.serves and not self.cluster.bucket:
            raise ValueError(f"the {self.benchmark.tool} client reads its tokenizer and dataset from files staged "
                             "once per run in cluster.bucket (not the Hugging Face Hub at every point): set it")
        return self

    @model_validator(mode="after")
    def _requests_fit_the_context(self) -> Recipe:
        """A request longer than the server's context is refused by the server: the point would
        measure errors, not the model. Refuse the point here instead."""
        limit = self.context_length
        if limit is None:
            return self
        for p in self.benchmark.points:
            if p.input_len + p.output_len > limit:
                raise ValueError(f"benchmark point {p.id}: its longest request ({p.input_len} input + {p.output_len} "
                                 f"output tokens) exceeds the server's context length of {limit} tokens")
        return self

    @model_validator(mode="after")
    def _startup_budget_fits_the_model(self) -> Recipe:
        """The weights must be fetched and loaded within timeouts.ready_minutes, or every night fails
        with "not ready" (and LeaderWorkerSet recreates the group when a startup probe gives up)."""
        needed = minimum_ready_minutes(self.model.size_gb)
        if needed and self.timeouts.ready_minutes < needed:
            raise ValueError(f"timeouts.ready_minutes {self.timeouts.ready_minutes} is too short for "
                             f"{self.model.size_gb} GB of weights: at least {needed} (fetch at "
                             f"{FETCH_GB_PER_MINUTE} GB/min + {LOAD_MINUTES} min to load)")
        return self

    @property
    def context_length(self) -> int | None:
        """The smallest context limit any server process of the recipe is started with, if one is set."""
        keys = ("context-length", "max-model-len", "max_seq_len", "max-seq-len")
        arg_sets = [self.serving.args] + [r.args for r in (self.topology.prefill, self.topology.decode) if r]
        limits = [int(str(a[k])) for a in arg_sets for k in keys
                  if isinstance(a.get(k), (int, str)) and str(a[k]).isdigit()]
        return min(limits) if limits else None

    @property
    def served_model_name(self) -> str:
        """The id the server lists in /v1/models and expects in requests."""
        name = self.serving.args.get("served-model-name")
        if isinstance(name, str):
            return name
        return f"/data/model/{self.model.name}" if self.model.source == "gcs" else self.model.name

    @property
    def ready_budget_minutes(self) -> int:
        """How long wait_ready waits once the workload has its nodes. An offline Job is its own
        benchmark: it completes only after every point ran, so their time counts too."""
        return self.timeouts.ready_minutes + self.topology.kind.extra_ready_minutes(self)

    @property
    def point_budget_minutes(self) -> int:
        """The longest one point may take: timeouts.point_minutes is one trial's, and a point runs
        benchmark.repeats of them (its warm-up is inside the first trial's budget)."""
        return self.timeouts.point_minutes * self.benchmark.repeats

    @property
    def acc(self):
        return ACCELERATORS[self.accelerator]

    def image_ref(self, digest: str | None = None) -> str:
        """The server image: built ones live in the Artifact Registry; a digest pins it."""
        repo = self.image.repository
        if self.image.build:
            repo = f"{self.cluster.artifact_registry}/{repo}"
        return f"{repo}@{digest}" if digest else f"{repo}:{self.image.tag}"

    def client_image_ref(self, server_digest: str | None = None, client_digest: str | None = None) -> str:
        """The benchmark client's image: its own small one (recipebench.clients), or the server's."""
        own = self.benchmark.client.image
        if own is None:
            return self.image_ref(server_digest)
        repo = f"{self.cluster.artifact_registry}/{own.repository}"
        return f"{repo}@{client_digest}" if client_digest else f"{repo}:{own.tag}"

    @property
    def gpu_count(self) -> int:
        return self.topology.total_nodes * self.acc.gpus_per_node

    def fingerprint(self) -> str:
        """Hash of everything that determines the numbers (determining()), and nothing cosmetic."""
        blob = json.dumps(self.determining(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def determining(self) -> dict:
        """Everything that determines the numbers: what the fingerprint hashes, and what a
        comparison of two runs lists field by field. Owner, schedule, description, tags, timeouts
        and the point list are left out: the point is part of each result's identity on its own.
        """
        determining = self.model_dump(
            include={"accelerator", "framework", "model", "image", "serving", "topology"},
            mode="json",
        )
        determining["model"].pop("variants", None)
        determining["model"].pop("size_gb", None)
        # the warm-up and the trials decide what a point's figures are (a cold or a one-pass point is not
        # comparable with a warmed-up median of three)
        determining["benchmark"] = self.benchmark.model_dump(include={"tool", "dataset", "lengths", "endpoint",
                                                                      "extra_args", "warmup_requests", "repeats"},
                                                             mode="json")
        return determining


# What a startup budget must cover (ModelSpec.size_gb): a conservative fetch rate (a single Hugging Face
# download stream without hf_transfer runs at a few hundred MB/s) and the time to load the weights onto
# the GPUs and warm up (CUDA graphs, compilation).
FETCH_GB_PER_MINUTE = 10
LOAD_MINUTES = 15


def minimum_ready_minutes(size_gb: int | None) -> int | None:
    if not size_gb:
        return None
    return -(-size_gb // FETCH_GB_PER_MINUTE) + LOAD_MINUTES


def deep_merge(base: dict, override: dict) -> dict:
    """Merge mappings recursively; anything but a mapping in override replaces what base has."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def recipes_dir() -> Path:
    return Path(os.environ.get("RECIPEBENCH_RECIPES_DIR") or DEFAULT_RECIPES_DIR)


def _field_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if not str(p).startswith(("function-", "literal[")))


def resolve(recipe_id: str, raw: Any, source: str) -> Recipe:
    """Apply the layers of defaults to one parsed recipe file and validate the result."""
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: the file must hold a mapping of recipe fields, not {type(raw).__name__}")
    if "id" in raw and raw["id"] != recipe_id:
        raise RecipeError(f"{source}: field id: {raw['id']!r} differs from the file name {recipe_id!r}; the file name "
                          "is the recipe id (and the DAG id): drop the field or rename the file")
    layered: dict = {}
    # a wrong type here is reported by validation below; only names pick the layers of defaults
    acc = ACCELERATORS.get(raw["accelerator"]) if isinstance(raw.get("accelerator"), str) else None
    if acc is not None:
        layered = deep_merge(layered, acc.defaults())
    framework = FRAMEWORK_DEFAULTS.get(raw["framework"]) if isinstance(raw.get("framework"), str) else None
    if framework is not None:
        layered = deep_merge(layered, framework)
    model = raw.get("model", {}).get("name") if isinstance(raw.get("model"), dict) else None
    if isinstance(model, str):  # the model layer: its SLO (catalog.slo)
        layered = deep_merge(layered, {"slo": default_slo(model)})
    layered = deep_merge(layered, raw)
    layered["id"] = recipe_id
    try:
        return Recipe.model_validate(layered)
    except ValidationError as exc:
        raise RecipeError(f"{source}: {'; '.join(_problem(e) for e in exc.errors())}") from None


def _problem(error: Any) -> str:
    """One pydantic error as `field PATH: what (got VALUE)`; our own validators' messages say it all."""
    where = f"field {_field_path(error['loc'])}" if _field_path(error["loc"]) else "recipe"
    if error["type"] == "value_error":
        return f"{where}: {error['msg'].removeprefix('Value error, ')}"
    if error["type"] == "extra_forbidden":
        return f"{where}: {error['msg']}{_nearest(error['loc'])}"
    shown = error["type"] not in ("missing", "extra_forbidden") and not isinstance(error["input"], dict)
    return f"{where}: {error['msg']}" + (f" (got {_quoted(error['input'])})" if shown else "")


def _nearest(loc: tuple) -> str:
    """`; did you mean 'concurrency'?` for a misspelt field: the closest name its model has."""
    import difflib

    model: Any = Recipe
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            if isinstance(part, int):
                continue  # an item of a list: the list's item model stays
            return ""
        annotation = field.annotation
        args = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else (
            args[0] if args else None)
        if model is None:
            return ""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    match = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def _quoted(value: Any, limit: int = 80) -> str:
    """A value as an error may quote it: its first line, cut at `limit` characters."""
    text = repr(value)
    first = text.splitlines()[0] if text else text
    return first if len(first) <= limit else first[:limit] + "..."


_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader (libyaml's when present: the pure-Python one dominates the DAG folder's
    parse time), refusing a key given twice in one mapping: YAML's last-wins would silently drop
    the first value."""

    def construct_object(self, node, deep=False):
        # an alias hands the constructor a node it has already built: refused, so a few lines of
        # anchors cannot expand into gigabytes (the "billion laughs") in validation and merging
        seen = self.__dict__.setdefault("_nodes_seen", set())
        if id(node) in seen and node not in self.recursive_objects:
            raise yaml.constructor.ConstructorError(None, None, "aliases (*name) are not allowed in recipe files",
                                                    node.start_mark)
        seen.add(id(node))
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found key {key!r} twice (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


MAX_RECIPE_BYTES = 256 * 1024  # the largest catalog recipe is a few kB


def load_recipe_file(path: Path) -> Recipe:
    """One recipe file, validated; every way it can be unusable is a RecipeError naming it. A file that
    resolves outside its folder (a symlink to /etc/shadow) is not read, and an error quotes at most the
    one line that fails."""
    folder = path.parent.resolve()
    try:
        real = path.resolve()
        if real.parent != folder:
            raise RecipeError(f"{path}: a link out of the recipes folder {folder}: not read")
        size = real.stat().st_size
    except OSError as exc:
        raise RecipeError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if size > MAX_RECIPE_BYTES:
        raise RecipeError(f"{path}: {size} bytes, more than a recipe file may hold ({MAX_RECIPE_BYTES}): not read")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise RecipeError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RecipeError(f"{path}: not valid YAML: {at}{exc.problem}"
                          + (f" ({exc.context})" if exc.context else "")) from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    return resolve(path.stem, raw, str(path))


def recipe_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or recipes_dir()).glob("*.yaml"))


def load_catalog(directory: Path | None = None) -> tuple[dict[str, Recipe], dict[str, str]]:
    """Every recipe in the folder: the valid ones, and an error message per broken file."""
    good: dict[str, Recipe] = {}
    broken: dict[str, str] = {}
    for path in recipe_files(directory):
        try:
            good[path.stem] = load_recipe_file(path)
        except RecipeError as exc:
            broken[path.stem] = str(exc)
    return good, broken


def load_recipe(recipe_id: str, directory: Path | None = None) -> Recipe:
    path = (directory or recipes_dir()) / f"{recipe_id}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in recipe_files(directory)) or "none"
        raise RecipeError(f"no recipe {recipe_id!r} in {path.parent} (known: {known})")
    return load_recipe_file(path)
