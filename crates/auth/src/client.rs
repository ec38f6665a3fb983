//! Signing on the client side (the command line, tests): the headers that make a request an ACS3-signed one, as
//! the official SDKs send it.

use crate::sealing::{SealingError, generate_nonce};

/// An access key id and its secret.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub key_id: String,
    pub secret: String,
}

/// Headers to send with a request to `host` (as in the URL, e.g. `127.0.0.1:8080`) for `path_and_query` (as sent:
/// path segments percent-encoded, query form-encoded). `Host` itself is signed but not returned: the HTTP client
/// sends it from the URL.
pub fn acs3_headers(
    method: &str,
    host: &str,
    path_and_query: &str,
    body: &[u8],
    action: &str,
    credentials: &Credentials,
) -> Result<Vec<(String, String)>, SealingError> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let pairs = crate::encoding::query_pairs(query);
    let mut headers = vec![
        ("host".to_string(), host.to_string()),
        ("accept".into(), "application/json".into()),
        ("x-acs-version".into(), "2017-12-25".into()),
        ("x-acs-action".into(), action.into()),
        (
            "x-acs-date".into(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("x-acs-signature-nonce".into(), generate_nonce()?),
    ];
    if !body.is_empty() {
        headers.push((
            "content-type".into(),
            "application/json; charset=utf-8".into(),
        ));
    }
    let authorization = crate::sign_acs3(
        method,
        path,
        &pairs,
        &mut headers,
        body,
        &credentials.key_id,
        &credentials.secret,
    );
    headers.retain(|(name, _)| name != "host");
    headers.push(("authorization".into(), authorization));
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RequestParts, parse_authorization, verify};

    #[test]
    fn what_the_client_signs_the_server_accepts() {
        let credentials = Credentials {
            key_id: "AK1".into(),
            secret: "secret-secret".into(),
        };
        let body = br#"{"name":"shop"}"#;
        let path = "/v4/openapi/app-groups/my%20app/functions/pop/instances?pageSize=5&output=a+b";
        let mut headers = acs3_headers(
            "POST",
            "127.0.0.1:9",
            path,
            body,
            "CreateAppGroup",
            &credentials,
        )
        .unwrap();
        headers.push(("host".into(), "127.0.0.1:9".into()));
        let (raw_path, raw_query) = path.split_once('?').unwrap();
        let request = RequestParts {
            method: "POST",
            raw_path,
            raw_query,
            headers: &headers,
            body,
        };
        let claim = parse_authorization(&request).unwrap();
        assert_eq!(verify(&request, &claim, b"secret-secret"), Ok(()));
    }
}
