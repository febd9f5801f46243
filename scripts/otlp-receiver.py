#!/usr/bin/env python3
"""A small OTLP/HTTP trace receiver for the tracing tests and `bench bus --otlp-endpoint`.

Takes what an OpenTelemetry Collector would on POST /v1/traces (protobuf, gzip or not),
keeps each span, and answers GET /spans with them as JSON (GET /stats: counts only): a list of objects with
trace_id, span_id, parent_span_id (hex, "" for a root), name, kind, service (the resource's
service.name) and attributes. Prints `listening PORT` once it serves; --port 0 picks one.
Needs PyPI's opentelemetry-proto (`make deps` installs it into .build/python).
"""
import argparse
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )
except ImportError:
    sys.exit("otlp-receiver.py needs PyPI's opentelemetry-proto: `make deps` installs it into .build/python "
             "(run with PYTHONPATH=.build/python)")

spans = []
span_count = 0
requests = 0
keep = True
lock = threading.Lock()


def any_value(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind is None:
        return None
    return getattr(value, kind)


def attributes(pairs):
    return {pair.key: any_value(pair.value) for pair in pairs}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global requests, span_count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces":
            return self.reply(404, b"not found", "text/plain")
        if "protobuf" not in self.headers.get("Content-Type", ""):
            return self.reply(415, b"only application/x-protobuf", "text/plain")
        if self.headers.get("Content-Encoding", "") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = []
        for resource_spans in request.resource_spans:
            service = attributes(resource_spans.resource.attributes).get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append({
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span.kind,
                        "service": service,
                        "attributes": attributes(span.attributes),
                    })
        with lock:
            if keep:
                spans.extend(received)
            span_count += len(received)
            requests += 1
        self.reply(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def do_GET(self):
        if self.path == "/spans":
            with lock:
                body = json.dumps(spans).encode()
            return self.reply(200, body, "application/json")
        if self.path == "/stats":
            with lock:
                body = json.dumps({"spans": span_count, "requests": requests}).encode()
            return self.reply(200, body, "application/json")
        self.reply(404, b"not found", "text/plain")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count-only", action="store_true", help="count spans without keeping them (benchmarks)")
    arguments = parser.parse_args()
    global keep
    keep = not arguments.count_only
    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
