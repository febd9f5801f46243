#!/usr/bin/env python3
"""A small upstream for the gateway's end-to-end tests and `cascade bench gateway`.

Prints `listening PORT` once it serves. Paths:
  /products/<id>   JSON, max-age=60, Surrogate-Key: Product#<id>, ETag, the request count in the body
  /trace           the request's traceparent header (or "none") as the body, max-age=60
  /nostore         Cache-Control: no-store
  /vary            Vary: Accept-Language; the body echoes it
  /slow            answers after 400 ms, max-age=60 (coalescing)
  /fragile         max-age=0, stale-if-error=60 (served stale when the upstream is down)
  /swr             max-age=0, stale-while-revalidate=60
  /bench           max-age=600 after --delay-ms (the bench's 5 ms upstream)
  /who?cc=CC&vary=V&setcookie=1&delay=MS
                   answers after MS ms (default 400) with `Cache-Control: CC`, `Vary: V` and
                   `Set-Cookie: sid=<credential>` as asked; the body names the request's
                   credential (its Authorization, else its Cookie, else "anonymous")
  /huge            a 17 MiB body, past the gateway's pass-through limit
  /__count?path=P  how many requests P has had
  /__inflight?url=U  the most requests for U (path and query) that were in flight at once
Other methods on /products/<id> answer 204.
"""
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

counts = {}
inflight = {}
most_inflight = {}
lock = threading.Lock()
delay = 0.0
for index, argument in enumerate(sys.argv):
    if argument == "--delay-ms":
        delay = float(sys.argv[index + 1]) / 1000


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def count(self, path):
        with lock:
            counts[path] = counts.get(path, 0) + 1
            return counts[path]

    def send(self, status, body, headers):
        data = body.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlparse(self.path)
        path = url.path
        if path == "/__count":
            target = parse_qs(url.query).get("path", [""])[0]
            with lock:
                n = counts.get(target, 0)
            return self.send(200, str(n), [("Cache-Control", "no-store")])
        if path == "/__inflight":
            target = parse_qs(url.query).get("url", [""])[0]
            with lock:
                n = most_inflight.get(target, 0)
            return self.send(200, str(n), [("Cache-Control", "no-store")])
        with lock:
            inflight[self.path] = inflight.get(self.path, 0) + 1
            most_inflight[self.path] = max(most_inflight.get(self.path, 0), inflight[self.path])
        try:
            self.answer(url, path)
        finally:
            with lock:
                inflight[self.path] -= 1

    def answer(self, url, path):
        n = self.count(path)
        if path.startswith("/products/"):
            ident = path.split("/")[2]
            return self.send(200, '{"id":"%s","served":%d}' % (ident, n), [
                ("Content-Type", "application/json"), ("Cache-Control", "max-age=60"),
                ("Surrogate-Key", "Product#%s" % ident), ("ETag", '"%s-v1"' % ident)])
        if path == "/trace":
            return self.send(200, self.headers.get("traceparent", "none"), [("Cache-Control", "max-age=60")])
        if path == "/nostore":
            return self.send(200, "fresh %d" % n, [("Cache-Control", "no-store")])
        if path == "/vary":
            language = self.headers.get("Accept-Language", "none")
            return self.send(200, "lang %s %d" % (language, n), [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")])
        if path == "/slow":
            time.sleep(0.4)
            return self.send(200, "slow %d" % n, [("Cache-Control", "max-age=60")])
        if path == "/fragile":
            return self.send(200, "fragile %d" % n, [("Cache-Control", "max-age=0, stale-if-error=60")])
        if path == "/swr":
            return self.send(200, "swr %d" % n, [("Cache-Control", "max-age=0, stale-while-revalidate=60")])
        if path == "/who":
            query = parse_qs(url.query)
            time.sleep(float(query.get("delay", ["400"])[0]) / 1000)
            credential = self.headers.get("Authorization") or self.headers.get("Cookie") or "anonymous"
            headers = [("Content-Type", "text/plain")]
            if "cc" in query:
                headers.append(("Cache-Control", query["cc"][0]))
            if "vary" in query:
                headers.append(("Vary", query["vary"][0]))
            if query.get("setcookie") == ["1"]:
                headers.append(("Set-Cookie", "sid=%s; Path=/" % credential))
            return self.send(200, "for %s" % credential, headers)
        if path == "/huge":
            return self.send(200, "x" * (17 << 20), [("Cache-Control", "max-age=60")])
        if path == "/bench":
            if delay:
                time.sleep(delay)
            return self.send(200, "x" * 512, [("Cache-Control", "max-age=600"), ("Content-Type", "text/plain")])
        return self.send(404, "not found", [("Cache-Control", "no-store")])

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length:
            self.rfile.read(length)
        self.count(urlparse(self.path).path + " " + self.command)
        self.send(204, "", [])

    do_PUT = do_POST
    do_DELETE = do_POST


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


server = Server(("127.0.0.1", 0), Handler)
print("listening %d" % server.server_address[1], flush=True)
server.serve_forever()
