//! The bucket side of the destination seam. Asking a bucket whether a copy is there, or
//! deleting it, is a network call; the local seam ([`crate::destination::Copies`]) stays
//! synchronous (the library and retention call it under the data dir's lock, where no call
//! may wait on a network). Copies of kind [`S3`] are answered for here, asynchronously, by
//! the destination named in the copy's `at`.

use super::{OffsiteError, S3, S3Client, parse_at};
use crate::destination::{Copy, Presence};
use std::collections::HashMap;

/// The account's buckets, by destination name.
#[derive(Debug, Default)]
pub struct BucketCopies {
    clients: HashMap<String, S3Client>,
}

impl BucketCopies {
    pub fn new(clients: impl IntoIterator<Item = S3Client>) -> Self {
        Self {
            clients: clients
                .into_iter()
                .map(|c| (c.config().name.clone(), c))
                .collect(),
        }
    }

    fn find<'a>(&self, copy: &'a Copy) -> Option<(&S3Client, &'a str)> {
        if copy.kind != S3 {
            return None;
        }
        let (name, key) = parse_at(&copy.at)?;
        Some((self.clients.get(name)?, key))
    }

    /// Whether the copy is in its bucket, and its size. A copy of a destination not
    /// configured here is not ours to judge: `Missing`.
    pub async fn presence(&self, copy: &Copy) -> Result<Presence, OffsiteError> {
        let Some((c, key)) = self.find(copy) else {
            return Ok(Presence::Missing);
        };
        Ok(match c.head(key).await? {
            Some(h) => Presence::Present(h.size),
            None => Presence::Missing,
        })
    }

    /// Deletes a copy this app uploaded. `Ok(false)`: not a copy of a destination here.
    pub async fn delete(&self, copy: &Copy) -> Result<bool, OffsiteError> {
        let Some((c, key)) = self.find(copy) else {
            return Ok(false);
        };
        c.delete(key).await?;
        Ok(true)
    }
}
