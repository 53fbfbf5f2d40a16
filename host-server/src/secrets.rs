//! Secrets: a wrapper that never prints, random tokens, and the signing secret kept in the data dir.

use std::{fmt, io::Write, path::Path, str::FromStr};

use anyhow::{Context, bail};
use base64::Engine;
use rand::{Rng, RngCore, distributions::Alphanumeric};
use sha2::{Digest, Sha256};

/// Minimum length of a signing secret, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// A secret string whose `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself; call sites are easy to audit by searching for `expose`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// `len` random alphanumeric characters from the OS-seeded CSPRNG.
pub fn random_token(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// Hex SHA-256: how API keys and session tokens are stored. They carry 190+ bits of entropy, so
/// a fast hash is enough (passwords use argon2id).
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Loads the signing secret: from the environment when given, else from `data_dir/signing.key`,
/// generating that file (mode 0600) on first start. Refuses secrets under 32 bytes.
pub fn load_signing_secret(given: Option<&Secret>, data_dir: &Path) -> anyhow::Result<Secret> {
    if let Some(secret) = given {
        check_length(secret.expose(), "EMBAN_SIGNING_SECRET")?;
        return Ok(secret.clone());
    }
    let path = data_dir.join("signing.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let secret = text.trim().to_owned();
        check_length(&secret, &path.display().to_string())?;
        return Ok(Secret(secret));
    }
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(&path, &secret)?;
    Ok(Secret(secret))
}

fn check_length(secret: &str, source: &str) -> anyhow::Result<()> {
    if secret.len() < MIN_SECRET_BYTES {
        bail!(
            "the signing secret from {source} is {} bytes; at least {MIN_SECRET_BYTES} are required",
            secret.len()
        );
    }
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2-hunter2-hunter2-hunter2-hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn generated_secret_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("emban-secret-{}", random_token(8)));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let first = load_signing_secret(None, &dir).expect("generate");
        let second = load_signing_secret(None, &dir).expect("reload");
        assert_eq!(first, second);
        assert!(first.expose().len() >= MIN_SECRET_BYTES);
        let mode = std::fs::metadata(dir.join("signing.key")).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn short_secret_is_refused() {
        let err = load_signing_secret(Some(&Secret::new("short")), Path::new("/nonexistent"))
            .expect_err("too short");
        assert!(err.to_string().contains("at least 32"));
    }
}
