//! What a failed send means for its send attempt: try again later, or give up with one of the
//! contract's error codes. Also how long to wait before trying again.
//!
//! Meta asks that error handling be built on its `code`, not on the HTTP status or the message
//! text, so codes are matched first and the status only decides for codes not named here:
//!
//! | Meta's answer | decision |
//! |---|---|
//! | 130429 throughput, 1 API unknown, 2 API service, 131016 service unavailable, 131000 something went wrong | retry |
//! | 131056 pair rate limit | retry this recipient only |
//! | 131026 undeliverable | `recipient_not_found` |
//! | 131047 re-engagement (24-hour window) | `customer_service_window_closed` |
//! | 190 access token expired, or HTTP 401 | `whatsapp_not_connected`, sender disconnected |
//! | 132000–132999 template errors | `template_malformed` |
//! | any other code with HTTP 5xx | retry |
//! | anything else | `meta_error` with Meta's message |
//!
//! A request that never left ([`SendFailure::NotSent`]) is retried; one that may have reached
//! Meta ([`SendFailure::Unknown`]) is never sent again: it fails as `delivery_unknown`, and a
//! later status webhook settles it.

use std::time::Duration;

use rand::Rng;

use crate::error::ErrorCode;
use crate::whatsapp::client::{MetaError, SendFailure};

/// How many times one send attempt goes to Meta before it fails for good.
pub const MAX_ATTEMPTS: u32 = 8;

/// The first retry waits up to this long; each later one up to twice as long as the one before.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// No retry waits longer than this.
const BACKOFF_CAP: Duration = Duration::from_secs(5 * 60);

/// What to do with a send attempt after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Try again later; `recipient_only` = only this recipient is being throttled (pair rate
    /// limit 131056), other recipients of the sender go on.
    Retry { recipient_only: bool },
    /// Give up: the contract code (an ErrorCode), the message to keep, whether to mark the
    /// sender disconnected.
    Fail {
        code: ErrorCode,
        message: String,
        disconnect_sender: bool,
    },
}

impl Decision {
    fn fail(code: ErrorCode, message: String) -> Self {
        Self::Fail {
            code,
            message,
            disconnect_sender: false,
        }
    }
}

/// The decision for one failure; see the module docs for the table.
pub fn decide(failure: &SendFailure) -> Decision {
    match failure {
        SendFailure::NotSent(_) => Decision::Retry {
            recipient_only: false,
        },
        SendFailure::Unknown(reason) => Decision::fail(
            ErrorCode::DeliveryUnknown,
            format!("WhatsApp may or may not have received this message: {reason}"),
        ),
        SendFailure::Meta(error) => decide_meta(error),
    }
}

fn decide_meta(error: &MetaError) -> Decision {
    let message = describe(error);
    match error.code {
        130429 | 1 | 2 | 131016 | 131000 => Decision::Retry {
            recipient_only: false,
        },
        131056 => Decision::Retry {
            recipient_only: true,
        },
        131026 => Decision::fail(ErrorCode::RecipientNotFound, message),
        131047 => Decision::fail(ErrorCode::CustomerServiceWindowClosed, message),
        132000..=132999 => Decision::fail(ErrorCode::TemplateMalformed, message),
        190 => Decision::Fail {
            code: ErrorCode::WhatsappNotConnected,
            message,
            disconnect_sender: true,
        },
        _ if error.http_status == 401 => Decision::Fail {
            code: ErrorCode::WhatsappNotConnected,
            message,
            disconnect_sender: true,
        },
        _ if error.http_status >= 500 => Decision::Retry {
            recipient_only: false,
        },
        _ => Decision::fail(ErrorCode::MetaError, message),
    }
}

/// Meta's message, with its details when they add something: the message alone is often just
/// a title such as "(#131026) Message undeliverable".
fn describe(error: &MetaError) -> String {
    match error.details.as_deref().map(str::trim) {
        Some(details) if !details.is_empty() && !error.message.contains(details) => {
            if error.message.trim().is_empty() {
                details.to_owned()
            } else {
                format!("{}: {details}", error.message.trim())
            }
        }
        _ => error.message.trim().to_owned(),
    }
}

/// How long to wait after failed attempt number `attempt` (1 for the first): a random time
/// between zero and 1 s × 2^(attempt − 1), at most 5 minutes. The full jitter spreads the
/// retries of many attempts that failed together (Meta down for a moment) instead of sending
/// them back in one burst.
pub fn backoff(attempt: u32, rng: &mut impl Rng) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << doublings)
        .min(BACKOFF_CAP);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.random_range(0..=ceiling_ms))
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    fn meta(http_status: u16, code: i64) -> SendFailure {
        SendFailure::Meta(MetaError {
            http_status,
            code,
            subcode: None,
            message: format!("(#{code}) title"),
            details: Some("what went wrong".into()),
            fbtrace_id: Some("trace".into()),
        })
    }

    fn failed_with(decision: Decision) -> (ErrorCode, String, bool) {
        match decision {
            Decision::Fail {
                code,
                message,
                disconnect_sender,
            } => (code, message, disconnect_sender),
            retry => panic!("expected a failure, got {retry:?}"),
        }
    }

    #[test]
    fn transient_answers_are_retried() {
        for (status, code) in [
            (429, 130429),
            (400, 1),
            (503, 2),
            (503, 131016),
            (500, 131000),
            (500, 0),
            (502, 0),
            (503, 100),
        ] {
            assert_eq!(
                decide(&meta(status, code)),
                Decision::Retry {
                    recipient_only: false
                },
                "HTTP {status} code {code}"
            );
        }
    }

    #[test]
    fn the_pair_rate_limit_holds_back_only_its_recipient() {
        assert_eq!(
            decide(&meta(400, 131056)),
            Decision::Retry {
                recipient_only: true
            }
        );
    }

    #[test]
    fn terminal_codes_map_to_the_contract() {
        for (status, code, expected) in [
            (400, 131026, ErrorCode::RecipientNotFound),
            (400, 131047, ErrorCode::CustomerServiceWindowClosed),
            (400, 132000, ErrorCode::TemplateMalformed),
            (400, 132001, ErrorCode::TemplateMalformed),
            (400, 132012, ErrorCode::TemplateMalformed),
            (400, 132999, ErrorCode::TemplateMalformed),
            (400, 133000, ErrorCode::MetaError),
            (400, 131999, ErrorCode::MetaError),
            (400, 100, ErrorCode::MetaError),
            (403, 368, ErrorCode::MetaError),
            (400, 0, ErrorCode::MetaError),
            // Meta's code decides, not its status: a terminal code stays terminal on a 5xx.
            (500, 131026, ErrorCode::RecipientNotFound),
        ] {
            let (got, message, disconnect) = failed_with(decide(&meta(status, code)));
            assert_eq!(got, expected, "HTTP {status} code {code}");
            assert!(!disconnect);
            assert_eq!(message, format!("(#{code}) title: what went wrong"));
        }
    }

    #[test]
    fn a_rejected_token_disconnects_the_sender() {
        for (status, code) in [(401, 190), (400, 190), (401, 0), (401, 10)] {
            let (got, _, disconnect) = failed_with(decide(&meta(status, code)));
            assert_eq!(
                got,
                ErrorCode::WhatsappNotConnected,
                "HTTP {status} code {code}"
            );
            assert!(disconnect);
        }
    }

    #[test]
    fn not_sent_is_retried_and_unknown_is_never_resent() {
        assert_eq!(
            decide(&SendFailure::NotSent("connection refused".into())),
            Decision::Retry {
                recipient_only: false
            }
        );
        let (code, message, disconnect) =
            failed_with(decide(&SendFailure::Unknown("timed out".into())));
        assert_eq!(code, ErrorCode::DeliveryUnknown);
        assert!(message.contains("timed out"));
        assert!(!disconnect);
    }

    #[test]
    fn details_are_kept_only_when_they_add_something() {
        let mut error = MetaError {
            http_status: 400,
            code: 100,
            subcode: None,
            message: "(#100) Invalid parameter".into(),
            details: None,
            fbtrace_id: None,
        };
        assert_eq!(describe(&error), "(#100) Invalid parameter");
        error.details = Some("  ".into());
        assert_eq!(describe(&error), "(#100) Invalid parameter");
        error.details = Some("Invalid parameter".into());
        assert_eq!(describe(&error), "(#100) Invalid parameter");
        error.message = String::new();
        error.details = Some("to is missing".into());
        assert_eq!(describe(&error), "to is missing");
    }

    #[test]
    fn backoff_doubles_with_full_jitter_up_to_five_minutes() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..=64 {
            let ceiling = match attempt {
                0 | 1 => Duration::from_secs(1),
                n if n <= 9 => Duration::from_secs(1 << (n - 1)),
                _ => Duration::from_secs(300),
            };
            let mut longest = Duration::ZERO;
            for _ in 0..200 {
                let wait = backoff(attempt, &mut rng);
                assert!(wait <= ceiling, "attempt {attempt}: {wait:?} > {ceiling:?}");
                longest = longest.max(wait);
            }
            // Full jitter uses the whole range, not just its bottom.
            assert!(longest >= ceiling / 2, "attempt {attempt}: {longest:?}");
        }
        assert_eq!(backoff(u32::MAX, &mut rng).max(BACKOFF_CAP), BACKOFF_CAP);
    }
}
