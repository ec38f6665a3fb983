//! Request checking at start-up: the master key, and a first admin key on a store that has none.

use algocenter_api::gate::GateConfig;
use algocenter_auth::sealing::{MasterKey, generate_key};
use algocenter_domain::access_key::{AccessKey, Scope, validate_key_id, validate_secret};
use algocenter_store::Store;

use crate::config::{Access, MasterKeySource};

/// The master key sealing access keys (creating the first admin key when the store has none) and the gate's
/// settings; no master key when requests are not checked.
pub(crate) async fn checking(
    access: Access,
    store: &dyn Store,
    listen: std::net::SocketAddr,
) -> Result<(Option<MasterKey>, GateConfig), String> {
    let (source, bootstrap, gate) = match access {
        Access::Unchecked => {
            tracing::warn!(
                "REQUEST CHECKING IS OFF (--insecure-no-auth): anyone who can reach {listen} can do anything; \
                 never use this outside local experiments"
            );
            return Ok((None, GateConfig::default()));
        }
        Access::Checked {
            master,
            bootstrap_key,
            gate,
        } => (master, bootstrap_key, gate),
    };
    let master = match source {
        MasterKeySource::Given(key) => key,
        MasterKeySource::File(path) => {
            MasterKey::load_or_create(&path).map_err(|e| e.to_string())?
        }
    };
    if !store.has_keys().await.map_err(|e| e.to_string())? {
        bootstrap_admin_key(store, &master, bootstrap.as_ref()).await?;
    }
    Ok((Some(master), gate))
}

/// The first admin key of a fresh store: the given one (automation, tests), otherwise a new one printed once on
/// standard output.
async fn bootstrap_admin_key(
    store: &dyn Store,
    master: &MasterKey,
    given: Option<&(String, String)>,
) -> Result<(), String> {
    let (id, secret, printed) = match given {
        Some((id, secret)) => {
            validate_key_id(id).map_err(|e| format!("ALGOCENTER_BOOTSTRAP_KEY: {e}"))?;
            validate_secret(secret).map_err(|e| format!("ALGOCENTER_BOOTSTRAP_KEY: {e}"))?;
            if secret.len() < 16 {
                tracing::warn!(
                    "the bootstrap key's secret is shorter than 16 characters: use it for tests only"
                );
            }
            (id.clone(), secret.clone(), false)
        }
        None => {
            let (id, secret) = generate_key().map_err(|e| e.to_string())?;
            (id, secret, true)
        }
    };
    let sealed = master.seal(&id, &secret).map_err(|e| e.to_string())?;
    let key = AccessKey {
        id: id.clone(),
        scope: Scope::Admin,
        apps: Vec::new(),
        description: "first admin key".into(),
        created_ms: algocenter_domain::now_ms(),
        revoked_ms: None,
    };
    match store.create_key(key, sealed).await {
        Ok(()) => {}
        // Another process on the same shared database created it a moment ago.
        Err(algocenter_domain::Error::AccessKeyDuplicated(_)) if !printed => return Ok(()),
        Err(e) => return Err(e.to_string()),
    }
    if printed {
        println!("First start: created an admin access key for this data directory.");
        println!("  AccessKeyId:     {id}");
        println!("  AccessKeySecret: {secret}");
        println!(
            "Keep the secret now: it is not shown again. Create further keys with `algocenter key create`."
        );
    }
    tracing::info!(key_id = %id, "created the first admin access key");
    Ok(())
}
