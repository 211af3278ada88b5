//! The gate every request passes before its handler, in this order:
//!
//! 1. **Host** must be an address, `localhost`, or listed in `api.allowed_hosts`: a
//!    page on an attacker's domain that rebinds its name to us gets 421.
//! 2. **Origin**, when a browser sends one, must be this server's own or listed in
//!    `api.allowed_origins` (403).
//! 3. **Rate per client address** (429 with `Retry-After` and `RateLimit-*` headers),
//!    before any key is looked up.
//! 4. **Connection pressure**: a connection accepted into the reserved share serves
//!    only health, metrics and admin keys (503).
//! 5. The **key** and its **scope** (401/403).
//! 6. **State changes** with a body (other than webhook ingest, which is signed) must
//!    be `Content-Type: application/json`: no HTML form or `text/plain` fetch can send
//!    that cross-site without a CORS preflight, which this server never approves (415).
//! 7. The **rate per key**.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter, clock::Clock, clock::DefaultClock};
use sigflow_core::apikey::Scope;

pub use crate::auth::AuthPolicy;
use crate::auth::{Caller, KeyError, KeyRing, bearer, required};
use crate::problem::ApiError;

/// What the operator configured (`[api]`).
#[derive(Debug, Clone)]
pub struct Security {
    pub auth: AuthPolicy,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// Requests per second per client address / per key; 0 = unlimited.
    pub rate_per_ip: u32,
    pub rate_per_key: u32,
}

/// The peer of a request's connection (set by the server loop).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Set on requests of connections accepted into the reserved share.
#[derive(Debug, Clone, Copy)]
pub struct Pressure;

type Limiter<K> = RateLimiter<
    K,
    governor::state::keyed::DefaultKeyedStateStore<K>,
    DefaultClock,
    StateInformationMiddleware,
>;

pub struct Gate {
    pub security: Security,
    keys: KeyRing,
    per_ip: Option<(u32, Limiter<IpAddr>)>,
    per_key: Option<(u32, Limiter<String>)>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(rate: u32) -> Option<(u32, Limiter<K>)> {
    let r = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(rate.saturating_mul(2)).unwrap_or(r);
    let q = Quota::per_second(r).allow_burst(burst);
    Some((
        rate,
        RateLimiter::dashmap(q).with_middleware::<StateInformationMiddleware>(),
    ))
}

impl Gate {
    pub fn new(security: Security, store: Arc<dyn crate::store::Store>) -> Gate {
        Gate {
            per_ip: limiter(security.rate_per_ip),
            per_key: limiter(security.rate_per_key),
            keys: KeyRing::new(store),
            security,
        }
    }

    fn host_ok(&self, host: &str) -> bool {
        let name = host_name(host);
        if name.parse::<IpAddr>().is_ok() || name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        self.security
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(name))
    }

    fn origin_ok(&self, origin: &str, host: Option<&str>) -> bool {
        let o = origin.trim_end_matches('/');
        if self
            .security
            .allowed_origins
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(o))
        {
            return true;
        }
        // Same origin: the Origin's authority is the Host the browser addressed.
        let authority = o.split_once("://").map(|(_, a)| a);
        matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
    }

    /// Forgets idle clients' limiter state now and then (memory stays bounded).
    fn tidy(&self) {
        if fastrand::u32(..1024) == 0 {
            if let Some((_, l)) = &self.per_ip {
                l.retain_recent();
            }
            if let Some((_, l)) = &self.per_key {
                l.retain_recent();
            }
        }
    }
}

/// `host[:port]` → host (IPv6 brackets removed).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn check<K: std::hash::Hash + Eq + Clone>(
    lim: &Option<(u32, Limiter<K>)>,
    key: &K,
    what: &str,
) -> Result<Option<(u32, u32)>, ApiError> {
    let Some((rate, l)) = lim else {
        return Ok(None);
    };
    match l.check_key(key) {
        Ok(snap) => Ok(Some((*rate, snap.remaining_burst_capacity()))),
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("more than {rate} requests per second {what}; slow down"),
            )
            .with("limit_per_sec", *rate)
            .retry_after(secs.max(1)))
        }
    }
}

/// Whether the request says it has a body (a length above zero, or chunked, or a
/// content type: a form always sends one).
fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::CONTENT_TYPE)
        || h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/json")
                || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

pub async fn gate(State(g): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    g.tidy();
    match admit(&g, &mut req).await {
        Ok(limit) => {
            let mut resp = next.run(req).await;
            if let Some((rate, remaining)) = limit {
                let h = resp.headers_mut();
                h.insert("ratelimit-limit", HeaderValue::from(rate));
                h.insert("ratelimit-remaining", HeaderValue::from(remaining));
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn admit(g: &Gate, req: &mut Request) -> Result<Option<(u32, u32)>, ApiError> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(h) = &host
        && !g.host_ok(h)
    {
        return Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!("this server does not answer for host `{h}` (add it to api.allowed_hosts)"),
        ));
    }
    if let Some(o) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        && !g.origin_ok(o, host.as_deref())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("requests from origin `{o}` are not allowed (add it to api.allowed_origins)"),
        ));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let needed = required(&method, &path);
    // Owned before awaiting: a request body is Send but not Sync.
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").to_string());
    let health = matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics");
    let ip = req
        .extensions()
        .get::<Peer>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
    // Before the key lookup: guessing keys costs the guesser their rate.
    let mut limit = if health {
        None
    } else {
        check(&g.per_ip, &ip, "from this address")?
    };
    let caller = identify(g, authorization).await?;
    if req.extensions().get::<Pressure>().is_some() && !health && !caller.is_admin() {
        return Err(ApiError::unavailable(
            "the server is at its connection limit; only health checks and admin keys are served",
        )
        .retry_after(1));
    }
    if let Some(scope) = needed {
        let enforced = if scope == Scope::Read {
            g.security.auth.reads
        } else {
            g.security.auth.writes
        };
        match caller.scope {
            Some(have) if !have.allows(scope) => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "this key's scope is `{}`; {method} {path} needs `{}`",
                        have.as_str(),
                        scope.as_str()
                    ),
                )
                .with("required_scope", scope.as_str()));
            }
            None if enforced => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "{method} {path} needs an API key with scope `{}`: send `Authorization: Bearer sfk_…` (make one with `sigflow keys create`)",
                        scope.as_str()
                    ),
                )
                .with("required_scope", scope.as_str())
                .header(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sigflow\""),
                ));
            }
            _ => {}
        }
    }
    // After the key (a caller without one learns that first), before the handler: a
    // state change that carries a body carries JSON. A form or `text/plain` post from
    // another site cannot; a bodiless one from a browser carries its Origin, checked
    // above.
    let changes = matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if changes && !path.starts_with("/api/v1/ingest/") && has_body(req) && !is_json(req) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{method} with a body needs `Content-Type: application/json`"),
        )
        .with("expected_content_type", "application/json"));
    }
    if let Some(id) = &caller.key_id {
        limit = check(&g.per_key, id, "for this key")?.or(limit);
    }
    req.extensions_mut().insert(caller);
    Ok(limit)
}

async fn identify(g: &Gate, authorization: Option<String>) -> Result<Caller, ApiError> {
    let Some(value) = authorization else {
        return Ok(Caller::default());
    };
    let token = bearer(&value).unwrap_or("");
    match g.keys.lookup(token).await {
        Ok((id, scope)) => Ok(Caller {
            key_id: Some(id),
            scope: Some(scope),
        }),
        Err(KeyError::Unavailable) => Err(ApiError::unavailable(
            "keys cannot be checked right now; try again",
        )),
        Err(KeyError::Invalid) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the API key is not valid (mistyped, unknown or revoked)",
        )
        .header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"sigflow\", error=\"invalid_token\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(host_name("example.com:8080"), "example.com");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
    }
}
