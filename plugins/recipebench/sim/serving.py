"""The API server's service proxy, answering the way the servers behind a Service would.

GET/POST /api/v1/namespaces/{ns}/services/{name}[:port]/proxy/{path}. As a real API server does,
it answers 503 "no endpoints available for service" when no Ready pod backs the Service. The pods'
owner decides the answer: its serving state (kubelet.serving) says whether the model is listed in
/v1/models yet and whether completions work. A server whose health answers before the model is
served lists no model; a wrong served name lists another one.
"""

from __future__ import annotations

import json

from recipebench.sim import dynamo, startup
from recipebench.sim.server import BY_PLURAL, ApiError

PODS, SERVICES = BY_PLURAL[("", "pods")], BY_PLURAL[("", "services")]


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and str(c.get("status")) == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def proxy(store, kubelet, namespace: str, service: str, method: str, path: str, body: bytes) -> tuple[int, dict]:
    """(HTTP status, JSON body) of one request through the service proxy."""
    name = service.split(":")[0]
    svc = store.get(SERVICES, namespace, name)  # 404 ApiError when missing
    selector = ",".join(f"{k}={v}" for k, v in ((svc.get("spec") or {}).get("selector") or {}).items())
    endpoints = [p for p in store.list(PODS, namespace, selector) if _ready(p)] if selector else []
    if not endpoints:
        raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
    owner = (endpoints[0]["metadata"].get("ownerReferences") or [{}])[0].get("uid")
    state = kubelet.serving.get(owner) or {}
    model = state.get("listed") or "unknown"
    if method == "GET" and path in ("/health", "/live"):
        return 200, {"status": "healthy"}
    if method == "GET" and path == "/v1/models":
        if not state.get("served"):
            return 200, {"object": "list", "data": []}
        return 200, {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "simulated"}]}
    if method == "POST" and path == "/v1/completions":
        request = json.loads(body or b"{}")
        if not state.get("served") or request.get("model") != model:
            return 404, {"error": {"message": f"The model `{request.get('model')}` does not exist.",
                                   "type": "NotFoundError", "code": 404}}
        if not state.get("completions", True):
            return 500, {"error": {"message": "CUDA error: an illegal memory access was encountered",
                                   "type": "InternalServerError", "code": 500}}
        return 200, {"id": "cmpl-sim", "object": "text_completion", "model": model,
                     "choices": [{"index": 0, "text": " simulated", "finish_reason": "length"}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": request.get("max_tokens", 1)}}
    framework = startup.framework_of(dynamo.command_text(endpoints[0]["spec"]["containers"][0]))
    version = startup.package_version(endpoints[0]["spec"]["containers"][0].get("image"))
    if method == "GET" and path == "/version" and framework == "vllm":  # vLLM's show_version
        return 200, {"version": version}
    if method == "GET" and path == "/get_server_info" and framework == "sglang":  # SGLang's get_server_info
        return 200, {"model_path": model, "version": version}
    raise ApiError(404, "NotFound", f"{path} is not served by {name}")
