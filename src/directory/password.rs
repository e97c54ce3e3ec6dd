//! Password hashing (argon2id), verification in constant time, and the rules a new password
//! must meet.
//!
//! Hashing and verification are CPU- and memory-bound (~25 ms and 19 MiB at the recommended
//! parameters), and a stranger can ask for one with every wrong password. So requests never
//! run argon2 themselves: they go through the [`Hasher`], which runs at most one computation
//! per core at once, lets a bounded number wait for a short time, and refuses the rest at
//! once ([`Busy`]), so a flood of wrong passwords costs a bounded amount of memory and
//! threads and is answered quickly. An unknown principal is checked against the hasher's
//! dummy hash, made with the configured parameters, so that it costs the same time as a
//! wrong password (a dummy at other parameters would tell which M-IDs exist).

use crate::config::Argon2Config;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// A password or other secret: its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for hashing or comparing. Never log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Read from a form or a file as the plain string it is (and never shown again).
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn hasher(cfg: &Argon2Config) -> Result<Argon2<'static>, argon2::Error> {
    let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id and a fresh random salt, as a PHC string.
pub fn hash(password: &str, cfg: &Argon2Config) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    hasher(cfg)
        .map_err(|e| e.to_string())?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a PHC string; the comparison is constant-time (argon2 crate).
/// A malformed stored hash verifies nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The hasher is saturated: the attempt was refused without being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked at once")]
pub struct Busy;

/// What the hasher has done, for operators and tests.
#[derive(Debug, Default)]
pub struct HasherStats {
    pub computed: AtomicU64,
    pub refused_busy: AtomicU64,
    /// Total time computations waited for a slot, in microseconds.
    pub waited_us: AtomicU64,
}

/// Verifies `password` against `phc`, computing into `memory`, which a worker keeps between
/// calls: argon2's memory is allocated once per worker, not once per attempt, so a flood of
/// attempts cannot make the allocator's arenas grow. The comparison is constant-time.
fn verify_in(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && crate::ground::constant_time_eq(&out, expected.as_bytes())
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The bounded argon2 pool every request-path hash and verification goes through: a fixed
/// set of worker threads (one per slot), a semaphore that admits work only when a worker is
/// free, and a bounded, time-limited wait for the rest.
#[derive(Debug)]
pub struct Hasher {
    config: Argon2Config,
    slots: Arc<Semaphore>,
    concurrency: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
    dummy: String,
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    pub stats: HasherStats,
}

impl Hasher {
    /// A hasher for `config`: starts its workers and computes its dummy hash (one argon2
    /// run) at once.
    pub fn new(config: &Argon2Config) -> Hasher {
        let concurrency = match config.max_concurrent {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let mut pw = [0u8; 24];
        let _ = getrandom::getrandom(&mut pw);
        let dummy = hash(&hex::encode(pw), config).unwrap_or_default();
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let mut workers = 0;
        for i in 0..concurrency {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return, // the hasher is gone
                        }
                    }
                });
            match spawned {
                Ok(_) => workers += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a password-hashing thread"),
            }
        }
        Hasher {
            config: config.clone(),
            slots: Arc::new(Semaphore::new(workers.max(1))),
            concurrency: workers.max(1),
            waiting: AtomicUsize::new(0),
            max_waiting: config.max_waiting,
            max_wait: Duration::from_millis(config.max_wait_ms),
            dummy,
            jobs: (workers > 0).then_some(tx),
            stats: HasherStats::default(),
        }
    }

    /// Computations allowed at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Runs `work` on a worker once a slot is free; refuses at once when too many wait
    /// already, or after waiting `max_wait`. The slot is held until the work is done, even if
    /// the caller goes away (a dropped request cannot free memory still in use).
    #[tracing::instrument(name = "password_hash", skip_all)]
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    self.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
                    return Err(Busy);
                }
                let started = std::time::Instant::now();
                let got =
                    tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned()).await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                self.stats
                    .waited_us
                    .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                match got {
                    Ok(Ok(p)) => p,
                    _ => {
                        self.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
                        return Err(Busy);
                    }
                }
            }
        };
        self.stats.computed.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _slot = permit;
            let _ = tx.send(work(memory));
        });
        let sent = match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|_| Busy),
            // No worker could be started: the blocking pool, still one slot at a time.
            None => {
                tokio::task::spawn_blocking(move || job(&mut Vec::new()));
                Ok(())
            }
        };
        sent?;
        rx.await.map_err(|_| Busy)
    }

    /// Whether `password` matches the PHC string `phc`.
    pub async fn verify(&self, password: &Secret, phc: &str) -> Result<bool, Busy> {
        let (pw, phc) = (password.clone(), phc.to_string());
        self.run(move |memory| verify_in(pw.expose(), &phc, memory))
            .await
    }

    /// Whether `password` matches any of `phcs` (password history), in one slot.
    pub async fn verify_any(&self, password: &Secret, phcs: Vec<String>) -> Result<bool, Busy> {
        let pw = password.clone();
        self.run(move |memory| phcs.iter().any(|h| verify_in(pw.expose(), h, memory)))
            .await
    }

    /// The cost of a verification, for a principal that does not exist (always false).
    pub async fn verify_dummy(&self, password: &Secret) -> Result<bool, Busy> {
        let dummy = self.dummy.clone();
        self.verify(password, &dummy).await.map(|_| false)
    }

    /// A new argon2id hash of `password` at the configured parameters.
    pub async fn hash(&self, password: &Secret) -> Result<Result<String, String>, Busy> {
        let (pw, cfg) = (password.clone(), self.config.clone());
        self.run(move |_| hash(pw.expose(), &cfg)).await
    }

    /// The dummy hash's PHC string (its parameters are the configured ones).
    pub fn dummy_phc(&self) -> &str {
        &self.dummy
    }
}

/// The rules a new password must meet, listed in the refusal so the person can fix it.
#[derive(Debug, Clone)]
pub struct PasswordRules {
    pub min_length: usize,
    /// How many earlier passwords a new one must differ from (1: the current one).
    pub history: u32,
    /// What the password may not contain: "the M-ID" or "the TRACSMail ID".
    pub owner: &'static str,
}

impl PasswordRules {
    /// An M-ID's password (R15): the configured length and history.
    pub fn for_m_ids(policy: &crate::config::AccountPolicy) -> PasswordRules {
        PasswordRules {
            min_length: policy.password_min_length,
            history: policy.password_history,
            owner: "the M-ID",
        }
    }

    /// A TRACSMail ID's password, changed by whoever has the mailbox open (R23): the same
    /// length and classes; it must differ from the current one.
    pub fn for_mailboxes(policy: &crate::config::AccountPolicy) -> PasswordRules {
        PasswordRules {
            min_length: policy.password_min_length,
            history: 1,
            owner: "the TRACSMail ID",
        }
    }

    pub fn describe(&self) -> String {
        let differ = match self.history {
            0 | 1 => "differ from the current one".to_string(),
            n => format!("differ from the last {n} passwords"),
        };
        format!(
            "A password must be {} to 128 characters long, contain an upper-case letter, a lower-case letter and a digit, not contain {}, and {differ}.",
            self.min_length, self.owner
        )
    }

    /// Checks the rules that need no previous hashes. Returns the first broken rule.
    pub fn check(&self, mid: &str, password: &str) -> Result<(), String> {
        let n = password.chars().count();
        if n < self.min_length || n > 128 {
            return Err(format!("It has {n} characters."));
        }
        if !password.chars().any(|c| c.is_uppercase())
            || !password.chars().any(|c| c.is_lowercase())
            || !password.chars().any(|c| c.is_ascii_digit())
        {
            return Err("It lacks an upper-case letter, a lower-case letter or a digit.".into());
        }
        if password
            .to_ascii_uppercase()
            .contains(&mid.to_ascii_uppercase())
        {
            return Err("It contains the M-ID.".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Config {
        Argon2Config {
            memory_kib: 1024,
            iterations: 1,
            ..Argon2Config::default()
        }
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("Correct-Horse-9", &cheap()).expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Correct-Horse-9", &h));
        assert!(!verify("correct-horse-9", &h));
        assert!(!verify("x", "not a hash"));
        let mut memory = Vec::new();
        assert!(verify_in("Correct-Horse-9", &h, &mut memory));
        assert!(!verify_in("correct-horse-9", &h, &mut memory));
        assert!(!verify_in("x", "not a hash", &mut memory));
        assert_eq!(memory.len(), 1024, "one KiB block per KiB of memory_kib");
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }

    #[tokio::test]
    async fn the_dummy_hash_has_the_configured_parameters() {
        let h = Hasher::new(&cheap());
        assert!(
            h.dummy_phc().contains("m=1024,t=1,p=1"),
            "{}",
            h.dummy_phc()
        );
        assert_eq!(h.verify_dummy(&Secret::new("x")).await, Ok(false));
        let phc = h
            .hash(&Secret::new("Pw-123456789"))
            .await
            .expect("slot")
            .expect("hash");
        assert_eq!(h.verify(&Secret::new("Pw-123456789"), &phc).await, Ok(true));
    }

    #[tokio::test]
    async fn a_full_hasher_refuses_at_once_instead_of_queueing() {
        let cfg = Argon2Config {
            memory_kib: 8 * 1024,
            iterations: 4,
            max_concurrent: 1,
            max_waiting: 2,
            max_wait_ms: 60_000,
            ..Argon2Config::default()
        };
        let h = std::sync::Arc::new(Hasher::new(&cfg));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.verify_dummy(&Secret::new("guess")).await })
            })
            .collect();
        let mut busy = 0;
        for t in tasks {
            if t.await.expect("join") == Err(Busy) {
                busy += 1;
            }
        }
        // One computing and two waiting at most: the other nine were refused at once.
        assert!(busy >= 9, "{busy} refused");
        assert_eq!(h.stats.refused_busy.load(Ordering::Relaxed), busy);
    }

    #[test]
    fn password_rules() {
        let r = PasswordRules {
            min_length: 12,
            history: 6,
            owner: "the M-ID",
        };
        assert!(r.check("M10001", "Winter-Garden-42").is_ok());
        assert!(r.check("M10001", "Short1a").is_err());
        assert!(r.check("M10001", "alllowercase-42").is_err());
        assert!(r.check("M10001", "Pass-m10001-Word").is_err());
        assert!(r.describe().contains("12"));
    }
}
