//! Who is calling, and may they: API keys (`Authorization: Bearer sfk_…`) looked up
//! by hash in the store (cached two seconds, so a revocation bites within two
//! seconds), and the scope each endpoint needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use sigflow_core::apikey::{self, Scope};

use crate::store::Store;

/// When keys are needed.
#[derive(Debug, Clone, Copy)]
pub struct AuthPolicy {
    /// Reads need a key (the API listens beyond loopback).
    pub reads: bool,
    /// State changes need a key (always, unless `--insecure-no-auth`).
    pub writes: bool,
}

/// The caller as the gate found it, for handlers that show more to more trust.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub key_id: Option<String>,
    pub scope: Option<Scope>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.scope.is_some_and(|s| s.allows(Scope::Admin))
    }
}

/// The scope an endpoint needs, or None when it is open to everyone (health, the
/// API description, and webhook ingest, which has its own HMAC signatures).
pub fn required(method: &Method, path: &str) -> Option<Scope> {
    if matches!(
        path,
        "/healthz" | "/readyz" | "/api/v1/openapi.json" | "/api/v1/docs"
    ) {
        return None;
    }
    if path.starts_with("/api/v1/ingest/") && method == Method::POST {
        return None;
    }
    if matches!(*method, Method::GET | Method::HEAD) {
        return Some(Scope::Read);
    }
    if method == Method::POST
        && path.starts_with("/api/v1/sources/")
        && (path.ends_with("/pause") || path.ends_with("/resume"))
    {
        return Some(Scope::Write);
    }
    // Everything else that changes state: adding, removing, testing sources.
    Some(Scope::Admin)
}

type Cached = (Instant, Option<(String, Scope)>);

/// Presented keys → (id, scope), remembered briefly.
pub struct KeyRing {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<String, Cached>>,
}

const TTL: Duration = Duration::from_secs(2);
const CACHE_MAX: usize = 10_000;

#[derive(Debug)]
pub enum KeyError {
    /// Not a key at all, unknown, or revoked.
    Invalid,
    /// The store could not be asked.
    Unavailable,
}

impl KeyRing {
    pub fn new(store: Arc<dyn Store>) -> Self {
        KeyRing {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The working key `key` is, as (id, scope).
    pub async fn lookup(&self, key: &str) -> Result<(String, Scope), KeyError> {
        // The checksum turns away typos and made-up keys without touching the store.
        if apikey::check(key).is_none() {
            return Err(KeyError::Invalid);
        }
        let hash = apikey::hash(key);
        if let Some((at, hit)) = self.lock().get(&hash).cloned()
            && at.elapsed() < TTL
        {
            return hit.ok_or(KeyError::Invalid);
        }
        let found = crate::store::repos::api_keys::by_hash(self.store.sql(), &hash)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot look an API key up");
                KeyError::Unavailable
            })?
            .and_then(|k| Scope::parse(&k.scope).map(|s| (k.id, s)));
        let mut cache = self.lock();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash, (Instant::now(), found.clone()));
        found.ok_or(KeyError::Invalid)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_by_endpoint() {
        assert_eq!(required(&Method::GET, "/healthz"), None);
        assert_eq!(required(&Method::POST, "/api/v1/ingest/hook"), None);
        assert_eq!(
            required(&Method::GET, "/api/v1/contents"),
            Some(Scope::Read)
        );
        assert_eq!(required(&Method::GET, "/metrics"), Some(Scope::Read));
        assert_eq!(
            required(&Method::POST, "/api/v1/sources/x/pause"),
            Some(Scope::Write)
        );
        assert_eq!(
            required(&Method::POST, "/api/v1/sources"),
            Some(Scope::Admin)
        );
        assert_eq!(
            required(&Method::DELETE, "/api/v1/sources/x"),
            Some(Scope::Admin)
        );
        assert_eq!(required(&Method::PUT, "/anything"), Some(Scope::Admin));
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
    }
}
