//! Access key secrets at rest: the signature schemes need the secret itself (an HMAC key), so it cannot be
//! stored hashed; it is sealed with ChaCha20-Poly1305 under a master key kept outside the database (a file in the
//! data directory, or `ALGOCENTER_MASTER_KEY`). A copy of the database alone (a backup, a PostgreSQL dump)
//! reveals no secret. The key id is bound to its sealed secret as associated data, so sealed values cannot be
//! swapped between keys.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

const NONCE_LEN: usize = 12;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Debug)]
pub struct SealingError(String);

impl fmt::Display for SealingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn random(buf: &mut [u8]) -> Result<(), SealingError> {
    getrandom::fill(buf)
        .map_err(|e| SealingError(format!("no randomness from the operating system: {e}")))
}

/// `len` characters drawn uniformly from letters and digits.
fn random_text(len: usize) -> Result<String, SealingError> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut byte = [0u8; 1];
        random(&mut byte)?;
        // 248 = 4 × 62: rejecting the rest keeps the draw uniform.
        if byte[0] < 248 {
            out.push(ALPHABET[usize::from(byte[0]) % ALPHABET.len()] as char);
        }
    }
    Ok(out)
}

/// A new access key id (`AC` + 18 letters and digits) and secret (32 letters and digits, about 190 bits).
pub fn generate_key() -> Result<(String, String), SealingError> {
    Ok((format!("AC{}", random_text(18)?), random_text(32)?))
}

/// A random 32-hex-digit nonce for signing requests.
pub fn generate_nonce() -> Result<String, SealingError> {
    let mut bytes = [0u8; 16];
    random(&mut bytes)?;
    Ok(hex::encode(bytes))
}

pub struct MasterKey(Key);

impl MasterKey {
    /// From `ALGOCENTER_MASTER_KEY`: 32 bytes in base64 or hex.
    pub fn parse(text: &str) -> Result<Self, SealingError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| STANDARD.decode(text).ok().filter(|b| b.len() == 32))
            .ok_or_else(|| {
                SealingError("the master key must be 32 bytes, in base64 or hex".into())
            })?;
        Ok(MasterKey(*Key::from_slice(&bytes)))
    }

    /// Reads the key file, creating it (readable by the owner only) with a random key on first start.
    pub fn load_or_create(path: &Path) -> Result<Self, SealingError> {
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::parse(&text)
                .map_err(|e| SealingError(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                random(&mut bytes)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(path)
                    .map_err(|e| SealingError(format!("cannot create {}: {e}", path.display())))?;
                writeln!(file, "{}", STANDARD.encode(bytes))
                    .and_then(|_| file.sync_all())
                    .map_err(|e| SealingError(format!("cannot write {}: {e}", path.display())))?;
                Ok(MasterKey(*Key::from_slice(&bytes)))
            }
            Err(e) => Err(SealingError(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Seals `secret` for `key_id`: nonce ‖ ciphertext.
    pub fn seal(&self, key_id: &str, secret: &str) -> Result<Vec<u8>, SealingError> {
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce)?;
        let sealed = ChaCha20Poly1305::new(&self.0)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: key_id.as_bytes(),
                },
            )
            .map_err(|_| SealingError("sealing failed".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Opens what [`Self::seal`] produced for the same key id.
    pub fn open(&self, key_id: &str, sealed: &[u8]) -> Result<String, SealingError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealingError("sealed secret too short".into()));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: key_id.as_bytes(),
                },
            )
            .map_err(|_| {
                SealingError("a sealed secret does not open with this master key".into())
            })?;
        String::from_utf8(plain).map_err(|_| SealingError("sealed secret is not text".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_master_key_and_key_id() {
        let master = MasterKey::parse(&"ab".repeat(32)).unwrap();
        let sealed = master.seal("AK1", "secret-value").unwrap();
        assert!(
            !sealed.windows(6).any(|w| w == b"secret"),
            "the secret is not stored in clear"
        );
        assert_eq!(master.open("AK1", &sealed).unwrap(), "secret-value");
        assert!(master.open("AK2", &sealed).is_err(), "bound to its key id");
        let other = MasterKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(other.open("AK1", &sealed).is_err());
        assert!(MasterKey::parse("too short").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = std::env::temp_dir().join(format!("algocenter-master-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let sealed = first.seal("AK", "s").unwrap();
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(again.open("AK", &sealed).unwrap(), "s");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn generated_keys_look_right() {
        let (id, secret) = generate_key().unwrap();
        assert!(id.starts_with("AC") && id.len() == 20 && secret.len() == 32);
        assert_ne!(generate_key().unwrap().1, secret);
        assert_eq!(generate_nonce().unwrap().len(), 32);
    }
}
