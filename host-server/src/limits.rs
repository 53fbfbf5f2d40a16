//! Abuse limits: rate limits per client IP and per API key, a bounded pool for password hashing,
//! and per-account backoff after failed sign-ins. Every refusal is a 429 with `Retry-After`.

use std::{
    net::{IpAddr, Ipv6Addr},
    num::{NonZeroU32, NonZeroUsize},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, clock::Clock};
use lru::LruCache;
use tokio::sync::Semaphore;

use crate::{
    config::LimitArgs,
    error::{AppError, Result},
};

/// Accounts whose failed sign-ins are remembered; past it the least recently failed is forgotten.
const BACKOFF_ACCOUNTS: usize = 100_000;

/// Every limit of one server.
pub struct Limits {
    auth: Option<DefaultKeyedRateLimiter<IpAddr>>,
    demo: Option<DefaultKeyedRateLimiter<IpAddr>>,
    demo_total: Option<DefaultDirectRateLimiter>,
    ingest: Option<DefaultKeyedRateLimiter<IngestKey>>,
    /// Password hashing, bounded.
    pub hashing: HashPool,
    /// Failed sign-ins per account.
    pub backoff: LoginBackoff,
    /// Demo-session audit rows kept (`--demo-audit-rows`).
    pub demo_audit_rows: u32,
    demo_mints: AtomicU64,
    /// Whether the client IP is read from `X-Forwarded-For` (`--trust-forwarded-for`).
    pub trust_forwarded_for: bool,
}

impl Limits {
    /// The limits `args` asks for.
    pub fn new(args: &LimitArgs) -> Limits {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let hashers =
            if args.password_hash_concurrency == 0 { cores } else { args.password_hash_concurrency };
        Limits {
            auth: NonZeroU32::new(args.rate_limit_auth_per_minute)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
            demo: NonZeroU32::new(args.rate_limit_demo_per_minute)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
            demo_total: NonZeroU32::new(args.rate_limit_demo_total_per_minute)
                .map(|n| DefaultDirectRateLimiter::direct(Quota::per_minute(n))),
            ingest: NonZeroU32::new(args.rate_limit_ingest_per_second)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_second(n))),
            hashing: HashPool::new(
                hashers,
                args.password_hash_queue,
                Duration::from_secs(args.password_hash_wait_secs),
            ),
            backoff: LoginBackoff::new(
                args.login_backoff_after,
                Duration::from_secs(args.login_backoff_max_secs.max(1)),
                BACKOFF_ACCOUNTS,
            ),
            demo_audit_rows: args.demo_audit_rows.max(1),
            demo_mints: AtomicU64::new(0),
            trust_forwarded_for: args.trust_forwarded_for,
        }
    }

    /// One more sign-in or sign-up attempt from `ip`.
    pub fn check_auth(&self, ip: IpAddr) -> Result<()> {
        check_keyed(self.auth.as_ref(), &ip, "too many sign-in attempts from this address")
    }

    /// One more demo embed URL for `ip`.
    pub fn check_demo(&self, ip: IpAddr) -> Result<()> {
        check_keyed(self.demo.as_ref(), &ip, "too many demo sessions from this address")?;
        if let Some(limiter) = &self.demo_total
            && let Err(not_until) = limiter.check()
        {
            let wait = not_until.wait_time_from(limiter.clock().now());
            return Err(too_many("the demo is busy", wait));
        }
        Ok(())
    }

    /// One more ingest request with `key`'s credential.
    pub fn check_ingest(&self, key: IngestKey) -> Result<()> {
        check_keyed(self.ingest.as_ref(), &key, "too many ingest requests with this credential")
    }

    /// Whether this demo mint should prune the demo's old audit rows: about every tenth of the
    /// kept count, so the rows stay within `demo_audit_rows` plus a tenth.
    pub fn demo_prune_due(&self) -> bool {
        let every = u64::from(self.demo_audit_rows / 10).max(1);
        self.demo_mints.fetch_add(1, Ordering::Relaxed).is_multiple_of(every)
    }

    /// Forgets rate-limiter entries that are back to a full allowance, so the tables hold only
    /// recently active clients.
    pub fn sweep(&self) {
        for limiter in [&self.auth, &self.demo].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.ingest {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Whose ingest allowance a request spends: its API key, or the signed-in user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IngestKey {
    /// An API key, by id.
    ApiKey(i64),
    /// A console user, by id.
    User(i64),
}

fn check_keyed<K>(limiter: Option<&DefaultKeyedRateLimiter<K>>, key: &K, what: &str) -> Result<()>
where
    K: std::hash::Hash + Eq + Clone,
{
    let Some(limiter) = limiter else { return Ok(()) };
    limiter
        .check_key(key)
        .map_err(|not_until| too_many(what, not_until.wait_time_from(limiter.clock().now())))
}

fn too_many(what: &str, wait: Duration) -> AppError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    AppError::too_many(format!("{what}; retry after {secs} s"), secs)
}

/// The address a client is limited by: IPv4 as is (also when mapped into IPv6); IPv6 cut to
/// its /64, which one host usually holds.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Password hashing

/// Runs password hashes on the blocking pool, at most `permits` at once; at most `max_waiting`
/// more wait (each up to `wait`), the rest get 429 at once. Memory stays at `permits` hashes.
pub struct HashPool {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    wait: Duration,
}

impl HashPool {
    fn new(permits: usize, max_waiting: usize, wait: Duration) -> HashPool {
        HashPool {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
            wait,
        }
    }

    /// Runs `work` once a slot is free. The slot is held until `work` ends, even if the request
    /// that asked for it is dropped meanwhile.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let busy = || {
            let secs = self.wait.as_secs().max(1);
            AppError::too_many(format!("the server is busy checking passwords; retry after {secs} s"), secs)
        };
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(busy());
                }
                let acquired = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                match acquired {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) | Err(_) => return Err(busy()),
                }
            }
        };
        Ok(tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await?)
    }
}

// ---------------------------------------------------------------------------------------------
// Failed sign-ins

/// Backoff per account after failed sign-ins: the first `free` failures cost nothing, then each
/// one locks the account for 1 s, 2 s, 4 s, … up to `max`. Keyed by the email as typed (trimmed,
/// lower case), whether or not such an account exists, so the answer says nothing about it.
pub struct LoginBackoff {
    table: Mutex<LruCache<String, Failures>>,
    free: u32,
    max: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

impl LoginBackoff {
    fn new(free: u32, max: Duration, accounts: usize) -> LoginBackoff {
        let cap = NonZeroUsize::new(accounts).unwrap_or(NonZeroUsize::MIN);
        LoginBackoff { table: Mutex::new(LruCache::new(cap)), free, max }
    }

    fn key(email: &str) -> String {
        email.trim().to_lowercase()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, LruCache<String, Failures>> {
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fails with 429 while `email` is backing off.
    pub fn check(&self, email: &str) -> Result<()> {
        let now = Instant::now();
        let locked_until = self.table().peek(&Self::key(email)).and_then(|f| f.locked_until);
        match locked_until {
            Some(until) if until > now => {
                Err(too_many("too many failed sign-ins for this email", until - now))
            }
            _ => Ok(()),
        }
    }

    /// Records a failed sign-in for `email`.
    pub fn failed(&self, email: &str) {
        let mut table = self.table();
        let key = Self::key(email);
        let mut failures = table.pop(&key).unwrap_or(Failures { count: 0, locked_until: None });
        failures.count = failures.count.saturating_add(1);
        if failures.count > self.free {
            let doublings = (failures.count - self.free - 1).min(30);
            let delay = Duration::from_secs(1u64 << doublings).min(self.max);
            failures.locked_until = Some(Instant::now() + delay);
        }
        table.put(key, failures);
    }

    /// Forgets `email`'s failures after a successful sign-in.
    pub fn succeeded(&self, email: &str) {
        self.table().pop(&Self::key(email));
    }

    /// Accounts currently remembered.
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_the_free_failures_and_is_capped() {
        let backoff = LoginBackoff::new(2, Duration::from_secs(4), 100);
        for _ in 0..2 {
            backoff.failed("A@example.com");
            assert!(backoff.check("a@example.com").is_ok());
        }
        let retry = |b: &LoginBackoff| match b.check(" a@EXAMPLE.com ") {
            Err(AppError::TooManyRequests { retry_after_secs, .. }) => retry_after_secs,
            other => panic!("expected 429, got {other:?}"),
        };
        backoff.failed("a@example.com");
        assert_eq!(retry(&backoff), 1);
        backoff.failed("a@example.com");
        assert_eq!(retry(&backoff), 2);
        backoff.failed("a@example.com");
        assert_eq!(retry(&backoff), 4);
        backoff.failed("a@example.com");
        assert_eq!(retry(&backoff), 4, "capped");
        backoff.succeeded("a@example.com");
        assert!(backoff.check("a@example.com").is_ok());
    }

    #[test]
    fn backoff_table_is_bounded() {
        let backoff = LoginBackoff::new(0, Duration::from_secs(60), 1000);
        for i in 0..10_000 {
            backoff.failed(&format!("user{i}@example.com"));
        }
        assert_eq!(backoff.len(), 1000);
        assert!(backoff.check("user9999@example.com").is_err(), "the newest are kept");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        assert_eq!(limit_key(a), limit_key(b));
        assert_eq!(limit_key("::ffff:10.0.0.1".parse().expect("ip")), IpAddr::from([10, 0, 0, 1]));
    }

    #[tokio::test]
    async fn the_hash_pool_refuses_past_its_queue() {
        let pool = Arc::new(HashPool::new(1, 1, Duration::from_secs(5)));
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move || blocked.recv().is_ok()).await }
        });
        while pool.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| true).await }
        });
        while pool.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(pool.run(|| true).await, Err(AppError::TooManyRequests { .. })));
        release.send(()).expect("release");
        assert!(running.await.expect("task").expect("ran"));
        assert!(queued.await.expect("task").expect("ran after waiting"));
    }
}
