#!/usr/bin/env python3
"""Replays, over HTTPS, the v2 auth shapes of the public registries that cannot run here, under
their real host names, for tests only.

usage: provider_replay.py --cert CERT.pem --key KEY.pem --log FILE [--closed]
  env: REPLAY_ACCOUNTS  JSON {host: {account: password}}: who may log in to each registry
                        (GCR's and Artifact Registry's password is the service-account key,
                        compared byte for byte)
       REPLAY_ECR_REFUSE  when set, the ECR hosts refuse every token; else each takes moto's
                        token for its account, `<account>-auth-token`

One listener on 127.0.0.1 (a free port, printed on the first stdout line) speaks TLS with CERT,
whose names are the hosts below; the test reaches it with `pullseal validate --connect-to
HOST:PORT:127.0.0.1:<port> --ca-file <the test CA>`. Every request is answered by the `Host`
header it carries, so a check that went to another name than the provider's (docker.io instead
of registry-1.docker.io, say) gets 421 and fails. Each request is appended to --log as one JSON
line {host, method, path, query, auth}: `auth` is the scheme and, for Basic, the account name;
never a password, a token or a header.

The shapes, from each provider's documentation and from `curl -i https://HOST/v2/` as quoted in
the provider's issue trackers (the test module cites them):
  registry-1.docker.io   Bearer realm="https://auth.docker.io/token",service="registry.docker.io";
                         auth.docker.io/token hands {"token", "access_token", "expires_in",
                         "issued_at"}, to `demo-user` and anonymously alike (an anonymous token
                         pulls library/* only; with --closed anonymous token requests get 401)
  contosodemo.azurecr.io Bearer realm="https://contosodemo.azurecr.io/oauth2/token",
                         service="contosodemo.azurecr.io"; the token answer is {"access_token"}
  eu.gcr.io, europe-west1-docker.pkg.dev
                         Bearer realm="https://HOST/v2/token",service="HOST"; user `_json_key`,
                         the password the key itself
  quay.io                Bearer realm="https://quay.io/v2/auth",service="quay.io"; robot acme+deployer
  nexus.example.com:8443 BASIC realm="Sonatype Nexus Repository Manager" (Nexus 3's default,
                         forceBasicAuth); user `deployer`
  jfrog.example.com      Bearer realm="https://jfrog.example.com/artifactory/api/docker/docker-local/v2/token",
                         service="jfrog.example.com" (repository-path style)
  docker-remote.jfrog.example.com
                         Bearer realm="https://docker-remote.jfrog.example.com/v2/token",
                         service="docker-remote.jfrog.example.com" (subdomain style)
  mcr.microsoft.com      no challenge: /v2/ is 200 to anyone (with --closed: 403, as MCR answers
                         the networks it blocks)
  123456789012.dkr.ecr.eu-west-1.amazonaws.com, 210987654321.dkr.ecr.us-east-1.amazonaws.com
                         Basic realm="https://HOST/",service="ecr.amazonaws.com"; user `AWS`, the
                         password the ECR token of the host's account
  echo.example.com       a hostile server: Basic, and it echoes the Authorization header it gets
                         back, every byte percent-encoded, in a redirect's path
  echo-token.example.com a hostile server: Bearer, and it echoes the token back in the
                         Content-Type of a 200 that is no v2 answer

A token is good for its registry host and the `repository:NAME:pull` scopes it was asked with
(an anonymous Docker Hub token for library/* names only). HEAD /v2/NAME/manifests/REF is 200
for the host's repository in EXISTING, 404 for another name that may be pulled, and 401
(insufficient_scope) for a name the token does not grant.
"""
import argparse
import base64
import json
import os
import secrets
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ACCOUNTS = json.loads(os.environ["REPLAY_ACCOUNTS"])
ECR_REFUSE = bool(os.environ.get("REPLAY_ECR_REFUSE"))


def ecr(host):
    """An ECR host's Basic challenge, and moto's token for its account as its one account."""
    account = host.split(".", 1)[0]
    return (f'Basic realm="https://{host}/",service="ecr.amazonaws.com"',
            {} if ECR_REFUSE else {"AWS": f"{account}-auth-token"})

# registry host -> (token host, token path, service, accounts, the keys of its token answer)
BEARER = {
    "registry-1.docker.io": ("auth.docker.io", "/token", "registry.docker.io", ("token", "access_token", "expires_in", "issued_at")),
    "contosodemo.azurecr.io": ("contosodemo.azurecr.io", "/oauth2/token", "contosodemo.azurecr.io", ("access_token",)),
    "eu.gcr.io": ("eu.gcr.io", "/v2/token", "eu.gcr.io", ("token", "expires_in", "issued_at")),
    "europe-west1-docker.pkg.dev": ("europe-west1-docker.pkg.dev", "/v2/token", "europe-west1-docker.pkg.dev", ("token", "expires_in", "issued_at")),
    "quay.io": ("quay.io", "/v2/auth", "quay.io", ("token",)),
    "jfrog.example.com": ("jfrog.example.com", "/artifactory/api/docker/docker-local/v2/token", "jfrog.example.com", ("token", "expires_in")),
    "docker-remote.jfrog.example.com": ("docker-remote.jfrog.example.com", "/v2/token", "docker-remote.jfrog.example.com", ("token", "expires_in")),
    "echo-token.example.com": ("echo-token.example.com", "/token", "echo-token.example.com", ("token",)),
}
BEARER = {host: (th, tp, svc, ACCOUNTS.get(host, {}), keys) for host, (th, tp, svc, keys) in BEARER.items()}
# registry host -> (challenge, accounts)
BASIC = {
    "nexus.example.com:8443": ('BASIC realm="Sonatype Nexus Repository Manager"', ACCOUNTS.get("nexus.example.com:8443", {})),
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com": ecr("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
    "210987654321.dkr.ecr.us-east-1.amazonaws.com": ecr("210987654321.dkr.ecr.us-east-1.amazonaws.com"),
    "echo.example.com": ('Basic realm="echo"', ACCOUNTS.get("echo.example.com", {})),
}
# host -> the one repository it holds (any tag): a check that misses a server's path prefix,
# or Docker Hub's library/, asks for another name and is told 404.
EXISTING = {
    "registry-1.docker.io": "library/app",
    "contosodemo.azurecr.io": "app",
    "eu.gcr.io": "demo-project/app",
    "europe-west1-docker.pkg.dev": "demo-project/app",
    "quay.io": "acme/app",
    "jfrog.example.com": "docker-local/app",
    "docker-remote.jfrog.example.com": "app",
    "nexus.example.com:8443": "app",
    "mcr.microsoft.com": "app",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com": "app",
    "210987654321.dkr.ecr.us-east-1.amazonaws.com": "app",
}
# token -> (registry host, account or None, set of repositories it may pull)
TOKENS = {}
LOCK = threading.Lock()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--closed", action="store_true")
    args = ap.parse_args()
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def send(self, code, body=b"", ctype="application/json", headers=(), api=True):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if api:
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def basic(self):
            """The (account, password) of a Basic header, or None."""
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Basic "):
                return None
            try:
                user, _, given = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return ("", "")
            return (user, given)

        def record(self, host, url):
            auth = self.headers.get("Authorization", "")
            scheme = auth.split(" ", 1)[0].lower() if auth else None
            entry = {
                "host": host, "method": self.command, "path": url.path,
                "query": parse_qs(url.query), "auth": scheme,
            }
            if scheme == "basic":
                entry["user"] = (self.basic() or ("",))[0]
            log.write(json.dumps(entry, sort_keys=True) + "\n")

        def handle_any(self):
            url = urlparse(self.path)
            host = self.headers.get("Host", "").lower()
            if host.endswith(":443"):
                host = host[:-4]
            self.record(host, url)
            if host == "auth.docker.io" and url.path == "/token":
                return self.token("registry-1.docker.io", url)
            for registry, (token_host, token_path, *_rest) in BEARER.items():
                if host == token_host and url.path == token_path:
                    return self.token(registry, url)
            if host in BEARER:
                return self.bearer_registry(host, url)
            if host in BASIC:
                return self.basic_registry(host, url)
            if host == "mcr.microsoft.com":
                if args.closed:
                    return self.send(403, b"")
                return self.manifest_or_ping(host, url, lambda repo: True)
            return self.send(421, b"misdirected: no such host here", "text/plain")

        def token(self, registry, url):
            _, _, service, accounts, keys = BEARER[registry]
            query = parse_qs(url.query)
            if query.get("service") != [service]:
                return self.send(400, b'{"errors":[{"code":"DENIED","message":"invalid service"}]}')
            basic = self.basic()
            if basic is None:
                if args.closed or registry != "registry-1.docker.io":
                    return self.send(401, b'{"details":"anonymous access is not allowed"}')
                account = None
            elif accounts.get(basic[0]) == basic[1]:
                account = basic[0]
            else:
                return self.send(401, b'{"details":"incorrect username or password"}')
            repos = set()
            for scope in query.get("scope", []):
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                if kind != "repository" or "pull" not in actions.split(","):
                    return self.send(400, b'{"errors":[{"code":"DENIED","message":"invalid scope"}]}')
                # Docker Hub hands anonymous tokens for any scope, granting official images
                # (library/*) only; the registry then refuses the others.
                if account is None and not name.startswith("library/"):
                    continue
                repos.add(name)
            token = "replayed-" + secrets.token_hex(12)
            with LOCK:
                TOKENS[token] = (registry, account, repos)
            answer = {"token": token, "access_token": token, "expires_in": 300, "issued_at": "2026-01-01T00:00:00Z"}
            body = {k: answer[k] for k in keys}
            return self.send(200, json.dumps(body).encode())

        def bearer_registry(self, host, url):
            token_host, token_path, service, _, _ = BEARER[host]
            challenge = f'Bearer realm="https://{token_host}{token_path}",service="{service}"'
            auth = self.headers.get("Authorization", "")
            with LOCK:
                grant = TOKENS.get(auth[7:]) if auth.startswith("Bearer ") else None
            if grant is None or grant[0] != host:
                return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', headers=[("WWW-Authenticate", challenge)])
            if host == "echo-token.example.com" and url.path == "/v2/":
                # Hostile: the token back in a header that a "not a registry" reason names.
                return self.send(200, b"<html/>", "text/html; echoed=" + auth[7:], api=False)
            return self.manifest_or_ping(host, url, lambda repo: repo in grant[2], challenge)

        def basic_registry(self, host, url):
            challenge, accounts = BASIC[host]
            basic = self.basic()
            if basic is None or accounts.get(basic[0]) != basic[1]:
                return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', headers=[("WWW-Authenticate", challenge)])
            if host == "echo.example.com":
                # Hostile: the Authorization header back, encoded, in the redirect's path.
                echoed = "".join("%%%02X" % b for b in self.headers["Authorization"].encode())
                where = "https://echo.example.com/" + echoed
                return self.send(302, b"", headers=[("Location", where)])
            return self.manifest_or_ping(host, url, lambda repo: True)

        def manifest_or_ping(self, host, url, may_pull, challenge=None):
            if url.path == "/v2/":
                return self.send(200, b"{}")
            if "/manifests/" not in url.path:
                return self.send(404, b'{"errors":[{"code":"NOT_FOUND"}]}')
            repo = url.path[len("/v2/"):].rsplit("/manifests/", 1)[0]
            if not may_pull(repo):
                extra = []
                if challenge:
                    extra = [("WWW-Authenticate", f'{challenge},scope="repository:{repo}:pull",error="insufficient_scope"')]
                return self.send(401, b'{"errors":[{"code":"DENIED"}]}', headers=extra)
            if EXISTING.get(host) == repo:
                return self.send(200, b"", "application/vnd.oci.image.index.v1+json")
            return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

        do_GET = handle_any
        do_HEAD = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
