//! Login sessions: a random token in an `HttpOnly`, `SameSite=Strict` cookie, mapped in memory to the access key
//! that logged in and the token its forms must carry (CSRF). A restart logs everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use algocenter_domain::Error;
use axum::http::HeaderMap;
use axum::http::header::COOKIE;

pub const COOKIE_NAME: &str = "algocenter_session";
/// A session ends this long after its login.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Sessions held at most; logins beyond it are refused until some expire or log out.
const CAPACITY: usize = 10_000;

#[derive(Clone, Debug)]
pub struct Session {
    /// `None` when request checking is off (`--insecure-no-auth`).
    pub key_id: Option<String>,
    /// Every form of the session carries it; a POST without it is refused.
    pub csrf: String,
    expires: Instant,
}

#[derive(Default)]
pub struct Sessions {
    by_token: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session; answers its token (the cookie's value).
    pub fn create(&self, key_id: Option<String>) -> Result<(String, Session), Error> {
        let token = random_token()?;
        let session = Session {
            key_id,
            csrf: random_token()?,
            expires: Instant::now() + LIFETIME,
        };
        let mut sessions = self.by_token.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= CAPACITY {
            let now = Instant::now();
            sessions.retain(|_, s| s.expires > now);
            if sessions.len() >= CAPACITY {
                return Err(Error::Throttled {
                    retry_after_ms: 60_000,
                });
            }
        }
        sessions.insert(token.clone(), session.clone());
        Ok((token, session))
    }

    /// The live session of a request's cookie.
    pub fn of(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let token = token(headers)?;
        let mut sessions = self.by_token.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(&token) {
            Some(s) if s.expires > Instant::now() => Some((token, s.clone())),
            Some(_) => {
                sessions.remove(&token);
                None
            }
            None => None,
        }
    }

    pub fn end(&self, token: &str) {
        self.by_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }
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

/// `Set-Cookie` starting a session (or, with `None`, ending it).
pub fn set_cookie(token: Option<&str>) -> String {
    match token {
        Some(token) => format!(
            "{COOKIE_NAME}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
            LIFETIME.as_secs()
        ),
        None => format!("{COOKIE_NAME}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_sessions_end() {
        let sessions = Sessions::default();
        let (token, session) = sessions.create(Some("AK1".into())).unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(session.csrf, token);
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            format!("theme=dark; {COOKIE_NAME}={token}; x=1")
                .parse()
                .unwrap(),
        );
        let (found, found_session) = sessions.of(&headers).unwrap();
        assert_eq!(
            (found.as_str(), found_session.key_id.as_deref()),
            (token.as_str(), Some("AK1"))
        );
        sessions.end(&token);
        assert!(sessions.of(&headers).is_none());
        let mut forged = HeaderMap::new();
        forged.insert(COOKIE, format!("{COOKIE_NAME}=00").parse().unwrap());
        assert!(sessions.of(&forged).is_none());
    }
}
