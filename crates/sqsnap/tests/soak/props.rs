//! The property rows: hostile resource names, and whatever a server may send back.

use crate::{Case, ensure};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use snapshots::names::snapshot_file_name;
use snapshots::squarecloud::{ApiKey, Client, CreatedSnapshot, Me, SnapshotItem, decode_answer};
use std::path::{Component, Path};

/// Pieces hostile names are made of: separators, dots, Windows' forbidden characters and
/// device names, control and invisible characters, bidirectional overrides, wide letters.
const PIECES: &[&str] = &[
    "..",
    ".",
    "/",
    "\\",
    ":",
    "*",
    "?",
    "\"",
    "<",
    ">",
    "|",
    "\0",
    "\n",
    "\r",
    "\t",
    "\u{1b}[2J",
    "\u{202E}",
    "\u{2066}",
    "\u{200B}",
    "\u{FEFF}",
    " ",
    "\u{3000}",
    "CON",
    "con",
    "PRN",
    "AUX",
    "NUL",
    "COM1",
    "com0",
    "LPT9",
    "LPT\u{b9}",
    "COM\u{b3}",
    "CONIN$",
    "conout$",
    "🚀",
    "👩‍👩‍👧",
    "São",
    "é",
    "e\u{301}",
    "日本語",
    "a",
    "Z",
    "0",
    "-",
    "_",
    "~",
    "$",
    "%",
    "'",
    "#",
];

fn hostile(rng: &mut StdRng) -> String {
    let n = rng.random_range(0..40);
    let mut s = String::new();
    for _ in 0..n {
        if rng.random_bool(0.1) {
            let c = rng.random_range(1..60);
            s.push_str(&"x".repeat(c));
        } else if rng.random_bool(0.1) {
            s.push(char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('?'));
        } else {
            s.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        }
    }
    s
}

fn hex_id(rng: &mut StdRng) -> String {
    (0..32)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap())
        .collect()
}

/// Independent of `names.rs`: what Windows refuses in a file name.
fn windows_refuses(name: &str) -> Option<&'static str> {
    if name
        .chars()
        .any(|c| "<>:\"/\\|?*".contains(c) || (c as u32) < 32)
    {
        return Some("a forbidden character");
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("a trailing dot or space");
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_uppercase();
    let devices = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
    let numbered = ["COM", "LPT"].iter().any(|p| {
        stem.strip_prefix(p).is_some_and(|d| {
            d.len() <= 2 && d.chars().count() == 1 && "0123456789\u{b9}\u{b2}\u{b3}".contains(d)
        })
    });
    (devices.contains(&stem.as_str()) || numbered).then_some("a device name")
}

/// A resource's download path for a hostile name: inside the folder, one component, short
/// enough with every suffix the app adds, valid on every system, and different from another
/// resource's with the same name and the same snapshot time.
pub async fn hostile_names(seed: u64, _full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let name = hostile(&mut rng);
    let id = if rng.random_bool(0.8) {
        hex_id(&mut rng)
    } else {
        hostile(&mut rng)
    };
    // Another resource: a random id, or one that shares a long start with this one.
    let other = if rng.random_bool(0.5) {
        hex_id(&mut rng)
    } else {
        let keep = rng.random_range(0..=id.len());
        let cut: String = id.chars().take(keep).collect();
        format!("{cut}{}", hex_id(&mut rng))
    };
    let t: DateTime<Utc> =
        DateTime::from_timestamp(rng.random_range(0..4_102_444_800), 0).unwrap_or_default();
    let dest = Path::new("/home/someone/Backups");
    let file = snapshot_file_name(&name, &id, t);
    let path = dest.join(&file);
    ensure!(
        path.parent() == Some(dest),
        "{name:?} → {path:?} is not directly in the folder"
    );
    ensure!(
        Path::new(&file)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
            && Path::new(&file).components().count() == 1,
        "{name:?} → {file:?} is not one plain component"
    );
    // The longest name the app derives: a second copy's " (99)", `.part`, the sidecar's `.json`.
    let longest = file.len() + " (99)".len() + ".part.json".len();
    ensure!(longest <= 255, "{name:?} → {longest} bytes with suffixes");
    ensure!(!file.contains('\0'), "{name:?} → a NUL (Linux, macOS)");
    if let Some(why) = windows_refuses(&file) {
        return Err(format!("{name:?} → {file:?}: Windows refuses {why}"));
    }
    ensure!(
        !file.starts_with('.') && !file.starts_with('-'),
        "{name:?} → {file:?} is hidden or reads as a flag"
    );
    if other != id {
        let theirs = snapshot_file_name(&name, &other, t);
        ensure!(
            theirs != file,
            "ids {id:?} and {other:?} of one name share {file:?}"
        );
    }
    Ok("safe".into())
}

/// Whatever a server sends, the client answers with a typed error or a value, never a panic;
/// bodies past the client's cap are refused without being held whole.
pub async fn bad_server_input(seed: u64, _full: bool) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let status = *[
        200u16, 200, 200, 202, 400, 401, 403, 404, 429, 500, 502, 503,
    ]
    .get(rng.random_range(0..12))
    .unwrap_or(&200);
    let kind = rng.random_range(0..200);
    let body: Vec<u8> = match kind {
        // Bytes.
        0..=29 => (0..rng.random_range(0..4096))
            .map(|_| rng.random::<u8>())
            .collect(),
        // A valid answer cut short.
        30..=69 => {
            let v = valid(&mut rng).to_string().into_bytes();
            let n = rng.random_range(0..=v.len());
            v[..n].to_vec()
        }
        // Valid shape, wrong types or missing fields.
        70..=139 => {
            let mut v = valid(&mut rng);
            mangle(&mut v, &mut rng);
            v.to_string().into_bytes()
        }
        // An error envelope with any code.
        140..=179 => {
            let code: String = (0..rng.random_range(0..40))
                .map(|_| char::from(rng.random_range(b'A'..=b'_')))
                .collect();
            serde_json::json!({"status": "error", "code": code, "message": hostile_text(&mut rng)})
                .to_string()
                .into_bytes()
        }
        // Deep nesting.
        180..=197 => {
            let d = rng.random_range(1..100_000);
            format!("{}{}", "[".repeat(d), "]".repeat(rng.random_range(0..=d))).into_bytes()
        }
        // Huge: sent over HTTP, past the client's 16 MiB cap.
        _ => return huge(&mut rng).await,
    };
    let ct = [
        Some("application/json"),
        Some("text/html"),
        None,
        Some("application/json; charset=utf-8"),
    ][rng.random_range(0..4)];
    let checks: [(&str, Result<(), String>); 3] = [
        (
            "Me",
            decode_answer::<Me>(status, &body, ct)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        ),
        (
            "snapshot list",
            decode_answer::<Vec<SnapshotItem>>(status, &body, ct)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        ),
        (
            "create",
            decode_answer::<CreatedSnapshot>(status, &body, ct)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        ),
    ];
    for (what, r) in checks {
        if let Err(e) = r {
            ensure!(!e.trim().is_empty(), "an empty error for a {what}");
        }
    }
    Ok(if kind < 198 {
        "decoded or refused"
    } else {
        "huge, refused"
    }
    .into())
}

fn hostile_text(rng: &mut StdRng) -> String {
    let mut r = StdRng::seed_from_u64(rng.random());
    hostile(&mut r)
}

/// A well-formed answer: an account, a snapshot list, or a created snapshot.
fn valid(rng: &mut StdRng) -> serde_json::Value {
    match rng.random_range(0..3) {
        0 => serde_json::json!({"status":"success","response":{
            "user":{"id":"1","name":"n","email":"e@x","locale":"pt-BR",
                "plan":{"name":"standard-4","memory":{"limit":4096,"available":1024,"used":3072},
                "duration":1700000000000i64}},
            "applications":[{"id":"a","name":"x","desc":null,"ram":256,"lang":"javascript","cluster":"c"}],
            "databases":[]}}),
        1 => serde_json::json!({"status":"success","response":[{
            "name":"a","size":1234,"modified":"2026-11-24T10:03:04.000Z",
            "key":"AWSAccessKeyId=A&Expires=1&Signature=x&versionId=abcdefabcdefabcdefabcdef"}]}),
        _ => serde_json::json!({"status":"success","response":{
            "url":"https://snapshots.squarecloud.app/x.zip?Expires=1","key":"k"}}),
    }
}

/// Replaces or removes values at random places in `v`.
fn mangle(v: &mut serde_json::Value, rng: &mut StdRng) {
    let pick = |rng: &mut StdRng| -> serde_json::Value {
        match rng.random_range(0..7) {
            0 => serde_json::Value::Null,
            1 => serde_json::json!(rng.random::<i64>()),
            2 => serde_json::json!(-1.5e300),
            3 => serde_json::json!(hostile_text(rng)),
            4 => serde_json::json!([]),
            5 => serde_json::json!({}),
            _ => serde_json::json!(u64::MAX),
        }
    };
    match v {
        serde_json::Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                match rng.random_range(0..6) {
                    0 => {
                        m.remove(&k);
                    }
                    1 => {
                        m.insert(k, pick(rng));
                    }
                    _ => mangle(m.get_mut(&k).expect("key"), rng),
                }
            }
        }
        serde_json::Value::Array(a) => {
            for x in a.iter_mut() {
                mangle(x, rng);
            }
        }
        x => {
            if rng.random_bool(0.3) {
                *x = pick(rng);
            }
        }
    }
}

/// A peak resident size, from /proc (Linux); 0 elsewhere.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// A server that answers `/v2/users/me` with a body of 17–64 MiB, with or without a length:
/// the client stops at its cap, holds no more than that, and does not ask again.
async fn huge(rng: &mut StdRng) -> Case {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let len = rng.random_range(17..=64) * 1024 * 1024usize;
    let chunked = rng.random_bool(0.5);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let requests = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let server = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            seen.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(serve_huge(s, len, chunked));
        }
    });
    let before = peak_rss_kib();
    let client = Client::new(&format!("http://{addr}/v2"), ApiKey::new("k").expect("key"))
        .map_err(|e| e.to_string())?;
    let r = client.me().await;
    server.abort();
    let grew = peak_rss_kib().saturating_sub(before);
    ensure!(r.is_err(), "a {len}-byte answer was accepted");
    ensure!(
        grew < 48 * 1024,
        "the peak resident size grew by {grew} KiB reading a {len}-byte answer"
    );
    let asked = requests.load(Ordering::Relaxed);
    ensure!(asked == 1, "asked {asked} times for an answer past the cap");
    Ok("huge, refused".into())
}

/// One connection of [`huge`]: the head, then `len` bytes of `[` until the client hangs up.
async fn serve_huge(mut s: tokio::net::TcpStream, len: usize, chunked: bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf).await;
    let head = if chunked {
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_string()
    } else {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
        )
    };
    if s.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let block = vec![b'['; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        let r = if chunked {
            let mut c = format!("{:x}\r\n", block.len()).into_bytes();
            c.extend_from_slice(&block);
            c.extend_from_slice(b"\r\n");
            s.write_all(&c).await
        } else {
            s.write_all(&block).await
        };
        if r.is_err() {
            return; // the client stopped reading: what is wanted
        }
        sent += block.len();
    }
}
