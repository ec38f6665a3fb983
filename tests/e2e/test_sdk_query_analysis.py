"""Query analysis end to end: the query-analysis shop generated and pushed with the algocenter CLI, analyzer,
termweight and category created, trained and polled through the official SDK with their held-out metrics read
from ExtendInfo, a query-analysis rule put over HTTP, and Chinese and English queries analysed on the data plane
(signed with the OpenSearch scheme of alibabacloud-opensearch-util)."""

import csv
import json
import subprocess
import time

import pytest
from alibabacloud_opensearch20171225 import models as m

from conftest import BINARY, Server
from signing import opensearch_request
from test_sdk_pop import cli

APP = "shop"
ENTITIES = [("entity_fields", "brand,line,color")]


def train(client, function, instance, model_type, parameters=()):
    client.create_function_instance(APP, function, m.CreateFunctionInstanceRequest(
        instance_name=instance, model_type=model_type,
        create_parameters=[m.CreateFunctionInstanceRequestCreateParameters(name=n, value=v) for n, v in parameters]))
    client.create_function_task(APP, function, instance)
    deadline = time.time() + 120
    while True:
        task = client.get_function_task(APP, function, instance, "1").body.result
        if task.status != "running":
            break
        assert time.time() < deadline, "still running"
        time.sleep(0.05)
    assert task.status == "success", task.extend_info
    info = json.loads(task.extend_info)
    assert info["errors"] == []
    return info


@pytest.fixture(scope="module")
def shop(tmp_path_factory, request):
    base = tmp_path_factory.mktemp("query_analysis")
    server = Server(base / "data")
    request.addfinalizer(server.stop)
    data = base / "generated"
    subprocess.run([BINARY, "generate", "--query-analysis", "--out", data, "--events", "120000", "--days", "10"],
                   check=True, capture_output=True)
    client = server.client()
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    cli(server, "push", "--app", APP, "--type", "item_info", data / "items.jsonl")
    cli(server, "push", "--app", APP, "--type", "behavior", data / "behavior.jsonl")
    with open(data / "truth_terms.csv", newline="", encoding="utf-8") as f:
        truth = [(row["term"], row["kind"]) for row in csv.DictReader(f)]
    return server, client, truth


def test_analyzer_learns_the_shops_words_and_termweight_finds_the_fillers(shop):
    server, client, truth = shop
    info = train(client, "analyzer", "an", "text", [("entity_fields", ""), ("category_field", "")])
    assert info["learned_words"] > 5 and info["learned_names"] > 5, info
    assert info["holdout_single_char_share"] < info["holdout_single_char_share_base"], info
    names = [t for t, kind in truth if kind == "name"]
    status, answer = opensearch_request(
        server.address, "POST", f"/v4/openapi/app-groups/{APP}/functions/analyzer/instances/an/predict",
        {"texts": [f"new {n}" for n in names]})
    assert status == 200, answer
    whole = sum(any(t["Token"] == n for t in tokens) for n, tokens in zip(names, answer["Result"]["Tokens"]))
    assert whole >= len(names) * 0.8, answer

    info = train(client, "termweight", "tw", "tf_checkpoint", ENTITIES)
    assert info["spearman"] > info["baseline_idf_spearman"], info
    fillers = [t for t, kind in truth if kind == "filler"]
    status, answer = opensearch_request(
        server.address, "POST", f"/v4/openapi/app-groups/{APP}/functions/termweight/instances/tw/predict",
        {"queries": [f"{f} 云朵鞋" for f in fillers]})
    assert status == 200, answer
    for query in answer["Result"]["Queries"]:
        levels = {t["Token"]: t["Level"] for t in query["Terms"]}
        assert levels.get("云朵鞋") == "high", query
        assert all(level == "low" for token, level in levels.items() if token != "云朵鞋"), query


def test_a_rule_rewrites_queries_for_opensearch_and_elasticsearch(shop):
    server, client, _ = shop
    if not client.list_function_instances(APP, "termweight", m.ListFunctionInstancesRequest()).body.result:
        train(client, "analyzer", "an", "text", ENTITIES)
        train(client, "termweight", "tw", "tf_checkpoint", ENTITIES)
    train(client, "category", "cat", "offline_inference")
    status, answer = opensearch_request(
        server.address, "PUT", f"/v4/openapi/app-groups/{APP}/query-analysis-rules/main",
        {"analyzer": "an", "termweight": "tw", "category": "cat", "fields": ["title^3", "brand"],
         "categoryField": "category", "default": True})
    assert status == 200 and answer["Result"]["Default"] is True, answer

    status, answer = opensearch_request(server.address, "GET", f"/v3/openapi/apps/{APP}/query-analysis",
                                        query={"query": "包邮 云朵鞋"})
    assert status == 200, answer
    result = answer["result"]
    tokens = {t["token"]: t for t in result["tokens"]}
    assert tokens["云朵鞋"]["level"] == "high" and tokens["云朵鞋"]["start"] == 3, result
    assert result["categories"][0]["category"] == "鞋靴>休闲鞋", result
    assert result["rewritten"]["opensearch"].startswith("(title:'云朵鞋'^3 OR brand:'云朵鞋')"), result
    assert "包邮" not in json.dumps(result["rewritten"]["dsl"]["bool"]["must"], ensure_ascii=False), result
    assert {s["function"] for s in result["stages"]} == {"analyzer", "termweight", "category"}

    status, answer = opensearch_request(server.address, "GET", f"/v3/openapi/apps/{APP}/query-analysis",
                                        query={"query": "cheap Quick Dry hoodie", "rule": "main"})
    assert status == 200, answer
    must = answer["result"]["rewritten"]["dsl"]["bool"]["must"]
    assert {"query": "quick dry", "fields": ["title^3", "brand"], "type": "phrase"} in [c["multi_match"] for c in must]
