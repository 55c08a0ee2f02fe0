//! `MediaUrl::parse` on any string: never panics; what it accepts is https, without userinfo,
//! and accepted again in its normalised spelling (so a stored URL never turns invalid).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley::domain::media_url::MediaUrl;

fuzz_target!(|input: &str| {
    let Ok(url) = MediaUrl::parse(input) else {
        return;
    };
    let parsed = url.url();
    assert_eq!(parsed.scheme(), "https", "{input:?}");
    assert!(
        parsed.username().is_empty() && parsed.password().is_none(),
        "{input:?}"
    );
    let host = parsed.host_str().expect("an accepted URL has a host");
    assert!(
        host != "localhost" && !host.ends_with(".localhost"),
        "{input:?}"
    );
    let again = MediaUrl::parse(url.as_str()).unwrap_or_else(|error| {
        panic!(
            "{input:?} accepted as {} but then refused: {error}",
            url.as_str()
        )
    });
    assert_eq!(again.as_str(), url.as_str());
});
