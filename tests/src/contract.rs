//! What the contract pairs with each status a caller can cause, in one place for the suites that
//! check answers.

/// The envelope `code` and `ext.eKey` of an answer with `status`, for the statuses a caller's
/// request can cause (200, 400, 401, 403, 404); `None` for any other (a 5xx is never the
/// caller's doing).
pub fn code_and_key(status: u16) -> Option<(&'static str, Option<&'static str>)> {
    Some(match status {
        200 => ("S", None),
        400 => ("E0", Some("invalid_param")),
        401 => ("E0", Some("unauthorized")),
        403 => ("E0", Some("forbidden")),
        404 => ("E1", Some("not_found")),
        _ => return None,
    })
}
