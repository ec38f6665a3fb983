//! The shared plumbing of every serving entry: which instance answers (the instance cache), which generation
//! serves (the generation switch) and its decoded model (the model cache).
//!
//! Each request looks up the instance (an indexed read, remembered for [`INSTANCE_TTL`]) to learn its serving
//! generation; the artifact of that generation is loaded and decoded once, then shared. When a new generation
//! starts serving, the next request loads it and replaces the cached model in one step: requests already holding
//! the old model finish with it, none sees a half-loaded one (DESIGN invariant 5).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use algocenter_domain::catalogue::{EffectiveParameters, ParameterList, version_for_model_type};
use algocenter_domain::instance::{Instance, SERVING_CHANGE_IN_FLIGHT};
use algocenter_domain::{Error, Function, Result};
use algocenter_store::{ArtifactKey, ArtifactStore, Store};

use crate::model::{Kind, Model, wrong_kind};
use crate::{Served, Target};

/// A loaded model with the generation it came from.
struct Loaded {
    /// The instance's creation time: with its id, which instance this is.
    created_ms: i64,
    generation: i64,
    model: Model,
}

/// Prediction from the serving generations of instances: the shared plumbing here, one entry per function in the
/// function's module (`Serving::pop`, `Serving::query_list`, `Serving::suggest`, `Serving::categorise`,
/// `Serving::rerank`).
pub struct Serving {
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactStore>,
    /// By instance id.
    models: RwLock<HashMap<i64, Loaded>>,
    /// One loader at a time per instance: requests that miss the cache together wait for one decode instead of
    /// each decoding the same artifact (a 2.5 MB hint model took 8 concurrent decodes and 90 ms at p99).
    loading: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// Instances by (app group, function, name or `None` for the default), with when (time, epoch) they were read.
    instances: RwLock<HashMap<InstanceKey, (Instant, u64, Instance)>>,
    /// Moves when this process changes instances: remembered ones read before are stale.
    epoch: Arc<AtomicU64>,
    /// Query-analysis rules, remembered as instances are.
    rules: crate::query_analysis::RuleCache,
}

type InstanceKey = (String, Function, Option<String>);

/// How long serving trusts an instance it read (its serving generation, whether it is the default).
pub const INSTANCE_TTL: Duration = Duration::from_millis(250);
/// Instance lookups remembered at most (the cache starts over beyond).
const MAX_CACHED_INSTANCES: usize = 10_000;

impl Serving {
    /// Serving from `store` and `artifacts`; `epoch` moves when instances change (see [`Serving::invalidate`]).
    pub fn new(
        store: Arc<dyn Store>,
        artifacts: Arc<dyn ArtifactStore>,
        epoch: Arc<AtomicU64>,
    ) -> Self {
        Serving {
            store,
            artifacts,
            models: RwLock::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            instances: RwLock::new(HashMap::new()),
            epoch,
            rules: Default::default(),
        }
    }

    /// Where the instance (and rule) caches are: moves when this process changes either.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn rule_cache(&self) -> &crate::query_analysis::RuleCache {
        &self.rules
    }

    /// The instance a request names, or the function's default instance when it names none. Read from the
    /// store at most every [`INSTANCE_TTL`] per (app group, function, name), and again at once after this
    /// process changed instances ([`Serving::invalidate`], the engine's recorded generations): busy endpoints
    /// do not each cost a database read, and a change made by another process sharing the store is seen within
    /// the TTL.
    pub async fn resolve(
        &self,
        app: &str,
        function: Function,
        instance: Option<&str>,
    ) -> Result<Instance> {
        let key = (app.to_string(), function, instance.map(str::to_string));
        let epoch = self.epoch.load(Ordering::Acquire);
        // A change being committed: what was remembered may be stale, what is read now may be too.
        let settled = epoch < SERVING_CHANGE_IN_FLIGHT;
        if settled
            && let Some((read_at, read_epoch, found)) = self
                .instances
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
            && *read_epoch == epoch
            && read_at.elapsed() < INSTANCE_TTL
        {
            return Ok(found.clone());
        }
        let name = match instance {
            Some(name) => name.to_string(),
            None => self.store.default_instance(app, function).await?,
        };
        let found = self.store.instance(app, function, &name).await?;
        // Remembered only when nothing changed while it was read.
        if !settled || self.epoch.load(Ordering::Acquire) != epoch {
            return Ok(found);
        }
        let mut cache = self.instances.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_INSTANCES {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), epoch, found.clone()));
        Ok(found)
    }

    /// The store serving reads instances (and ctr's item attributes) from.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Forgets the instances read so far: the next request of each reads it again.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// The model loaded for an instance, with its generation. Instance ids can be reused after a delete, so
    /// the entry must also be of the same creation.
    fn cached(&self, instance: &Instance) -> Option<(i64, Model)> {
        self.models
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&instance.id)
            .filter(|loaded| loaded.created_ms == instance.created_ms)
            .map(|loaded| (loaded.generation, loaded.model.clone()))
    }

    /// Drops what serving holds of a deleted instance.
    pub fn forget_instance(&self, instance_id: i64) {
        self.models
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&instance_id);
        self.loading
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&instance_id);
        self.invalidate();
    }

    /// Drops every loaded model (an app group was deleted with its instances).
    pub fn forget_all(&self) {
        self.models
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.invalidate();
    }

    /// The serving model of an instance (loading it when its generation changed).
    pub async fn model(&self, instance: &Instance) -> Result<(i64, Model)> {
        let generation = instance
            .serving_generation
            .ok_or_else(|| Error::InstanceUnavailable(instance.name.clone()))?;
        let current = self.cached(instance);
        if let Some((loaded, model)) = &current
            && *loaded == generation
        {
            return Ok((generation, model.clone()));
        }
        let gate = Arc::clone(
            self.loading
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(instance.id)
                .or_default(),
        );
        let _loading = match gate.try_lock() {
            Ok(guard) => guard,
            // Another request is loading the new generation: answer from the one loaded until it is ready.
            Err(_) => match current {
                Some(current) => return Ok(current),
                None => gate.lock().await,
            },
        };
        // Loaded by the request this one waited for.
        if let Some((loaded, model)) = self.cached(instance)
            && loaded == generation
        {
            return Ok((generation, model));
        }
        let bytes = self
            .artifacts
            .get(&ArtifactKey::new(instance.id, generation))
            .await?;
        let function = instance.function;
        let model = tokio::task::spawn_blocking(move || Model::decode(function, &bytes))
            .await
            .map_err(|e| Error::internal(format_args!("loading the model failed: {e}")))??;
        tracing::info!(
            instance = %instance.name,
            function = %function,
            generation,
            entries = model.size(),
            "loaded model"
        );
        // The generation the instance names, older than the cached one too (its newest was deleted).
        self.models
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                instance.id,
                Loaded {
                    created_ms: instance.created_ms,
                    generation,
                    model: model.clone(),
                },
            );
        Ok((generation, model))
    }
}

/// The instance a request targets, its serving generation and that generation's typed model: what every entry
/// starts from.
pub(crate) struct Ready<M> {
    pub instance: Instance,
    pub generation: i64,
    pub model: Arc<M>,
}

impl<M> Ready<M> {
    /// The instance's usage parameters, catalogue defaults filled in.
    pub fn usage(&self) -> Result<EffectiveParameters> {
        let instance = &self.instance;
        let version = version_for_model_type(instance.function, &instance.model_type)?;
        Ok(version.effective(ParameterList::Usage, &instance.usage_parameters))
    }

    pub fn served(&self) -> Served {
        Served {
            instance: self.instance.name.clone(),
            generation: self.generation,
        }
    }
}

impl Serving {
    /// The instance `target` names (or the default instance of `function`), its serving generation and that
    /// generation's model as the kind `function` serves.
    pub(crate) async fn ready<M: Kind>(
        &self,
        target: Target<'_>,
        function: Function,
    ) -> Result<Ready<M>> {
        let instance = self.resolve(target.app, function, target.instance).await?;
        let (generation, model) = self.model(&instance).await?;
        let model = M::of(&model).ok_or_else(|| wrong_kind(&instance))?;
        Ok(Ready {
            instance,
            generation,
            model,
        })
    }
}
