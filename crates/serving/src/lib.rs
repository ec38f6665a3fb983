//! Serving: answers queries from the serving generation of an instance.
//!
//! Each request looks up the instance (one indexed read) to learn its serving generation; the artifact of that
//! generation is loaded and decoded once, then shared. When a new generation starts serving, the next request
//! loads it and replaces the cached model in one step: requests already holding the old model finish with it,
//! none sees a half-loaded one (DESIGN invariant 5).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use algocenter_domain::instance::Instance;
use algocenter_domain::{Error, Function, Result};
use algocenter_functions::pop::PopModel;
use algocenter_store::{ArtifactKey, ArtifactStore, Store};

/// A loaded model with the generation it came from.
struct Loaded<M> {
    generation: i64,
    model: Arc<M>,
}

pub struct Serving {
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactStore>,
    pop: RwLock<HashMap<i64, Loaded<PopModel>>>,
}

impl Serving {
    pub fn new(store: Arc<dyn Store>, artifacts: Arc<dyn ArtifactStore>) -> Self {
        Serving {
            store,
            artifacts,
            pop: RwLock::new(HashMap::new()),
        }
    }

    /// The instance a request names, or the function's default instance when it names none.
    pub async fn resolve(
        &self,
        app: &str,
        function: Function,
        instance: Option<&str>,
    ) -> Result<Instance> {
        let name = match instance {
            Some(name) => name.to_string(),
            None => self.store.default_instance(app, function).await?,
        };
        self.store.instance(app, function, &name).await
    }

    /// The serving pop model of an instance (loading it when its generation changed).
    pub async fn pop(&self, instance: &Instance) -> Result<(i64, Arc<PopModel>)> {
        let generation = instance
            .serving_generation
            .ok_or_else(|| Error::InstanceUnavailable(instance.name.clone()))?;
        if let Some(loaded) = self
            .pop
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&instance.id)
            && loaded.generation == generation
        {
            return Ok((generation, Arc::clone(&loaded.model)));
        }
        let bytes = self
            .artifacts
            .get(&ArtifactKey::new(instance.id, generation))
            .await?;
        let model = tokio::task::spawn_blocking(move || PopModel::decode(&bytes))
            .await
            .map_err(|e| Error::internal(format_args!("loading the model failed: {e}")))??;
        let model = Arc::new(model);
        tracing::info!(instance = %instance.name, generation, items = model.len(), "loaded pop model");
        let mut cache = self.pop.write().unwrap_or_else(|p| p.into_inner());
        // Another request may have loaded a newer generation meanwhile: never go back.
        let keep_newer = cache
            .get(&instance.id)
            .is_some_and(|l| l.generation > generation);
        if !keep_newer {
            cache.insert(
                instance.id,
                Loaded {
                    generation,
                    model: Arc::clone(&model),
                },
            );
        }
        Ok((generation, model))
    }
}
