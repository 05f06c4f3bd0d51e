#!/usr/bin/python3
"""Minimal Docker-Hub-style token server for rde's test registries.

Serves GET /token (and the OAuth2 "password" grant on POST /token) and hands
out RS256 JWTs that the CNCF distribution registry (Debian's docker-registry)
accepts with an `auth: token:` configuration whose rootcertbundle is the
certificate given with --cert.

Access policy:
  * anonymous callers get `pull` on every repository except those whose name
    starts with `private/`;
  * callers authenticated with --user/--password get pull, push and delete on
    every repository (and `*` on registry:catalog:*);
  * a wrong user name or password gets 401.

Only listens on 127.0.0.1.  Requests are logged to --log (never stdout).
"""

import argparse
import base64
import binascii
import hmac
import json
import logging
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt  # python3-jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

LOG = logging.getLogger("token-issuer")
EXPIRES_IN = 300
AUTHENTICATED_ACTIONS = {"pull", "push", "delete", "*"}


def libtrust_key_id(public_key):
    """Key ID in the libtrust format used by docker/distribution: base32 of
    the first 240 bits of sha256(DER SubjectPublicKeyInfo), in 12 groups of 4
    characters separated by ':'."""
    import hashlib

    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).digest()[:30]
    b32 = base64.b32encode(digest).decode("ascii").rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, 48, 4))


def parse_scopes(values):
    """Parse scope strings such as `repository:library/busybox:pull,push`.
    A value may itself contain several space-separated scopes."""
    scopes = []
    for value in values:
        for item in value.split():
            # The resource name may contain ':' (e.g. a registry host with a
            # port), so split the type off the front and the actions off the end.
            try:
                rtype, rest = item.split(":", 1)
                name, actions = rest.rsplit(":", 1)
            except ValueError:
                LOG.info("ignoring malformed scope %r", item)
                continue
            scopes.append((rtype, name, [a for a in actions.split(",") if a]))
    return scopes


class Issuer:
    def __init__(self, args):
        with open(args.key, "rb") as f:
            self.private_key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            pem = f.read()
        certs = x509.load_pem_x509_certificates(pem) if hasattr(
            x509, "load_pem_x509_certificates"
        ) else [x509.load_pem_x509_certificate(pem)]
        self.x5c = [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for c in certs
        ]
        self.kid = libtrust_key_id(certs[0].public_key())
        self.issuer = args.issuer
        self.user = args.user
        self.password = args.password

    def check_credentials(self, user, password):
        """Returns the subject name, "" for anonymous, or None if rejected."""
        if user is None:
            return ""
        if self.user is None:
            return None
        ok_user = hmac.compare_digest(user.encode(), self.user.encode())
        ok_pass = hmac.compare_digest((password or "").encode(), (self.password or "").encode())
        return user if ok_user and ok_pass else None

    def grant(self, subject, scopes):
        access = []
        for rtype, name, actions in scopes:
            if subject:
                if rtype == "repository":
                    allowed = [a for a in actions if a in AUTHENTICATED_ACTIONS]
                elif rtype == "registry" and name == "catalog":
                    allowed = [a for a in actions if a == "*"]
                else:
                    allowed = []
            else:
                if rtype == "repository" and not (
                    name == "private" or name.startswith("private/")
                ):
                    allowed = [a for a in actions if a == "pull"]
                else:
                    allowed = []
            access.append({"type": rtype, "name": name, "actions": allowed})
        return access

    def token(self, subject, service, scopes):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": service,
            "exp": now + EXPIRES_IN,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": self.grant(subject, scopes),
        }
        headers = {"typ": "JWT", "kid": self.kid, "x5c": self.x5c}
        encoded = jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)
        if isinstance(encoded, bytes):
            encoded = encoded.decode("ascii")
        issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        LOG.info("issued token sub=%r aud=%r access=%s", subject, service, claims["access"])
        return {
            "token": encoded,
            "access_token": encoded,
            "expires_in": EXPIRES_IN,
            "issued_at": issued_at,
        }


def make_handler(issuer):
    class Handler(BaseHTTPRequestHandler):
        server_version = "rde-token-issuer/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            LOG.info("%s %s", self.address_string(), fmt % args)

        def _send_json(self, code, obj, extra_headers=()):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra_headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _unauthorized(self, why):
            LOG.info("401: %s", why)
            self._send_json(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": why}]},
                [("WWW-Authenticate", 'Basic realm="rde-token-issuer"')],
            )

        def _basic_credentials(self):
            header = self.headers.get("Authorization")
            if not header:
                return None, None, True
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                return None, None, False
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None, None, False
            user, sep, password = decoded.partition(":")
            if not sep:
                return None, None, False
            return user, password, True

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/healthz":
                self._send_json(200, {"ok": True})
                return
            if url.path != "/token":
                self._send_json(404, {"errors": [{"code": "NOT_FOUND"}]})
                return
            query = parse_qs(url.query, keep_blank_values=True)
            user, password, well_formed = self._basic_credentials()
            if not well_formed:
                self._unauthorized("malformed Authorization header")
                return
            subject = issuer.check_credentials(user, password)
            if subject is None:
                self._unauthorized("invalid username or password")
                return
            service = (query.get("service") or [""])[0]
            scopes = parse_scopes(query.get("scope", []))
            self._send_json(200, issuer.token(subject, service, scopes))

        def do_POST(self):
            # OAuth2 form flow as used by containerd/docker with credentials.
            url = urlsplit(self.path)
            if url.path != "/token":
                self._send_json(404, {"errors": [{"code": "NOT_FOUND"}]})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            grant_type = (form.get("grant_type") or [""])[0]
            if grant_type != "password":
                self._send_json(400, {"error": "unsupported_grant_type"})
                return
            user = (form.get("username") or [None])[0]
            password = (form.get("password") or [""])[0]
            subject = issuer.check_credentials(user, password)
            if not subject:
                self._unauthorized("invalid username or password")
                return
            service = (form.get("service") or [""])[0]
            scopes = parse_scopes(form.get("scope", []))
            self._send_json(200, issuer.token(subject, service, scopes))

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", required=True, help="PEM RSA private key")
    p.add_argument("--cert", required=True, help="PEM certificate (chain) for the key")
    p.add_argument("--issuer", default="rde-test-issuer")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--log", default="/dev/null", help="request log file")
    args = p.parse_args()

    logging.basicConfig(
        filename=args.log,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Issuer(args)))
    server.daemon_threads = True
    LOG.info("listening on 127.0.0.1:%d", args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
