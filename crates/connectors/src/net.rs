//! The outbound guard: the one way any component reaches a URL a user configured
//! (sources, the webhook, and next the LLM and price providers).
//!
//! * Only `http` and `https`.
//! * Every address a connection would use is checked against loopback, private,
//!   link-local, CGNAT, multicast, documentation, reserved and cloud-metadata ranges
//!   (IPv4, IPv6, and IPv4 inside IPv6: mapped, compatible, NAT64, 6to4).
//! * Names are checked where they are resolved ([`GuardedResolver`]), so the address
//!   checked is the address connected to: no DNS-rebinding window. Literal addresses
//!   skip resolution, so [`check_url`] checks them before the request and on every
//!   redirect hop.
//! * What a deployment really needs to reach (a local mock in tests, an intranet
//!   feed) is allowed explicitly: `[outbound] allow = ["127.0.0.1/32", "10.2.0.0/16"]`.
//!
//! The policy is installed once per process by the binary ([`install`]); until then
//! the strict default (nothing private) applies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What may be reached beyond the public internet.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub allow: Vec<IpNet>,
}

impl Policy {
    /// Parses `[outbound] allow` entries (CIDR or single addresses); every bad entry
    /// is reported.
    pub fn parse(entries: &[String]) -> Result<Policy, Vec<String>> {
        let mut allow = Vec::new();
        let mut errors = Vec::new();
        for e in entries {
            let parsed = e
                .parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from));
            match parsed {
                Ok(n) => allow.push(n),
                Err(_) => errors.push(format!(
                    "`{e}` is not an address or CIDR range (e.g. 127.0.0.1/32, 10.0.0.0/8, ::1)"
                )),
            }
        }
        if errors.is_empty() {
            Ok(Policy { allow })
        } else {
            Err(errors)
        }
    }

    /// `Err(why)` when a connection to `ip` is refused.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        match forbidden(ip) {
            Some(why) => Err(format!(
                "{ip} is a {why} address; sigflow does not connect there unless `[outbound] allow` lists it"
            )),
            None => Ok(()),
        }
    }
}

static POLICY: RwLock<Option<Arc<Policy>>> = RwLock::new(None);

/// Sets this process's policy (the binary does, from the config).
pub fn install(p: Policy) {
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(p));
}

pub fn policy() -> Arc<Policy> {
    POLICY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Host names that are cloud metadata services whatever they resolve to.
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
];

/// Why `ip` is not a public address, or None.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        (169, 254, _) => "link-local (cloud metadata)",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (100, 64..=127, _) => "shared (CGNAT)",
        (192, 0, 0) => "IETF protocol",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // IPv4 carried inside IPv6 is judged as the IPv4 address it carries.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return forbidden_v4(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(Ipv4Addr::from(((s[1] as u32) << 16) | s[2] as u32));
    }
    Some(match s[0] {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        x if x & 0xfe00 == 0xfc00 => "private (unique local)",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "site-local",
        x if x & 0xff00 == 0xff00 => "multicast",
        0x2001 if s[1] == 0x0db8 => "documentation",
        0x0100 if s[1..4] == [0, 0, 0] => "discard-only",
        _ => return None,
    })
}

/// Checks what can be checked before connecting: the scheme, metadata host names,
/// and a literal address (names are checked by the resolver at connect time).
pub fn check_url(url: &reqwest::Url) -> Result<(), String> {
    check_url_with(&policy(), url)
}

/// The one scheme rule for URLs sigflow reaches: http or https, with a host. Config
/// validation uses it too, so a bad scheme is refused before anything runs.
pub fn check_scheme(url: &url::Url) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(()),
        "http" | "https" => Err("the URL has no host".into()),
        // The scheme is not repeated: callers quote URLs only redacted, if at all.
        _ => Err("only http:// and https:// URLs are allowed".into()),
    }
}

pub fn check_url_with(p: &Policy, url: &reqwest::Url) -> Result<(), String> {
    check_scheme(url)?;
    match url.host() {
        None => Err("the URL has no host".into()),
        Some(url::Host::Ipv4(v4)) => p.check_ip(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => p.check_ip(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_NAMES.contains(&d.as_str()) {
                return Err(format!("`{d}` is a cloud metadata service"));
            }
            Ok(())
        }
    }
}

/// Parses and checks a configured URL (for validation messages).
pub fn check_str(url: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    check_url(&u)?;
    Ok(u)
}

/// A resolver that drops every address the policy refuses, and fails when none is
/// left: the connection can only go to an address that was checked.
#[derive(Debug, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let p = policy();
            if METADATA_NAMES.contains(&host.trim_end_matches('.').to_ascii_lowercase().as_str()) {
                return Err(format!("`{host}` is a cloud metadata service").into());
            }
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let ok: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| match p.check_ip(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused.get_or_insert(e);
                        false
                    }
                })
                .collect();
            if ok.is_empty() {
                let why = refused.unwrap_or_else(|| "no address".into());
                return Err(Refused(format!("`{host}` resolves to {why}")).into());
            }
            let addrs: Addrs = Box::new(ok.into_iter());
            Ok(addrs)
        })
    }
}

/// The guard's refusal as an error value, so callers classify it by type (a
/// configuration problem: fatal) wherever it surfaces in a client's error chain.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// An error and its causes, `: `-joined, URLs redacted (reqwest's own text is only
/// "error sending request"; the reason, e.g. the guard's refusal, is in the chain).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = c.source();
    }
    sigflow_core::redact::redact(&parts.join(": "))
}

/// Whether the guard refused somewhere in `e`'s chain (a configuration problem, not a
/// transient one: retrying will not make the address public).
pub fn is_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<Refused>().is_some() {
            return true;
        }
        cur = c.source();
    }
    false
}

/// Most redirects followed; each hop is checked like the first URL.
pub const MAX_REDIRECTS: usize = 5;

/// A client builder with the guard in place: the checked resolver, checked
/// redirects, no proxy from the environment (a proxy would connect on our behalf to
/// addresses we never see).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver))
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(Refused(format!("redirect refused: {e}"))),
            }
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        check_url_with(&Policy::default(), &reqwest::Url::parse(s).unwrap()).is_err()
    }

    #[test]
    fn refuses_private_metadata_and_odd_schemes() {
        for u in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[::127.0.0.1]/",
            "http://127.0.0.1:8080/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::1]/",
            "http://10.0.0.1/",
            "http://172.31.255.1/",
            "http://192.168.1.1/",
            "http://100.100.100.200/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://224.0.0.1/",
            "http://0.0.0.0/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.GOOGLE.INTERNAL./",
            "file:///etc/passwd",
            "gopher://example.com/",
            "ftp://example.com/",
        ] {
            assert!(refused(u), "{u} should be refused");
        }
        for u in [
            "https://example.com/feed",
            "http://93.184.216.34/",
            "http://[2606:4700::1111]/",
        ] {
            assert!(!refused(u), "{u} should be allowed");
        }
    }

    #[tokio::test]
    async fn a_refusal_is_recognised_by_type_through_the_clients_error() {
        let client = client_builder().build().unwrap();
        // `localhost` resolves to loopback, refused by the default policy.
        let e = client.get("http://localhost:9/").send().await.unwrap_err();
        assert!(is_refusal(&e), "{}", error_chain(&e));
        // A plain connection failure is not a refusal.
        let e = reqwest::Client::new()
            .get("http://127.0.0.1:9/")
            .send()
            .await
            .unwrap_err();
        assert!(!is_refusal(&e));
    }

    #[test]
    fn the_allowlist_opens_exactly_what_it_names() {
        let p = Policy::parse(&["127.0.0.1/32".into(), "::1".into()]).unwrap();
        assert!(p.check_ip("127.0.0.1".parse().unwrap()).is_ok());
        assert!(p.check_ip("::1".parse().unwrap()).is_ok());
        assert!(p.check_ip("127.0.0.2".parse().unwrap()).is_err());
        assert!(p.check_ip("169.254.169.254".parse().unwrap()).is_err());
        assert_eq!(Policy::parse(&["nope".into()]).unwrap_err().len(), 1);
    }
}
