//! Deterministic zip archives of any size, served by byte range without holding them in memory.
//!
//! An archive holds two small text entries and one large stored entry whose body is a 64 KiB
//! pseudo-random block repeated. Its CRC-32 is computed by combining the block's CRC, so a
//! 5 GiB archive costs a few microseconds to describe and nothing to keep. Past 4 GiB the
//! archive is written as zip64. An application's own files (put there by commits) go in
//! beside them, replacing a generated entry of the same path.

use crc32fast::Hasher;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An application's files by path, as commits left them.
pub type AppFiles = BTreeMap<String, Arc<Vec<u8>>>;

const BLOCK: usize = 64 * 1024;
const LIMIT32: u64 = 0xFFFF_FFFF;
/// The entry that brings an archive to its size.
const FILL_NAME: &str = "data/blob.bin";

/// A zip archive described as segments of bytes; see [`VirtualZip::read_at`].
#[derive(Debug, Clone)]
pub struct VirtualZip {
    segments: Vec<Segment>,
    len: u64,
}

#[derive(Debug, Clone)]
enum Segment {
    Bytes(Arc<Vec<u8>>),
    Fill { block: Arc<Vec<u8>>, len: u64 },
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Segment::Bytes(b) => b.len() as u64,
            Segment::Fill { len, .. } => *len,
        }
    }
}

struct Entry {
    name: String,
    crc: u32,
    size: u64,
    body: Segment,
}

/// A cheap deterministic byte generator (xorshift64*), seeded from a string.
fn block_for(seed: &str) -> Vec<u8> {
    let mut s: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        s ^= b as u64;
        s = s.wrapping_mul(0x100_0000_01b3);
    }
    if s == 0 {
        s = 1;
    }
    let mut out = Vec::with_capacity(BLOCK);
    while out.len() < BLOCK {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        out.extend_from_slice(&s.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out
}

fn crc_of_fill(block: &[u8], len: u64) -> u32 {
    let mut one = Hasher::new();
    one.update(block);
    let mut result = Hasher::new();
    let mut pow = one;
    let mut n = len / BLOCK as u64;
    while n > 0 {
        if n & 1 == 1 {
            result.combine(&pow);
        }
        let p = pow.clone();
        pow.combine(&p);
        n >>= 1;
    }
    let rest = (len % BLOCK as u64) as usize;
    if rest > 0 {
        let mut tail = Hasher::new();
        tail.update(&block[..rest]);
        result.combine(&tail);
    }
    result.finalize()
}

fn dos_time() -> (u16, u16) {
    // 2025-01-01 00:00:00: fixed so that archives are byte-identical across runs.
    let date = ((2025 - 1980) << 9) | (1 << 5) | 1;
    (0, date)
}

impl VirtualZip {
    /// An archive of about `target_size` bytes (exactly, when it is larger than the few hundred
    /// bytes of headers) for `resource` at `version`.
    pub fn new(resource: &str, version: &str, label: &str, target_size: u64) -> Self {
        Self::with_files(resource, version, label, target_size, &AppFiles::new())
    }

    /// [`VirtualZip::new`] holding the application's `files` too (a file whose path is a
    /// generated entry's replaces it); the fill shrinks to keep the size when it can.
    pub fn with_files(
        resource: &str,
        version: &str,
        label: &str,
        target_size: u64,
        files: &AppFiles,
    ) -> Self {
        let (mut entries, fill) = Self::plan(resource, version, label, target_size, files);
        if let Some(fill) = fill {
            let block = Arc::new(block_for(&format!("{resource}/{version}")));
            entries.push(Entry {
                name: FILL_NAME.into(),
                crc: crc_of_fill(&block, fill),
                size: fill,
                body: Segment::Fill { block, len: fill },
            });
        }
        Self::assemble(entries)
    }

    /// `new(…).len()` without building the archive (no fill block, no CRC): what a listing
    /// needs, cheaply enough for an account of thousands.
    pub fn len_for(resource: &str, version: &str, label: &str, target_size: u64) -> u64 {
        Self::len_for_files(resource, version, label, target_size, &AppFiles::new())
    }

    /// `with_files(…).len()` without building the fill.
    pub fn len_for_files(
        resource: &str,
        version: &str,
        label: &str,
        target_size: u64,
        files: &AppFiles,
    ) -> u64 {
        let (fixed, fill) = Self::plan(resource, version, label, target_size, files);
        let zip64 = Self::needs_zip64(&fixed, fill.unwrap_or(0));
        Self::overhead(&fixed, fill.map(|_| FILL_NAME), zip64) + fill.unwrap_or(0)
    }

    /// The entries other than the fill (generated ones, then the application's files), and
    /// the size of the fill that brings the whole to `target_size` (none when an
    /// application file takes its path).
    fn plan(
        resource: &str,
        version: &str,
        label: &str,
        target_size: u64,
        files: &AppFiles,
    ) -> (Vec<Entry>, Option<u64>) {
        let readme = format!(
            "Square Cloud snapshot (simulated)\nresource: {resource}\nname: {label}\nversion: {version}\n"
        );
        let manifest = format!(
            "{{\"resource\":{},\"version\":{}}}\n",
            serde_json::Value::String(resource.into()),
            serde_json::Value::String(version.into())
        );
        let small = |name: &str, bytes: Arc<Vec<u8>>| {
            let mut h = Hasher::new();
            h.update(&bytes);
            Entry {
                name: name.into(),
                crc: h.finalize(),
                size: bytes.len() as u64,
                body: Segment::Bytes(bytes),
            }
        };
        let generated = [("README.txt", readme), ("manifest.json", manifest)];
        let fixed: Vec<Entry> = generated
            .into_iter()
            .filter(|(name, _)| !files.contains_key(*name))
            .map(|(name, text)| small(name, Arc::new(text.into_bytes())))
            .chain(files.iter().map(|(name, bytes)| small(name, bytes.clone())))
            .collect();
        if files.contains_key(FILL_NAME) {
            return (fixed, None);
        }
        // The overhead depends on zip64, which depends on the size: settle it in two passes.
        let mut fill = 0u64;
        for _ in 0..3 {
            let zip64 = Self::needs_zip64(&fixed, fill);
            let overhead = Self::overhead(&fixed, Some(FILL_NAME), zip64);
            fill = target_size.saturating_sub(overhead);
        }
        (fixed, Some(fill))
    }

    fn needs_zip64(fixed: &[Entry], fill: u64) -> bool {
        fixed.iter().map(|e| e.size).sum::<u64>() + fill + 4096 >= LIMIT32
    }

    fn overhead(fixed: &[Entry], fill_name: Option<&str>, zip64: bool) -> u64 {
        let names = fixed
            .iter()
            .map(|e| e.name.len() as u64)
            .chain(fill_name.map(|n| n.len() as u64));
        let mut total = 0;
        for n in names {
            total += 30 + n + if zip64 { 20 } else { 0 }; // local header
            total += 46 + n + if zip64 { 28 } else { 0 }; // central header
        }
        total += fixed.iter().map(|e| e.size).sum::<u64>();
        total + 22 + if zip64 { 56 + 20 } else { 0 }
    }

    fn assemble(entries: Vec<Entry>) -> Self {
        let zip64 = entries.iter().map(|e| e.size).sum::<u64>() + 4096 >= LIMIT32;
        let (time, date) = dos_time();
        let mut segments = Vec::new();
        let mut central = Vec::new();
        let mut offset = 0u64;
        for e in &entries {
            let mut h = Vec::with_capacity(64);
            h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            h.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
            h.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
            h.extend_from_slice(&0u16.to_le_bytes()); // stored
            h.extend_from_slice(&time.to_le_bytes());
            h.extend_from_slice(&date.to_le_bytes());
            h.extend_from_slice(&e.crc.to_le_bytes());
            let size32 = if zip64 { LIMIT32 as u32 } else { e.size as u32 };
            h.extend_from_slice(&size32.to_le_bytes());
            h.extend_from_slice(&size32.to_le_bytes());
            h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
            h.extend_from_slice(e.name.as_bytes());
            if zip64 {
                h.extend_from_slice(&1u16.to_le_bytes());
                h.extend_from_slice(&16u16.to_le_bytes());
                h.extend_from_slice(&e.size.to_le_bytes());
                h.extend_from_slice(&e.size.to_le_bytes());
            }
            let header_len = h.len() as u64;

            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            // Made by Unix (3), so the external attributes below are permissions.
            central.extend_from_slice(&((3u16 << 8) | if zip64 { 45 } else { 20 }).to_le_bytes());
            central.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
            central.extend_from_slice(&0x0800u16.to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes());
            central.extend_from_slice(&time.to_le_bytes());
            central.extend_from_slice(&date.to_le_bytes());
            central.extend_from_slice(&e.crc.to_le_bytes());
            central.extend_from_slice(&size32.to_le_bytes());
            central.extend_from_slice(&size32.to_le_bytes());
            central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            central.extend_from_slice(&(if zip64 { 28u16 } else { 0 }).to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes()); // comment
            central.extend_from_slice(&0u16.to_le_bytes()); // disk
            central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
            central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
            let off32 = if zip64 { LIMIT32 as u32 } else { offset as u32 };
            central.extend_from_slice(&off32.to_le_bytes());
            central.extend_from_slice(e.name.as_bytes());
            if zip64 {
                central.extend_from_slice(&1u16.to_le_bytes());
                central.extend_from_slice(&24u16.to_le_bytes());
                central.extend_from_slice(&e.size.to_le_bytes());
                central.extend_from_slice(&e.size.to_le_bytes());
                central.extend_from_slice(&offset.to_le_bytes());
            }
            segments.push(Segment::Bytes(Arc::new(h)));
            segments.push(e.body.clone());
            offset += header_len + e.size;
        }
        let cd_offset = offset;
        let cd_len = central.len() as u64;
        let n = entries.len() as u64;
        let mut tail = central;
        if zip64 {
            let eocd64_offset = cd_offset + cd_len;
            tail.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            tail.extend_from_slice(&44u64.to_le_bytes());
            tail.extend_from_slice(&45u16.to_le_bytes());
            tail.extend_from_slice(&45u16.to_le_bytes());
            tail.extend_from_slice(&0u32.to_le_bytes());
            tail.extend_from_slice(&0u32.to_le_bytes());
            tail.extend_from_slice(&n.to_le_bytes());
            tail.extend_from_slice(&n.to_le_bytes());
            tail.extend_from_slice(&cd_len.to_le_bytes());
            tail.extend_from_slice(&cd_offset.to_le_bytes());
            tail.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            tail.extend_from_slice(&0u32.to_le_bytes());
            tail.extend_from_slice(&eocd64_offset.to_le_bytes());
            tail.extend_from_slice(&1u32.to_le_bytes());
        }
        tail.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        tail.extend_from_slice(&0u16.to_le_bytes());
        tail.extend_from_slice(&0u16.to_le_bytes());
        let n16 = if zip64 { 0xFFFF } else { n as u16 };
        tail.extend_from_slice(&n16.to_le_bytes());
        tail.extend_from_slice(&n16.to_le_bytes());
        let (cdl, cdo) = if zip64 {
            (LIMIT32 as u32, LIMIT32 as u32)
        } else {
            (cd_len as u32, cd_offset as u32)
        };
        tail.extend_from_slice(&cdl.to_le_bytes());
        tail.extend_from_slice(&cdo.to_le_bytes());
        tail.extend_from_slice(&0u16.to_le_bytes());
        segments.push(Segment::Bytes(Arc::new(tail)));
        let len = segments.iter().map(Segment::len).sum();
        Self { segments, len }
    }

    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fill `buf` with the bytes at `offset`; returns how many were written.
    pub fn read_at(&self, mut offset: u64, buf: &mut [u8]) -> usize {
        let mut written = 0;
        let mut start = 0u64;
        for seg in &self.segments {
            let seg_len = seg.len();
            if written == buf.len() {
                break;
            }
            if offset >= start + seg_len {
                start += seg_len;
                continue;
            }
            let within = offset - start;
            let want = ((seg_len - within) as usize).min(buf.len() - written);
            match seg {
                Segment::Bytes(b) => {
                    buf[written..written + want]
                        .copy_from_slice(&b[within as usize..within as usize + want]);
                }
                Segment::Fill { block, .. } => {
                    let mut done = 0;
                    while done < want {
                        let pos = ((within + done as u64) % BLOCK as u64) as usize;
                        let n = (BLOCK - pos).min(want - done);
                        buf[written + done..written + done + n]
                            .copy_from_slice(&block[pos..pos + n]);
                        done += n;
                    }
                }
            }
            written += want;
            offset += want as u64;
            start += seg_len;
        }
        written
    }

    /// The whole archive in memory: for tests of small archives only.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.len as usize];
        let n = self.read_at(0, &mut v);
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_fill_matches_direct_computation() {
        let block = block_for("x");
        for len in [0u64, 1, 65535, 65536, 65537, 3 * 65536 + 17] {
            let mut direct = Hasher::new();
            let mut left = len;
            while left > 0 {
                let n = left.min(BLOCK as u64) as usize;
                direct.update(&block[..n]);
                left -= n as u64;
            }
            assert_eq!(crc_of_fill(&block, len), direct.finalize(), "len {len}");
        }
    }

    #[test]
    fn size_is_exact_above_the_header_overhead() {
        for size in [2_000u64, 100_000, 1_048_576] {
            assert_eq!(VirtualZip::new("r", "v", "n", size).len(), size);
        }
    }

    #[test]
    fn len_for_is_the_built_archives_length() {
        // Below the headers, at the zip64 switch and beyond it, with long and non-ASCII names.
        let sizes = [
            0u64,
            1,
            300,
            2_000,
            1_048_576,
            LIMIT32 - 4200,
            LIMIT32 - 4000,
            5 << 30,
        ];
        for (r, v, n) in [
            ("r", "v", "n"),
            ("1a2b3c4d", "0123abcd", "Loja São João 🚀"),
        ] {
            for size in sizes {
                let built = VirtualZip::new(r, v, n, size).len();
                assert_eq!(VirtualZip::len_for(r, v, n, size), built, "{n}, {size}");
            }
        }
    }

    #[test]
    fn read_at_agrees_with_whole_archive() {
        let z = VirtualZip::new("r", "v", "n", 300_000);
        let all = z.to_vec();
        let mut buf = vec![0; 70_000];
        for off in [0u64, 10, 65_000, 200_000, 299_990] {
            let n = z.read_at(off, &mut buf);
            assert_eq!(&buf[..n], &all[off as usize..off as usize + n]);
        }
    }

    #[test]
    fn app_files_go_in_and_replace_generated_entries() {
        let mut files = AppFiles::new();
        files.insert("index.js".into(), Arc::new(b"console.log(1)".to_vec()));
        files.insert("README.txt".into(), Arc::new(b"mine".to_vec()));
        for size in [0u64, 2_000, 300_000] {
            let z = VirtualZip::with_files("r", "v", "n", size, &files);
            assert_eq!(
                VirtualZip::len_for_files("r", "v", "n", size, &files),
                z.len()
            );
            if size > 2_000 {
                assert_eq!(z.len(), size, "the fill keeps the size");
            }
        }
        files.insert(FILL_NAME.into(), Arc::new(vec![7; 10]));
        let z = VirtualZip::with_files("r", "v", "n", 300_000, &files);
        assert_eq!(
            VirtualZip::len_for_files("r", "v", "n", 300_000, &files),
            z.len()
        );
        assert!(z.len() < 1_000, "no fill past an app file at its path");
    }
}
