//! A file body as a distant, imperfect host sends it: in chunks, at a set bandwidth, with
//! TCP slow start's round trips, and stalls or resets at a set byte.

use crate::zipgen::VirtualZip;
use axum::body::{Body, Bytes};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default, Clone)]
pub(super) struct StreamFaults {
    pub(super) reset_after: Option<u64>,
    pub(super) stall: Option<(u64, f64)>,
    pub(super) bandwidth: Option<u64>,
    /// A distant host's round trip, and the bytes the connection has sent (its window).
    pub(super) distant: Option<(Duration, Arc<std::sync::atomic::AtomicU64>)>,
}

/// TCP's initial window: 10 segments of a 1500-byte path.
const INITIAL_WINDOW: u64 = 10 * 1448;

/// The slow-start round trip (from 0) in which a connection sends its `n`th byte (n ≥ 1):
/// the window starts at [`INITIAL_WINDOW`] and doubles each round trip.
fn slow_start_round(n: u64) -> u32 {
    let mut k = 0;
    while k < 40 && sent_by_round(k) < n {
        k += 1;
    }
    k
}

/// Bytes a connection has sent by the end of slow-start round `k`.
fn sent_by_round(k: u32) -> u64 {
    INITIAL_WINDOW.saturating_mul((1u64 << (k + 1)) - 1)
}

pub(super) fn body_stream(
    zip: VirtualZip,
    start: u64,
    end_excl: u64,
    f: StreamFaults,
    served: Arc<std::sync::atomic::AtomicU64>,
) -> Body {
    struct S {
        zip: VirtualZip,
        pos: u64,
        end: u64,
        sent: u64,
        stalled: bool,
        failed: bool,
        began: Instant,
        /// A distant host's slow-start round trip at this answer's first byte.
        first_round: u32,
        f: StreamFaults,
    }
    let chunk = match f.bandwidth {
        Some(bw) => ((bw / 20).clamp(1024, 64 * 1024)) as usize,
        None => 64 * 1024,
    };
    let s = S {
        zip,
        pos: start,
        end: end_excl,
        sent: 0,
        stalled: false,
        failed: false,
        began: Instant::now(),
        first_round: f.distant.as_ref().map_or(0, |(_, conn)| {
            slow_start_round(conn.load(std::sync::atomic::Ordering::Relaxed) + 1)
        }),
        f,
    };
    let stream = futures_util::stream::unfold(s, move |mut s| {
        let served = served.clone();
        async move {
            if s.failed || s.pos >= s.end {
                return None;
            }
            if let Some((after, secs)) = s.f.stall
                && !s.stalled
                && s.sent >= after
            {
                s.stalled = true;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
            if let Some(limit) = s.f.reset_after
                && s.sent >= limit
            {
                // Let the bytes already written reach the client before the cut, as on a real
                // connection that dies mid-transfer.
                tokio::time::sleep(Duration::from_millis(30)).await;
                s.failed = true;
                let e = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset");
                return Some((Err(e), s));
            }
            let mut want = ((s.end - s.pos) as usize).min(chunk);
            if let Some(limit) = s.f.reset_after {
                want = want.min((limit - s.sent) as usize);
            }
            if let Some((after, _)) = s.f.stall
                && !s.stalled
            {
                want = want.min((after - s.sent) as usize).max(1);
            }
            // A distant host's chunk stays within one round trip of slow start.
            if let Some((_, conn)) = &s.f.distant {
                let at = conn.load(std::sync::atomic::Ordering::Relaxed);
                let round_end = sent_by_round(slow_start_round(at + 1));
                want = want.min((round_end - at).max(1) as usize);
            }
            let mut buf = vec![0u8; want];
            let n = s.zip.read_at(s.pos, &mut buf);
            buf.truncate(n);
            s.pos += n as u64;
            s.sent += n as u64;
            if let Some((rtt, conn)) = &s.f.distant {
                let before = conn.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                let round = slow_start_round(before + n as u64);
                let due = *rtt * round.saturating_sub(s.first_round);
                let elapsed = s.began.elapsed();
                if due > elapsed {
                    tokio::time::sleep(due - elapsed).await;
                }
            }
            if let Some(bw) = s.f.bandwidth {
                let due = Duration::from_secs_f64(s.sent as f64 / bw.max(1) as f64);
                let elapsed = s.began.elapsed();
                if due > elapsed {
                    tokio::time::sleep(due - elapsed).await;
                }
            }
            served.fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(Bytes::from(buf)), s))
        }
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::slow_start_round;

    #[test]
    fn slow_start_doubles_from_ten_segments() {
        assert_eq!(slow_start_round(1), 0);
        assert_eq!(slow_start_round(14_480), 0);
        assert_eq!(slow_start_round(14_481), 1);
        assert_eq!(slow_start_round(3 * 14_480), 1);
        assert_eq!(slow_start_round(3 * 14_480 + 1), 2);
        assert_eq!(slow_start_round(1 << 20), 6);
        assert_eq!(slow_start_round(u64::MAX), 40);
    }
}
