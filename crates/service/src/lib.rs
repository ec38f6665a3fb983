//! The application services of algocenter: what both of its faces, the API (`algocenter-api`) and the dashboard
//! (`algocenter-dashboard`), act through, so that neither reaches into the other.
//!
//! [`Services`] holds the handles (the store, the task engine, serving, the access keys) and the few operations
//! that change several of them together: deleting an instance also drops its loaded model and releases its
//! artifacts, changing what serves makes serving read the instance again, revoking a key forgets it at once.
//! A face calls these rather than the store directly for such changes, so none can leave a cache stale.
//! [`operations`] is the table of every API operation (route, action, scope) the API routes and checks by and
//! the dashboard renders as the API reference; [`access`] checks keys and says who a request acts as.

pub mod access;
pub mod operations;

use std::sync::Arc;

use algocenter_auth::sealing::MasterKey;
use algocenter_domain::access_key::AccessKey;
use algocenter_domain::instance::InstanceUpdate;
use algocenter_domain::query_rule::{QueryAnalysisRule, RuleSpec, validate_rule_name};
use algocenter_domain::{Function, Result, now_ms};
use algocenter_engine::Engine;
use algocenter_serving::Serving;
use algocenter_store::Store;
use algocenter_store::access_state::AccessState;

use crate::access::KeyRing;

pub struct Services {
    engine: Arc<Engine>,
    serving: Serving,
    keys: KeyRing,
    shared_access: Option<Arc<dyn AccessState>>,
}

impl Services {
    /// The services over a (started or not) engine: serving reads the engine's store and artifacts and follows its
    /// serving changes; access keys are opened with `master` (`None`: request checking is off). `shared_access` is
    /// where API nodes sharing a database remember nonces, rate buckets and dashboard sessions together (`None`:
    /// each in its own memory, for the embedded store's single process).
    pub fn new(
        engine: Arc<Engine>,
        master: Option<MasterKey>,
        shared_access: Option<Arc<dyn AccessState>>,
    ) -> Self {
        let serving = Serving::new(
            Arc::clone(engine.store()),
            Arc::clone(engine.artifacts()),
            engine.serving_epoch(),
        );
        let keys = KeyRing::new(Arc::clone(engine.store()), master);
        Services {
            engine,
            serving,
            keys,
            shared_access,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.engine.store()
    }

    /// Tasks: create, cancel, pin (see [`Engine`]).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Prediction, one entry per function.
    pub fn serving(&self) -> &Serving {
        &self.serving
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// What the API nodes of a shared database remember together (nonces, rate buckets, dashboard sessions);
    /// `None` on the embedded store, where this process's memory holds them.
    pub fn shared_access(&self) -> Option<&Arc<dyn AccessState>> {
        self.shared_access.as_ref()
    }

    /// Behaviour events older than this many days are refused on push (and deleted by the engine's retention).
    pub fn event_retention_days(&self) -> u32 {
        self.engine.config().event_retention_days
    }

    /// UpdateFunctionInstance: serving reads the instance again (its usage parameters may have changed).
    pub async fn update_instance(
        &self,
        app: &str,
        function: Function,
        name: &str,
        update: InstanceUpdate,
    ) -> Result<()> {
        self.store()
            .update_instance(app, function, name, update, now_ms())
            .await?;
        self.serving.invalidate();
        Ok(())
    }

    /// DeleteFunctionInstance: its loaded model is dropped and its artifacts removed.
    pub async fn delete_instance(&self, app: &str, function: Function, name: &str) -> Result<()> {
        let id = self.store().instance(app, function, name).await?.id;
        let released = self.store().delete_instance(app, function, name).await?;
        self.serving.forget_instance(id);
        self.engine.release_artifacts(released);
        Ok(())
    }

    /// UpdateFunctionDefaultInstance: sets, replaces or (with `None`) clears it.
    pub async fn set_default_instance(
        &self,
        app: &str,
        function: Function,
        instance: Option<String>,
    ) -> Result<()> {
        self.store()
            .set_default_instance(app, function, instance)
            .await?;
        self.serving.invalidate();
        Ok(())
    }

    /// DeleteFunctionTask: serving falls back to the generation before when it was the serving one.
    pub async fn delete_task(
        &self,
        app: &str,
        function: Function,
        instance: &str,
        generation: &str,
    ) -> Result<()> {
        let released = self
            .store()
            .delete_task(app, function, instance, generation)
            .await?;
        self.serving.invalidate();
        self.engine
            .release_artifacts(released.into_iter().collect());
        Ok(())
    }

    /// RemoveAppGroup: everything in it, loaded models and artifacts included.
    pub async fn remove_app_group(&self, app: &str) -> Result<()> {
        let released = self.store().delete_app_group(app).await?;
        self.serving.forget_all();
        self.engine.release_artifacts(released);
        Ok(())
    }

    /// PUT query-analysis rule: every instance it names must exist as an instance of its stage's function; query
    /// analysis reads the rule again at once.
    pub async fn put_rule(
        &self,
        app: &str,
        name: &str,
        spec: RuleSpec,
    ) -> Result<QueryAnalysisRule> {
        validate_rule_name(name)?;
        for (function, instance) in [
            (Function::Analyzer, &spec.analyzer),
            (Function::Termweight, &spec.termweight),
            (Function::Category, &spec.category),
        ] {
            if let Some(instance) = instance {
                self.store().instance(app, function, instance).await?;
            }
        }
        let rule = self.store().put_rule(app, name, spec, now_ms()).await?;
        self.serving.invalidate();
        Ok(rule)
    }

    /// DELETE query-analysis rule.
    pub async fn delete_rule(&self, app: &str, name: &str) -> Result<()> {
        self.store().delete_rule(app, name).await?;
        self.serving.invalidate();
        Ok(())
    }

    /// RevokeAccessKey: refused from now on by this process (by others within their key cache's lifetime).
    pub async fn revoke_key(&self, id: &str) -> Result<AccessKey> {
        let revoked = self.store().revoke_key(id, now_ms()).await?;
        self.keys.forget(id);
        Ok(revoked)
    }
}

/// A new request id: the `RequestId` of API answers, and `x-acs-request-id` of both faces.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
}
