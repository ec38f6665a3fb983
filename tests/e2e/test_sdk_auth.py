"""Request checking through the official SDK, in its default (ACS3) and legacy v2 signature modes: every refusal
the issue lists, each with its code and changing nothing; the v3 push signed by alibabacloud-opensearch-util; the
SDK's throttling exception."""

import json
import os
import subprocess
from datetime import datetime, timedelta

import pytest
from alibabacloud_opensearch20171225 import models as m
from alibabacloud_tea_openapi import utils as tea_utils
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException

from conftest import ADMIN_ID, ADMIN_SECRET, BINARY
from signing import RecordingProxy, opensearch_request, send_raw

APP = "shop"
PUSH = f"/v3/openapi/app-groups/{APP}/data-collections/{APP}/data-collection-type/item_info/actions/bulk"


def refused(status, code, call, *args):
    with pytest.raises(ClientException) as info:
        call(*args)
    assert (info.value.status_code, info.value.code) == (status, code), info.value.message
    return info.value


def new_key(server, scope, apps=""):
    env = dict(os.environ, ALGOCENTER_ACCESS_KEY_ID=ADMIN_ID, ALGOCENTER_ACCESS_KEY_SECRET=ADMIN_SECRET)
    args = [BINARY, "--endpoint", f"http://{server.address}", "--json", "key", "create", "--scope", scope]
    if apps:
        args += ["--apps", apps]
    key = json.loads(subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout)
    return key["AccessKeyId"], key["AccessKeySecret"]


def instance_names(client):
    listed = client.list_function_instances(APP, "pop", m.ListFunctionInstancesRequest(page_size=100)).body
    return sorted(i.instance_name for i in listed.result)


@pytest.fixture
def shop(server, client):
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    client.create_app_group(m.CreateAppGroupRequest(name="blog"))
    return client


@pytest.mark.parametrize("mode", [None, "v2"])
def test_every_operation_works_with_a_right_key_and_not_with_a_wrong_one(server, shop, mode):
    client = server.client(signature_algorithm=mode)
    client.create_function_instance(APP, "pop", m.CreateFunctionInstanceRequest(instance_name=f"p_{mode}", model_type="pop"))
    assert f"p_{mode}" in instance_names(client)
    wrong = server.client(signature_algorithm=mode, secret="not-the-secret")
    refused(400, "SignatureDoesNotMatch", wrong.list_function_instances, APP, "pop", m.ListFunctionInstancesRequest())
    stranger = server.client(signature_algorithm=mode, key_id="nobody-key", secret="whatever-secret")
    refused(404, "InvalidAccessKeyId.NotFound", stranger.describe_app_group, APP)


def test_scopes_and_app_groups(server, shop):
    reader = server.client(*[], **dict(zip(("key_id", "secret"), new_key(server, "read"))))
    refused(403, "Forbidden.RAM", reader.create_function_instance, APP, "pop",
            m.CreateFunctionInstanceRequest(instance_name="r1", model_type="pop"))
    assert instance_names(reader) == []
    shop_writer = server.client(**dict(zip(("key_id", "secret"), new_key(server, "write", APP))))
    shop_writer.create_function_instance(APP, "pop", m.CreateFunctionInstanceRequest(instance_name="w1", model_type="pop"))
    refused(403, "Forbidden.RAM", shop_writer.create_function_instance, "blog", "pop",
            m.CreateFunctionInstanceRequest(instance_name="w2", model_type="pop"))
    refused(403, "Forbidden.RAM", shop_writer.create_app_group, m.CreateAppGroupRequest(name="news"))
    assert [g.name for g in shop_writer.list_app_groups(m.ListAppGroupsRequest()).body.result] == [APP]
    assert instance_names(shop) == ["w1"]


def test_stale_dates_are_refused(server, shop, monkeypatch):
    stale = (datetime.utcnow() - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    monkeypatch.setattr(tea_utils.Utils, "get_timestamp", staticmethod(lambda: stale))
    refused(400, "InvalidTimeStamp.Expired", shop.create_function_instance, APP, "pop",
            m.CreateFunctionInstanceRequest(instance_name="late", model_type="pop"))
    monkeypatch.undo()
    assert instance_names(shop) == []


def test_captured_requests_cannot_be_replayed_or_tampered_with(server, shop):
    proxy = RecordingProxy(server.address)
    through_proxy = server.client()
    through_proxy._endpoint = proxy.address
    through_proxy.create_function_instance(APP, "pop", m.CreateFunctionInstanceRequest(instance_name="p1", model_type="pop"))
    create = proxy.captured()
    assert b"POST /v4/openapi/app-groups/shop/functions/pop/instances" in create
    through_proxy.list_function_tasks(APP, "pop", "p1", m.ListFunctionTasksRequest(page_size=5))
    listing = proxy.captured()
    assert b"pageSize=5" in listing

    # Replayed byte for byte.
    status, answer = send_raw(server.address, create)
    assert (status, answer["Code"]) == (400, "SignatureNonceUsed")
    status, answer = send_raw(server.address, listing)
    assert (status, answer["Code"]) == (400, "SignatureNonceUsed")
    # Tampered body (same length), query and path.
    for tampered in (create.replace(b'"p1"', b'"p2"'), listing.replace(b"pageSize=5", b"pageSize=9"),
                     create.replace(b"/app-groups/shop/", b"/app-groups/blog/")):
        status, answer = send_raw(server.address, tampered)
        assert (status, answer["Code"]) == (400, "SignatureDoesNotMatch"), tampered[:120]
    assert instance_names(shop) == ["p1"]
    assert shop.list_function_instances("blog", "pop", m.ListFunctionInstancesRequest()).body.total_count == 0


def test_the_v3_push_signed_by_the_opensearch_util(server, shop):
    items = [{"cmd": "ADD", "fields": {"item_id": "1", "title": "red dress"}}]
    status, answer = opensearch_request(server.address, "POST", PUSH, items)
    assert (status, answer["status"], answer["stored"]) == (200, "OK", 1), answer
    swap = lambda body: body.replace(b"red dress", b"fake item")
    status, answer = opensearch_request(server.address, "POST", PUSH, [{"cmd": "ADD", "fields": {"item_id": "2", "title": "red dress"}}], tamper=swap)
    assert (status, answer["errors"][0]["code"]) == (400, "SignatureDoesNotMatch"), answer
    status, answer = opensearch_request(server.address, "POST", PUSH, items, secret="wrong-secret-000")
    assert (status, answer["errors"][0]["code"]) == (400, "SignatureDoesNotMatch")
    status, answer = opensearch_request(server.address, "GET", f"/v4/openapi/app-groups/{APP}/data-status")
    assert status == 200 and answer["Result"]["items"] == 1, answer


def test_throttled_keys_see_the_sdk_throttling_exception_and_others_do_not(start_server):
    server = start_server("--rate-limit", "2", "--rate-burst", "3")
    admin = server.client()
    other_id, other_secret = new_key(server, "read")
    with pytest.raises(ThrottlingException) as info:
        for _ in range(20):
            admin.list_app_groups(m.ListAppGroupsRequest())
    assert info.value.code == "Throttling.User" and int(info.value.retry_after) > 0
    other = server.client(key_id=other_id, secret=other_secret)
    assert other.list_app_groups(m.ListAppGroupsRequest()).body.total_count == 0


@pytest.mark.parametrize("mode", [None, "v2"])
def test_canonicalisation_of_awkward_paths_and_query_values(server, shop, mode):
    """Random texts of the characters the encodings treat differently (space, +, *, ~, /, %, &, =, non-ASCII) in
    a path segment and in query values: the official SDK's signature always verifies, so the server answers on the
    request's merits (not found, invalid), never with a signature error."""
    import random

    alphabet = list("aZ09 +*~/%&=?#-_.") + ["中", "é", "😀"]
    rng = random.Random(7)
    client = server.client(signature_algorithm=mode)
    for _ in range(60):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        for call, args in [
            (client.get_function_instance, (APP, "pop", text, m.GetFunctionInstanceRequest(output="simple"))),
            (client.list_function_instances, (APP, "pop", m.ListFunctionInstancesRequest(model_type=text, function_type=text))),
            (client.list_function_tasks, (APP, "pop", "p1", m.ListFunctionTasksRequest(status=text))),
        ]:
            try:
                call(*args)
            except ClientException as e:
                assert e.code not in ("SignatureDoesNotMatch", "IncompleteSignature"), (text, e.code, e.message)
