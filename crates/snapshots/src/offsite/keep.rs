//! Retention in a bucket: a plan's rule (or `sqsnap prune`'s counts) applied to the copies
//! one destination holds, judged on that bucket alone, as the local folder's rule is judged
//! on the files on disk. Each recorded copy is asked for first (HEAD, outside the data
//! dir's lock); the library decides what goes ([`Library::drops_in_place`]); each object
//! is deleted, then forgotten in the library. A version left with no copy anywhere is
//! remembered as pruned on purpose, as a local prune does, so a mirror does not bring it
//! back.

use super::{OffsiteError, S3, S3Client, parse_at};
use crate::destination::Copy;
use crate::engine::library::{Held, LIBRARY, Library, LibraryEntry, Rule};
use crate::statedir::StateDir;
use chrono::Utc;
use std::path::PathBuf;

/// What a prune of a bucket did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct KeepReport {
    /// Each copy deleted: the local file it is a copy of, and where it was (`s3://…#name`).
    pub deleted: Vec<(PathBuf, String)>,
    /// Of those, the ones whose version has no copy left anywhere (remembered as pruned).
    pub last_of_version: usize,
    /// Copies in the bucket that stay.
    pub kept: usize,
    /// Copies there with another size than uploaded: kept, and never the protected one.
    pub unverified: Vec<String>,
    /// Copies the library recorded that the bucket does not have (deleted behind this
    /// app's back, a lifecycle rule): forgotten.
    pub missing: Vec<String>,
}

/// The size a good copy of `e` has in the bucket: the zip's, or for a sealed copy
/// (`….age`) the zip's plus age's stream (a 16-byte nonce and a 16-byte tag per 64 KiB
/// chunk, at least one) and a header of at most 1 KiB.
fn fits(e: &LibraryEntry, key: &str, size: u64) -> bool {
    if !key.ends_with(crate::seal::SEALED_SUFFIX) {
        return size == e.size;
    }
    let stream = e.size + 16 + 16 * e.size.div_ceil(64 * 1024).max(1);
    size > stream && size - stream <= 1024
}

/// The copies of this destination the library records, for the resources of `ids`
/// (`None`: all), each with its object key.
fn recorded<'a>(
    lib: &'a Library,
    name: &'a str,
    bucket: &'a str,
    ids: Option<&'a [String]>,
) -> impl Iterator<Item = (&'a LibraryEntry, &'a Copy, &'a str)> + 'a {
    lib.entries
        .iter()
        .filter(move |e| ids.is_none_or(|ids| ids.contains(&e.resource_id)))
        .flat_map(|e| e.copies.iter().map(move |c| (e, c)))
        .filter_map(move |(e, c)| {
            if c.kind != S3 {
                return None;
            }
            let (n, key) = parse_at(&c.at)?;
            // A copy in another bucket of a destination re-added under the same name is
            // not this bucket's to judge.
            let in_bucket = c.at.strip_prefix("s3://")?.split('/').next() == Some(bucket);
            (n == name && in_bucket).then_some((e, c, key))
        })
}

/// Applies `rule` to the copies `client`'s destination holds of the resources of `ids`
/// (`None`: every resource in the library). Stops at the first failed call: what was
/// deleted before it is recorded.
pub async fn prune(
    client: &S3Client,
    state: &StateDir,
    ids: Option<&[String]>,
    rule: &Rule,
) -> Result<KeepReport, OffsiteError> {
    let cfg = client.config().clone();
    let lib: Library = state.read(LIBRARY)?;
    let mut report = KeepReport::default();
    let mut held = Vec::new();
    for (e, c, key) in recorded(&lib, &cfg.name, &cfg.bucket, ids) {
        match client.head(key).await? {
            Some(h) => {
                let verified = fits(e, key, h.size);
                if !verified {
                    report.unverified.push(c.at.clone());
                }
                held.push(Held {
                    entry: e.path.clone(),
                    copy: c.clone(),
                    verified,
                });
            }
            None => {
                report.missing.push(c.at.clone());
                let (p, c) = (e.path.clone(), c.clone());
                state.update(LIBRARY, |l: &mut Library| l.forget_missing(&p, &c))?;
            }
        }
    }
    let drops = lib.drops_in_place(ids, rule, &held);
    report.kept = held.len() - drops.len();
    for h in drops {
        let Some((_, key)) = parse_at(&h.copy.at) else {
            continue;
        };
        client.delete(key).await?;
        let last = state.update(LIBRARY, |l: &mut Library| {
            l.forget_copy(&cfg.name, &h.entry, &h.copy, Utc::now())
        })?;
        report.last_of_version += usize::from(last);
        report.deleted.push((h.entry, h.copy.at));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_copy_fits_with_ages_overhead_only() {
        let e = LibraryEntry {
            resource_id: "r".into(),
            resource_name: "r".into(),
            version: None,
            taken_at: Utc::now(),
            size: 200_000,
            path: PathBuf::from("/x/a.zip"),
            downloaded_at: Utc::now(),
            verified_at: None,
            copies: Vec::new(),
            sealed_size: None,
            account: None,
        };
        assert!(fits(&e, "p/a.zip", 200_000));
        assert!(!fits(&e, "p/a.zip", 200_001));
        // 200 000 bytes: 4 chunks of 64 KiB at most, so 16 + 4 × 16 over, plus a header.
        let stream = 200_000 + 16 + 64;
        assert!(fits(&e, "p/a.zip.age", stream + 200));
        assert!(!fits(&e, "p/a.zip.age", stream));
        assert!(!fits(&e, "p/a.zip.age", 200_000));
        assert!(!fits(&e, "p/a.zip.age", stream + 5000));
    }
}
