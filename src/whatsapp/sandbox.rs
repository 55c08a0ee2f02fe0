//! The sandbox sender: WhatsApp simulated, so that a new user sees the whole flow with no Meta
//! account. It accepts like Meta would — except for numbers ending in `0000`, which are "not on
//! WhatsApp"; the dispatcher then reports its statuses (`dispatch::sandbox`). Nothing here
//! touches the database.

use uuid::Uuid;

/// What the sandbox answers a send to `to` (digits).
pub fn accept(to: &str) -> Result<String, (String, String)> {
    if to.ends_with("0000") {
        return Err((
            "recipient_not_found".into(),
            "the number is not on WhatsApp (sandbox: numbers ending in 0000)".into(),
        ));
    }
    Ok(format!("wamid.SANDBOX{}", Uuid::now_v7().simple()))
}
