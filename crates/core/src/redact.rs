//! Secrets out of every text a person may see: URLs lose their userinfo and the
//! values of credential-bearing query parameters, wherever they appear in a message
//! (a log line, `/readyz`, an API answer, a CLI table, an error). Pure string work, so
//! every crate can call it on anything it is about to show.

/// Query parameters whose values are credentials (compared case-insensitively, with
/// `-` and `_` ignored, so `api-key`, `api_key` and `APIKEY` all match).
const SECRET_PARAMS: &[&str] = &[
    "apikey",
    "key",
    "token",
    "accesstoken",
    "authtoken",
    "auth",
    "secret",
    "clientsecret",
    "password",
    "passwd",
    "pwd",
    "signature",
    "sig",
    "xamzsignature",
    "xamzcredential",
    "xamzsecuritytoken",
    "code",
    "session",
    "sessionid",
    "refreshtoken",
    "idtoken",
    "bearer",
    "jwt",
];

pub const MASK: &str = "REDACTED";

fn is_secret_param(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_PARAMS.contains(&n.as_str()) || n.ends_with("token") || n.ends_with("secret")
}

/// Every URL inside `text` with its secrets masked; the rest of the text unchanged.
/// A URL is found by its `scheme://`; it ends at whitespace or a quote/bracket.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme is the run of scheme characters just before `://`.
        let head = &rest[..at];
        let scheme_start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map(|(i, _)| i)
            .unwrap_or(at);
        out.push_str(&rest[..scheme_start]);
        let url_and_more = &rest[scheme_start..];
        let end = url_and_more
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(url_and_more.len());
        out.push_str(&redact_url(&url_and_more[..end]));
        rest = &url_and_more[end..];
    }
    out.push_str(rest);
    out
}

/// One URL with its userinfo and credential query values masked. Not a parser: it
/// works on what looks like a URL in a message, even a truncated one.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, after) = url.split_at(scheme_end + 3);
    let auth_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, tail) = after.split_at(auth_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("{MASK}@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let (path, query_and_frag) = match tail.find('?') {
        Some(q) => tail.split_at(q),
        None => (tail, ""),
    };
    let mut out = format!("{scheme}{authority}{path}");
    if let Some(q) = query_and_frag.strip_prefix('?') {
        let (query, frag) = match q.find('#') {
            Some(h) => q.split_at(h),
            None => (q, ""),
        };
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if is_secret_param(&percent_decode_lossy(k)) && !v.is_empty() => {
                    format!("{k}={MASK}")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
        out.push_str(frag);
    }
    out
}

fn percent_decode_lossy(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` cut to `max` characters (an ellipsis marks the cut), control characters
/// shown as spaces: for upstream bodies quoted in errors.
pub fn truncate(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keys_and_userinfo_anywhere_in_a_message() {
        let m = "GET https://www.alphavantage.co/query?function=EARNINGS_CALENDAR&apikey=ABC123&horizon=3month: 503";
        let r = redact(m);
        assert!(!r.contains("ABC123"), "{r}");
        assert!(r.contains("apikey=REDACTED&horizon=3month: 503"), "{r}");
        let r = redact("connect to postgres://sigflow:hunter2@db:5432/x failed");
        assert_eq!(r, "connect to postgres://REDACTED@db:5432/x failed");
        let r = redact_url("https://h/p?Access_Token=t&API-KEY=k&q=1#frag");
        assert_eq!(
            r,
            "https://h/p?Access_Token=REDACTED&API-KEY=REDACTED&q=1#frag"
        );
        assert_eq!(redact("no url here"), "no url here");
        let r = redact("\"url\":\"http://x/?client_secret=s\"");
        assert!(!r.contains("=s\""), "{r}");
        assert!(redact("https://h/?%61pikey=zz").contains("REDACTED"));
        assert_eq!(redact("https://h/?q=apple"), "https://h/?q=apple");
    }

    #[test]
    fn truncates_on_characters() {
        assert_eq!(truncate("héllo\nworld", 7), "héllo w…");
        assert_eq!(truncate("ok", 7), "ok");
    }
}
