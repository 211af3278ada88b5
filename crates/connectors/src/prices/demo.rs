//! The demo's bundled price history (demo/prices/, compiled in): SYNTHETIC prices, each
//! file says so in its first line. `sigflow demo` writes them to a directory and reads
//! them through the csv provider, so the demo scores its history offline.

use std::path::Path;

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../demo/prices/"]
struct DemoPrices;

/// Writes every bundled file into `dir`; returns how many.
pub fn write_to(dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut n = 0;
    for name in DemoPrices::iter() {
        if let Some(f) = DemoPrices::get(&name) {
            std::fs::write(dir.join(name.as_ref()), f.data.as_ref())?;
            n += 1;
        }
    }
    Ok(n)
}
