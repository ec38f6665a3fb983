//! Who may do what: the access keys as both faces check them (the API against a request's signature, the
//! dashboard against a secret typed into its login form) and the [`Principal`] a checked key acts as.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use algocenter_auth::sealing::MasterKey;
use algocenter_domain::Error;
use algocenter_domain::access_key::{AccessKey, Scope};
use algocenter_store::Store;

/// How long a looked-up key (or its absence) is trusted before the store is asked again. Revocations made through
/// this server take effect at once; made through another node, within this time.
const KEY_CACHE_TTL: Duration = Duration::from_secs(10);
/// Keys remembered at most (unknown ids included, so that random ids cannot grow the cache without bound).
const KEY_CACHE_CAPACITY: usize = 10_000;

/// Who made a request, for handlers that narrow their answer (ListAppGroups) and for audit lines.
#[derive(Clone, Debug)]
pub struct Principal {
    /// `None` when checking is off (`--insecure-no-auth`).
    pub key_id: Option<String>,
    pub scope: Scope,
    /// App groups the key may act on; empty means all.
    pub apps: Vec<String>,
}

impl Principal {
    /// Everyone, when request checking is off: an admin of every app group.
    pub fn unchecked() -> Self {
        Principal {
            key_id: None,
            scope: Scope::Admin,
            apps: Vec::new(),
        }
    }

    pub fn of(key: &AccessKey) -> Self {
        Principal {
            key_id: Some(key.id.clone()),
            scope: key.scope,
            apps: key.apps.clone(),
        }
    }

    pub fn allows_app(&self, app: &str) -> bool {
        self.apps.is_empty() || self.apps.iter().any(|a| a == app)
    }
}

/// An access key that is not revoked, with its opened secret (to verify a signature or a typed secret with).
pub struct ActiveKey {
    pub key: AccessKey,
    pub secret: Vec<u8>,
}

/// A key looked up at some instant; `None` remembers that the id is unknown or revoked.
type CachedKey = (Instant, Option<Arc<ActiveKey>>);

struct Sealed {
    master: MasterKey,
    cache: RwLock<HashMap<String, CachedKey>>,
}

/// The access keys of the store, opened with the master key and remembered for a while; or no checking at all
/// (`--insecure-no-auth`).
pub struct KeyRing {
    store: Arc<dyn Store>,
    sealed: Option<Sealed>,
}

impl KeyRing {
    /// Keys of `store` whose secrets are sealed with `master`; `None` turns request checking off.
    pub fn new(store: Arc<dyn Store>, master: Option<MasterKey>) -> Self {
        KeyRing {
            store,
            sealed: master.map(|master| Sealed {
                master,
                cache: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Requests are checked (off only with `--insecure-no-auth`).
    pub fn checks_requests(&self) -> bool {
        self.sealed.is_some()
    }

    /// The master key sealing stored secrets (`None` when checking is off).
    pub fn master(&self) -> Option<&MasterKey> {
        self.sealed.as_ref().map(|s| &s.master)
    }

    /// A key that is not revoked, or `InvalidAccessKeyId` (also when checking is off: there are no keys then).
    pub async fn active(&self, id: &str) -> Result<Arc<ActiveKey>, Error> {
        let Some(sealed) = &self.sealed else {
            return Err(Error::InvalidAccessKeyId);
        };
        if let Some((at, cached)) = sealed
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return cached.clone().ok_or(Error::InvalidAccessKeyId);
        }
        let loaded = match self.store.key(id).await? {
            Some((key, sealed_secret)) if key.revoked_ms.is_none() => {
                let secret = sealed.master.open(&key.id, &sealed_secret).map_err(|e| {
                    Error::internal(format_args!(
                        "access key {id} cannot be opened: {e} (wrong master key?)"
                    ))
                })?;
                Some(Arc::new(ActiveKey {
                    key,
                    secret: secret.into_bytes(),
                }))
            }
            _ => None,
        };
        let mut cache = sealed.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= KEY_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(id.to_string(), (Instant::now(), loaded.clone()));
        loaded.ok_or(Error::InvalidAccessKeyId)
    }

    /// The dashboard's login: a key id and its secret typed into a form (no request signature). Answers who the
    /// key is; `InvalidAccessKeyId` for an unknown or revoked key or a wrong secret alike, so that the form does
    /// not tell which key ids exist. With checking off, everyone is an admin.
    pub async fn login(&self, key_id: &str, secret: &str) -> Result<Principal, Error> {
        if !self.checks_requests() {
            return Ok(Principal::unchecked());
        }
        let active = match self.active(key_id).await {
            Ok(active) => active,
            Err(err) => {
                // The same comparison work as for a known key, so that timing says less about which ids exist.
                algocenter_auth::secret_matches(secret, b"no such key");
                return Err(err);
            }
        };
        if !algocenter_auth::secret_matches(secret, &active.secret) {
            return Err(Error::InvalidAccessKeyId);
        }
        Ok(Principal::of(&active.key))
    }

    /// Who a logged-in key is now (it may have been revoked since the login: then an error, within the key
    /// cache's lifetime).
    pub async fn current(&self, key_id: Option<&str>) -> Result<Principal, Error> {
        match (self.checks_requests(), key_id) {
            (false, _) => Ok(Principal::unchecked()),
            (true, Some(id)) => Ok(Principal::of(&self.active(id).await?.key)),
            (true, None) => Err(Error::InvalidAccessKeyId),
        }
    }

    /// Drops a key from the cache (after a revocation).
    pub fn forget(&self, id: &str) {
        if let Some(sealed) = &self.sealed {
            sealed
                .cache
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
        }
    }
}
