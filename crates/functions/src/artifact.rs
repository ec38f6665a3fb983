//! The envelope every function's artifact shares: five bytes naming the function, a format byte, then the model
//! in postcard. A reader refuses a foreign, truncated, corrupt or unknown-format file with an error, never a
//! panic: artifacts come from storage, and a damaged one must not take a request down.

use algocenter_domain::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TrainError;

/// `magic`, `format`, then `model` in postcard.
pub(crate) fn seal<T: Serialize + ?Sized>(
    magic: &[u8],
    format: u8,
    model: &T,
) -> Result<Vec<u8>, TrainError> {
    let body = postcard::to_allocvec(model)
        .map_err(|e| TrainError::Failed(format!("encoding the model: {e}")))?;
    let mut out = Vec::with_capacity(body.len() + magic.len() + 1);
    out.extend_from_slice(magic);
    out.push(format);
    out.extend_from_slice(&body);
    Ok(out)
}

/// The format byte and the body of an artifact of `what` (e.g. "category model").
pub(crate) fn open<'a>(bytes: &'a [u8], magic: &[u8], what: &str) -> Result<(u8, &'a [u8]), Error> {
    let rest = bytes
        .strip_prefix(magic)
        .ok_or_else(|| Error::internal(format_args!("not a {what} artifact")))?;
    rest.split_first()
        .map(|(format, body)| (*format, body))
        .ok_or_else(|| Error::internal(format_args!("truncated {what} artifact")))
}

/// The model in a body of the expected format.
pub(crate) fn read<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Error> {
    postcard::from_bytes(body)
        .map_err(|e| Error::internal(format_args!("corrupt {what} artifact: {e}")))
}

/// An artifact whose format byte this build does not know.
pub(crate) fn unknown_format(what: &str, format: u8) -> Error {
    Error::internal(format_args!("{what} artifact of unknown format {format}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_model_opens_and_damage_is_an_error() {
        let sealed = seal(b"ACTST", 3, &vec![1u32, 2, 3]).unwrap();
        let (format, body) = open(&sealed, b"ACTST", "test model").unwrap();
        assert_eq!(format, 3);
        assert_eq!(read::<Vec<u32>>(body, "test model").unwrap(), [1, 2, 3]);
        let foreign = open(&sealed, b"ACXXX", "test model").unwrap_err();
        assert!(
            foreign.to_string().contains("not a test model artifact"),
            "{foreign}"
        );
        let truncated = open(b"ACTST", b"ACTST", "test model").unwrap_err();
        assert!(truncated.to_string().contains("truncated"), "{truncated}");
        assert!(read::<Vec<u32>>(&body[..1], "test model").is_err());
    }
}
