//! The base64 HMAC-SHA1 signatures of the ROA and OpenSearch v3 schemes, and header access they share.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::AuthError;

/// HMAC-SHA1 of `message` (HMAC accepts keys of any length, so this only fails in theory).
fn mac(secret: &[u8], message: &str) -> Result<Hmac<Sha1>, AuthError> {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(secret).map_err(|_| AuthError::Mismatch)?;
    mac.update(message.as_bytes());
    Ok(mac)
}

/// Base64 signature of `message`; empty in the theoretical case where no MAC can be made.
pub(crate) fn sign(secret: &[u8], message: &str) -> String {
    mac(secret, message)
        .map(|m| STANDARD.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Constant-time check of a base64 signature.
pub(crate) fn verify(secret: &[u8], message: &str, signature: &str) -> Result<(), AuthError> {
    let provided = STANDARD
        .decode(signature)
        .map_err(|_| AuthError::Mismatch)?;
    mac(secret, message)?
        .verify_slice(&provided)
        .map_err(|_| AuthError::Mismatch)
}

/// Headers as borrowed pairs.
pub(crate) fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}
