//! Function resources over real HTTP: raw files, feature generators, and the instances that reference them.

mod support;

use serde_json::json;
use support::shop;
#[tokio::test]
async fn resources_raw_files_generators_references() {
    let server = shop(1).await;
    let hot = "/v4/openapi/app-groups/shop/functions/hot";
    // Exactly what the SDK sends for a raw_file (Generators always present, spec §2.3).
    let raw = r#"{"Data":{"Content":"spam\nads\n","Generators":[]},"ResourceName":"blocked","ResourceType":"raw_file","Description":"words"}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(raw))
        .await
        .assert_ok();
    server
        .call("POST", &format!("{hot}/resources"), Some(raw))
        .await
        .assert_error(409, "Resource.Duplicated");
    let fg = r#"{"Data":{"Generators":[{"Generator":"id_feature","Input":{"Features":[{"Name":"item_id","Type":"item"}]},"Output":"f1"}]},"Description":"fg","ResourceName":"fg_json","ResourceType":"feature_generator"}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(fg))
        .await
        .assert_ok();
    let bare = r#"{"ResourceName":"fg_bare","ResourceType":"feature_generator","Data":[{"generator":"combo","input":{"features":[{"name":"system_user_id","type":"user"},{"name":"system_item_id","type":"item"}]},"output":"comb_uid_nid"}]}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(bare))
        .await
        .assert_ok();
    let bad_kind = r#"{"ResourceName":"fg_bad","ResourceType":"feature_generator","Data":{"Generators":[{"Generator":"magic","Input":{"Features":[{"Name":"a","Type":"item"}]},"Output":"o"}]}}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(bad_kind))
        .await
        .assert_error(400, "InvalidParameter");
    let bad_name = r#"{"ResourceName":"bad-name","ResourceType":"raw_file","Data":{"Content":""}}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(bad_name))
        .await
        .assert_error(400, "Resource.InvalidResourceName");
    let bad_type = r#"{"ResourceName":"x","ResourceType":"model","Data":{"Content":""}}"#;
    server
        .call("POST", &format!("{hot}/resources"), Some(bad_type))
        .await
        .assert_error(400, "InvalidParameter");

    let got = server
        .call(
            "GET",
            &format!("{hot}/resources/fg_bare?output=detail"),
            None,
        )
        .await;
    assert_eq!(
        got.assert_ok()["Result"]["Data"]["Generators"][0]["Input"]["Features"][1]["Name"],
        "system_item_id"
    );
    let simple = server
        .call(
            "GET",
            &format!("{hot}/resources/blocked?output=simple"),
            None,
        )
        .await;
    assert!(simple.body["Result"].get("Data").is_none());
    let listed = server
        .call(
            "GET",
            &format!("{hot}/resources?resourceType=feature_generator&pageSize=1"),
            None,
        )
        .await;
    assert_eq!(
        (
            listed.body["TotalCount"].as_u64(),
            listed.body["Result"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );

    // A hot instance names the dictionary: it shows as referenced and cannot be deleted.
    let instance = r#"{"instanceName":"top","modelType":"offline_inference","createParameters":[{"name":"blacklist","value":"blocked"}]}"#;
    server
        .create_instance("shop", "hot", instance)
        .await
        .assert_ok();
    let missing = r#"{"instanceName":"top2","modelType":"offline_inference","createParameters":[{"name":"whitelist","value":"nothere"}]}"#;
    let answer = server.create_instance("shop", "hot", missing).await;
    answer.assert_error(400, "InvalidParameter");
    assert!(answer.message().contains("whitelist"));
    let referenced = server
        .call("GET", &format!("{hot}/resources/blocked"), None)
        .await;
    assert_eq!(
        referenced.body["Result"]["ReferencedInstances"],
        json!(["top"])
    );
    server
        .call("DELETE", &format!("{hot}/resources/blocked"), None)
        .await
        .assert_error(409, "Resource.InUse");

    server
        .call(
            "PUT",
            &format!("{hot}/resources/blocked"),
            Some(r#"{"Data":{"Content":"spam\n"}}"#),
        )
        .await
        .assert_ok();
    let changed = server
        .call("GET", &format!("{hot}/resources/blocked"), None)
        .await;
    assert_eq!(
        (
            changed.body["Result"]["Data"]["Content"].as_str(),
            changed.body["Result"]["Description"].as_str()
        ),
        (Some("spam\n"), Some("words"))
    );
    server
        .call(
            "PUT",
            &format!("{hot}/resources/blocked"),
            Some(r#"{"ResourceType":"feature_generator"}"#),
        )
        .await
        .assert_error(400, "InvalidParameter");

    server
        .call("DELETE", &format!("{hot}/instances/top"), None)
        .await
        .assert_ok();
    server
        .call("DELETE", &format!("{hot}/resources/blocked"), None)
        .await
        .assert_ok();
    server
        .call("GET", &format!("{hot}/resources/blocked"), None)
        .await
        .assert_error(404, "Resource.NotExist");
}
