//! Faults injected per request, through the control API (`POST /_sim/faults`), `--fault`, or
//! [`crate::Simulator::inject`].

use serde::{Deserialize, Serialize};

/// Which server a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Api,
    Files,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// A 5xx with an HTML body, as a CDN sends.
    ServerErrorHtml { status: u16 },
    /// The connection is cut after this many body bytes. On the API the request has been
    /// handled first: on a create this is "accepted, then the answer was lost".
    ResetAfter { bytes: u64 },
    /// After `after_bytes` of body (0: before the response), nothing for `seconds` (real time).
    Stall { after_bytes: u64, seconds: f64 },
    /// At most this many body bytes per second on the connection.
    Bandwidth { bytes_per_sec: u64 },
    /// A distant file host, `rtt_ms` away. An answer on a new connection waits three round
    /// trips (TCP's handshake, TLS 1.3's, then the request), one on a kept connection one;
    /// the body follows TCP's slow start: 10 segments in the first round trip, twice as many
    /// in each next one, the window kept by the connection for its later answers. With
    /// `Bandwidth` too, whichever is slower holds.
    Distant { rtt_ms: u64 },
    /// The file host ignores `Range` and sends the whole file with 200.
    IgnoreRange,
    /// The file host answers as if the signature had expired (403, S3 XML).
    ExpiredSignature,
    /// A 200 whose JSON body is cut short.
    MalformedJson,
    /// A 403 with an HTML page (a CDN's bot check), not JSON.
    Forbidden403Html,
    /// Snapshot lists leave out versions newer than this many simulated seconds, as a list
    /// cached before they were made does.
    StaleList { newer_than_secs: f64 },
    /// The file host answers 403 with a body this long (an error page that never ends).
    HugeErrorBody { bytes: u64 },
    /// The host redirects to this address (the file host, or the API when aimed at it).
    Redirect { location: String },
    /// The file host sends only the first `bytes` of the file, with a Content-Length that
    /// matches what it sends (a short file that looks complete).
    Truncate { bytes: u64 },
    /// The file host answers 200 with an HTML page instead of the archive (a captive portal,
    /// a CDN's login page).
    HtmlInsteadOfFile,
    /// The file host declares a Content-Length `delta` bytes off the body it sends (the
    /// whole file or the asked range): short means the body is cut where the header says,
    /// long means the connection ends before the promised length.
    WrongLength { delta: i64 },
    /// The file host answers 200 with `bytes` zeros sent chunked, without a Content-Length:
    /// an answer that seems never to end.
    Chunked { bytes: u64 },
    /// The file host answers with `status` (206 or 416, say), this `Content-Range` and
    /// `body_bytes` zeros, whatever was asked: a part it was not asked for, a range it
    /// refuses for no reason, a total that changes.
    BadPartial {
        status: u16,
        content_range: String,
        body_bytes: u64,
    },
}

/// A fault and where it applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    pub target: Target,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Only requests whose path contains this.
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Only requests with this method (`GET`, `POST`).
    #[serde(default)]
    pub method: Option<String>,
    /// How many requests it applies to; absent means every request.
    #[serde(default)]
    pub times: Option<u32>,
    /// How many matching requests pass untouched before it applies (0: from the first).
    #[serde(default)]
    pub after: u32,
}

impl FaultSpec {
    pub fn new(target: Target, kind: FaultKind) -> Self {
        Self {
            target,
            kind,
            path_contains: None,
            method: None,
            times: Some(1),
            after: 0,
        }
    }

    /// Lets the first `n` matching requests through untouched (a ranged download's first
    /// answer, say), then applies.
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }

    pub fn times(mut self, n: Option<u32>) -> Self {
        self.times = n;
        self
    }

    pub fn on_path(mut self, part: impl Into<String>) -> Self {
        self.path_contains = Some(part.into());
        self
    }

    pub fn on_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    fn matches(&self, target: Target, method: &str, path: &str) -> bool {
        self.target == target
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

/// Takes the faults that apply to one request, spending one use of each.
pub(crate) fn take(
    faults: &mut Vec<FaultSpec>,
    target: Target,
    method: &str,
    path: &str,
) -> Vec<FaultKind> {
    let mut out = Vec::new();
    faults.retain_mut(|f| {
        if !f.matches(target, method, path) {
            return true;
        }
        if f.after > 0 {
            f.after -= 1;
            return true;
        }
        out.push(f.kind.clone());
        match &mut f.times {
            Some(n) if *n <= 1 => false,
            Some(n) => {
                *n -= 1;
                true
            }
            None => true,
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_json_form_used_by_the_flag_and_control_api() {
        let f: FaultSpec = serde_json::from_str(
            r#"{"target":"files","kind":"reset_after","bytes":1000,"times":2}"#,
        )
        .unwrap();
        assert_eq!(f.kind, FaultKind::ResetAfter { bytes: 1000 });
        assert_eq!(f.times, Some(2));
    }

    #[test]
    fn a_fault_is_spent_after_its_uses() {
        let mut v = vec![FaultSpec::new(Target::Files, FaultKind::IgnoreRange).times(Some(2))];
        assert_eq!(take(&mut v, Target::Api, "GET", "/x").len(), 0);
        assert_eq!(take(&mut v, Target::Files, "GET", "/x").len(), 1);
        assert_eq!(take(&mut v, Target::Files, "GET", "/x").len(), 1);
        assert_eq!(take(&mut v, Target::Files, "GET", "/x").len(), 0);
    }

    #[test]
    fn a_fault_after_n_lets_that_many_through_first() {
        let mut v = vec![FaultSpec::new(Target::Files, FaultKind::IgnoreRange).after(2)];
        assert_eq!(take(&mut v, Target::Api, "GET", "/x").len(), 0);
        assert_eq!(take(&mut v, Target::Files, "GET", "/x").len(), 0);
        assert_eq!(take(&mut v, Target::Files, "GET", "/x").len(), 0);
        assert_eq!(take(&mut v, Target::Files, "GET", "/x").len(), 1);
        assert_eq!(take(&mut v, Target::Files, "GET", "/x").len(), 0);
    }
}
