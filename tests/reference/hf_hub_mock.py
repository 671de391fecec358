#!/usr/bin/env python3
"""A local imitation of the Hugging Face hub endpoints that `autarky pull` uses, for tests.

Serves repositories made from local folders:
  GET /api/models/{owner}/{repo}/revision/{rev}[?blobs=true]   listing with sizes, LFS sha256
  GET /{owner}/{repo}/resolve/{rev}/{path}   LFS files: 302 to a CDN-like URL on another host
                                             name (localhost instead of 127.0.0.1); small files
                                             are served directly
  GET /cdn/{owner}/{repo}/{path}             the bytes, with Range (206), ETag, 416
Failure modes for the tests: gated repositories (401 without the token), unknown repositories,
files and revisions (401/404 with X-Error-Code), a connection dropped mid-file, a file whose
bytes do not match its listed sha256, and a listed size larger than any disk.
Every request is logged as one JSON line (path, Range, whether a token came) to --log.

  hf_hub_mock.py --port-file F --log L --repo owner/name=DIR [--gated owner/name]
                 [--drop owner/name/path=N] [--corrupt owner/name/path]
                 [--fake-size owner/name/path=B]
"""
import argparse
import hashlib
import http.server
import json
import os
import re
import sys
import threading
import urllib.parse

LFS_SUFFIXES = (".gguf", ".safetensors", ".bin")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True, help="written with the port once listening")
    p.add_argument("--log", required=True)
    p.add_argument("--repo", action="append", default=[], help="owner/name=DIR")
    p.add_argument("--gated", action="append", default=[], help="owner/name needing the token")
    p.add_argument("--token", default="hf_mock_token")
    p.add_argument("--drop", action="append", default=[],
                   help="owner/name/path=N: the first N downloads stop halfway (-1: all)")
    p.add_argument("--corrupt", action="append", default=[], help="owner/name/path")
    p.add_argument("--fake-size", action="append", default=[], help="owner/name/path=BYTES")
    return p.parse_args()


class Repo:
    def __init__(self, repo_id, folder):
        self.id = repo_id
        self.commit = hashlib.sha1(repo_id.encode()).hexdigest()
        self.files = {}
        for base, _, names in os.walk(folder):
            for name in sorted(names):
                full = os.path.join(base, name)
                rel = os.path.relpath(full, folder).replace(os.sep, "/")
                with open(full, "rb") as f:
                    self.files[rel] = f.read()


class State:
    def __init__(self, args):
        self.repos = {}
        for spec in args.repo:
            repo_id, folder = spec.split("=", 1)
            self.repos[repo_id] = Repo(repo_id, folder)
        self.gated = set(args.gated)
        self.token = args.token
        self.drops = {}
        for spec in args.drop:
            key, n = spec.rsplit("=", 1)
            self.drops[key] = int(n)
        self.corrupt = set(args.corrupt)
        self.fake_size = {k: int(v) for k, v in (s.rsplit("=", 1) for s in args.fake_size)}
        self.lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1)

    def record(self, entry):
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")

    def take_drop(self, key):
        with self.lock:
            n = self.drops.get(key, 0)
            if n == 0:
                return False
            if n > 0:
                self.drops[key] = n - 1
            return True


def sibling(repo, state, name, data):
    key = repo.id + "/" + name
    size = state.fake_size.get(key, len(data))
    entry = {"rfilename": name, "size": size,
             "blobId": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
    if name.endswith(LFS_SUFFIXES):
        entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": size,
                        "pointerSize": 134}
    return entry


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "hf-hub-mock/1"

    def log_message(self, fmt, *args):  # the JSON log replaces stderr noise
        pass

    def reply(self, status, body=b"", headers=None, error_code=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        self.send_response(status)
        if error_code:
            self.send_header("X-Error-Code", error_code)
            self.send_header("X-Error-Message", error_code + " (mock)")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        return self.headers.get("Authorization") == "Bearer " + self.server.state.token

    def do_GET(self):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        state.record({"path": path, "host": self.headers.get("Host"),
                      "range": self.headers.get("Range"),
                      "auth": self.headers.get("Authorization") is not None})
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/]+)", path)
        if m:
            return self.api(m.group(1), m.group(2))
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self.resolve(m.group(1), m.group(2), m.group(3))
        m = re.fullmatch(r"/cdn/([^/]+/[^/]+)/(.+)", path)
        if m:
            repo = state.repos.get(m.group(1))
            if repo is None or m.group(2) not in repo.files:
                return self.reply(404, b"no such object")
            return self.serve(repo, m.group(2))
        self.reply(404, b"not found")

    def api(self, repo_id, rev):
        state = self.server.state
        repo = state.repos.get(repo_id)
        if repo is None:
            # The hub answers 401 for unknown repositories without a token (they may be private).
            return self.reply(404 if self.authorized() else 401,
                              {"error": "Repository not found"}, error_code="RepoNotFound")
        if rev not in ("main", repo.commit):
            return self.reply(404, {"error": "Invalid rev id: " + rev},
                              error_code="RevisionNotFound")
        gated = repo_id in state.gated
        self.reply(200, {"id": repo_id, "sha": repo.commit, "private": False,
                         "gated": "manual" if gated else False,
                         "siblings": [sibling(repo, state, n, d) for n, d in repo.files.items()]})

    def resolve(self, repo_id, rev, name):
        state = self.server.state
        repo = state.repos.get(repo_id)
        if repo is None:
            return self.reply(401, b"", error_code="RepoNotFound")
        if repo_id in state.gated and not self.authorized():
            return self.reply(401, b"Access to this model is restricted", error_code="GatedRepo")
        if rev not in ("main", repo.commit):
            return self.reply(404, b"", error_code="RevisionNotFound")
        if name not in repo.files:
            return self.reply(404, b"Entry not found", error_code="EntryNotFound")
        data = repo.files[name]
        headers = {"X-Repo-Commit": repo.commit}
        if name.endswith(LFS_SUFFIXES):
            # Like the hub: LFS files live on a CDN on another host name, by a signed URL.
            port = self.server.server_address[1]
            quoted = urllib.parse.quote(name)
            cdn = "http://localhost:%d/cdn/%s/%s?sig=mock" % (port, repo_id, quoted)
            headers.update({"Location": cdn,
                            "X-Linked-Size": str(len(data)),
                            "X-Linked-Etag": '"%s"' % hashlib.sha256(data).hexdigest()})
            return self.reply(302, b"", headers)
        return self.serve(repo, name)

    def serve(self, repo, name):
        state = self.server.state
        key = repo.id + "/" + name
        data = repo.files[name]
        if key in state.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        etag = '"%s"' % hashlib.sha256(repo.files[name]).hexdigest()
        start, status = 0, 200
        headers = {"ETag": etag, "Accept-Ranges": "bytes"}
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-", rng.strip())
            if not m or int(m.group(1)) >= len(data):
                headers["Content-Range"] = "bytes */%d" % len(data)
                return self.reply(416, b"", headers)
            start, status = int(m.group(1)), 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
        body = data[start:]
        if state.take_drop(key):
            # Announce the whole body, send half of it, and hang up.
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.reply(status, body, headers)


def main():
    args = parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
