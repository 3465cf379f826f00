//! The file host's answers: what each one means for the download (append, begin again,
//! refresh the signed URL, wait and retry, or fail), decided in one place for the single
//! stream and the parallel connections alike; and its errors in words.

use futures_util::StreamExt;
use reqwest::{StatusCode, header};
use std::future::Future;
use std::time::Duration;

/// Error bodies from the file host are read up to this much, and for this long at most.
const ERROR_BODY_CAP: usize = 64 * 1024;
const ERROR_BODY_TIME: Duration = Duration::from_secs(10);

/// What to do with an answer to a request for the file from byte `from` on.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    /// The whole file from its first byte (HTTP 200): whatever was kept is replaced.
    /// `length`: the body's length, when the host said.
    Whole { length: Option<u64> },
    /// The bytes asked for, from `start` (HTTP 206): appended to what is kept. `total`: the
    /// file's size, when the host said.
    Append { start: u64, total: Option<u64> },
    /// The host says the file ends exactly where ours does (HTTP 416 with its length):
    /// nothing is left to fetch.
    Complete { total: u64 },
    /// What we have and what the host sends do not fit together: the kept bytes are
    /// deleted and the download begins again after a pause, which counts as a failure.
    /// `forget_tag`: the host sent another range than asked, so its ETag is not trusted
    /// either.
    RestartFromZero { detail: String, forget_tag: bool },
    /// The signed URL itself was refused (expired, or gone): a fresh one from the list may
    /// work where retrying this one never will.
    RefreshUrl,
    /// A passing trouble of the host (5xx, 429): wait and ask again.
    Retry { detail: String },
    /// Any other answer: the download fails with the host's own message.
    Fail,
}

/// The action `status` and `Content-Range` call for, for a request of bytes from `from` on.
pub(super) fn judge(
    status: StatusCode,
    content_range: Option<&header::HeaderValue>,
    from: u64,
) -> Action {
    match status {
        StatusCode::OK => Action::Whole { length: None },
        StatusCode::PARTIAL_CONTENT => match parse_content_range(content_range) {
            Some((start, total)) if start == from => Action::Append { start, total },
            // A range we did not ask for: start over rather than splice.
            Some((s, _)) => Action::RestartFromZero {
                detail: format!("the host sent bytes from {s} when asked for {from} onwards"),
                forget_tag: true,
            },
            None => Action::RestartFromZero {
                detail: "the host sent a part without saying which".into(),
                forget_tag: true,
            },
        },
        StatusCode::RANGE_NOT_SATISFIABLE => match parse_unsatisfied_len(content_range) {
            Some(total) if total == from => Action::Complete { total },
            _ => Action::RestartFromZero {
                detail: "the host refused the range it was asked for (HTTP 416)".into(),
                forget_tag: false,
            },
        },
        s if url_refused(s) => Action::RefreshUrl,
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => Action::Retry {
            detail: format!("HTTP {}", s.as_u16()),
        },
        _ => Action::Fail,
    }
}

/// [`judge`] of a response, with the body's length for a whole file.
pub(super) fn judge_response(resp: &reqwest::Response, from: u64) -> Action {
    match judge(
        resp.status(),
        resp.headers().get(header::CONTENT_RANGE),
        from,
    ) {
        Action::Whole { .. } => Action::Whole {
            length: resp.content_length(),
        },
        action => action,
    }
}

/// The content type of a successful answer that is a web page (a network's sign-in page, a
/// proxy's notice) rather than the archive, cut to a length fit for a message.
pub(super) fn web_page(resp: &reqwest::Response) -> Option<String> {
    if !resp.status().is_success() {
        return None;
    }
    let ct = resp.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    ct.trim_start()
        .to_ascii_lowercase()
        .starts_with("text/html")
        .then(|| ct.chars().take(60).collect())
}

/// A transfer error in words, with its causes ("error following redirect: refusing
/// http://…"), without the URL (it carries a signature).
pub(super) fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn parse_content_range(v: Option<&header::HeaderValue>) -> Option<(u64, Option<u64>)> {
    let s = v?.to_str().ok()?.strip_prefix("bytes ")?;
    let (range, total) = s.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()))
}

fn parse_unsatisfied_len(v: Option<&header::HeaderValue>) -> Option<u64> {
    v?.to_str()
        .ok()?
        .strip_prefix("bytes */")?
        .trim()
        .parse()
        .ok()
}

/// The host's error in words, from at most 64 KiB of its body read for at most 10 s.
pub(super) async fn s3_message(resp: reqwest::Response) -> String {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    let _ = tokio::time::timeout(ERROR_BODY_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            let room = ERROR_BODY_CAP - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= ERROR_BODY_CAP {
                break;
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&body);
    let pick = |tag: &str| {
        text.split(&format!("<{tag}>"))
            .nth(1)
            .and_then(|r| r.split(&format!("</{tag}>")).next())
            .map(str::to_string)
    };
    match (pick("Code"), pick("Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        _ => text.chars().filter(|c| !c.is_control()).take(120).collect(),
    }
}

/// The fresh file URLs one download asked for after the file host refused one: at most
/// two, so a URL that is refused at once every time ends the download.
#[derive(Debug, Default)]
pub(super) struct UrlRefreshes(u32);

impl UrlRefreshes {
    /// A fresh URL from `refresh`, unless two were asked for already or none comes.
    pub(super) async fn fresh<F, Fut>(&mut self, refresh: &mut F) -> Option<String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        if self.0 >= 2 {
            return None;
        }
        let fresh = refresh().await?;
        self.0 += 1;
        Some(fresh)
    }
}

/// The answers of a file host that refuses the signed URL itself (expired, or gone): a
/// fresh URL from the list may work where retrying this one never will.
pub(super) fn url_refused(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST | StatusCode::GONE
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use header::HeaderValue;

    #[test]
    fn content_range_parsing() {
        let v = header::HeaderValue::from_static("bytes 100-199/1000");
        assert_eq!(parse_content_range(Some(&v)), Some((100, Some(1000))));
        let v = header::HeaderValue::from_static("bytes */1000");
        assert_eq!(parse_unsatisfied_len(Some(&v)), Some(1000));
    }

    fn range(v: &'static str) -> Option<HeaderValue> {
        Some(HeaderValue::from_static(v))
    }

    #[test]
    fn a_part_from_where_we_asked_is_appended() {
        let r = range("bytes 100-199/1000");
        assert_eq!(
            judge(StatusCode::PARTIAL_CONTENT, r.as_ref(), 100),
            Action::Append {
                start: 100,
                total: Some(1000)
            }
        );
        let r = range("bytes 100-199/*");
        assert_eq!(
            judge(StatusCode::PARTIAL_CONTENT, r.as_ref(), 100),
            Action::Append {
                start: 100,
                total: None
            }
        );
        assert_eq!(
            judge(StatusCode::OK, None, 100),
            Action::Whole { length: None }
        );
    }

    #[test]
    fn a_part_from_elsewhere_or_unnamed_begins_again() {
        let r = range("bytes 0-199/1000");
        let Action::RestartFromZero { detail, forget_tag } =
            judge(StatusCode::PARTIAL_CONTENT, r.as_ref(), 100)
        else {
            panic!("another range is not appended");
        };
        assert!(
            forget_tag && detail.contains("from 0") && detail.contains("100"),
            "{detail}"
        );
        assert!(matches!(
            judge(StatusCode::PARTIAL_CONTENT, None, 100),
            Action::RestartFromZero {
                forget_tag: true,
                ..
            }
        ));
    }

    #[test]
    fn a_refused_range_is_the_end_only_where_our_file_ends() {
        let r = range("bytes */1000");
        assert_eq!(
            judge(StatusCode::RANGE_NOT_SATISFIABLE, r.as_ref(), 1000),
            Action::Complete { total: 1000 }
        );
        assert!(matches!(
            judge(StatusCode::RANGE_NOT_SATISFIABLE, r.as_ref(), 1200),
            Action::RestartFromZero {
                forget_tag: false,
                ..
            }
        ));
        assert!(matches!(
            judge(StatusCode::RANGE_NOT_SATISFIABLE, None, 0),
            Action::RestartFromZero { .. }
        ));
    }

    #[test]
    fn refusals_of_the_url_retries_and_the_rest() {
        for s in [403, 404, 400, 410] {
            let s = StatusCode::from_u16(s).unwrap();
            assert_eq!(judge(s, None, 0), Action::RefreshUrl, "{s}");
        }
        for s in [500, 503, 429] {
            let s = StatusCode::from_u16(s).unwrap();
            assert_eq!(
                judge(s, None, 0),
                Action::Retry {
                    detail: format!("HTTP {}", s.as_u16())
                }
            );
        }
        for s in [401, 204, 302, 405] {
            let s = StatusCode::from_u16(s).unwrap();
            assert_eq!(judge(s, None, 0), Action::Fail, "{s}");
        }
    }

    #[tokio::test]
    async fn a_refused_url_is_refreshed_twice_at_most() {
        let mut r = UrlRefreshes::default();
        let mut asked = 0;
        let mut refresh = || {
            asked += 1;
            async { Some("https://fresh".to_string()) }
        };
        assert!(r.fresh(&mut refresh).await.is_some());
        assert!(r.fresh(&mut refresh).await.is_some());
        assert!(r.fresh(&mut refresh).await.is_none());
        assert_eq!(asked, 2);
    }
}
