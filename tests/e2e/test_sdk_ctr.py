"""The ctr function end to end: a shop generated with its true click probabilities and pushed with the algocenter
CLI; the instance created, trained and polled through the official SDK; its held-out metrics compared with the
truth's; candidates reranked by the predict endpoint (signed requests)."""

import csv
import json
import subprocess
import time

from alibabacloud_opensearch20171225 import models as m

from signing import opensearch_request
from conftest import BINARY
from test_sdk_pop import cli

APP = "shop"


def auc(scores, labels):
    """Rank-sum AUC, ties sharing their average rank."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum = sum(r for r, label in zip(ranks, labels) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def test_ctr_trains_evaluates_honestly_and_reranks(tmp_path, server, client):
    data = tmp_path / "generated"
    subprocess.run([BINARY, "generate", "--out", data, "--events", "400000", "--days", "10", "--truth"],
                   check=True, capture_output=True)
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    cli(server, "push", "--app", APP, "--type", "item_info", data / "items.jsonl")
    cli(server, "push", "--app", APP, "--type", "behavior", data / "behavior.jsonl")

    parameters = [m.CreateFunctionInstanceRequestCreateParameters(name=n, value=v)
                  for n, v in [("id_field", "item_id"), ("title_field", "title"), ("category_field", "category"),
                               # A small budget keeps the task short in CI: the tuner then leaves out the
                               # candidates whose own run would outlast it (the deep model).
                               ("tuning_budget_seconds", "10")]]
    client.create_function_instance(APP, "ctr", m.CreateFunctionInstanceRequest(
        instance_name="rank", model_type="tf_checkpoint", create_parameters=parameters))
    client.create_function_task(APP, "ctr", "rank")
    seen, deadline = [], time.time() + 180
    while True:
        task = client.get_function_task(APP, "ctr", "rank", "1").body.result
        if not seen or seen[-1] != task.progress:
            seen.append(task.progress)
        if task.status != "running":
            break
        assert time.time() < deadline, f"still running: {seen}"
        time.sleep(0.02)
    assert task.status == "success", task.extend_info
    assert seen == sorted(seen) and seen[-1] == 100 and any(0 < p < 100 for p in seen), seen
    info = json.loads(task.extend_info)
    assert info["errors"] == [] and info["quality_gate_passed"] is True
    # Held-out metrics of the model and the baselines, computed on the same exposures. The headline is the AUC
    # within each position, which position cannot game: there the model beats the crossed logistic regression
    # (position learned jointly with it) by about 0.02 on this shop (0.6437 vs 0.6243 with the 10-second budget,
    # which chose the FFM with 8 factors), asserted with half of it.
    # At logged positions the regression's position term also stands in for relevance, so there the model only
    # has to beat the item click-through baseline.
    assert info["auc_within_position"] > info["baseline_lr_auc_within_position"] + 0.01, info
    assert info["auc_within_position"] > info["baseline_pop_auc_within_position"], info
    assert info["auc"] > info["baseline_pop_auc"], info
    assert abs(info["calibration"] - 1) < 0.15, info
    assert info["examples_holdout"] > 10_000 and info["examples_fit"] > info["examples_holdout"]

    # The truth's AUC on the same held-out day bounds what any model can reach.
    with open(data / "behavior.jsonl", encoding="utf-8") as f:
        events = [json.loads(line)["fields"] for line in f]
    last = max(int(e["bhv_time"]) for e in events)
    clicked = {(e["rn"], e["item_id"]) for e in events if e["bhv_type"] in ("click", "cart", "buy")}
    late = {(e["rn"], e["item_id"]) for e in events
            if e["bhv_type"] == "expose" and int(e["bhv_time"]) >= last - 86_400_000 * 1}
    with open(data / "truth_exposures.csv", newline="", encoding="utf-8") as f:
        truth = [(float(r["p_click"]), (r["rn"], r["item_id"]) in clicked)
                 for r in csv.DictReader(f) if (r["rn"], r["item_id"]) in late]
    truth_auc = auc([p for p, _ in truth], [c for _, c in truth])
    assert info["auc"] < truth_auc + 0.005, (info["auc"], truth_auc)
    assert info["auc"] > truth_auc - 0.06, (info["auc"], truth_auc)

    items = [json.loads(line)["fields"] for line in (data / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    candidates = [i["item_id"] for i in items[:100]]
    status, answer = opensearch_request(
        server.address, "POST", f"/v4/openapi/app-groups/{APP}/functions/ctr/instances/rank/predict",
        {"query": "连衣裙", "userId": "u1", "items": candidates})
    assert status == 200, answer
    result = answer["Result"]
    assert result["Generation"] == "1" and result["Position"] == 1
    scores = [i["Score"] for i in result["Items"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 100
    assert sorted(i["ItemId"] for i in result["Items"]) == sorted(candidates)
