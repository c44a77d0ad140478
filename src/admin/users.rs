//! The users file (`state/users.yaml` by default): who may use the administration
//! server, whether they are staff, and an argon2 hash of their token — never the token.
//!
//! A token is `<name>.<secret>`: it names its user, so checking one costs a single
//! hash lookup. The slow argon2 verification runs once per token; afterwards its
//! SHA-256 is cached and compared in constant time. The file is re-read when it
//! changes on disk, so `users add`/`users remove` take effect on a running server.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AdminError;

#[derive(Debug, Default, Serialize, Deserialize)]
struct UsersFile {
    #[serde(default)]
    users: Vec<UserEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    #[serde(default)]
    staff: bool,
    /// PHC string (`$argon2id$...`).
    token_hash: String,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub staff: bool,
}

/// User names are kept to characters that survive in a token, a URL and a log line.
pub fn check_user_name(name: &str) -> Result<(), AdminError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(AdminError::BadUserName(name.to_string()))
    }
}

fn read_file(path: &Path) -> Result<UsersFile, AdminError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UsersFile::default()),
        Err(source) => {
            return Err(AdminError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if text.trim().is_empty() {
        return Ok(UsersFile::default());
    }
    serde_norway::from_str(&text).map_err(|e| AdminError::UsersFile {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })
}

fn write_file(path: &Path, file: &UsersFile) -> Result<(), AdminError> {
    let io = |source| AdminError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let text = serde_norway::to_string(file).map_err(|e| AdminError::UsersFile {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    // tempfile creates it 0600: the hashes are not secrets, but nobody else needs them.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn random_hex(bytes: usize) -> Result<String, AdminError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AdminError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// A new random secret, e.g. for session ids and CSRF tokens.
pub fn random_token() -> Result<String, AdminError> {
    random_hex(32)
}

fn hash_token(token: &str) -> Result<String, AdminError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AdminError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AdminError::Random(e.to_string()))?;
    Argon2::default()
        .hash_password(token.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AdminError::Random(e.to_string()))
}

/// Adds a user and returns its token (shown once; only its hash is stored).
pub fn add_user(path: &Path, name: &str, staff: bool) -> Result<String, AdminError> {
    check_user_name(name)?;
    let mut file = read_file(path)?;
    if file.users.iter().any(|u| u.name == name) {
        return Err(AdminError::UserExists(name.to_string()));
    }
    let token = format!("{name}.{}", random_hex(32)?);
    file.users.push(UserEntry {
        name: name.to_string(),
        staff,
        token_hash: hash_token(&token)?,
    });
    write_file(path, &file)?;
    Ok(token)
}

/// Removes a user; its token stops working on running servers at their next request.
pub fn remove_user(path: &Path, name: &str) -> Result<(), AdminError> {
    let mut file = read_file(path)?;
    let before = file.users.len();
    file.users.retain(|u| u.name != name);
    if file.users.len() == before {
        return Err(AdminError::NoSuchUser(name.to_string()));
    }
    write_file(path, &file)
}

/// Every user, in file order.
pub fn list_users(path: &Path) -> Result<Vec<User>, AdminError> {
    Ok(read_file(path)?
        .users
        .into_iter()
        .map(|u| User {
            name: u.name,
            staff: u.staff,
        })
        .collect())
}

/// Why a token was refused (both read "bad token" to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Malformed,
    UnknownUser,
    WrongSecret,
}

#[derive(Default)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    users: HashMap<String, UserEntry>,
    /// user name → SHA-256 of the token already verified against the argon2 hash.
    verified: HashMap<String, [u8; 32]>,
}

/// The users file as a running server sees it.
pub struct UserStore {
    path: PathBuf,
    loaded: Mutex<Loaded>,
    /// Checked for unknown users, so a refusal takes as long whether the user exists.
    decoy_hash: OnceLock<String>,
}

impl UserStore {
    /// Reads the file once now, so a broken file stops `serve` at start-up.
    pub fn open(path: PathBuf) -> Result<Self, AdminError> {
        let store = UserStore {
            path,
            loaded: Mutex::new(Loaded::default()),
            decoy_hash: OnceLock::new(),
        };
        store.refresh_or_fail()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let meta = fs::metadata(&self.path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refresh_or_fail(&self) -> Result<(), AdminError> {
        let stamp = self.stamp();
        if self.lock().stamp == stamp && stamp.is_some() {
            return Ok(());
        }
        let file = read_file(&self.path)?;
        let mut loaded = self.lock();
        loaded.stamp = stamp;
        loaded.users = file
            .users
            .into_iter()
            .map(|u| (u.name.clone(), u))
            .collect();
        loaded.verified.clear();
        Ok(())
    }

    /// Re-reads a changed file; a file broken meanwhile keeps the users last read.
    fn refresh(&self) {
        if let Err(e) = self.refresh_or_fail() {
            tracing::error!(error = %e, "users file unreadable; keeping the users last read");
        }
    }

    /// A user by name, as the file says now (sessions re-check their user with it).
    pub fn user(&self, name: &str) -> Option<User> {
        self.refresh();
        self.lock().users.get(name).map(|u| User {
            name: u.name.clone(),
            staff: u.staff,
        })
    }

    fn check_decoy(&self, token: &str) {
        let decoy = self
            .decoy_hash
            .get_or_init(|| hash_token("decoy.0").unwrap_or_default());
        if let Ok(hash) = PasswordHash::new(decoy) {
            let _ = Argon2::default().verify_password(token.as_bytes(), &hash);
        }
    }

    /// Checks a token. Cheap after a token's first successful use.
    pub fn authenticate(&self, token: &str) -> Result<User, Refusal> {
        let (name, secret) = token.rsplit_once('.').ok_or(Refusal::Malformed)?;
        if name.is_empty() || secret.is_empty() {
            return Err(Refusal::Malformed);
        }
        self.refresh();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let entry = {
            let loaded = self.lock();
            let Some(entry) = loaded.users.get(name).cloned() else {
                drop(loaded);
                self.check_decoy(token);
                return Err(Refusal::UnknownUser);
            };
            if let Some(known) = loaded.verified.get(name) {
                if bool::from(known.ct_eq(&digest)) {
                    return Ok(User {
                        name: entry.name,
                        staff: entry.staff,
                    });
                }
            }
            entry
        };
        // Outside the lock: argon2 is deliberately slow.
        let hash = PasswordHash::new(&entry.token_hash).map_err(|e| {
            tracing::error!(user = name, error = %e, "users file holds an unreadable token hash");
            Refusal::WrongSecret
        })?;
        Argon2::default()
            .verify_password(token.as_bytes(), &hash)
            .map_err(|_| Refusal::WrongSecret)?;
        let mut loaded = self.lock();
        // Only if the file did not change meanwhile (the hash checked is still current).
        if loaded
            .users
            .get(name)
            .is_some_and(|u| u.token_hash == entry.token_hash)
        {
            loaded.verified.insert(name.to_string(), digest);
        }
        Ok(User {
            name: entry.name,
            staff: entry.staff,
        })
    }
}
