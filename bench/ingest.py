#!/usr/bin/env python3
"""Behaviour ingest load: pushes a behavior.jsonl file to a running server in bulk requests from concurrent clients.

    python3 bench/ingest.py URL behavior.jsonl [--app bench] [--clients 4] [--batch 1000] [--restamp]

The file's lines are grouped into bodies of --batch records without JSON parsing (`[` + `,`.join(lines) + `]`),
all bodies are built before the clock starts, and each body is sent exactly once, so every request carries new
events. Each client thread has one keep-alive http.client connection and takes the next body from a shared
counter. Every answer must be HTTP 200 with `stored` equal to the body's record count (no errors, no duplicates);
otherwise the failures are listed and the exit status is 1. Prints key=value lines (events/s, request latency).
--restamp sets every record's bhv_time and reach_time to the time its body is sent, as live traffic has them.
"""

import argparse
import http.client
import itertools
import json
import re
import sys
import threading
import time
import urllib.parse


def build_bodies(path, batch):
    bodies, lines = [], []
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if line:
                lines.append(line)
                if len(lines) == batch:
                    bodies.append((len(lines), b"[" + b",".join(lines) + b"]"))
                    lines = []
    if lines:
        bodies.append((len(lines), b"[" + b",".join(lines) + b"]"))
    return bodies


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("file")
    ap.add_argument("--app", default="bench")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--restamp", action="store_true")
    args = ap.parse_args()
    stamp = re.compile(rb'"(bhv_time|reach_time)":\d+')

    url = urllib.parse.urlsplit(args.url)
    path = (f"/v3/openapi/app-groups/{args.app}/data-collections/{args.app}"
            "/data-collection-type/behavior/actions/bulk")
    t0 = time.perf_counter()
    bodies = build_bodies(args.file, args.batch)
    total_events = sum(n for n, _ in bodies)
    total_bytes = sum(len(b) for _, b in bodies)
    print(f"built {len(bodies)} bodies, {total_events} events, {total_bytes / 1e6:.0f} MB "
          f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    next_body = itertools.count()  # next() on a count is atomic under the GIL
    latencies, failures = [], []   # list.append is atomic too
    stored_total = [0] * args.clients

    def client(k):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        headers = {"Content-Type": "application/json"}
        while (i := next(next_body)) < len(bodies):
            n, body = bodies[i]
            if args.restamp:
                now = str(int(time.time() * 1000)).encode()
                body = stamp.sub(lambda m: b'"' + m.group(1) + b'":' + now, body)
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                failures.append(f"body {i}: {type(e).__name__}: {e}")
                conn.close()
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
                continue
            latencies.append(time.perf_counter() - start)
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = {}
            if resp.status != 200 or answer.get("stored") != n or answer.get("errors"):
                failures.append(f"body {i}: HTTP {resp.status} {raw[:300]!r}")
            stored_total[k] += answer.get("stored") or 0
        conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(args.clients)]
    started, cpu0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(10)
            print(f"  {time.perf_counter() - started:6.0f} s: {len(latencies)}/{len(bodies)} requests, "
                  f"{sum(stored_total)} events stored", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started

    lat = sorted(latencies)
    stored = sum(stored_total)
    print(f"events={total_events} stored={stored} requests={len(bodies)} clients={args.clients} "
          f"batch={args.batch} body_mb={total_bytes / 1e6:.0f}")
    print(f"seconds={seconds:.2f} events_per_s={stored / seconds:.0f} mb_per_s={total_bytes / 1e6 / seconds:.1f} "
          f"client_cpu_s={time.process_time() - cpu0:.1f}")
    if lat:
        print(f"latency_ms p50={percentile(lat, 50) * 1e3:.1f} p90={percentile(lat, 90) * 1e3:.1f} "
              f"p99={percentile(lat, 99) * 1e3:.1f} max={lat[-1] * 1e3:.1f}")
    print(f"failures={len(failures)}")
    for f in failures[:20]:
        print("  " + f, file=sys.stderr)
    return 1 if failures or stored != total_events else 0


if __name__ == "__main__":
    sys.exit(main())
