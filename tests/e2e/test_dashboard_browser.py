"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright (`tests/browser/dashboard.mjs`)
against two real servers, one with a worker and generated behaviour data (a ctr instance trained once through the
official SDK), one without workers so that a task started from the page stays queued until the page cancels it.
Screenshots of every step are kept in ALGOCENTER_ARTIFACTS (default `tests/browser/artifacts`)."""

import os
import pathlib
import shutil
import subprocess
import time

from alibabacloud_opensearch20171225 import models as m

from conftest import ADMIN_ID, ADMIN_SECRET, BINARY
from test_sdk_pop import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
BROWSER_TESTS = ROOT / "tests" / "browser"
APP = "shop"


def train(client, function, instance, generation):
    client.create_function_task(APP, function, instance)
    deadline = time.time() + 120
    while True:
        task = client.get_function_task(APP, function, instance, str(generation)).body.result
        if task.status != "running":
            return task
        assert time.time() < deadline, "training did not end"
        time.sleep(0.05)


def test_dashboard_in_chromium(tmp_path, start_server):
    node = shutil.which("node")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    assert node, "node is needed (scripts/test installs what the browser test needs)"
    assert os.access(chromium, os.X_OK), f"{chromium} is missing (apt-get install chromium; scripts/test does it)"
    assert (BROWSER_TESTS / "node_modules" / "playwright-core").is_dir(), "run: npm ci --prefix tests/browser"

    server = start_server()
    client = server.client()
    data = tmp_path / "generated"
    subprocess.run([BINARY, "generate", "--out", data, "--events", "150000", "--days", "10"],
                   check=True, capture_output=True)
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    cli(server, "push", "--app", APP, "--type", "item_info", data / "items.jsonl")
    cli(server, "push", "--app", APP, "--type", "behavior", data / "behavior.jsonl")
    parameters = [m.CreateFunctionInstanceRequestCreateParameters(name=n, value=v)
                  for n, v in [("id_field", "item_id"), ("title_field", "title"), ("category_field", "category")]]
    client.create_function_instance(APP, "ctr", m.CreateFunctionInstanceRequest(
        instance_name="rank", model_type="tf_checkpoint", create_parameters=parameters))
    assert train(client, "ctr", "rank", 1).status == "success"

    queue = start_server("--workers", "0")
    queue_client = queue.client()
    queue_client.create_app_group(m.CreateAppGroupRequest(name=APP))
    queue_client.create_function_instance(APP, "pop", m.CreateFunctionInstanceRequest(
        instance_name="popular", model_type="pop"))

    artifacts = pathlib.Path(os.environ.get("ALGOCENTER_ARTIFACTS", BROWSER_TESTS / "artifacts")) / "dashboard"
    shutil.rmtree(artifacts, ignore_errors=True)
    env = dict(
        os.environ,
        DASHBOARD_URL=f"http://{server.address}",
        DASHBOARD_QUEUE_URL=f"http://{queue.address}",
        DASHBOARD_KEY_ID=ADMIN_ID,
        DASHBOARD_KEY_SECRET=ADMIN_SECRET,
        DASHBOARD_APP=APP,
        DASHBOARD_CTR_INSTANCE="rank",
        DASHBOARD_POP_INSTANCE="popular",
        ARTIFACTS=str(artifacts),
        CHROMIUM=chromium,
    )
    run = subprocess.run([node, str(BROWSER_TESTS / "dashboard.mjs")], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\nserver log:\n{''.join(server.log[-40:])}"
    print(run.stdout)
    for name in ["02-app-groups", "04-instance-before", "05-instance-after-run", "08-cancelled"]:
        assert (artifacts / f"{name}.png").stat().st_size > 10_000, name

    # What the page did, seen through the API: generation 2 trained and serves, the queued pop task was cancelled.
    assert client.get_function_task(APP, "ctr", "rank", "2").body.result.status == "success"
    cancelled = queue_client.get_function_task(APP, "pop", "popular", "1").body.result
    assert cancelled.status == "failed" and "cancelled" in cancelled.extend_info
