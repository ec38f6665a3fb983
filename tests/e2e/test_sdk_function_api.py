"""Every function operation and the app-group operations through the official Python SDK
(alibabacloud-opensearch20171225), against the real algocenter binary: happy paths, each error code, paging,
filters, output levels, the default instance and resources."""

import json

import pytest
from alibabacloud_opensearch20171225 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from conftest import wait_for

APP = "shop"


def refused(status, code, call, *args, **kwargs):
    """Asserts that the SDK raises its typed client exception with this HTTP status and code."""
    with pytest.raises(ClientException) as info:
        call(*args, **kwargs)
    error = info.value
    assert (error.status_code, error.code) == (status, code), error.message
    assert error.request_id
    return error


def params(cls, **values):
    return [cls(name=k, value=v) for k, v in values.items()]


def create_pop(client, name, **kwargs):
    request = m.CreateFunctionInstanceRequest(instance_name=name, model_type="pop", **kwargs)
    return client.create_function_instance(APP, "pop", request)


@pytest.fixture
def shop(client):
    client.create_app_group(m.CreateAppGroupRequest(name=APP, type="enhanced"))
    return client


# --- app groups -------------------------------------------------------------------------------------------------


def test_app_groups_create_list_describe_remove(client):
    quota = m.CreateAppGroupRequestQuota(doc_size=1, compute_resource=20, spec="opensearch.share.common")
    tags = [m.CreateAppGroupRequestTags(key="team", value="search")]
    created = client.create_app_group(
        m.CreateAppGroupRequest(name="shop", type="enhanced", charge_type="POSTPAY", quota=quota, tags=tags)
    ).body
    assert created.request_id and created.result.name == "shop"
    assert created.result.charge_type == "POSTPAY" and created.result.quota.compute_resource == 20
    client.create_app_group(m.CreateAppGroupRequest(name="blog", type="standard"))
    refused(409, "App.Duplicated", client.create_app_group, m.CreateAppGroupRequest(name="shop"))
    refused(400, "InvalidParameter", client.create_app_group, m.CreateAppGroupRequest(name="no spaces"))

    listed = client.list_app_groups(m.ListAppGroupsRequest(page_number=1, page_size=1)).body
    assert listed.total_count == 2 and len(listed.result) == 1
    assert client.list_app_groups(m.ListAppGroupsRequest(name="sho")).body.result[0].name == "shop"
    assert client.list_app_groups(m.ListAppGroupsRequest(type="standard")).body.result[0].name == "blog"

    described = client.describe_app_group("shop").body.result
    assert (described.name, described.type, described.tags[0].value) == ("shop", "enhanced", "search")
    assert client.describe_app_group(described.id).body.result.name == "shop"
    client.remove_app_group("blog")
    refused(404, "App.NotFound", client.describe_app_group, "blog")
    refused(404, "App.NotFound", client.remove_app_group, "blog")


def test_every_function_operation_of_an_unknown_app_is_app_not_found(client):
    ghost = "ghost"
    calls = [
        (client.create_function_instance, ghost, "pop", m.CreateFunctionInstanceRequest(instance_name="a", model_type="pop")),
        (client.get_function_instance, ghost, "pop", "a", m.GetFunctionInstanceRequest()),
        (client.list_function_instances, ghost, "pop", m.ListFunctionInstancesRequest()),
        (client.update_function_instance, ghost, "pop", "a", m.UpdateFunctionInstanceRequest()),
        (client.delete_function_instance, ghost, "pop", "a"),
        (client.create_function_task, ghost, "pop", "a"),
        (client.get_function_task, ghost, "pop", "a", "1"),
        (client.list_function_tasks, ghost, "pop", "a", m.ListFunctionTasksRequest()),
        (client.delete_function_task, ghost, "pop", "a", "1"),
        (client.create_function_resource, ghost, "hot", m.CreateFunctionResourceRequest(resource_name="r", resource_type="raw_file", data=m.CreateFunctionResourceRequestData(content="x"))),
        (client.get_function_resource, ghost, "hot", "r", m.GetFunctionResourceRequest()),
        (client.list_function_resources, ghost, "hot", m.ListFunctionResourcesRequest()),
        (client.update_function_resource, ghost, "hot", "r", m.UpdateFunctionResourceRequest(description="d")),
        (client.delete_function_resource, ghost, "hot", "r"),
        (client.get_function_default_instance, ghost, "pop"),
        (client.update_function_default_instance, ghost, "pop", m.UpdateFunctionDefaultInstanceRequest(instance_name="a")),
    ]
    for call, *args in calls:
        refused(404, "App.NotFound", call, *args)
    # Path segments are percent-encoded by the SDK and decoded by the server one by one.
    error = refused(404, "App.NotFound", client.list_function_instances, "my app/1", "pop", m.ListFunctionInstancesRequest())
    assert "my app/1" in error.message


# --- instances --------------------------------------------------------------------------------------------------


def test_instance_lifecycle_and_output_levels(shop):
    create_pop(
        shop,
        "p1",
        description="popularity",
        cron="0 3 ? * 0,1,3,5",
        create_parameters=params(m.CreateFunctionInstanceRequestCreateParameters, half_life_days="3", train_window_days="14"),
        usage_parameters=params(m.CreateFunctionInstanceRequestUsageParameters, default_score="0.1"),
    )
    normal = shop.get_function_instance(APP, "pop", "p1", m.GetFunctionInstanceRequest()).body.result
    assert (normal.instance_name, normal.function_name, normal.model_type, normal.function_type) == ("p1", "pop", "pop", "PAAS")
    assert (normal.status, normal.source, normal.cron, normal.version_id) == ("unavailable", "user", "0 3 ? * 0,1,3,5", 201)
    assert [(p.name, p.value) for p in normal.create_parameters] == [("half_life_days", "3"), ("train_window_days", "14")]
    assert [(p.name, p.value) for p in normal.usage_parameters] == [("default_score", "0.1")]
    assert normal.belongs.domain and normal.create_time > 0
    assert json.loads(normal.extend_info)["errors"] == []
    assert normal.task is None

    simple = shop.get_function_instance(APP, "pop", "p1", m.GetFunctionInstanceRequest(output="simple")).body.result
    assert simple.instance_name == "p1" and not simple.create_parameters and simple.cron is None

    detail = shop.get_function_instance(APP, "pop", "p1", m.GetFunctionInstanceRequest(output="detail")).body.result
    assert (detail.task.dag_status, detail.task.last_run_time) == ("untrained", 0)

    shop.update_function_instance(APP, "pop", "p1", m.UpdateFunctionInstanceRequest(cron="", description="daily pop"))
    updated = shop.get_function_instance(APP, "pop", "p1", m.GetFunctionInstanceRequest()).body.result
    assert (updated.cron, updated.description) == ("", "daily pop")
    assert len(updated.create_parameters) == 2, "lists not sent keep their values"
    shop.update_function_instance(
        APP, "pop", "p1",
        m.UpdateFunctionInstanceRequest(create_parameters=params(m.UpdateFunctionInstanceRequestCreateParameters, min_evidence="9")),
    )
    replaced = shop.get_function_instance(APP, "pop", "p1", m.GetFunctionInstanceRequest()).body.result
    assert [(p.name, p.value) for p in replaced.create_parameters] == [("min_evidence", "9")]

    shop.delete_function_instance(APP, "pop", "p1")
    refused(404, "Instance.NotExist", shop.get_function_instance, APP, "pop", "p1", m.GetFunctionInstanceRequest())
    refused(404, "Instance.NotExist", shop.delete_function_instance, APP, "pop", "p1")
    refused(404, "Instance.NotExist", shop.update_function_instance, APP, "pop", "p1", m.UpdateFunctionInstanceRequest())


def test_instance_validation_errors_name_the_problem(shop):
    create_pop(shop, "p1")
    refused(409, "Instance.Duplicated", create_pop, shop, "p1")
    assert "instanceName" in refused(400, "InvalidParameter", create_pop, shop, "1p").message
    assert "instanceName" in refused(400, "InvalidParameter", create_pop, shop, "x" * 31).message
    wrong_type = m.CreateFunctionInstanceRequest(instance_name="c1", model_type="pop")
    assert "modelType" in refused(400, "InvalidParameter", shop.create_function_instance, APP, "ctr", wrong_type).message
    assert "cron" in refused(400, "InvalidParameter", create_pop, shop, "p2", cron="0 0 3 ? * MON").message
    unknown = params(m.CreateFunctionInstanceRequestCreateParameters, params1="v1")
    assert "params1" in refused(400, "InvalidParameter", create_pop, shop, "p2", create_parameters=unknown).message
    bad_value = params(m.CreateFunctionInstanceRequestCreateParameters, half_life_days="soon")
    assert "half_life_days" in refused(400, "InvalidParameter", create_pop, shop, "p2", create_parameters=bad_value).message
    missing = m.CreateFunctionInstanceRequest(instance_name="c1", model_type="tf_checkpoint")
    assert "id_field" in refused(400, "InvalidParameter", shop.create_function_instance, APP, "ctr", missing).message
    refused(400, "InvalidParameter", create_pop, shop, "p2", function_type="SAAS")
    refused(404, "Function.NotExist", shop.list_function_instances, APP, "no_such_function", m.ListFunctionInstancesRequest())
    assert shop.list_function_instances(APP, "pop", m.ListFunctionInstancesRequest()).body.total_count == 1


def test_ctr_instance_as_in_the_documentation(shop):
    # The createParameters of the CreateFunctionInstance documentation example.
    create = params(
        m.CreateFunctionInstanceRequestCreateParameters,
        title_field="title", description_field="", tags_field="", id_field="item_id", category_field="cate",
    )
    request = m.CreateFunctionInstanceRequest(
        instance_name="ctr_test", model_type="tf_checkpoint", function_type="PAAS", cron="0 0 * * 1",
        description="demo", create_parameters=create,
    )
    shop.create_function_instance(APP, "ctr", request)
    got = shop.get_function_instance(APP, "ctr", "ctr_test", m.GetFunctionInstanceRequest(output="normal")).body.result
    assert {p.name: p.value for p in got.create_parameters}["category_field"] == "cate"


def test_list_instances_paging_and_filters(shop):
    for i in range(12):
        create_pop(shop, f"p{i:02d}")
    first = shop.list_function_instances(APP, "pop", m.ListFunctionInstancesRequest()).body
    assert first.total_count == 12 and len(first.result) == 10, "pageSize defaults to 10"
    second = shop.list_function_instances(APP, "pop", m.ListFunctionInstancesRequest(page_number=2, page_size=10)).body
    assert [i.instance_name for i in second.result] == ["p10", "p11"]
    simple = shop.list_function_instances(APP, "pop", m.ListFunctionInstancesRequest(output="simple", page_size=1)).body
    assert not simple.result[0].create_parameters and simple.result[0].cron is None
    filtered = shop.list_function_instances(
        APP, "pop", m.ListFunctionInstancesRequest(model_type="pop", function_type="PAAS", source="all")
    ).body
    assert filtered.total_count == 12
    assert shop.list_function_instances(APP, "pop", m.ListFunctionInstancesRequest(source="builtin")).body.total_count == 0
    assert shop.list_function_instances(APP, "pop", m.ListFunctionInstancesRequest(model_type="near_realtime")).body.total_count == 0
    for bad in [m.ListFunctionInstancesRequest(page_size=101), m.ListFunctionInstancesRequest(page_number=0),
                m.ListFunctionInstancesRequest(output="all")]:
        refused(400, "InvalidParameter", shop.list_function_instances, APP, "pop", bad)


# --- tasks ------------------------------------------------------------------------------------------------------


def task_list(client, name, **query):
    return client.list_function_tasks(APP, "pop", name, m.ListFunctionTasksRequest(**query)).body


def test_queued_task_is_running_until_cancelled(start_server):
    # An API-only node (no workers): the task stays queued, which the spec shows as running with progress 0.
    client = start_server("--workers", "0").client()
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    create_pop(client, "p1")
    client.create_function_task(APP, "pop", "p1")
    task = client.get_function_task(APP, "pop", "p1", "1").body.result
    assert (task.status, task.progress, task.generation, task.end_time) == ("running", 0, "1", 0)
    assert task.run_id.startswith("trigger__") and task.start_time > 0
    refused(409, "Task.IsRunning", client.create_function_task, APP, "pop", "p1")
    refused(409, "Task.IsRunning", client.delete_function_task, APP, "pop", "p1", "1")
    refused(409, "Task.IsRunning", client.delete_function_instance, APP, "pop", "p1")
    detail = client.get_function_instance(APP, "pop", "p1", m.GetFunctionInstanceRequest(output="detail")).body.result
    assert detail.task.dag_status == "pending" and detail.task.last_run_time == task.start_time
    assert task_list(client, "p1", status="running").total_count == 1
    refused(404, "Task.NotExist", client.get_function_task, APP, "pop", "p1", "2")
    refused(404, "Task.NotExist", client.get_function_task, APP, "pop", "p1", "abc")


def test_tasks_without_data_fail_honestly_and_are_listed_newest_first(server, client):
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    create_pop(client, "p1")
    for generation in range(1, 6):
        client.create_function_task(APP, "pop", "p1")
        task = wait_for(lambda: (t := client.get_function_task(APP, "pop", "p1", str(generation)).body.result).status != "running" and t)
        # No behaviour was pushed: the task fails and says why, instead of producing a meaningless model.
        assert task.status == "failed"
        assert json.loads(task.extend_info)["errors"][0].startswith("insufficient data")
        assert task.end_time >= task.start_time > 0
    detail = client.get_function_instance(APP, "pop", "p1", m.GetFunctionInstanceRequest(output="detail")).body.result
    assert detail.task.dag_status == "failed" and detail.status == "unavailable"
    assert json.loads(detail.extend_info)["errors"][0].startswith("insufficient data")

    newest = task_list(client, "p1")
    assert newest.total_count == 5 and [t.generation for t in newest.result] == ["5"], "pageSize defaults to 1"
    page = task_list(client, "p1", page_number=2, page_size=2)
    assert [t.generation for t in page.result] == ["3", "2"]
    assert task_list(client, "p1", status="failed", page_size=10).total_count == 5
    assert task_list(client, "p1", status="success").total_count == 0
    assert task_list(client, "p1", status="running").total_count == 0
    tasks = task_list(client, "p1", page_size=10).result
    third_start = next(t.start_time for t in tasks if t.generation == "3")
    assert task_list(client, "p1", start_time=third_start, page_size=10).total_count >= 3
    assert task_list(client, "p1", end_time=4102444800000).total_count == 5
    assert task_list(client, "p1", start_time=4102444800000).total_count == 0
    refused(400, "InvalidParameter", client.list_function_tasks, APP, "pop", "p1", m.ListFunctionTasksRequest(status="done"))
    refused(400, "InvalidParameter", client.list_function_tasks, APP, "pop", "p1", m.ListFunctionTasksRequest(page_size=0))

    client.delete_function_task(APP, "pop", "p1", "5")
    refused(404, "Task.NotExist", client.get_function_task, APP, "pop", "p1", "5")
    refused(404, "Task.NotExist", client.delete_function_task, APP, "pop", "p1", "5")
    client.create_function_task(APP, "pop", "p1")
    assert task_list(client, "p1").result[0].generation == "6", "a deleted generation's number is never reused"


# --- resources --------------------------------------------------------------------------------------------------


def test_resources_raw_file_feature_generator_and_references(shop):
    raw = m.CreateFunctionResourceRequest(
        resource_name="blocked", resource_type="raw_file", description="words",
        data=m.CreateFunctionResourceRequestData(content="spam\nads\n"),
    )
    shop.create_function_resource(APP, "hot", raw)
    refused(409, "Resource.Duplicated", shop.create_function_resource, APP, "hot", raw)
    generator = m.CreateFunctionResourceRequestDataGenerators(
        generator="combo",
        input=m.CreateFunctionResourceRequestDataGeneratorsInput(features=[
            m.CreateFunctionResourceRequestDataGeneratorsInputFeatures(name="system_user_id", type="user"),
            m.CreateFunctionResourceRequestDataGeneratorsInputFeatures(name="system_item_id", type="item"),
        ]),
        output="comb_uid_nid",
    )
    fg = m.CreateFunctionResourceRequest(
        resource_name="fg_json", resource_type="feature_generator", description="fg",
        data=m.CreateFunctionResourceRequestData(generators=[generator]),
    )
    shop.create_function_resource(APP, "hot", fg)
    bad_name = m.CreateFunctionResourceRequest(resource_name="bad-name", resource_type="raw_file", data=m.CreateFunctionResourceRequestData(content=""))
    refused(400, "Resource.InvalidResourceName", shop.create_function_resource, APP, "hot", bad_name)
    bad_kind = m.CreateFunctionResourceRequest(
        resource_name="fg_bad", resource_type="feature_generator",
        data=m.CreateFunctionResourceRequestData(generators=[m.CreateFunctionResourceRequestDataGenerators(
            generator="magic", output="o",
            input=m.CreateFunctionResourceRequestDataGeneratorsInput(features=[
                m.CreateFunctionResourceRequestDataGeneratorsInputFeatures(name="a", type="item")]))]),
    )
    refused(400, "InvalidParameter", shop.create_function_resource, APP, "hot", bad_kind)

    got = shop.get_function_resource(APP, "hot", "fg_json", m.GetFunctionResourceRequest(output="detail")).body.result
    assert (got.resource_type, got.function_name, got.description) == ("feature_generator", "hot", "fg")
    assert got.data.generators[0].input.features[1].name == "system_item_id"
    assert got.create_time > 0 and got.modify_time >= got.create_time
    listed = shop.list_function_resources(APP, "hot", m.ListFunctionResourcesRequest(resource_type="raw_file")).body
    assert listed.total_count == 1 and listed.result[0].data.content == "spam\nads\n"
    paged = shop.list_function_resources(APP, "hot", m.ListFunctionResourcesRequest(page_size=1, page_number=2)).body
    assert paged.total_count == 2 and len(paged.result) == 1

    shop.update_function_resource(APP, "hot", "blocked", m.UpdateFunctionResourceRequest(
        data=m.UpdateFunctionResourceRequestData(content="spam\n")))
    changed = shop.get_function_resource(APP, "hot", "blocked", m.GetFunctionResourceRequest()).body.result
    assert (changed.data.content, changed.description) == ("spam\n", "words")

    # A hot instance names the dictionary in its parameters: it shows as referenced and cannot be deleted.
    request = m.CreateFunctionInstanceRequest(
        instance_name="top", model_type="offline_inference",
        create_parameters=params(m.CreateFunctionInstanceRequestCreateParameters, blacklist="blocked"),
    )
    shop.create_function_instance(APP, "hot", request)
    referenced = shop.get_function_resource(APP, "hot", "blocked", m.GetFunctionResourceRequest()).body.result
    assert referenced.referenced_instances == ["top"]
    refused(409, "Resource.InUse", shop.delete_function_resource, APP, "hot", "blocked")
    shop.delete_function_instance(APP, "hot", "top")
    shop.delete_function_resource(APP, "hot", "blocked")
    refused(404, "Resource.NotExist", shop.get_function_resource, APP, "hot", "blocked", m.GetFunctionResourceRequest())
    refused(404, "Resource.NotExist", shop.delete_function_resource, APP, "hot", "blocked")


# --- default instance ---------------------------------------------------------------------------------------------


def test_default_instance_set_replace_clear(shop):
    create_pop(shop, "a")
    create_pop(shop, "b")
    refused(404, "DefaultInstance.NotExist", shop.get_function_default_instance, APP, "pop")
    shop.update_function_default_instance(APP, "pop", m.UpdateFunctionDefaultInstanceRequest(instance_name="a"))
    got = shop.get_function_default_instance(APP, "pop").body
    assert (got.result.instance_name, got.instance_name, got.function_name) == ("a", "a", "pop")
    shop.update_function_default_instance(APP, "pop", m.UpdateFunctionDefaultInstanceRequest(instance_name="b"))
    assert shop.get_function_default_instance(APP, "pop").body.result.instance_name == "b"
    refused(404, "Instance.NotExist", shop.update_function_default_instance, APP, "pop",
            m.UpdateFunctionDefaultInstanceRequest(instance_name="zzz"))
    shop.update_function_default_instance(APP, "pop", m.UpdateFunctionDefaultInstanceRequest(instance_name=""))
    refused(404, "DefaultInstance.NotExist", shop.get_function_default_instance, APP, "pop")
    # Deleting the default instance clears the default.
    shop.update_function_default_instance(APP, "pop", m.UpdateFunctionDefaultInstanceRequest(instance_name="a"))
    shop.delete_function_instance(APP, "pop", "a")
    refused(404, "DefaultInstance.NotExist", shop.get_function_default_instance, APP, "pop")


# --- catalogue --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("function,model_type,version_id", [
    ("ctr", "tf_checkpoint", 101), ("pop", "pop", 201), ("category", "offline_inference", 301),
    ("hot", "offline_inference", 401), ("hot", "near_realtime", 402), ("hint", "offline_inference", 501),
    ("hint", "near_realtime", 502), ("suggest", "offline_inference", 601),
])
def test_function_versions(client, function, model_type, version_id):
    request = m.GetFunctionCurrentVersionRequest(model_type=model_type, function_type="PAAS", domain="ecommerce", category="general")
    current = client.get_function_current_version(function, request).body.result
    assert (current.function_name, current.model_type, current.version_id) == (function, model_type, version_id)
    assert current.version_name and current.function_type == "PAAS"
    for p in current.version_config.create_parameters:
        assert p.name and p.required in ("true", "false")
    by_id = client.get_function_version(function, str(version_id)).body.result
    assert by_id.version_id == version_id


def test_version_errors(client):
    refused(400, "InvalidParameter", client.get_function_current_version, "ctr", m.GetFunctionCurrentVersionRequest())
    refused(404, "Version.NotExist", client.get_function_current_version, "ctr", m.GetFunctionCurrentVersionRequest(model_type="pop"))
    refused(404, "Version.NotExist", client.get_function_version, "ctr", "999")
    refused(404, "Function.NotExist", client.get_function_version, "no_such_function", "1")


# --- signature modes ----------------------------------------------------------------------------------------------


def test_the_legacy_v2_signature_mode_passes_through(server):
    client = server.client(signature_algorithm="v2")
    client.create_app_group(m.CreateAppGroupRequest(name=APP))
    create_pop(client, "p1")
    assert client.get_function_instance(APP, "pop", "p1", m.GetFunctionInstanceRequest()).body.result.instance_name == "p1"
    client.delete_function_instance(APP, "pop", "p1")
    refused(404, "Instance.NotExist", client.get_function_instance, APP, "pop", "p1", m.GetFunctionInstanceRequest())
