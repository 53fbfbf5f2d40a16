//! Passwords: argon2id hashes, computed in the bounded hashing pool (argon2 is deliberately slow
//! and takes 19 MiB, so a flood of sign-ups queues or gets 429 instead of exhausting memory).

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};

use crate::{
    error::{AppError, Result},
    limits::HashPool,
};

/// Argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password in the pool.
pub async fn hash_password(pool: &HashPool, password: String) -> Result<String> {
    pool.run(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing password: {e}")))
    })
    .await?
}

/// Whether `password` matches `hash`, checked in the pool.
pub async fn verify_password(pool: &HashPool, password: String, hash: String) -> Result<bool> {
    pool.run(move || {
        let parsed =
            PasswordHash::new(&hash).map_err(|e| AppError::Internal(anyhow::anyhow!("stored hash: {e}")))?;
        Ok(argon2().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?
}

/// A hash to verify against when the email is unknown, so both failures take the same time.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZP0J5X3mWvX2dqgrh6Xkk5nmSMO9N8yqvS2uEYKvH4M";
