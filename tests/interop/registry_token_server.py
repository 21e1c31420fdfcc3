#!/usr/bin/env python3
"""A Docker Registry v2 bearer-token server (distribution's "token" auth), for the tests only.

usage: registry_token_server.py --key KEY.pem --cert CERT.pem --issuer ISS --service SVC \
           --user USER [--deny-prefix PREFIX]      (the password comes from TOKEN_SERVER_PASSWORD)

Binds 127.0.0.1 on a free port and prints that port on the first line of stdout, so the test
that starts it never guesses a port. Stdlib only; tokens are RS256 JWTs signed with the
`openssl` command, with the certificate in the `x5c` header, which distribution 2.8 checks
against its `auth.token.rootcertbundle` (`registry/auth/token/token.go`).

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...]:
- right Basic credentials: a token granting the requested actions, except on repositories
  under --deny-prefix, which get no access (as Docker Hub answers a scope it refuses: a token,
  and the registry then says 401 insufficient_scope);
- no Authorization: an anonymous token with no access;
- wrong credentials: 401.
Each request is logged to stderr with its path only: never the query's values, never a header.
"""
import argparse
import base64
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--deny-prefix", default=None)
    cfg = ap.parse_args()
    password = os.environ.get("TOKEN_SERVER_PASSWORD")
    if password is None:
        ap.error("TOKEN_SERVER_PASSWORD is not set")
    pem = open(cfg.cert).read()
    der_b64 = "".join(pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0].split())

    def sign(data: bytes) -> bytes:
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            return subprocess.run(["openssl", "dgst", "-sha256", "-sign", cfg.key, f.name],
                                  check=True, capture_output=True).stdout

    def access(scopes, granted):
        out = []
        for scope in scopes:
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) < 3:
                    continue
                name = ":".join(parts[1:-1])
                if not granted or (cfg.deny_prefix and name.startswith(cfg.deny_prefix)):
                    continue
                out.append({"type": parts[0], "name": name, "actions": [a for a in parts[-1].split(",") if a]})
        return out

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            sys.stderr.write("token-server: %s %s\n" % (self.command, urlparse(self.path).path))

        def reply(self, code, obj, headers=()):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlparse(self.path)
            if url.path != "/token":
                return self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
            query = parse_qs(url.query)
            header = self.headers.get("Authorization", "")
            subject, granted = "", False
            if header.startswith("Basic "):
                try:
                    user, _, given = base64.b64decode(header[6:]).decode().partition(":")
                except Exception:
                    user, given = "", ""
                if not (hmac.compare_digest(user, cfg.user) and hmac.compare_digest(given, password)):
                    return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]},
                                      [("WWW-Authenticate", 'Basic realm="token"')])
                subject, granted = user, True
            now = int(time.time())
            claims = {"iss": cfg.issuer, "sub": subject, "aud": query.get("service", [cfg.service])[0],
                      "exp": now + 300, "nbf": now - 5, "iat": now, "jti": uuid.uuid4().hex,
                      "access": access(query.get("scope", []), granted)}
            head = {"typ": "JWT", "alg": "RS256", "x5c": [der_b64]}
            signing_input = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())
            jwt = signing_input + "." + b64url(sign(signing_input.encode()))
            self.reply(200, {"token": jwt, "access_token": jwt, "expires_in": 300})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
