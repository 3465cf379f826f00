//! One rule for every URL the app talks to: https, or plain http to this computer only
//! (the simulator). It is checked on the API's base URL, on every download URL and on every
//! redirect hop, so neither the key nor a snapshot travels in clear.

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing {0}: only https, or plain http to this computer, is allowed (the key and your snapshots must not travel in clear)"
)]
pub struct InsecureUrl(pub String);

/// Checks one URL against the rule.
pub fn check_url(url: &str) -> Result<(), InsecureUrl> {
    let parsed = url::Url::parse(url).map_err(|_| InsecureUrl(url.chars().take(60).collect()))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(InsecureUrl(format!(
                    "http://{}",
                    parsed.host_str().unwrap_or("")
                )))
            }
        }
        other => Err(InsecureUrl(format!("{other}:"))),
    }
}

/// Checks one redirect hop: the new URL against [`check_url`], and never from https down to
/// plain http, not even to this computer (a hop there from a real host is someone else's
/// doing: the request would leave TLS, and a local process could read it).
pub fn check_hop(previous: &[url::Url], next: &url::Url) -> Result<(), InsecureUrl> {
    check_url(next.as_str())?;
    if next.scheme() == "http" && previous.iter().any(|u| u.scheme() == "https") {
        return Err(InsecureUrl(format!(
            "a redirect from https to http://{} (a secure connection is never downgraded)",
            next.host_str().unwrap_or("")
        )));
    }
    Ok(())
}

/// Follows at most five redirects, each checked by [`check_hop`].
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else if let Err(e) = check_hop(attempt.previous(), attempt.url()) {
            attempt.error(e)
        } else {
            attempt.follow()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://api.squarecloud.app/v2").is_ok());
        assert!(check_url("http://127.0.0.1:9/v2").is_ok());
        assert!(check_url("http://[::1]:9/v2").is_ok());
        assert!(check_url("http://localhost:9/a.zip").is_ok());
        assert!(check_url("http://api.squarecloud.app/v2").is_err());
        assert!(check_url("http://127.0.0.1.evil.example/v2").is_err());
        assert!(check_url("http://10.0.0.1/v2").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("ftp://x/y").is_err());
    }

    #[test]
    fn a_hop_from_https_to_http_is_refused_even_to_this_computer() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let https = [u("https://api.squarecloud.app/v2/apps")];
        let e = check_hop(&https, &u("http://localhost:8080/v2/apps")).unwrap_err();
        assert!(e.to_string().contains("never downgraded"), "{e}");
        assert!(check_hop(&https, &u("http://127.0.0.1/x")).is_err());
        // Once https anywhere in the chain, http stays refused.
        let chain = [u("https://a.example/"), u("https://b.example/")];
        assert!(check_hop(&chain, &u("http://[::1]/x")).is_err());
        assert!(check_hop(&https, &u("https://cdn.example/x")).is_ok());
        // The simulator on this computer: http to http is fine.
        let local = [u("http://127.0.0.1:9/a")];
        assert!(check_hop(&local, &u("http://127.0.0.1:9/b")).is_ok());
        assert!(check_hop(&local, &u("http://192.0.2.7/b")).is_err());
    }
}
