#!/usr/bin/env python3
"""Replays the v2 challenge and token shapes of registries that cannot run here, for tests only.

usage: registry_replay.py USER PASSWORD

One 127.0.0.1 listener per shape, each on a free port; the first line of stdout is a JSON
object {shape: port}. The shapes, as their public documentation and `curl -i .../v2/` show
them, with each realm rewritten from the provider's host to this listener (http://127.0.0.1:PORT):

  dockerhub    Bearer realm="https://auth.docker.io/token",service="registry.docker.io"
  acr          Bearer realm="https://X.azurecr.io/oauth2/token",service="X.azurecr.io"  (access_token only)
  gcr          Bearer realm="https://gcr.io/v2/token",service="gcr.io"
  quay         Bearer realm="https://quay.io/v2/auth",service="quay.io"
  jfrog        Bearer realm="https://x.jfrog.io/artifactory/api/docker/docker-local/v2/token",service="x.jfrog.io"
  mcr          no challenge: /v2/ answers 200 {} to anyone
  html         not a registry: 200 text/html for everything
  notfound     not a registry: 404 text/plain for everything

A Bearer shape hands a token to the right Basic credentials (USER, `_json_key` or `acme+robot`
with PASSWORD; 401 otherwise, as all of them do),
and /v2/ answers 200 with Docker-Distribution-API-Version: registry/2.0 to that token only.
Manifests: HEAD /v2/<repo>/manifests/<ref> is 200 for repositories with an `ok` component
(`ok/app`, `docker-local/ok/app`), 404 for `missing`, and 401 insufficient_scope otherwise.
"""
import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

USER, PASSWORD = sys.argv[1], sys.argv[2]
# The account names each provider's users have: anyone's, GCR's `_json_key`, a Quay robot.
USERS = {USER, "_json_key", "acme+robot"}
TOKEN = "replayed-token-7d1f0c"  # what a provider's token service hands out, opaque to clients

SHAPES = {
    "dockerhub": ("/token", "registry.docker.io", lambda: {"token": TOKEN, "access_token": TOKEN, "expires_in": 300, "issued_at": "2026-01-01T00:00:00Z"}),
    "acr": ("/oauth2/token", "x.azurecr.io", lambda: {"access_token": TOKEN}),
    "gcr": ("/v2/token", "gcr.io", lambda: {"token": TOKEN, "expires_in": 3600, "issued_at": "2026-01-01T00:00:00Z"}),
    "quay": ("/v2/auth", "quay.io", lambda: {"token": TOKEN}),
    "jfrog": ("/artifactory/api/docker/docker-local/v2/token", "x.jfrog.io", lambda: {"token": TOKEN, "expires_in": 3600}),
}


def handler(shape, port):
    class H(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def send(self, code, body=b"", ctype="application/json", headers=()):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            path = urlparse(self.path).path
            auth = self.headers.get("Authorization", "")
            api = [("Docker-Distribution-API-Version", "registry/2.0")]
            if shape == "html":
                return self.send(200, b"<html><body>welcome</body></html>", "text/html")
            if shape == "notfound":
                return self.send(404, b"404 page not found", "text/plain")
            if shape == "mcr":
                if path == "/v2/":
                    return self.send(200, b"{}", headers=api)
                return self.manifest(path, api)
            realm_path, service, body = SHAPES[shape]
            if path == realm_path:
                try:
                    user, _, given = base64.b64decode(auth[len("Basic "):]).decode().partition(":")
                except Exception:
                    user, given = "", ""
                if not auth.startswith("Basic ") or user not in USERS or given != PASSWORD:
                    return self.send(401, b'{"details":"incorrect username or password"}')
                return self.send(200, json.dumps(body()).encode())
            challenge = f'Bearer realm="http://127.0.0.1:{port}{realm_path}",service="{service}"'
            if auth != f"Bearer {TOKEN}":
                return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', headers=api + [("WWW-Authenticate", challenge)])
            if path == "/v2/":
                return self.send(200, b"{}", headers=api)
            return self.manifest(path, api, challenge)

        def manifest(self, path, api, challenge=None):
            repo = path[len("/v2/"):].rsplit("/manifests/", 1)[0]
            if "/ok/" in "/" + repo:
                return self.send(200, headers=api)
            if "/missing/" in "/" + repo:
                return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', headers=api)
            extra = [("WWW-Authenticate", challenge + ',error="insufficient_scope"')] if challenge else []
            return self.send(401, b'{"errors":[{"code":"DENIED"}]}', headers=api + extra)

        do_GET = handle_any
        do_HEAD = handle_any

    return H


ports = {}
for shape in list(SHAPES) + ["mcr", "html", "notfound"]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    port = server.server_address[1]
    server.RequestHandlerClass = handler(shape, port)
    ports[shape] = port
    threading.Thread(target=server.serve_forever, daemon=True).start()
print(json.dumps(ports), flush=True)
threading.Event().wait()
