//! Request authentication for algocenter: the three signature schemes clients use, replay protection and
//! per-key rate limits. Pure computation over a request's parts, independent of the HTTP stack.
//!
//! * **ACS3-HMAC-SHA256** (spec §6.1): the official SDKs' default.
//! * **ROA "v2"** (spec §6.2): `Authorization: acs AK:base64(HMAC-SHA1)`, the SDKs' legacy mode.
//! * **OpenSearch v3**: `Authorization: OPENSEARCH AK:base64(HMAC-SHA1)` of the data-plane clients, as computed by
//!   PyPI's `alibabacloud-opensearch-util`.
//!
//! The scheme is chosen by the `Authorization` prefix; every endpoint accepts all three.

mod acs3;
pub mod client;
mod encoding;
mod hmac_sha1;
mod opensearch;
pub mod replay;
mod roa;
pub mod sealing;
pub mod throttle;

use std::fmt;

pub use acs3::{secret_matches, sign as sign_acs3};
pub use opensearch::{content_md5, sign as sign_opensearch};
pub use roa::sign as sign_roa;

/// Why a request is not authenticated or not allowed. Messages say what is wrong in general terms only: which
/// part of a signature did not match is never revealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Missing or malformed `Authorization`, or a required header missing or unsigned.
    Incomplete(String),
    /// No such access key (or a revoked one).
    UnknownKey,
    /// The signature, the body hash or the body digest does not match.
    Mismatch,
    /// The request's date is outside the accepted window.
    Expired,
    /// The nonce was already used within the window.
    NonceUsed,
    /// STS security tokens are not supported.
    SecurityToken,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Incomplete(why) => write!(f, "{why}"),
            AuthError::UnknownKey => f.write_str("the access key does not exist or was revoked."),
            AuthError::Mismatch => {
                f.write_str("the request signature does not match the one computed by the server.")
            }
            AuthError::Expired => f.write_str(
                "the request date is outside the accepted window; check the client's clock.",
            ),
            AuthError::NonceUsed => f.write_str("the signature nonce was already used."),
            AuthError::SecurityToken => f.write_str(
                "STS security tokens are not supported: sign with an algocenter access key.",
            ),
        }
    }
}

/// A request as received, before any decoding: what a signature covers.
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The path exactly as sent (still percent-encoded).
    pub raw_path: &'a str,
    /// The query string exactly as sent, without `?` ("" when there is none).
    pub raw_query: &'a str,
    /// Header names in lower case, values as received, in order.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl RequestParts<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn required(&self, name: &str) -> Result<&str, AuthError> {
        self.header(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AuthError::Incomplete(format!("header {name} is required.")))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Acs3,
    Roa,
    OpenSearch,
}

/// Who claims to have signed a request, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub scheme: Scheme,
    pub key_id: String,
    signature: String,
    /// ACS3 only: the headers the client signed, in its order.
    signed_headers: Vec<String>,
}

/// Reads the `Authorization` header.
pub fn parse_authorization(request: &RequestParts<'_>) -> Result<Claim, AuthError> {
    if request.header("x-acs-security-token").is_some() {
        return Err(AuthError::SecurityToken);
    }
    let value = request.header("authorization").ok_or_else(|| {
        AuthError::Incomplete("the Authorization header is missing: sign the request.".into())
    })?;
    let malformed = || AuthError::Incomplete("the Authorization header is malformed.".into());
    if let Some(rest) = value.strip_prefix("ACS3-") {
        let (algorithm, fields) = rest.split_once(' ').ok_or_else(malformed)?;
        if algorithm != "HMAC-SHA256" {
            return Err(AuthError::Incomplete(format!(
                "signature algorithm ACS3-{algorithm} is not supported; use ACS3-HMAC-SHA256."
            )));
        }
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for field in fields.split(',') {
            match field.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v),
                Some(("SignedHeaders", v)) => signed = Some(v),
                Some(("Signature", v)) => signature = Some(v),
                _ => return Err(malformed()),
            }
        }
        let (Some(key_id), Some(signed), Some(signature)) = (credential, signed, signature) else {
            return Err(malformed());
        };
        return Ok(Claim {
            scheme: Scheme::Acs3,
            key_id: key_id.to_string(),
            signature: signature.to_string(),
            signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
        });
    }
    let (scheme, rest) = if let Some(rest) = value.strip_prefix("acs ") {
        (Scheme::Roa, rest)
    } else if let Some(rest) = value.strip_prefix("OPENSEARCH ") {
        (Scheme::OpenSearch, rest)
    } else {
        return Err(AuthError::Incomplete(
            "unknown Authorization scheme; use ACS3-HMAC-SHA256, acs (ROA) or OPENSEARCH.".into(),
        ));
    };
    let (key_id, signature) = rest.split_once(':').ok_or_else(malformed)?;
    if key_id.is_empty() || signature.is_empty() {
        return Err(malformed());
    }
    Ok(Claim {
        scheme,
        key_id: key_id.to_string(),
        signature: signature.to_string(),
        signed_headers: Vec::new(),
    })
}

/// Checks the signature of `request` under `secret`, and that the body is the one signed (ACS3 body hash,
/// OpenSearch `Content-MD5`). Constant-time comparison.
pub fn verify(request: &RequestParts<'_>, claim: &Claim, secret: &[u8]) -> Result<(), AuthError> {
    match claim.scheme {
        Scheme::Acs3 => acs3::verify(request, &claim.signed_headers, &claim.signature, secret),
        Scheme::Roa => roa::verify(request, &claim.signature, secret),
        Scheme::OpenSearch => opensearch::verify(request, &claim.signature, secret),
    }
}

/// The request's signed date (epoch ms): `x-acs-date` (ACS3), `date` (ROA), `Date` (OpenSearch).
pub fn request_time_ms(request: &RequestParts<'_>, scheme: Scheme) -> Result<i64, AuthError> {
    let name = match scheme {
        Scheme::Acs3 => "x-acs-date",
        Scheme::Roa | Scheme::OpenSearch => "date",
    };
    let raw = request.required(name)?;
    parse_time(raw)
        .ok_or_else(|| AuthError::Incomplete(format!("header {name} is not a date ('{raw}').")))
}

/// `2026-11-27T18:45:17Z` or an RFC 1123 date (`Fri, 27 Nov 2026 18:45:17 GMT`).
fn parse_time(raw: &str) -> Option<i64> {
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%dT%H:%M:%SZ") {
        return Some(t.and_utc().timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc2822(raw.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The request's nonce: `x-acs-signature-nonce` (ACS3, ROA) or `x-opensearch-nonce` (OpenSearch).
pub fn nonce<'a>(request: &'a RequestParts<'_>, scheme: Scheme) -> Result<&'a str, AuthError> {
    let name = match scheme {
        Scheme::Acs3 | Scheme::Roa => "x-acs-signature-nonce",
        Scheme::OpenSearch => "x-opensearch-nonce",
    };
    let nonce = request.required(name)?;
    if nonce.len() > 128 {
        return Err(AuthError::Incomplete(format!(
            "header {name} is longer than 128 bytes."
        )));
    }
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_typed_secret_matches_only_the_stored_one() {
        assert!(super::secret_matches("s3cret", b"s3cret"));
        for other in ["s3cre", "s3cret ", "S3cret", "", "s3cret\0", "s3cret\0\0"] {
            assert!(!super::secret_matches(other, b"s3cret"), "{other:?}");
        }
    }

    use super::*;

    fn parts<'a>(headers: &'a [(String, String)]) -> RequestParts<'a> {
        RequestParts {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers,
            body: b"",
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn authorization_headers_of_the_three_schemes_parse() {
        let acs3 = h(&[(
            "authorization",
            "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=ab",
        )]);
        let claim = parse_authorization(&parts(&acs3)).unwrap();
        assert_eq!(
            (
                claim.scheme,
                claim.key_id.as_str(),
                claim.signed_headers.len()
            ),
            (Scheme::Acs3, "AK", 2)
        );
        let roa = h(&[("authorization", "acs AK:c2ln")]);
        assert_eq!(
            parse_authorization(&parts(&roa)).unwrap().scheme,
            Scheme::Roa
        );
        let v3 = h(&[("authorization", "OPENSEARCH AK:c2ln")]);
        assert_eq!(
            parse_authorization(&parts(&v3)).unwrap().scheme,
            Scheme::OpenSearch
        );
    }

    #[test]
    fn missing_malformed_unsupported_and_sts_are_refused() {
        assert!(matches!(
            parse_authorization(&parts(&[])),
            Err(AuthError::Incomplete(_))
        ));
        for bad in [
            "Bearer x",
            "acs nocolon",
            "ACS3-HMAC-SM3 Credential=a,SignedHeaders=b,Signature=c",
            "ACS3-HMAC-SHA256 Credential=a",
            "OPENSEARCH :sig",
        ] {
            let headers = h(&[("authorization", bad)]);
            assert!(
                matches!(
                    parse_authorization(&parts(&headers)),
                    Err(AuthError::Incomplete(_))
                ),
                "{bad}"
            );
        }
        let sts = h(&[
            ("authorization", "acs AK:c2ln"),
            ("x-acs-security-token", "t"),
        ]);
        assert_eq!(
            parse_authorization(&parts(&sts)),
            Err(AuthError::SecurityToken)
        );
    }

    #[test]
    fn dates_in_both_formats() {
        assert_eq!(parse_time("2024-01-01T00:00:00Z"), Some(1_704_067_200_000));
        assert_eq!(
            parse_time("Mon, 01 Jan 2024 00:00:00 GMT"),
            Some(1_704_067_200_000)
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
