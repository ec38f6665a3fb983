//! The OpenSearch v3 data-plane signature, as PyPI's `alibabacloud-opensearch-util` computes it:
//! `OPENSEARCH AK:base64(HMAC-SHA1(METHOD \n Content-MD5 \n Content-Type \n Date \n x-opensearch-* headers +
//! resource))`, where the resource is the path quoted as Python's `quote` does and the query sorted and quoted.
//! `Content-MD5` is the hex MD5 of the body; the server checks it against the body, so a signed body cannot be
//! swapped.

use md5::{Digest, Md5};

use crate::encoding::{decode_path, query_pairs, quote_keep_slash, rfc3986};
use crate::{AuthError, RequestParts, hmac_sha1};

fn canonical_resource(path: &[u8], pairs: &[(String, String)]) -> String {
    let path = quote_keep_slash(path)
        .replace("%3F", "?")
        .replace("%3D", "=")
        .replace("%26", "&");
    let mut pairs: Vec<&(String, String)> = pairs.iter().collect();
    pairs.sort();
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                quote_keep_slash(k.as_bytes())
            } else {
                format!(
                    "{}={}",
                    quote_keep_slash(k.as_bytes()),
                    rfc3986(v.as_bytes())
                )
            }
        })
        .collect();
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn string_to_sign(
    method: &str,
    path: &[u8],
    pairs: &[(String, String)],
    headers: &[(&str, &str)],
) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| *v)
    };
    let mut own: Vec<&(&str, &str)> = headers
        .iter()
        .filter(|(n, _)| n.starts_with("x-opensearch-"))
        .collect();
    own.sort();
    let canonical_headers: String = own.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    format!(
        "{method}\n{}\n{}\n{}\n{canonical_headers}{}",
        get("content-md5"),
        get("content-type"),
        get("date"),
        canonical_resource(path, pairs)
    )
}

/// Hex MD5 of a body, the `Content-MD5` of this scheme.
pub fn content_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

pub(crate) fn verify(
    request: &RequestParts<'_>,
    signature: &str,
    secret: &[u8],
) -> Result<(), AuthError> {
    request.required("date")?;
    request.required("x-opensearch-nonce")?;
    match request.header("content-md5") {
        Some(md5) if !md5.eq_ignore_ascii_case(&content_md5(request.body)) => {
            return Err(AuthError::Mismatch);
        }
        None if !request.body.is_empty() => {
            return Err(AuthError::Incomplete(
                "header Content-MD5 is required with a body.".into(),
            ));
        }
        _ => {}
    }
    let headers = hmac_sha1::pairs(request.headers);
    let to_sign = string_to_sign(
        request.method,
        &decode_path(request.raw_path),
        &query_pairs(request.raw_query),
        &headers,
    );
    hmac_sha1::verify(secret, &to_sign, signature)
}

/// Signs like `OpensearchUtil.get_signature`; `path` is the unencoded path, `headers` lower-case names.
pub fn sign(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    key_id: &str,
    secret: &str,
) -> String {
    let headers = hmac_sha1::pairs(headers);
    let to_sign = string_to_sign(method, path.as_bytes(), query, &headers);
    let signature = hmac_sha1::sign(secret.as_bytes(), &to_sign);
    format!("OPENSEARCH {key_id}:{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_authorization;

    #[test]
    fn resource_quotes_like_python() {
        let pairs = vec![
            ("b".to_string(), "x/y z".to_string()),
            ("a".into(), String::new()),
            ("c d".into(), "中".into()),
        ];
        assert_eq!(
            canonical_resource("/v3/openapi/apps/my app/search".as_bytes(), &pairs),
            "/v3/openapi/apps/my%20app/search?a&b=x%2Fy%20z&c%20d=%E4%B8%AD"
        );
    }

    #[test]
    fn signed_push_verifies_and_tampering_fails() {
        let body = br#"[{"cmd":"ADD","fields":{"item_id":"1"}}]"#;
        let path = "/v3/openapi/app-groups/shop/data-collections/shop/data-collection-type/item_info/actions/bulk";
        let mut headers: Vec<(String, String)> = vec![
            ("content-md5".into(), content_md5(body)),
            ("content-type".into(), "application/json".into()),
            ("date".into(), "2026-11-27T18:45:17Z".into()),
            ("x-opensearch-nonce".into(), "abc123".into()),
        ];
        let auth = sign("POST", path, &[], &headers, "AK", "secret");
        headers.push(("authorization".into(), auth));
        let request = RequestParts {
            method: "POST",
            raw_path: path,
            raw_query: "",
            headers: &headers,
            body,
        };
        let claim = parse_authorization(&request).unwrap();
        assert_eq!(crate::verify(&request, &claim, b"secret"), Ok(()));
        let swapped = RequestParts {
            body: br#"[{"cmd":"DELETE","fields":{"item_id":"1"}}]"#,
            ..request
        };
        assert_eq!(
            crate::verify(&swapped, &claim, b"secret"),
            Err(AuthError::Mismatch)
        );
        let moved = RequestParts {
            raw_path: "/v3/openapi/app-groups/other/data-collections/shop/data-collection-type/item_info/actions/bulk",
            ..request
        };
        assert_eq!(
            crate::verify(&moved, &claim, b"secret"),
            Err(AuthError::Mismatch)
        );
    }
}
