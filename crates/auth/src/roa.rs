//! The SDKs' legacy ROA signature (`signature_algorithm = "v2"`, spec §6.2): base64 HMAC-SHA1 of
//! `METHOD \n accept \n content-md5 \n content-type \n date \n x-acs-* headers + resource`. It covers no body hash:
//! the body of such a request is not integrity-protected (spec §10.17).

use crate::encoding::query_pairs;
use crate::{AuthError, RequestParts, hmac_sha1};

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
    let headers = hmac_sha1::pairs(request.headers);
    let to_sign = string_to_sign(
        request.method,
        request.raw_path,
        &query_pairs(request.raw_query),
        &headers,
    );
    hmac_sha1::verify(secret, &to_sign, signature)
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
    let headers = hmac_sha1::pairs(headers);
    let to_sign = string_to_sign(method, raw_path, query, &headers);
    let signature = hmac_sha1::sign(secret.as_bytes(), &to_sign);
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
