//! Where outbound webhooks may go, and how they are signed.
//!
//! An endpoint URL passes the media-URL rules when it is registered (`https`, no userinfo, no
//! local names, no private or special IP literal). That is not enough: a name can resolve to
//! 127.0.0.1 or the cloud metadata address, at registration or any time later. So the delivery
//! client resolves names through [`CheckedResolver`], which refuses the whole name when any of
//! its addresses is forbidden by the same IP rules, and connects only to addresses it checked;
//! redirects are never followed and no proxy is used (a proxy would resolve the name itself).
//!
//! `PARLEY_OUTBOUND_WEBHOOKS_ALLOW_LOOPBACK` (test-only, off by default) additionally allows
//! `http` and loopback addresses, so that tests can receive deliveries on 127.0.0.1.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use hmac::{Hmac, Mac};
use reqwest::dns::{Name, Resolve, Resolving};
use sha2::Sha256;
use url::{Host, Url};

use crate::domain::media_url::{ForbiddenAddress, MediaUrl, MediaUrlError, forbidden_address};

/// A URL an outbound webhook may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(Url);

impl EndpointUrl {
    /// Checks `input` against the media-URL rules (with `allow_loopback`, `http` and loopback
    /// addresses pass too). The error is fit to show a client.
    pub fn parse(input: &str, allow_loopback: bool) -> Result<EndpointUrl, String> {
        let message =
            |error: MediaUrlError| error.to_string().replacen("media URL", "webhook URL", 1);
        match MediaUrl::parse(input) {
            Ok(url) => Ok(EndpointUrl(url.url().clone())),
            Err(error) if !allow_loopback => Err(message(error)),
            Err(error) => {
                // Judge the URL as if it were https, then let loopback through.
                let mut url = Url::parse(input).map_err(|_| message(error))?;
                if !matches!(url.scheme(), "http" | "https") || url.set_scheme("https").is_err() {
                    return Err(message(error));
                }
                match MediaUrl::parse(url.as_str()) {
                    Ok(_) | Err(MediaUrlError::ForbiddenAddress(ForbiddenAddress::Loopback)) => {
                        Ok(EndpointUrl(Url::parse(input).map_err(|_| message(error))?))
                    }
                    Err(error) => Err(message(error)),
                }
            }
        }
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The IP literal the URL names, checked like a resolved address; names are checked when
    /// the client resolves them.
    pub fn check_literal(&self, allow_loopback: bool) -> Result<(), RefusedAddress> {
        let ip = match self.0.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        check_address(&ip.to_string(), ip, allow_loopback)
    }
}

/// A name (or literal) that leads to an address outbound webhooks may not reach.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{host} resolves to {ip}, {kind} IP address: refused")]
pub struct RefusedAddress {
    host: String,
    ip: IpAddr,
    kind: ForbiddenAddress,
}

/// Whether `ip`, reached through `host`, may be connected to.
pub fn check_address(host: &str, ip: IpAddr, allow_loopback: bool) -> Result<(), RefusedAddress> {
    match forbidden_address(ip) {
        None => Ok(()),
        Some(ForbiddenAddress::Loopback) if allow_loopback => Ok(()),
        Some(kind) => Err(RefusedAddress {
            host: host.to_owned(),
            ip,
            kind,
        }),
    }
}

/// Every address of `host`, or an error naming the first forbidden one: a name with one bad
/// address is refused whole, so that the connection cannot fall back onto it.
pub fn checked_addresses(
    host: &str,
    addresses: impl IntoIterator<Item = SocketAddr>,
    allow_loopback: bool,
) -> Result<Vec<SocketAddr>, RefusedAddress> {
    let addresses: Vec<SocketAddr> = addresses.into_iter().collect();
    for address in &addresses {
        check_address(host, address.ip(), allow_loopback)?;
    }
    Ok(addresses)
}

/// Resolves with the system resolver and hands the client only checked addresses.
pub struct CheckedResolver {
    pub allow_loopback: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addresses = checked_addresses(&host, resolved, allow_loopback)?;
            if addresses.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            Ok(Box::new(addresses.into_iter()) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

/// The HTTP client deliveries go through: checked resolution, no redirects, no proxy, bounded
/// time.
pub fn client(timeout: Duration, allow_loopback: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver { allow_loopback }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(std::cmp::min(timeout, Duration::from_secs(10)))
        .user_agent(concat!("Parley-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// `Parley-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The refused address somewhere in `error`'s chain of causes, if that is why it failed.
pub fn refused_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a RefusedAddress> {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(refused) = error.downcast_ref::<RefusedAddress>() {
            return Some(refused);
        }
        cause = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_follow_the_media_url_rules() {
        for input in [
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://169.254.169.254/latest",
            "https://[::ffff:10.0.0.1]/",
            "https://user:pw@example.com/",
            "ftp://example.com/",
        ] {
            let error = EndpointUrl::parse(input, false).expect_err(input);
            assert!(error.starts_with("webhook URL must"), "{input}: {error}");
        }
        assert_eq!(
            EndpointUrl::parse("https://crm.example.com/hooks?x=1", false)
                .unwrap()
                .as_str(),
            "https://crm.example.com/hooks?x=1"
        );
    }

    #[test]
    fn the_test_switch_allows_http_and_loopback_only() {
        for input in [
            "http://127.0.0.1:4000/hook",
            "https://[::1]:4000/",
            "http://example.com/",
        ] {
            EndpointUrl::parse(input, true).unwrap_or_else(|e| panic!("{input}: {e}"));
        }
        for input in [
            "http://10.0.0.1/hook",
            "http://169.254.169.254/",
            "ftp://127.0.0.1/",
            "http://user@127.0.0.1/",
        ] {
            assert!(EndpointUrl::parse(input, true).is_err(), "{input}");
        }
    }

    #[test]
    fn a_name_with_one_forbidden_address_is_refused_whole() {
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:443".parse().unwrap();
        let metadata: SocketAddr = "169.254.169.254:443".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:443".parse().unwrap();
        assert_eq!(
            checked_addresses("crm.example", [public], false).unwrap(),
            [public]
        );
        for bad in [loopback, metadata, mapped] {
            let refused = checked_addresses("crm.example", [public, bad], false).unwrap_err();
            assert!(
                refused.to_string().starts_with("crm.example resolves to"),
                "{refused}"
            );
        }
        assert!(checked_addresses("crm.example", [loopback, mapped], true).is_ok());
        assert!(checked_addresses("crm.example", [metadata], true).is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        // `localhost` resolves offline on every system (RFC 6761); any name the system maps to
        // 127.0.0.1 (a hosts file, a rebinding DNS server) is refused the same way.
        let name: Name = "localhost".parse().unwrap();
        let error = CheckedResolver {
            allow_loopback: false,
        }
        .resolve(name)
        .await
        .err()
        .expect("refused");
        let refused = refused_in(error.as_ref()).expect("a refused address");
        assert!(refused.to_string().contains("loopback"), "{refused}");

        let name: Name = "localhost".parse().unwrap();
        let addresses: Vec<SocketAddr> = CheckedResolver {
            allow_loopback: true,
        }
        .resolve(name)
        .await
        .unwrap()
        .collect();
        assert!(
            addresses.iter().all(|a| a.ip().is_loopback()),
            "{addresses:?}"
        );
    }

    #[tokio::test]
    async fn the_client_never_connects_to_a_refused_name() {
        // A listener on 127.0.0.1 that counts connections: a client that resolved `localhost`
        // and connected anyway would reach it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
        let client = client(Duration::from_secs(2), false).unwrap();
        let error = client
            .post(format!("http://localhost:{port}/hook"))
            .send()
            .await
            .expect_err("refused");
        assert!(refused_in(&error).is_some(), "{error:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!accepted.is_finished(), "the client connected");
        accepted.abort();
    }

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec
        let header = signature(b"whsec", 1_700_000_000, "{\"a\":1}");
        assert_eq!(
            header,
            "t=1700000000,v1=8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032"
        );
    }
}
