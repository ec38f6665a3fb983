"""The pop function end to end: behaviour generated and pushed with the algocenter CLI, then everything else through
the official SDK (create the instance, CreateFunctionTask, poll GetFunctionTask, read the metrics), and the scores
served by the predict endpoint, which switches to generation 2 after a second run."""

import json
import os
import subprocess
import time

from alibabacloud_opensearch20171225 import models as m

from conftest import ADMIN_ID, ADMIN_SECRET, BINARY
from signing import opensearch_request

APP = "shop"


def cli(server, *args):
    env = dict(os.environ, ALGOCENTER_ACCESS_KEY_ID=ADMIN_ID, ALGOCENTER_ACCESS_KEY_SECRET=ADMIN_SECRET)
    return subprocess.run([BINARY, "--endpoint", f"http://{server.address}", *map(str, args)],
                          check=True, capture_output=True, text=True, env=env)


def predict(server, body):
    status, answer = opensearch_request(
        server.address, "POST", f"/v4/openapi/app-groups/{APP}/functions/pop/instances/pop1/predict", body)
    assert status == 200, answer
    return answer["Result"]


def run_task(client, generation):
    """Starts a run and polls it to the end; returns the task and every progress value seen."""
    client.create_function_task(APP, "pop", "pop1")
    seen = []
    deadline = time.time() + 120
    while True:
        task = client.get_function_task(APP, "pop", "pop1", str(generation)).body.result
        if not seen or seen[-1] != task.progress:
            seen.append(task.progress)
        if task.status != "running":
            return task, seen
        assert time.time() < deadline, f"still running: {seen}"
        time.sleep(0.02)


def test_pop_trains_on_pushed_behaviour_and_serves(tmp_path, server, client):
    data = tmp_path / "generated"
    subprocess.run([BINARY, "generate", "--out", data, "--events", "300000", "--days", "10"],
                   check=True, capture_output=True)
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    cli(server, "push", "--app", APP, "--type", "item_info", data / "items.jsonl")
    pushed = cli(server, "--json", "push", "--app", APP, "--type", "behavior", data / "behavior.jsonl")
    summary = json.loads(pushed.stdout)
    assert summary["stored"] > 290_000 and summary["refused"] == 0

    usage = [m.CreateFunctionInstanceRequestUsageParameters(name="default_score", value="0.02")]
    client.create_function_instance(APP, "pop", m.CreateFunctionInstanceRequest(
        instance_name="pop1", model_type="pop", usage_parameters=usage))
    task, seen = run_task(client, 1)
    assert task.status == "success", task.extend_info
    assert seen == sorted(seen) and seen[-1] == 100, seen
    assert any(0 < p < 100 for p in seen), f"progress was reported while training: {seen}"
    info = json.loads(task.extend_info)
    assert info["errors"] == []
    assert info["train_events"] > 200_000 and info["items_scored"] > 1000
    assert 0.2 < info["spearman"] <= 1 and 0 < info["ndcg_at_100"] <= 1 and 0 < info["coverage"] <= 1
    assert "baseline_click_count_spearman" in info and info["quality_gate_passed"] is True
    assert task.end_time >= task.start_time > 0

    instance = client.get_function_instance(APP, "pop", "pop1", m.GetFunctionInstanceRequest(output="detail")).body.result
    assert (instance.status, instance.task.dag_status) == ("available", "success")
    assert json.loads(instance.extend_info)["serving_generation"] == 1

    truth = {}
    for line in (data / "truth_items.csv").read_text().splitlines()[1:]:
        item, _, popularity = line.split(",")
        truth[item] = float(popularity)
    ranked = sorted(truth, key=truth.get)
    worst, best = ranked[0], ranked[-1]
    result = predict(server, {"items": [best, worst, "never-seen"]})
    assert result["Generation"] == "1"
    scores = {s["ItemId"]: s for s in result["Scores"]}
    assert scores[best]["Score"] > scores[worst]["Score"]
    assert (scores["never-seen"]["Known"], scores["never-seen"]["Score"]) == (False, 0.02)

    task, _ = run_task(client, 2)
    assert task.status == "success" and task.generation == "2"
    assert predict(server, {"items": [best]})["Generation"] == "2"
    listed = client.list_function_tasks(APP, "pop", "pop1", m.ListFunctionTasksRequest(status="success", page_size=10)).body
    assert [t.generation for t in listed.result] == ["2", "1"]
