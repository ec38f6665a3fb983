#!/usr/bin/env python3
"""Seed the benchmark data set through the HTTP API: app group `bench`, N `pop` instances x G generations.

Each instance is driven by one thread at a time: create instance, then G times (create task, poll GetFunctionTask
until the task is no longer "running"). Stdlib only; one keep-alive connection per thread.

usage: seed.py URL [--instances 1000] [--generations 20] [--threads 32]
"""
import argparse, http.client, json, sys, threading, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor

BASE = "/v4/openapi/app-groups"
local = threading.local()


def call(method, path, body=None):
    """One request on this thread's connection; returns (status, parsed JSON). Reconnects once on a broken socket."""
    for attempt in (0, 1):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"{}")
        except (http.client.HTTPException, OSError):
            conn.close()
            local.conn = None
            if attempt:
                raise


def expect(status, doc, want, what):
    if status not in want:
        raise RuntimeError(f"{what}: HTTP {status} {doc}")


def seed_instance(n, generations):
    name = f"i{n:04d}"
    inst = f"{BASE}/bench/functions/pop/instances"
    status, doc = call("POST", inst, {"instanceName": name, "modelType": "pop"})
    expect(status, doc, (200, 409), f"create instance {name}")  # 409: already there (re-run)
    for _ in range(generations):
        while True:
            status, doc = call("POST", f"{inst}/{name}/tasks")
            if status == 200:
                break
            expect(status, doc, (409,), f"create task {name}")  # Task.IsRunning: the previous one is not done yet
            time.sleep(0.002)
        gen = doc["Result"]["Generation"]
        while True:
            status, doc = call("GET", f"{inst}/{name}/tasks/{gen}")
            expect(status, doc, (200,), f"get task {name}/{gen}")
            if doc["Result"]["Status"] != "running":
                break
            time.sleep(0.002)


def main():
    global HOST, PORT
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--instances", type=int, default=1000)
    p.add_argument("--generations", type=int, default=20)
    p.add_argument("--threads", type=int, default=32)
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    HOST, PORT = u.hostname, u.port or 80

    t0 = time.monotonic()
    status, doc = call("POST", BASE, {"name": "bench"})
    expect(status, doc, (200, 409), "create app group")
    with ThreadPoolExecutor(a.threads) as pool:
        for f in [pool.submit(seed_instance, n, a.generations) for n in range(1, a.instances + 1)]:
            f.result()  # re-raises the first failure
    secs = time.monotonic() - t0

    # Check: the last instance has all its generations, newest first.
    status, doc = call("GET", f"{BASE}/bench/functions/pop/instances/i{a.instances:04d}/tasks?pageSize=1&pageNumber=1")
    expect(status, doc, (200,), "list tasks")
    assert doc["TotalCount"] >= a.generations, doc
    tasks = a.instances * a.generations
    print(f"seeded {a.instances} instances x {a.generations} generations = {tasks} tasks "
          f"in {secs:.1f} s ({tasks / secs:.0f} tasks/s)")


if __name__ == "__main__":
    sys.exit(main())
