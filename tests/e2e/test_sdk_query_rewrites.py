"""synonym and correction end to end: a shop whose users type synonyms and misspell, generated and pushed with the
algocenter CLI (`generate --lexicon`, with its truth), both functions created with intervention dictionaries,
trained and polled through the official SDK with their held-out metrics read from ExtendInfo, then served by the
predict endpoint, the synonym file export and the query-analysis endpoint (signed with the OpenSearch scheme)."""

import csv
import re
import subprocess

import pytest
from alibabacloud_opensearch20171225 import models as m

from conftest import BINARY, Server
from signing import opensearch_request
from test_sdk_pop import cli
from test_sdk_query_functions import train

APP = "shop"
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"


def normal(query):
    """The server's normal form of the generated queries: lower case, no space next to a Chinese character."""
    text = " ".join(query.lower().split())
    return re.sub(f"(?<=[{CJK}]) | (?=[{CJK}])", "", text)


@pytest.fixture(scope="module")
def shop(tmp_path_factory, request):
    """One server with a generated shop pushed, and the truth of its users' synonyms and misspellings."""
    base = tmp_path_factory.mktemp("rewrites")
    server = Server(base / "data")
    request.addfinalizer(server.stop)
    data = base / "generated"
    subprocess.run([BINARY, "generate", "--out", data, "--events", "100000", "--days", "10", "--lexicon"],
                   check=True, capture_output=True)
    client = server.client()
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    cli(server, "push", "--app", APP, "--type", "item_info", data / "items.jsonl")
    cli(server, "push", "--app", APP, "--type", "behavior", data / "behavior.jsonl")
    with open(data / "truth_synonyms.csv", newline="", encoding="utf-8") as f:
        groups = {}
        for row in csv.DictReader(f):
            groups[normal(row["word"])] = row["group"]
    with open(data / "truth_misspellings.csv", newline="", encoding="utf-8") as f:
        misspellings = list(csv.DictReader(f))
    return server, client, groups, misspellings


def resource(client, function, name, content):
    client.create_function_resource(APP, function, m.CreateFunctionResourceRequest(
        resource_name=name, resource_type="raw_file", data=m.CreateFunctionResourceRequestData(content=content)))


@pytest.fixture(scope="module")
def trained(shop):
    """Both functions trained once, with their intervention dictionaries; their ExtendInfo."""
    _, client, _, _ = shop
    resource(client, "correction", "fixes", "never\tsneakerz\n")
    resource(client, "synonym", "rules", "trainers\tsneakers\tblocked\n")
    return {
        "correction": train(client, "correction", "fix", "offline_inference", [("intervention_dict", "fixes")]),
        "synonym": train(client, "synonym", "syn", "offline_inference", [("intervention_dict", "rules")]),
    }


def predict(server, function, instance, queries):
    status, answer = opensearch_request(
        server.address, "POST", f"/v4/openapi/app-groups/{APP}/functions/{function}/instances/{instance}/predict",
        {"queries": queries})
    assert status == 200, answer
    return answer["Result"]


def test_correction_rewrites_misspellings_the_users_then_fixed(shop, trained):
    server, _, _, misspellings = shop
    info = trained["correction"]
    assert info["false_correction_rate"] <= 0.01 and info["holdout_pairs"] > 0, info
    assert info["precision_level1"] >= 0.9, info

    sample = misspellings[:60]
    result = predict(server, "correction", "fix", [t["typo"] for t in sample])
    corrections = result["Corrections"]
    rewritten = [(t, c) for t, c in zip(sample, corrections) if c["CorrectionLevel"] == 1]
    right = [1 for t, c in rewritten if c["CorrectedQuery"] == normal(t["intended"])]
    assert len(rewritten) >= 40 and len(right) >= 0.9 * len(rewritten), corrections
    kinds = {t["kind"] for t, c in rewritten if c["CorrectedQuery"] == normal(t["intended"])}
    assert {"homophone", "pinyin"} <= kinds, kinds

    queries = ["sneakers", "连衣裙", "sneakerz", "lianyiqun"]
    answers = predict(server, "correction", "fix", queries)["Corrections"]
    assert [a["CorrectionLevel"] for a in answers[:3]] == [0, 0, 0], answers
    assert answers[3]["CorrectedQuery"] == "连衣裙" and answers[3]["CorrectionLevel"] == 1, answers


def test_synonyms_are_learned_served_and_exported_without_blocked_pairs(shop, trained):
    server, _, groups, _ = shop
    info = trained["synonym"]
    assert info["pairs"] >= 30 and 0 <= info["holdout_precision"] <= 1, info
    assert "baseline_cosine_precision" in info

    result = predict(server, "synonym", "syn", ["sneakers", "球鞋", "red couch"])
    assert result["InstanceName"] == "syn" and result["Generation"] == "1"
    sneakers = result["Expansions"][0]["Terms"][0]
    texts = [s["Text"] for s in sneakers["Synonyms"]]
    assert sneakers["Term"] == "sneakers" and "运动鞋" in texts and "trainers" not in texts, sneakers
    couch = result["Expansions"][2]["Terms"][0]
    assert (couch["Term"], couch["Start"], couch["End"]) == ("couch", 4, 9), couch

    status, text = opensearch_request(
        server.address, "GET", f"/v4/openapi/app-groups/{APP}/functions/synonym/instances/syn/dictionary",
        query={"format": "solr"}, text=True)
    assert status == 200, text
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(lines) >= 30
    pairs = [[w.strip() for w in line.split(",")] for line in lines if "=>" not in line]
    true = sum(1 for a, b in pairs if groups.get(a) is not None and groups.get(a) == groups.get(b))
    assert true >= 0.8 * len(pairs), pairs
    assert ["sneakers", "trainers"] not in pairs and ["trainers", "sneakers"] not in pairs


def analyse(server, query):
    status, answer = opensearch_request(server.address, "GET", f"/v3/openapi/apps/{APP}/query-analysis",
                                        query={"query": query, "rule": "rewrites"})
    assert status == 200, answer
    return answer["result"]


def test_query_analysis_corrects_first_then_expands_with_synonyms(shop, trained):
    server, _, groups, misspellings = shop
    status, answer = opensearch_request(
        server.address, "PUT", f"/v4/openapi/app-groups/{APP}/query-analysis-rules/rewrites",
        {"correction": "fix", "synonym": "syn", "fields": ["title"]})
    assert status == 200 and answer["Result"]["Correction"] == "fix", answer

    # Misspelt words that have synonyms in the truth: corrected at level 1, then expanded from the corrected word.
    sample = [t for t in misspellings if normal(t["intended"]) in groups and " " not in t["intended"]][:20]
    assert len(sample) >= 10, len(sample)
    expanded, right = 0, 0
    for t in sample:
        result = analyse(server, t["typo"])
        info = result["query_correction_info"]
        if result["corrected"] is None:
            assert info == [] or info[0]["correction_level"] == 2, result
            continue
        assert info[0]["original_query"] == t["typo"] and info[0]["correction_level"] == 1, result
        assert [s["stage"] for s in result["stages"]] == ["correction", "synonyms"], result
        synonyms = [s for token in result["tokens"] for s in token["synonyms"]]
        if result["corrected"] == normal(t["intended"]) and synonyms:
            expanded += 1
            right += groups.get(normal(synonyms[0])) == groups[normal(t["intended"])]
            assert " OR " in result["rewritten"]["opensearch"], result
    assert expanded >= len(sample) // 2 and right >= 0.8 * expanded, (expanded, right)

    # A word typed right is left alone; the blocked pair stays out of the rewrite.
    result = analyse(server, "sneakers")
    assert result["corrected"] is None and result["query_correction_info"] == [], result
    rewritten = result["rewritten"]["opensearch"]
    assert "title:'sneakers'" in rewritten and "trainers" not in rewritten, rewritten
