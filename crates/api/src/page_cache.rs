//! Recently served pages of `GET /api/v1/contents`, by query string. A dashboard or a
//! crowd of pollers asks the same few questions many times a second; between two
//! commits the answer cannot change, so it is served from here (already serialized,
//! and already gzipped for clients that accept it) instead of from the store.
//!
//! A page is reused while the store's version is what it was when the page was made
//! and for at most [`MAX_AGE`]. The version is the embedded store's count of writing
//! commits (any change) or, for a shared store, its highest `seq` (an item added): a
//! re-harvest that changes an existing item there shows within [`MAX_AGE`].

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;

pub const MAX_AGE: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 4096;
/// Pages larger than this are not kept (a client asking for huge pages pays itself).
const MAX_PAGE_BYTES: usize = 4 << 20;

#[derive(Clone)]
pub struct Page {
    pub json: Bytes,
    pub gzip: Option<Bytes>,
}

struct Entry {
    high: i64,
    at: Instant,
    page: Page,
}

#[derive(Default)]
pub struct PageCache {
    map: Mutex<HashMap<String, Entry>>,
    /// One builder per query at a time: when a commit makes a page stale, the many
    /// clients asking for it wait for one rebuild instead of each running it.
    building: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl PageCache {
    /// The page for `key` if it is still the answer at high-water mark `high`.
    pub fn get(&self, key: &str, high: i64, want_gzip: bool) -> Option<Page> {
        let mut map = self.lock();
        let e = map.get_mut(key)?;
        if e.high != high || e.at.elapsed() > MAX_AGE {
            return None;
        }
        if want_gzip && e.page.gzip.is_none() {
            e.page.gzip = gzip(&e.page.json);
        }
        Some(e.page.clone())
    }

    /// Held while building the page for `key`.
    pub async fn building(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut b = self.building.lock().unwrap_or_else(|e| e.into_inner());
            if b.len() >= MAX_ENTRIES {
                b.retain(|_, m| Arc::strong_count(m) > 1);
            }
            b.entry(key.to_string()).or_default().clone()
        };
        m.lock_owned().await
    }

    pub fn put(&self, key: String, high: i64, json: Bytes) {
        if json.len() > MAX_PAGE_BYTES {
            return;
        }
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| e.at.elapsed() <= MAX_AGE);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            key,
            Entry {
                high,
                at: Instant::now(),
                page: Page { json, gzip: None },
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Fast gzip: pages are compressed once and served many times, but the first client
/// waits for it.
pub fn gzip(data: &[u8]) -> Option<Bytes> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).ok()?;
    enc.finish().ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_lives_until_something_is_added_or_it_ages() {
        let c = PageCache::default();
        c.put("q".into(), 7, Bytes::from_static(b"{}"));
        assert!(c.get("q", 7, false).is_some());
        assert!(c.get("q", 8, false).is_none(), "an item was added");
        assert!(c.get("other", 7, false).is_none());
        let g = c.get("q", 7, true).unwrap().gzip.unwrap();
        assert_eq!(&g[..2], &[0x1f, 0x8b]);
    }
}
