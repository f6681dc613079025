"""A fault-injecting HTTP proxy in front of the simulated API server (tests only).

Requests pass through unchanged unless a rule matches: a rule names the method and a regular
expression over the path, what to do, and how many matching requests it applies to (then it is
spent). What a rule can do, as an unreliable network or API server does:

  hang       read the request and never answer (until the proxy stops)
  slow       wait `delay` seconds, then forward
  409 / 410 / 403 / 500 ...   answer that status with a Kubernetes Status body
  bad-json   answer 200 with a body that is not JSON
  wrong-object  answer 200 with a JSON object of another kind (a proxy that mixed up answers)
  drop       close the connection without an answer
  echo-422   refuse with 422 Invalid, quoting the request's body in the message (as admission errors
             that print the object do)

The kubeconfig it writes is the simulator's, pointed at the proxy: the client code cannot tell.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import yaml

STATUS_REASONS = {403: "Forbidden", 409: "Conflict", 410: "Gone", 429: "TooManyRequests", 500: "InternalError",
                  503: "ServiceUnavailable"}


@dataclass
class Rule:
    method: str  # GET, PATCH, ... or * for any
    path: str  # regular expression, searched in the request's path and query
    action: str  # hang | slow | bad-json | wrong-object | drop | an HTTP status code
    times: int = 1_000_000  # how many matching requests it applies to
    delay: float = 0.0  # for slow
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and re.search(self.path, path) is not None and self.hits < self.times


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _relay(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path = self.path  # with its query: a rule can tell the readiness watch's list from teardown's
        rule = self.proxy.take(method, path)
        action = rule.action if rule else "forward"
        self.proxy.seen.append((method, path, action))
        if action == "hang":
            self.proxy.stopped.wait()
            self.close_connection = True
            return
        if action == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if action == "slow":
            time.sleep(rule.delay)
        if action.isdigit():
            code = int(action)
            reason = STATUS_REASONS.get(code, "Error")
            return self._send(code, json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                "message": f"{reason.lower()} (injected by the fault proxy "
                                                           f"for {method} {path})",
                                                "reason": reason, "code": code}).encode())
        if action == "echo-422":
            return self._send(422, json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                               "reason": "Invalid", "code": 422, "message": "admission "
                                               f"webhook denied the request: {(body or b'').decode()}"}).encode())
        if action == "bad-json":
            return self._send(200, b"<html>502 Bad Gateway</html>\n{not json")
        status, headers, data = self.proxy.forward(method, self.path, dict(self.headers), body)
        if action == "wrong-object" and status < 300:
            data = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Success",
                               "metadata": {}}).encode()
        self._send(status, data, headers.get("Content-Type", "application/json"))

    def _send(self, code, data, content_type="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._relay("GET")

    def do_POST(self):
        self._relay("POST")

    def do_PUT(self):
        self._relay("PUT")

    def do_PATCH(self):
        self._relay("PATCH")

    def do_DELETE(self):
        self._relay("DELETE")


class FaultProxy:
    def __init__(self, upstream_url: str, kubeconfig: str, out: str):
        self.upstream = urlparse(upstream_url)
        self.rules: list[Rule] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.seen: list[tuple[str, str, str]] = []  # (method, path, what was done)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"proxy": self}))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        config = yaml.safe_load(Path(kubeconfig).read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = self.url
        Path(out).write_text(yaml.safe_dump(config))
        self.kubeconfig = out

    def take(self, method: str, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None

    def forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        try:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def start(self) -> FaultProxy:
        threading.Thread(target=self.httpd.serve_forever, daemon=True, name="fault-proxy").start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.httpd.shutdown()
        self.httpd.server_close()
