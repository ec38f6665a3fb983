//! Who is asking: the session of a request and what its key may do now (or the way to the login form).

use algocenter_domain::Error;
use algocenter_domain::access_key::Scope;
use algocenter_service::access::Principal;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use crate::Dashboard;
use crate::render::{error_page, redirect};
use crate::session::Session;
use crate::views::Nav;

/// A logged-in person: the session and what the key may do now.
pub(crate) struct Viewer {
    pub session: Session,
    pub principal: Principal,
}

impl Viewer {
    pub fn nav(&self) -> Nav {
        Nav {
            who: Some(
                self.principal
                    .key_id
                    .clone()
                    .unwrap_or_else(|| "request checking off".into()),
            ),
            csrf: self.session.csrf.clone(),
        }
    }

    pub fn can_write(&self) -> bool {
        self.principal.scope >= Scope::Write
    }

    /// The app group is among the key's (or `Forbidden`).
    pub fn may_see(&self, app: &str) -> Result<(), Error> {
        if self.principal.allows_app(app) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "access key {} may not act on app group '{app}'.",
                self.principal.key_id.as_deref().unwrap_or("-")
            )))
        }
    }

    pub fn error(&self, e: Error) -> Response {
        error_page(Some(self.nav()), e)
    }
}

/// The viewer of a request, or a redirect to the login form (back to `uri` afterwards).
pub(crate) async fn viewer(
    d: &Dashboard,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Viewer, Response> {
    let login = || {
        // After logging in, a refresh of the live fragment returns to its page.
        let next = match uri.path().strip_suffix("/live") {
            Some(page) => page,
            None => uri.path_and_query().map_or("/ui", |p| p.as_str()),
        };
        redirect(&format!(
            "/ui/login?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ))
    };
    let (token, session) = match d.sessions.of(headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(login()),
        Err(e) => return Err(error_page(None, e)),
    };
    match d.services.keys().current(session.key_id.as_deref()).await {
        Ok(principal) => Ok(Viewer { session, principal }),
        Err(Error::InvalidAccessKeyId) => {
            // Revoked since the login.
            if let Err(e) = d.sessions.end(&token).await {
                return Err(error_page(None, e));
            }
            Err(login())
        }
        Err(e) => Err(error_page(None, e)),
    }
}
