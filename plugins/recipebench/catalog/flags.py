"""One mechanism for every command line: a mapping of flags to argv (servers, workers, clients)."""

from __future__ import annotations

import json
from typing import Any

CONFIG_DIR = "/workload/configs"  # where the run's ConfigMap is mounted


def to_flags(args: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """`key: value` -> `--key value`.

    True -> bare `--key`; False/None -> omitted (store_true flags take no value); a list ->
    `--key a b`; a mapping -> written as a JSON file in the run's ConfigMap, flag = its path
    (TRT-LLM's --extra_llm_api_options and SGLang's --deepep-config both accept a file).
    """
    flags: list[str] = []
    files: dict[str, str] = {}
    for key, value in args.items():
        flag = f"--{key}"
        if value is None or value is False:
            continue
        if value is True:
            flags.append(flag)
        elif isinstance(value, dict):
            filename = f"{key.replace('_', '-')}.json"
            files[filename] = json.dumps(value, indent=2, sort_keys=True) + "\n"
            flags += [flag, f"{CONFIG_DIR}/{filename}"]
        elif isinstance(value, list):
            flags += [flag, *(str(v) for v in value)]
        else:
            flags += [flag, str(value)]
    return flags, files
