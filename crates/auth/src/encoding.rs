//! The percent-encodings the signature schemes canonicalise with.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};

/// RFC 3986 unreserved characters stay; everything else is `%XX` (upper-case hex). This is both ACS3's value
/// encoding and Python's `quote(s, safe='')`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Python's `quote(s)` with its default `safe='/'`.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

pub(crate) fn rfc3986(bytes: &[u8]) -> String {
    percent_encode(bytes, UNRESERVED).to_string()
}

pub(crate) fn quote_keep_slash(bytes: &[u8]) -> String {
    percent_encode(bytes, UNRESERVED_AND_SLASH).to_string()
}

/// The query's pairs, decoded as `application/x-www-form-urlencoded` (`+` is a space), as the SDKs build it.
pub(crate) fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect()
}

/// The bytes a percent-encoded path stands for.
pub(crate) fn decode_path(raw_path: &str) -> Vec<u8> {
    percent_decode_str(raw_path).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_the_sdks() {
        assert_eq!(rfc3986(b"a b+c*~"), "a%20b%2Bc%2A~");
        assert_eq!(rfc3986("中".as_bytes()), "%E4%B8%AD");
        assert_eq!(rfc3986(b"a/b"), "a%2Fb");
        assert_eq!(quote_keep_slash(b"/v3/a b"), "/v3/a%20b");
        assert_eq!(
            query_pairs("output=a+b%2Bc%2A~&x="),
            vec![
                ("output".into(), "a b+c*~".into()),
                ("x".into(), String::new())
            ]
        );
        assert_eq!(decode_path("/my%20app%2F1"), b"/my app/1");
    }
}
