//! The dashboard over real HTTP on loopback, with request checking on: login, sessions, the form token, scopes,
//! buttons acting through the engine, live fragments and escaping. (The browser test in `tests/e2e` drives the
//! same pages in Chromium.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use algocenter_domain::Function;
use algocenter_domain::access_key::{AccessKey, Scope};
use algocenter_domain::app_group::NewAppGroup;
use algocenter_domain::instance::NewInstance;
use algocenter_functions::{Progress, TrainError, TrainedModel, Trainer, Trainers, TrainingJob};
use algocenter_testkit::{AppOptions, TestApp, admin, spawn_app, wait_until};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Map, json};

/// Trains in `steps` steps of 40 ms, reporting progress, with a metric that grows with the generation.
struct Steps(u8);

/// Set when a trainer was told to stop (the dashboard's cancel reached the running trainer).
static TRAINER_STOPPED: AtomicBool = AtomicBool::new(false);

impl Trainer for Steps {
    fn train(
        &self,
        job: &TrainingJob<'_>,
        progress: &mut dyn Progress,
    ) -> Result<TrainedModel, TrainError> {
        for step in 1..self.0 {
            // Taking time is the point: the pages show the run's progress, and a button cancels it.
            std::thread::sleep(Duration::from_millis(40));
            let percent = (u32::from(step) * 100 / u32::from(self.0)) as u8;
            if let Err(cancelled) = progress.report("fitting", percent) {
                TRAINER_STOPPED.store(true, Ordering::SeqCst);
                return Err(cancelled.into());
            }
        }
        let mut metrics = Map::new();
        metrics.insert(
            "spearman".into(),
            json!(0.5 + job.generation as f64 / 100.0),
        );
        Ok(TrainedModel {
            artifact: b"model".to_vec(),
            metrics,
            passed_quality_gate: true,
        })
    }
}

/// The production server (checking requests) with two app groups, two instances and a read key besides the
/// admin key, and a client that does not follow redirects.
struct Dashboard {
    app: TestApp,
    http: reqwest::Client,
}

const ADMIN: (&str, &str) = ("admin-key", "admin-secret-0123456789");
const READER: (&str, &str) = ("reader-key", "reader-secret-0123456789");

async fn start() -> Dashboard {
    let trainers = Trainers::default()
        .with(Function::Pop, Arc::new(Steps(5)))
        // Long enough to be cancelled while it runs.
        .with(Function::Hot, Arc::new(Steps(250)));
    let app = spawn_app(AppOptions {
        checked: Some(Default::default()),
        ..AppOptions::training(trainers, 2)
    })
    .await;
    assert_eq!(admin().key_id, ADMIN.0);
    let store = app.store();
    let master = app.services().keys().master().unwrap();
    let reader = AccessKey {
        id: READER.0.into(),
        scope: Scope::Read,
        apps: vec!["shop".to_string()],
        description: String::new(),
        created_ms: 0,
        revoked_ms: None,
    };
    store
        .create_key(reader, master.seal(READER.0, READER.1).unwrap())
        .await
        .unwrap();
    for app in ["shop", "other"] {
        let new = NewAppGroup {
            name: app.into(),
            app_type: "enhanced".into(),
            description: String::new(),
            extra: Map::new(),
        };
        store.create_app_group(new, 0).await.unwrap();
    }
    for (function, name, model_type, description) in [
        (
            Function::Pop,
            "popular",
            "pop",
            "<script>alert('x')</script>",
        ),
        (Function::Hot, "slow", "offline_inference", ""),
    ] {
        let new = NewInstance {
            function,
            name: name.into(),
            model_type: model_type.into(),
            function_type: "PAAS".into(),
            description: description.into(),
            cron: String::new(),
            version_id: 201,
            create_parameters: vec![],
            usage_parameters: vec![],
            resource_refs: vec![],
            next_fire_ms: None,
        };
        store.create_instance("shop", new, 0).await.unwrap();
    }
    Dashboard {
        app,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    cookie: Option<String>,
    body: String,
}

impl Dashboard {
    async fn get(&self, path: &str, cookie: Option<&str>) -> Page {
        let mut request = self.http.get(format!("{}{path}", self.app.base));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        page(request.send().await.unwrap()).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = self
            .http
            .post(format!("{}{path}", self.app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        page(request.send().await.unwrap()).await
    }

    /// Logs in; answers the session cookie and the page's form token.
    async fn login(&self, (id, secret): (&str, &str)) -> (String, String) {
        let answer = self
            .post(
                "/ui/login",
                None,
                &[("key_id", id), ("secret", secret), ("next", "/ui")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let cookie = answer.cookie.expect("a session cookie");
        let home = self.get("/ui", Some(&cookie)).await;
        (cookie, csrf(&home.body))
    }
}

async fn page(response: reqwest::Response) -> Page {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header(LOCATION);
    let cookie = header(SET_COOKIE).map(|c| c.split(';').next().unwrap_or("").to_string());
    Page {
        status: response.status(),
        location,
        cookie,
        body: response.text().await.unwrap(),
    }
}

fn csrf(body: &str) -> String {
    let at = body.find(r#"name="csrf" value=""#).expect("a form token") + 19;
    body[at..at + 64].to_string()
}

const POPULAR: &str = "/ui/apps/shop/functions/pop/instances/popular";
const SLOW: &str = "/ui/apps/shop/functions/hot/instances/slow";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_need_a_login_with_a_valid_key_and_secret() {
    let d = start().await;
    let anonymous = d.get(POPULAR, None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.location.as_deref(),
        Some("/ui/login?next=%2Fui%2Fapps%2Fshop%2Ffunctions%2Fpop%2Finstances%2Fpopular")
    );
    let live = d.get(&format!("{POPULAR}/live"), None).await;
    assert_eq!(live.status, StatusCode::SEE_OTHER);
    let form = d.get("/ui/login?next=/ui/apps/shop", None).await;
    assert!(form.body.contains(r#"name="next" value="/ui/apps/shop""#));

    for (id, secret) in [
        (ADMIN.0, "wrong"),
        ("nobody", ADMIN.1),
        (ADMIN.0, &ADMIN.1[..ADMIN.1.len() - 1]),
    ] {
        let refused = d
            .post("/ui/login", None, &[("key_id", id), ("secret", secret)])
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{id}");
        assert!(
            refused
                .body
                .contains("Unknown or revoked access key, or a wrong secret.")
        );
        assert!(refused.cookie.is_none());
    }
    let empty = d.post("/ui/login", None, &[("key_id", ADMIN.0)]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);

    // The login sends people back where they were going, but never outside the dashboard.
    let in_dashboard = d
        .post(
            "/ui/login",
            None,
            &[
                ("key_id", ADMIN.0),
                ("secret", ADMIN.1),
                ("next", "/ui/apps/shop"),
            ],
        )
        .await;
    assert_eq!(in_dashboard.location.as_deref(), Some("/ui/apps/shop"));
    let elsewhere = d
        .post(
            "/ui/login",
            None,
            &[
                ("key_id", ADMIN.0),
                ("secret", ADMIN.1),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(elsewhere.location.as_deref(), Some("/ui"));

    let (cookie, token) = d.login(ADMIN).await;
    let apps = d.get("/ui", Some(&cookie)).await;
    assert_eq!(apps.status, StatusCode::OK);
    assert!(apps.body.contains(r#"<a href="/ui/apps/shop">shop</a>"#));
    assert!(apps.body.contains(r#"<a href="/ui/apps/other">other</a>"#));
    let forged = d.get("/ui", Some("algocenter_session=0123")).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);

    let out = d
        .post("/ui/logout", Some(&cookie), &[("csrf", &token)])
        .await;
    assert_eq!(out.location.as_deref(), Some("/ui/login"));
    assert_eq!(
        d.get("/ui", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_key_sees_its_app_groups_only_and_has_no_buttons() {
    let d = start().await;
    let (cookie, token) = d.login(READER).await;
    let apps = d.get("/ui", Some(&cookie)).await;
    assert!(apps.body.contains("/ui/apps/shop") && !apps.body.contains("/ui/apps/other"));
    assert_eq!(
        d.get("/ui/apps/other", Some(&cookie)).await.status,
        StatusCode::FORBIDDEN
    );
    let instance = d.get(POPULAR, Some(&cookie)).await;
    assert_eq!(instance.status, StatusCode::OK);
    assert!(!instance.body.contains("Start training"));
    let refused = d
        .post(
            &format!("{POPULAR}/start"),
            Some(&cookie),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("Forbidden.RAM"));
    let (tasks, _) = d
        .app
        .store()
        .list_tasks(
            "shop",
            Function::Pop,
            "popular",
            Default::default(),
            first_page(),
        )
        .await
        .unwrap();
    assert!(tasks.is_empty());

    // A revoked key's session ends at its next page.
    d.app.services().revoke_key(READER.0).await.unwrap();
    let after = d.get("/ui", Some(&cookie)).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

fn first_page() -> algocenter_domain::paging::Page {
    algocenter_domain::paging::Page {
        number: 1,
        size: 50,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_start_cancel_pin_and_unpin_through_the_engine() {
    let d = start().await;
    let (cookie, token) = d.login(ADMIN).await;
    let c = Some(cookie.as_str());

    // Without the form token (another site's form), nothing happens.
    let forged = d.post(&format!("{POPULAR}/start"), c, &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = d
        .post(
            &format!("{POPULAR}/start"),
            c,
            &[("csrf", "0".repeat(64).as_str())],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    for generation in 1..=2 {
        let started = d
            .post(&format!("{POPULAR}/start"), c, &[("csrf", &token)])
            .await;
        assert_eq!(started.status, StatusCode::SEE_OTHER);
        assert_eq!(
            started.location.unwrap(),
            format!("{POPULAR}?notice=Generation+{generation}+queued.")
        );
        let live = wait_live(
            &d,
            POPULAR,
            c,
            &format!(r#"data-generation="{generation}" data-status="success""#),
        )
        .await;
        assert!(live.contains(&format!(
            r#"<progress max="100" value="100" data-generation="{generation}">"#
        )));
        assert!(
            live.contains(&format!(
                r#"data-metric="spearman" data-points="{generation}""#
            )),
            "the chart gains a point per generation: {live}"
        );
    }
    let page = d
        .get(&format!("{POPULAR}?notice=Generation+2+queued."), c)
        .await;
    assert!(
        page.body
            .contains(r#"<p class="notice" role="status">Generation 2 queued.</p>"#)
    );
    // Escaped, never markup.
    assert!(
        page.body
            .contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;")
            || page.body.contains("&lt;script&gt;")
    );
    assert!(!page.body.contains("<script>alert"));
    assert!(page.body.contains(r#"<b id="serving-generation">2</b>"#));

    let pinned = d
        .post(
            &format!("{POPULAR}/pin"),
            c,
            &[("csrf", &token), ("generation", "1")],
        )
        .await;
    assert!(
        pinned
            .location
            .unwrap()
            .contains("notice=Generation+1+pinned")
    );
    let instance = d
        .app
        .store()
        .instance("shop", Function::Pop, "popular")
        .await
        .unwrap();
    assert_eq!(
        (instance.serving_generation, instance.pinned_generation),
        (Some(1), Some(1))
    );
    let unpinned = d
        .post(&format!("{POPULAR}/unpin"), c, &[("csrf", &token)])
        .await;
    assert!(unpinned.location.unwrap().contains("notice=Unpinned"));
    let missing = d
        .post(
            &format!("{POPULAR}/pin"),
            c,
            &[("csrf", &token), ("generation", "9")],
        )
        .await;
    let to = missing.location.unwrap();
    assert!(to.contains("error=Task.NotExist"), "{to}");
    let shown = d.get(&to, c).await;
    assert!(
        shown
            .body
            .contains(r#"<p class="error" role="alert">Task.NotExist: "#)
    );

    // A long run, cancelled from its page while it runs; a second start meanwhile is refused with the reason.
    d.post(&format!("{SLOW}/start"), c, &[("csrf", &token)])
        .await;
    wait_live(&d, SLOW, c, r#"data-status="running""#).await;
    let again = d
        .post(&format!("{SLOW}/start"), c, &[("csrf", &token)])
        .await;
    let again = again.location.unwrap();
    assert!(again.contains("error=Task.IsRunning"), "{again}");
    let cancelled = d
        .post(&format!("{SLOW}/tasks/1/cancel"), c, &[("csrf", &token)])
        .await;
    assert!(
        cancelled
            .location
            .unwrap()
            .contains("notice=Generation+1+cancelled.")
    );
    let live = wait_live(&d, SLOW, c, r#"data-status="failed""#).await;
    assert!(
        live.contains(r#"<td class="errors">cancelled</td>"#),
        "{live}"
    );
    assert!(live.contains(r#"data-active="false""#));
    wait_until(
        "the running trainer to be told to stop",
        Duration::from_secs(10),
        || async { TRAINER_STOPPED.load(Ordering::SeqCst).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_page_lists_instances_and_the_api_page_every_endpoint() {
    let d = start().await;
    let (cookie, _) = d.login(ADMIN).await;
    let app = d.get("/ui/apps/shop", Some(&cookie)).await;
    assert_eq!(app.status, StatusCode::OK);
    assert!(
        app.body
            .contains(r#"<a href="/ui/apps/shop/functions/pop/instances/popular">popular</a>"#)
    );
    assert!(
        app.body
            .contains(r#"<a href="/ui/apps/shop/functions/hot/instances/slow">slow</a>"#)
    );
    assert!(app.body.contains("No behaviour in the window."));
    let missing = d.get("/ui/apps/nope", Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("App.NotFound"));
    let unknown_function = d
        .get("/ui/apps/shop/functions/nope/instances/x", Some(&cookie))
        .await;
    assert_eq!(unknown_function.status, StatusCode::NOT_FOUND);
    assert_eq!(
        d.get("/ui/no/such/page", Some(&cookie)).await.status,
        StatusCode::NOT_FOUND
    );
    let api = d.get("/ui/api", Some(&cookie)).await;
    for endpoint in algocenter_service::operations::ENDPOINTS {
        assert!(
            api.body
                .contains(&format!("<code>{}</code>", endpoint.path)),
            "{}",
            endpoint.path
        );
    }
}

/// The live fragment once it contains `needle` (at most 20 s).
async fn wait_live(d: &Dashboard, instance: &str, cookie: Option<&str>, needle: &str) -> String {
    let path = format!("{instance}/live");
    wait_until(
        format_args!("{path} to show {needle}"),
        Duration::from_secs(20),
        || async {
            let live = d.get(&path, cookie).await;
            assert_eq!(live.status, StatusCode::OK);
            live.body.contains(needle).then_some(live.body)
        },
    )
    .await
}
