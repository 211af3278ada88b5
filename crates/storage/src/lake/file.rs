//! The file lake: one file per object under a root directory.
//!
//! Write-once is made atomic with a temporary file and `hard_link`, which fails if the
//! target exists: a crash mid-write leaves only a stray temporary, never a torn object.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Lake, LakeError, PutOutcome, validate_key};

pub struct FileLake {
    root: PathBuf,
    /// fsync each object and its directory. Off by default: a killed process loses
    /// nothing without it (the page cache survives); power loss needs it.
    fsync: bool,
}

impl FileLake {
    pub fn new(root: PathBuf, fsync: bool) -> Result<Self, LakeError> {
        std::fs::create_dir_all(root.join(".tmp"))?;
        Ok(FileLake { root, fsync })
    }

    fn put_blocking(
        root: &Path,
        key: &str,
        bytes: &[u8],
        fsync: bool,
    ) -> Result<PutOutcome, LakeError> {
        let path = root.join(key);
        if let Ok(meta) = std::fs::metadata(&path) {
            return same_or_conflict(&path, key, bytes, meta.len());
        }
        let dir = path.parent().expect("validated keys have a parent");
        std::fs::create_dir_all(dir)?;
        let tmp = root.join(".tmp").join(uuid::Uuid::now_v7().to_string());
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            if fsync {
                f.sync_all()?;
            }
        }
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                if fsync {
                    std::fs::File::open(dir)?.sync_all()?;
                }
                Ok(PutOutcome::Created)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let len = std::fs::metadata(&path)?.len();
                same_or_conflict(&path, key, bytes, len)
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn same_or_conflict(
    path: &Path,
    key: &str,
    bytes: &[u8],
    len: u64,
) -> Result<PutOutcome, LakeError> {
    if len == bytes.len() as u64 && std::fs::read(path)? == bytes {
        Ok(PutOutcome::AlreadyExisted)
    } else {
        Err(LakeError::Conflict(key.to_string()))
    }
}

#[async_trait]
impl Lake for FileLake {
    fn kind(&self) -> &'static str {
        "file"
    }

    async fn put_once(&self, key: &str, bytes: &[u8]) -> Result<PutOutcome, LakeError> {
        validate_key(key)?;
        let (root, key, bytes, fsync) = (
            self.root.clone(),
            key.to_string(),
            bytes.to_vec(),
            self.fsync,
        );
        tokio::task::spawn_blocking(move || Self::put_blocking(&root, &key, &bytes, fsync))
            .await
            .map_err(|e| LakeError::Join(e.to_string()))?
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, LakeError> {
        validate_key(key)?;
        match tokio::fs::read(self.root.join(key)).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(LakeError::NotFound(key.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, LakeError> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut stack = vec![root.clone()];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                for entry in entries {
                    let entry = entry?;
                    let path = entry.path();
                    let rel = path
                        .strip_prefix(&root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    if rel.starts_with(".tmp") {
                        continue;
                    }
                    if entry.file_type()?.is_dir() {
                        if prefix.starts_with(&rel) || rel.starts_with(&prefix) {
                            stack.push(path);
                        }
                    } else if rel.starts_with(&prefix) {
                        out.push(rel);
                    }
                }
            }
            out.sort();
            Ok(out)
        })
        .await
        .map_err(|e| LakeError::Join(e.to_string()))?
    }

    async fn ping(&self) -> Result<(), LakeError> {
        let probe = self.root.join(".tmp");
        tokio::fs::create_dir_all(&probe).await?;
        Ok(())
    }
}
