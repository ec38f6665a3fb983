//! ACS3-HMAC-SHA256 (spec §6.1).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::encoding::{query_pairs, rfc3986};
use crate::{AuthError, RequestParts};

/// Headers every ACS3 request must sign: the rest of the signature means little without them.
const MUST_SIGN: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `key=` + RFC 3986 value, sorted by key (then value), joined by `&`; keys are not encoded (as the SDK).
fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = pairs.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", rfc3986(v.as_bytes())))
        .collect::<Vec<_>>()
        .join("&")
}

fn string_to_sign(
    method: &str,
    raw_path: &str,
    pairs: &[(String, String)],
    headers: &[(&str, String)],
    payload_hash: &str,
) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
    let canonical = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        canonical_query(pairs),
        signed.join(";")
    );
    format!("ACS3-HMAC-SHA256\n{}", sha256_hex(canonical.as_bytes()))
}

/// HMAC-SHA256 of `message` (HMAC accepts keys of any length, so this only fails in theory).
fn mac(secret: &[u8], message: &str) -> Result<Hmac<Sha256>, AuthError> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| AuthError::Mismatch)?;
    mac.update(message.as_bytes());
    Ok(mac)
}

/// Whether a secret typed by a person (the dashboard's login) is the stored one. Both are MACed as the message
/// under one fixed key and the tags compared in constant time: the timing tells nothing about the secret, and
/// (unlike using the secret as the HMAC key, which HMAC pads with zeros) `secret\0` does not match `secret`.
pub fn secret_matches(given: &str, stored: &[u8]) -> bool {
    const KEY: &[u8] = b"algocenter dashboard login";
    let tag = |secret: &[u8]| {
        <Hmac<Sha256> as KeyInit>::new_from_slice(KEY).map(|mut mac| {
            mac.update(secret);
            mac
        })
    };
    match (tag(stored), tag(given.as_bytes())) {
        (Ok(stored), Ok(given)) => given.verify_slice(&stored.finalize().into_bytes()).is_ok(),
        _ => false,
    }
}

pub(crate) fn verify(
    request: &RequestParts<'_>,
    signed_headers: &[String],
    signature: &str,
    secret: &[u8],
) -> Result<(), AuthError> {
    for name in MUST_SIGN {
        if !signed_headers.iter().any(|s| s == name) {
            return Err(AuthError::Incomplete(format!(
                "header {name} must be signed."
            )));
        }
    }
    let mut headers = Vec::with_capacity(signed_headers.len());
    for name in signed_headers {
        let values = request.header_values(name);
        if values.is_empty() {
            return Err(AuthError::Incomplete(format!(
                "signed header {name} is missing."
            )));
        }
        let mut values: Vec<&str> = values.iter().map(|v| v.trim()).collect();
        values.sort();
        headers.push((name.as_str(), values.join(",")));
    }
    // The body is the one signed only if its hash is the signed one.
    let payload_hash = request.required("x-acs-content-sha256")?;
    if payload_hash != sha256_hex(request.body) {
        return Err(AuthError::Mismatch);
    }
    let provided = hex::decode(signature).map_err(|_| AuthError::Mismatch)?;
    let to_sign = string_to_sign(
        request.method,
        request.raw_path,
        &query_pairs(request.raw_query),
        &headers,
        payload_hash,
    );
    mac(secret, &to_sign)?
        .verify_slice(&provided)
        .map_err(|_| AuthError::Mismatch)
}

/// Signs a request as the SDK does. `headers` (lower-case names) must hold host, x-acs-action, x-acs-version,
/// x-acs-date and x-acs-signature-nonce; `x-acs-content-sha256` is added. Every header given is signed. Returns the
/// `Authorization` value.
pub fn sign(
    method: &str,
    raw_path: &str,
    query: &[(String, String)],
    headers: &mut Vec<(String, String)>,
    body: &[u8],
    key_id: &str,
    secret: &str,
) -> String {
    let payload_hash = sha256_hex(body);
    headers.retain(|(n, _)| n != "x-acs-content-sha256");
    headers.push(("x-acs-content-sha256".into(), payload_hash.clone()));
    let mut sorted: Vec<(&str, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.trim().to_string()))
        .collect();
    sorted.sort();
    let signed: Vec<&str> = sorted.iter().map(|(n, _)| *n).collect();
    let to_sign = string_to_sign(method, raw_path, query, &sorted, &payload_hash);
    let signature = mac(secret.as_bytes(), &to_sign)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!(
        "ACS3-HMAC-SHA256 Credential={key_id},SignedHeaders={},Signature={signature}",
        signed.join(";")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Scheme, parse_authorization};

    fn vector_headers(
        action: &str,
        nonce: &str,
        with_body: bool,
        body: &[u8],
    ) -> Vec<(String, String)> {
        let mut headers = vec![
            ("host".to_string(), "127.0.0.1:8080".to_string()),
            ("x-acs-version".into(), "2017-12-25".into()),
            ("x-acs-action".into(), action.into()),
            ("user-agent".into(), "test-agent".into()),
            ("x-acs-date".into(), "2024-01-01T00:00:00Z".into()),
            ("x-acs-signature-nonce".into(), nonce.into()),
            ("accept".into(), "application/json".into()),
            ("x-acs-content-sha256".into(), sha256_hex(body)),
        ];
        if with_body {
            headers.push((
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ));
        }
        headers
    }

    /// Spec §6.1 vector V1.
    #[test]
    fn vector_v1_create_function_instance() {
        let body = br#"{"instanceName":"ctr_test","modelType":"tf_checkpoint","cron":"0 0 * * 1"}"#;
        assert_eq!(
            sha256_hex(body),
            "80b72434ba3532b678a698e06e7cbdb518d3cacd70115e43a0ffeb9674e641cc"
        );
        let mut headers = vector_headers(
            "CreateFunctionInstance",
            "0123456789abcdef0123456789abcdef",
            true,
            body,
        );
        let auth = sign(
            "POST",
            "/v4/openapi/app-groups/my_app/functions/ctr/instances",
            &[],
            &mut headers,
            body,
            "testAK",
            "testSecret",
        );
        assert!(
            auth.ends_with(
                "Signature=090996209580a6c9062ada2c3fb2d0f72d18fc9ac2753cf8e6c93e96c48eda5c"
            ),
            "{auth}"
        );
        assert!(auth.contains("SignedHeaders=accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"));
        // And the verifier accepts what the signer produced.
        headers.push(("authorization".into(), auth));
        let request = RequestParts {
            method: "POST",
            raw_path: "/v4/openapi/app-groups/my_app/functions/ctr/instances",
            raw_query: "",
            headers: &headers,
            body,
        };
        let claim = parse_authorization(&request).unwrap();
        assert_eq!(claim.scheme, Scheme::Acs3);
        assert_eq!(crate::verify(&request, &claim, b"testSecret"), Ok(()));
        assert_eq!(
            crate::verify(&request, &claim, b"wrongSecret"),
            Err(AuthError::Mismatch)
        );
        let tampered = RequestParts {
            body: br#"{"instanceName":"ctr_evil"}"#,
            ..request
        };
        assert_eq!(
            crate::verify(&tampered, &claim, b"testSecret"),
            Err(AuthError::Mismatch)
        );
    }

    /// Spec §6.1 vector V2: encoded path segment, query sorted and re-encoded.
    #[test]
    fn vector_v2_list_function_tasks() {
        let mut headers = vector_headers(
            "ListFunctionTasks",
            "fedcba9876543210fedcba9876543210",
            false,
            b"",
        );
        let query = vec![
            ("pageNumber".to_string(), "2".to_string()),
            ("pageSize".into(), "5".into()),
            ("status".into(), "success".into()),
            ("startTime".into(), "1600000000000".into()),
        ];
        let path = "/v4/openapi/app-groups/my%20app/functions/ctr/instances/ctr_test/tasks";
        let auth = sign(
            "GET",
            path,
            &query,
            &mut headers,
            b"",
            "testAK",
            "testSecret",
        );
        assert!(
            auth.ends_with(
                "Signature=31062590ad616e8ac1f342efc1e7792b032dcc5fb515b2ffe251ee6aa57d4029"
            ),
            "{auth}"
        );
        headers.push(("authorization".into(), auth));
        let request = RequestParts {
            method: "GET",
            raw_path: path,
            raw_query: "status=success&pageSize=5&startTime=1600000000000&pageNumber=2",
            headers: &headers,
            body: b"",
        };
        let claim = parse_authorization(&request).unwrap();
        assert_eq!(crate::verify(&request, &claim, b"testSecret"), Ok(()));
        let other_query = RequestParts {
            raw_query: "status=success&pageSize=50&startTime=1600000000000&pageNumber=2",
            ..request
        };
        assert_eq!(
            crate::verify(&other_query, &claim, b"testSecret"),
            Err(AuthError::Mismatch)
        );
        let other_path = RequestParts {
            raw_path: "/v4/openapi/app-groups/other/functions/ctr/instances/ctr_test/tasks",
            ..request
        };
        assert_eq!(
            crate::verify(&other_path, &claim, b"testSecret"),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn essential_headers_must_be_signed() {
        let mut headers = vector_headers("ListFunctionTasks", "n", false, b"");
        let auth = sign("GET", "/", &[], &mut headers, b"", "AK", "S");
        let weakened = auth.replace("x-acs-signature-nonce;", "");
        headers.push(("authorization".into(), weakened));
        let request = RequestParts {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        let claim = parse_authorization(&request).unwrap();
        assert!(
            matches!(crate::verify(&request, &claim, b"S"), Err(AuthError::Incomplete(m)) if m.contains("x-acs-signature-nonce"))
        );
    }
}
