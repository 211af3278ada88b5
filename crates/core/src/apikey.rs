//! API key format: `sfk_` + 8-character id + 32-character secret + 6-character
//! checksum, all base62. The prefix makes a leaked key findable by secret scanners;
//! the checksum (CRC-32 of the rest) lets them, and us, reject a mistyped or made-up
//! key without a lookup. Only the SHA-256 of the whole key is stored; the id (not
//! secret) names the key in lists and logs.
//!
//! Pure: the caller brings the random bytes.

use crate::hash::sha256_hex;

pub const PREFIX: &str = "sfk_";
const ID_LEN: usize = 8;
const SECRET_LEN: usize = 32;
const CHECK_LEN: usize = 6;
pub const KEY_LEN: usize = PREFIX.len() + ID_LEN + SECRET_LEN + CHECK_LEN;
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a key may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every GET.
    Read,
    /// Changes to running state (pause and resume sources, …).
    Write,
    /// Adding, removing and testing sources; upstream error details.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether a key of this scope may do what `needed` guards.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

/// A newly made key: the whole key (shown once), its id and the hash to store.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: String,
    pub id: String,
    pub hash: String,
}

fn base62(bytes: &[u8], n: usize) -> String {
    // Rejection-free mapping is biased by < 2^-7 per character at 8 bits in; two bytes
    // per character make the bias negligible (2^-16/62).
    bytes
        .chunks(2)
        .take(n)
        .map(|c| {
            let v = (c[0] as usize) << 8 | c.get(1).copied().unwrap_or(0) as usize;
            ALPHABET[v % 62] as char
        })
        .collect()
}

fn checksum(body: &str) -> String {
    let mut v = crc32(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v % 62) as usize];
        v /= 62;
    }
    String::from_utf8(out.to_vec()).expect("ASCII")
}

/// CRC-32 (IEEE), bitwise: 46 bytes per key make a table pointless.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Makes a key from at least 80 random bytes.
pub fn generate(random: &[u8]) -> NewKey {
    assert!(
        random.len() >= 2 * (ID_LEN + SECRET_LEN),
        "need 80 random bytes"
    );
    let id = base62(&random[..2 * ID_LEN], ID_LEN);
    let secret = base62(&random[2 * ID_LEN..], SECRET_LEN);
    let body = format!("{PREFIX}{id}{secret}");
    let key = format!("{body}{}", checksum(&body));
    NewKey {
        hash: hash(&key),
        key,
        id,
    }
}

/// The stored form of a key.
pub fn hash(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// The id of a well-formed key with a valid checksum; None for anything else.
pub fn check(key: &str) -> Option<&str> {
    if key.len() != KEY_LEN || !key.starts_with(PREFIX) || !key.is_ascii() {
        return None;
    }
    let (body, sum) = key.split_at(KEY_LEN - CHECK_LEN);
    if !body[PREFIX.len()..]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric())
        || checksum(body) != sum
    {
        return None;
    }
    Some(&key[PREFIX.len()..PREFIX.len() + ID_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_a_prefix_and_a_checksum() {
        let random: Vec<u8> = (0..80u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        let k = generate(&random);
        assert_eq!(k.key.len(), KEY_LEN);
        assert!(k.key.starts_with("sfk_"));
        assert_eq!(check(&k.key), Some(k.id.as_str()));
        assert_eq!(k.hash, hash(&k.key));
        // One changed character fails the checksum.
        let mut bad = k.key.clone().into_bytes();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        assert_eq!(check(std::str::from_utf8(&bad).unwrap()), None);
        assert_eq!(check("sfk_short"), None);
        assert_eq!(check(&format!("{}é", &k.key[..KEY_LEN - 2])), None);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn scopes_nest() {
        assert!(Scope::Admin.allows(Scope::Write));
        assert!(!Scope::Read.allows(Scope::Write));
        assert_eq!(Scope::parse("admin"), Some(Scope::Admin));
        assert_eq!(Scope::parse("root"), None);
    }
}
