//! The S3 lake (feature `s3`): objects in a bucket under an optional prefix, through
//! `object_store`. Write-once is the server's: a conditional put (`If-None-Match: *`)
//! that S3 (and moto, MinIO, R2) refuse when the key exists; then the bytes already
//! there are compared, so a retry of the same payload is `AlreadyExisted` and a
//! different payload under the same key is a `Conflict`, never an overwrite.
//!
//! Endpoint and credentials come from the usual AWS variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` or
//! `AWS_ENDPOINT` for S3-compatible servers), or from the URL's query
//! (`?endpoint=…&region=…`); plain `http://` endpoints are allowed when named
//! explicitly.

use async_trait::async_trait;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::{Lake, LakeError, PutOutcome, validate_key};

pub struct S3Lake {
    store: AmazonS3,
    /// Key prefix inside the bucket ("" or "a/b").
    prefix: String,
    url: String,
}

impl S3Lake {
    /// `s3://bucket[/prefix][?endpoint=URL&region=R&skip_signature=true]`.
    /// The URL is never logged with its query (it may hold test credentials).
    pub fn open(url: &str) -> Result<Self, LakeError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let rest = base
            .strip_prefix("s3://")
            .ok_or_else(|| LakeError::BadKey(url.to_string()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(LakeError::BadKey(format!(
                "lake URL `{url}` names no bucket: expected s3://BUCKET[/PREFIX]"
            )));
        }
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let mut endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .ok();
        let mut region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok();
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=').unwrap_or((kv, "")) {
                ("endpoint", v) => endpoint = Some(v.to_string()),
                ("region", v) => region = Some(v.to_string()),
                // Unsigned requests: public buckets.
                ("skip_signature", "true") => b = b.with_skip_signature(true),
                // For local S3-compatible test servers only; real credentials belong in
                // the AWS_* variables, not in a URL that ends up in configs and logs.
                ("access_key_id", v) => b = b.with_access_key_id(v),
                ("secret_access_key", v) => b = b.with_secret_access_key(v),
                (k, _) => {
                    return Err(LakeError::BadKey(format!(
                        "lake URL `{url}`: unknown parameter `{k}` (endpoint, region, skip_signature, access_key_id, secret_access_key)"
                    )));
                }
            }
        }
        if let Some(e) = endpoint {
            // An explicit endpoint is an S3-compatible server: path-style addressing,
            // and plain HTTP if that is what it says.
            b = b
                .with_endpoint(e.clone())
                .with_virtual_hosted_style_request(false)
                .with_allow_http(e.starts_with("http://"));
        }
        b = b.with_region(region.unwrap_or_else(|| "us-east-1".into()));
        let store = b
            .build()
            .map_err(|e| LakeError::Remote(format!("S3 lake {base}: {e}"), false))?;
        Ok(S3Lake {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            url: base.to_string(),
        })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }
}

/// Maps a store error: a missing object and refusals are not worth retrying; the
/// network and the server's 5xx are.
fn err(key: &str, e: object_store::Error) -> LakeError {
    match e {
        object_store::Error::NotFound { .. } => LakeError::NotFound(key.to_string()),
        object_store::Error::InvalidPath { .. } => LakeError::BadKey(key.to_string()),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. }
        | object_store::Error::NotImplemented { .. }
        | object_store::Error::NotSupported { .. } => {
            LakeError::Remote(format!("{key}: {e}"), false)
        }
        other => LakeError::Remote(format!("{key}: {other}"), true),
    }
}

#[async_trait]
impl Lake for S3Lake {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn put_once(&self, key: &str, bytes: &[u8]) -> Result<PutOutcome, LakeError> {
        validate_key(key)?;
        let path = self.path(key);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(bytes.to_vec()), opts)
            .await
        {
            Ok(_) => Ok(PutOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) => {
                let there = self.get(key).await?;
                if there == bytes {
                    Ok(PutOutcome::AlreadyExisted)
                } else {
                    Err(LakeError::Conflict(key.to_string()))
                }
            }
            Err(e) => Err(err(key, e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, LakeError> {
        validate_key(key)?;
        let r = self
            .store
            .get(&self.path(key))
            .await
            .map_err(|e| err(key, e))?;
        Ok(r.bytes().await.map_err(|e| err(key, e))?.to_vec())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, LakeError> {
        let dir = prefix.trim_end_matches('/');
        let full = match (self.prefix.is_empty(), dir.is_empty()) {
            (true, true) => None,
            (true, false) => Some(Path::from(dir)),
            (false, true) => Some(Path::from(self.prefix.as_str())),
            (false, false) => Some(Path::from(format!("{}/{dir}", self.prefix))),
        };
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys: Vec<String> = self
            .store
            .list(full.as_ref())
            .map_ok(|m| m.location.to_string())
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| err(prefix, e))?
            .into_iter()
            .map(|k| k.strip_prefix(&strip).unwrap_or(&k).to_string())
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn ping(&self) -> Result<(), LakeError> {
        // Listing one page of the prefix proves the bucket answers and we may read it.
        let full = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        let _ = self
            .store
            .list_with_delimiter(full.as_ref())
            .await
            .map_err(|e| err(&self.url, e))?;
        Ok(())
    }
}
