//! The SDKs' legacy ROA signature (`signature_algorithm = "v2"`, spec §6.2): base64 HMAC-SHA1 of
//! `METHOD \n accept \n content-md5 \n content-type \n date \n x-acs-* headers + resource`. It covers no body hash:
//! the body of such a request is not integrity-protected (spec §10.17).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::encoding::query_pairs;
use crate::{AuthError, RequestParts};

/// `name:value\n` for every `x-acs-*` header, sorted by name, values as sent.
fn canonical_headers(headers: &[(&str, &str)]) -> String {
    let mut acs: Vec<&(&str, &str)> = headers
        .iter()
        .filter(|(n, _)| n.starts_with("x-acs-"))
        .collect();
    acs.sort();
    acs.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
}

/// The raw path, then `?` and the sorted decoded `key=value` pairs (`key` alone for an empty value).
fn canonical_resource(raw_path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return raw_path.to_string();
    }
    let mut pairs: Vec<&(String, String)> = pairs.iter().collect();
    pairs.sort();
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("{raw_path}?{}", query.join("&"))
}

fn string_to_sign(
    method: &str,
    raw_path: &str,
    pairs: &[(String, String)],
    headers: &[(&str, &str)],
) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| *v)
    };
    format!(
        "{method}\n{}\n{}\n{}\n{}\n{}{}",
        get("accept"),
        get("content-md5"),
        get("content-type"),
        get("date"),
        canonical_headers(headers),
        canonical_resource(raw_path, pairs)
    )
}

fn mac(secret: &[u8], message: &str) -> Result<Hmac<Sha1>, AuthError> {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(secret).map_err(|_| AuthError::Mismatch)?;
    mac.update(message.as_bytes());
    Ok(mac)
}

pub(crate) fn verify(
    request: &RequestParts<'_>,
    signature: &str,
    secret: &[u8],
) -> Result<(), AuthError> {
    request.required("date")?;
    request.required("x-acs-signature-nonce")?;
    if request
        .header("x-acs-signature-method")
        .is_some_and(|m| m != "HMAC-SHA1")
    {
        return Err(AuthError::Incomplete(
            "x-acs-signature-method must be HMAC-SHA1.".into(),
        ));
    }
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let to_sign = string_to_sign(
        request.method,
        request.raw_path,
        &query_pairs(request.raw_query),
        &headers,
    );
    let provided = STANDARD
        .decode(signature)
        .map_err(|_| AuthError::Mismatch)?;
    mac(secret, &to_sign)?
        .verify_slice(&provided)
        .map_err(|_| AuthError::Mismatch)
}

/// Signs like the SDK in `v2` mode; `headers` (lower-case names) must hold `date` and the `x-acs-*` headers.
/// Returns the `Authorization` value.
pub fn sign(
    method: &str,
    raw_path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    key_id: &str,
    secret: &str,
) -> String {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let to_sign = string_to_sign(method, raw_path, query, &headers);
    let signature = mac(secret.as_bytes(), &to_sign)
        .map(|m| STANDARD.encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("acs {key_id}:{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_authorization;

    /// Spec §6.2 vector V3.
    #[test]
    fn vector_v3_legacy_list_function_tasks() {
        let path = "/v4/openapi/app-groups/my%20app/functions/ctr/instances/ctr_test/tasks";
        let query = vec![
            ("pageNumber".to_string(), "2".to_string()),
            ("pageSize".into(), "5".into()),
            ("status".into(), "success".into()),
            ("startTime".into(), "1600000000000".into()),
        ];
        assert_eq!(
            canonical_resource(path, &query),
            format!("{path}?pageNumber=2&pageSize=5&startTime=1600000000000&status=success")
        );
        let mut headers: Vec<(String, String)> = [
            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("accept", "application/json"),
            ("x-acs-action", "ListFunctionTasks"),
            ("x-acs-signature-method", "HMAC-SHA1"),
            ("x-acs-signature-nonce", "fedcba9876543210fedcba9876543210"),
            ("x-acs-signature-version", "1.0"),
            ("x-acs-version", "2017-12-25"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let auth = sign("GET", path, &query, &headers, "testAK", "testSecret");
        assert_eq!(auth, "acs testAK:N0XZ/n13yv4+pT7dOlGDxKk8EPA=");
        headers.push(("authorization".into(), auth));
        let request = RequestParts {
            method: "GET",
            raw_path: path,
            raw_query: "pageNumber=2&pageSize=5&startTime=1600000000000&status=success",
            headers: &headers,
            body: b"",
        };
        let claim = parse_authorization(&request).unwrap();
        assert_eq!(crate::verify(&request, &claim, b"testSecret"), Ok(()));
        let tampered = RequestParts {
            raw_query: "pageNumber=3&pageSize=5&startTime=1600000000000&status=success",
            ..request
        };
        assert_eq!(
            crate::verify(&tampered, &claim, b"testSecret"),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn empty_values_appear_as_bare_keys() {
        let pairs = vec![
            ("status".to_string(), String::new()),
            ("output".into(), "a b+c*~".into()),
        ];
        assert_eq!(canonical_resource("/p", &pairs), "/p?output=a b+c*~&status");
    }
}
