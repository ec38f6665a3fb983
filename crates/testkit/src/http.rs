//! The test client: requests to a [`TestApp`], signed with its credentials when it checks requests, and
//! the answers as JSON.

use std::time::Duration;

use algocenter_auth::client::{Credentials, acs3_headers};
use serde_json::Value;

use crate::TestApp;
use crate::wait::wait_until;

/// An answer of the API: its status, JSON body and the headers tests look at.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub request_id_header: Option<String>,
    pub retry_after: Option<String>,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["Code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["Message"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        &self.body
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.body);
        assert_eq!(self.body["Status"], "FAIL");
        assert_eq!(self.body["HttpCode"], status);
        assert!(!self.message().is_empty());
        assert!(
            self.body["RequestId"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );
    }
}

impl TestApp {
    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        self.raw(method, path, body.map(|b| b.as_bytes().to_vec()))
            .await
    }

    pub async fn raw(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
        self.signed(method, path, body, self.credentials.as_ref())
            .await
    }

    /// A request signed with `credentials` (unsigned for `None`).
    pub async fn signed(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        credentials: Option<&Credentials>,
    ) -> Answer {
        let headers = match credentials {
            Some(c) => acs3_headers(
                method,
                self.host(),
                path,
                body.as_deref().unwrap_or_default(),
                "Test",
                c,
            )
            .unwrap(),
            None => Vec::new(),
        };
        self.send(method, path, body, &headers).await
    }

    /// A GET whose answer is not JSON: status, content type and text; signed with the server's key when it
    /// checks requests and `sign` is set.
    pub async fn get_text(&self, path: &str, sign: bool) -> (u16, String, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let (true, Some(c)) = (sign, self.credentials.as_ref()) {
            for (name, value) in acs3_headers("GET", self.host(), path, b"", "Test", c).unwrap() {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    /// A request with exactly these extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(String, String)],
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            if !headers.iter().any(|(n, _)| n == "content-type") {
                request = request.header("content-type", "application/json; charset=utf-8");
            }
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let request_id_header = response
            .headers()
            .get("x-acs-request-id")
            .map(|v| v.to_str().unwrap().to_string());
        let retry_after = response
            .headers()
            .get("x-acs-retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON answer ({e}): {text}"));
        Answer {
            status,
            body,
            request_id_header,
            retry_after,
        }
    }

    pub async fn create_app(&self, name: &str) {
        self.call(
            "POST",
            "/v4/openapi/app-groups",
            Some(&format!(r#"{{"name":"{name}"}}"#)),
        )
        .await;
    }

    pub async fn create_instance(&self, app: &str, function: &str, body: &str) -> Answer {
        self.call(
            "POST",
            &format!("/v4/openapi/app-groups/{app}/functions/{function}/instances"),
            Some(body),
        )
        .await
    }

    /// CreateFunctionTask for `instance` and waits for it to succeed (a failed task fails the test); answers its
    /// `ExtendInfo` (the held-out metrics) as JSON. The caller says which generation the new task is: the API's
    /// answer does not (as OpenSearch's).
    pub async fn train(&self, app: &str, function: &str, instance: &str, generation: u64) -> Value {
        self.call(
            "POST",
            &format!(
                "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks"
            ),
            None,
        )
        .await
        .assert_ok();
        self.wait_trained(app, function, instance, generation).await
    }

    /// Waits for the task of `generation` to end and to have succeeded (a failed task fails the test); answers its
    /// `ExtendInfo` as JSON.
    pub async fn wait_trained(
        &self,
        app: &str,
        function: &str,
        instance: &str,
        generation: u64,
    ) -> Value {
        let path = format!(
            "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks/{generation}"
        );
        // Trainers on test data take seconds, minutes on a loaded machine (the retrieval tests); a hung one fails here.
        let task = wait_until(
            format_args!("{function} {instance} generation {generation} to finish training"),
            Duration::from_secs(600),
            || async {
                let answer = self.call("GET", &path, None).await;
                let task = answer.assert_ok()["Result"].clone();
                (task["Status"] != "running").then_some(task)
            },
        )
        .await;
        assert_eq!(task["Status"], "success", "{task}");
        let info = task["ExtendInfo"].as_str().unwrap_or("{}");
        serde_json::from_str(info)
            .unwrap_or_else(|e| panic!("ExtendInfo is not JSON ({e}): {info}"))
    }

    /// CreateFunctionInstance with `body` (its `instanceName` names the instance), then [`TestApp::train`] of
    /// generation 1.
    pub async fn create_and_train(&self, app: &str, function: &str, body: &Value) -> Value {
        let instance = body["instanceName"]
            .as_str()
            .unwrap_or_else(|| panic!("no instanceName in {body}"));
        self.create_instance(app, function, &body.to_string())
            .await
            .assert_ok();
        self.train(app, function, instance, 1).await
    }

    /// GetFunctionTask until the task is no longer running (at most 20 s); answers the task.
    pub async fn wait_task(
        &self,
        app: &str,
        function: &str,
        instance: &str,
        generation: &str,
    ) -> Value {
        let path = format!(
            "/v4/openapi/app-groups/{app}/functions/{function}/instances/{instance}/tasks/{generation}"
        );
        let what = format!("task {instance}/{generation} to end");
        wait_until(what, Duration::from_secs(20), || async {
            let answer = self.call("GET", &path, None).await;
            let task = answer.assert_ok()["Result"].clone();
            (task["Status"] != "running").then_some(task)
        })
        .await
    }
}
