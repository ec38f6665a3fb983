//! Login sessions: a random token in an `HttpOnly`, `SameSite=Strict` cookie, mapped to the access key that logged
//! in; the token its forms must carry (CSRF) is derived from it. Kept in this process's memory on the embedded store
//! (a restart logs everyone out), and in the shared database when API nodes share one, by a hash of the token (the
//! cookie's value is never stored), so that any node serves any session.
//!
//! Failed logins are counted per node: behind N nodes a key id gets N times [`MAX_FAILURES`] tries per window,
//! which against a 30-character random secret changes nothing that matters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use algocenter_domain::{Error, now_ms};
use algocenter_store::access_state::{AccessState, SessionLimits, StoredSession};
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "algocenter_session";
/// A session ends this long after its login.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Sessions held at most; logins beyond it are refused until some expire or log out.
const CAPACITY: usize = 10_000;
/// Sessions of one access key at most: a new login ends that key's oldest session, so that one key cannot fill
/// the table and lock everybody else out.
const PER_KEY: usize = 16;
/// Failed logins per key id in [`FAILURE_WINDOW`] before further attempts for it are refused until the window ends.
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Key ids whose failures are remembered at most (random ids cannot grow the table without bound).
const FAILURE_CAPACITY: usize = 10_000;

#[derive(Clone, Debug)]
pub struct Session {
    /// `None` when request checking is off (`--insecure-no-auth`).
    pub key_id: Option<String>,
    /// Every form of the session carries it; a POST without it is refused.
    pub csrf: String,
}

/// A session in this process's memory.
struct LocalSession {
    key_id: Option<String>,
    expires: Instant,
}

#[derive(Default)]
pub struct Sessions {
    /// The shared database's sessions, when there is one; otherwise `local`.
    shared: Option<Arc<dyn AccessState>>,
    local: Mutex<HashMap<String, LocalSession>>,
    /// Failed logins by key id: count and when the window started.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Sessions {
    /// Sessions in `shared` (the database API nodes share), or in memory with `None`.
    pub fn new(shared: Option<Arc<dyn AccessState>>) -> Self {
        Sessions {
            shared,
            ..Default::default()
        }
    }

    /// Starts a session; answers its token (the cookie's value).
    pub async fn create(&self, key_id: Option<String>) -> Result<(String, Session), Error> {
        let token = random_token()?;
        let session = Session {
            key_id: key_id.clone(),
            csrf: form_token(&token),
        };
        if let Some(shared) = &self.shared {
            let now = now_ms();
            let stored = StoredSession {
                token_hash: token_hash(&token),
                key_id,
                created_ms: now,
                expires_ms: now + LIFETIME.as_millis() as i64,
            };
            let limits = SessionLimits {
                per_key: PER_KEY,
                capacity: CAPACITY,
            };
            shared.create_session(stored, limits, now).await?;
            return Ok((token, session));
        }
        let mut sessions = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let mut same_key: Vec<(Instant, String)> = sessions
            .iter()
            .filter(|(_, s)| s.key_id == key_id)
            .map(|(token, s)| (s.expires, token.clone()))
            .collect();
        if same_key.len() >= PER_KEY {
            same_key.sort();
            for (_, token) in &same_key[..=same_key.len() - PER_KEY] {
                sessions.remove(token);
            }
        }
        if sessions.len() >= CAPACITY {
            let now = Instant::now();
            sessions.retain(|_, s| s.expires > now);
            if sessions.len() >= CAPACITY {
                return Err(Error::Throttled {
                    retry_after_ms: 60_000,
                });
            }
        }
        let local = LocalSession {
            key_id,
            expires: Instant::now() + LIFETIME,
        };
        sessions.insert(token.clone(), local);
        Ok((token, session))
    }

    /// The live session of a request's cookie (an error when the shared database cannot say).
    pub async fn of(&self, headers: &HeaderMap) -> Result<Option<(String, Session)>, Error> {
        let Some(token) = token(headers) else {
            return Ok(None);
        };
        let key_id = if let Some(shared) = &self.shared {
            match shared.session(&token_hash(&token), now_ms()).await? {
                Some(stored) => stored.key_id,
                None => return Ok(None),
            }
        } else {
            let mut sessions = self.local.lock().unwrap_or_else(|p| p.into_inner());
            match sessions.get(&token) {
                Some(s) if s.expires > Instant::now() => s.key_id.clone(),
                Some(_) => {
                    sessions.remove(&token);
                    return Ok(None);
                }
                None => return Ok(None),
            }
        };
        let csrf = form_token(&token);
        Ok(Some((token, Session { key_id, csrf })))
    }

    /// Whether a login for `key_id` may be tried now (too many recent failures: no).
    pub fn may_try(&self, key_id: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(key_id) {
            Some((count, since)) => *count < MAX_FAILURES || since.elapsed() >= FAILURE_WINDOW,
            None => true,
        }
    }

    /// Counts a failed login for `key_id`.
    pub fn failed(&self, key_id: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= FAILURE_CAPACITY && !failures.contains_key(key_id) {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            if failures.len() >= FAILURE_CAPACITY {
                failures.clear();
            }
        }
        let entry = failures
            .entry(key_id.to_string())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub async fn end(&self, token: &str) -> Result<(), Error> {
        if let Some(shared) = &self.shared {
            return shared.end_session(&token_hash(token)).await;
        }
        self.local
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
        Ok(())
    }
}

/// What the shared database files a session by.
fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The session's form token: derived from the session token (so no node needs to store it), under a label of its
/// own so that it is never the cookie's value nor its stored hash.
fn form_token(token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"algocenter dashboard form token\0");
    digest.update(token.as_bytes());
    hex::encode(digest.finalize())
}

fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::internal(format_args!("no randomness for a session: {e}")))?;
    Ok(hex::encode(bytes))
}

/// The session cookie's value among the request's cookies.
fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

/// `Set-Cookie` starting a session (or, with `None`, ending it); `secure` when the server speaks HTTPS, so that the
/// browser never sends the cookie over plain HTTP.
pub fn set_cookie(token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(token) => format!(
            "{COOKIE_NAME}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            LIFETIME.as_secs()
        ),
        None => format!("{COOKIE_NAME}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Whether a form's token is the session's, compared in constant time.
pub fn token_matches(given: Option<&String>, session: &Session) -> bool {
    given.is_some_and(|given| algocenter_auth::secret_matches(given, session.csrf.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cookie_is_found_among_others_and_sessions_end() {
        let sessions = Sessions::default();
        let (token, session) = sessions.create(Some("AK1".into())).await.unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(session.csrf, token);
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            format!("theme=dark; {COOKIE_NAME}={token}; x=1")
                .parse()
                .unwrap(),
        );
        let (found, found_session) = sessions.of(&headers).await.unwrap().unwrap();
        assert_eq!(
            (found.as_str(), found_session.key_id.as_deref()),
            (token.as_str(), Some("AK1"))
        );
        assert_eq!(
            found_session.csrf, session.csrf,
            "the form token follows the session"
        );
        sessions.end(&token).await.unwrap();
        assert!(sessions.of(&headers).await.unwrap().is_none());
        for _ in 0..PER_KEY {
            sessions.create(Some("AK1".into())).await.unwrap();
        }
        let (newest, _) = sessions.create(Some("AK1".into())).await.unwrap();
        let held = sessions
            .local
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.key_id.as_deref() == Some("AK1"))
            .count();
        assert_eq!(held, PER_KEY, "one key holds at most {PER_KEY} sessions");
        assert!(sessions.local.lock().unwrap().contains_key(&newest));
        let mut forged = HeaderMap::new();
        forged.insert(COOKIE, format!("{COOKIE_NAME}=00").parse().unwrap());
        assert!(sessions.of(&forged).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn cookies_are_secure_over_https_and_form_tokens_must_match() {
        assert!(set_cookie(Some("t"), true).ends_with("; Secure"));
        assert!(!set_cookie(Some("t"), false).contains("Secure"));
        assert!(set_cookie(None, true).contains("Max-Age=0; Secure"));
        let (token, session) = Sessions::default().create(None).await.unwrap();
        assert_ne!(session.csrf, token);
        assert_ne!(session.csrf, hex::encode(token_hash(&token)));
        assert!(token_matches(Some(&session.csrf.clone()), &session));
        assert!(!token_matches(Some(&"0".repeat(64)), &session));
        assert!(!token_matches(None, &session));
    }

    #[test]
    fn repeated_failed_logins_of_a_key_id_are_held_off() {
        let sessions = Sessions::default();
        for _ in 0..MAX_FAILURES {
            assert!(sessions.may_try("AK1"));
            sessions.failed("AK1");
        }
        assert!(!sessions.may_try("AK1"));
        assert!(sessions.may_try("AK2"), "other keys are not affected");
    }
}
