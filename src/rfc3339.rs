//! RFC 3339 timestamps as status, events and `/status` show them: UTC with millisecond
//! precision (`2026-11-27T07:43:11.250Z`), formatted by jiff (the time library k8s-openapi
//! uses for its `Time`).

use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::jiff::Timestamp;

/// Format a time as RFC 3339 in UTC with millisecond precision (truncated, not rounded). A time
/// before 1970 shows as the epoch.
pub fn format(t: SystemTime) -> String {
    let t = t.max(UNIX_EPOCH);
    let ts = Timestamp::try_from(t).unwrap_or(Timestamp::UNIX_EPOCH);
    format!("{ts:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format(UNIX_EPOCH + Duration::from_millis(1_795_765_391_250)),
            "2026-11-27T07:43:11.250Z"
        );
        // Truncated like the hand-written formatter it replaced.
        assert_eq!(
            format(UNIX_EPOCH + Duration::from_nanos(1_999_999_999)),
            "1970-01-01T00:00:01.999Z"
        );
        assert_eq!(
            format(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000Z"
        );
        // A leap year's 29 February and the last millisecond of a year.
        assert_eq!(
            format(UNIX_EPOCH + Duration::from_millis(951_782_400_000)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format(UNIX_EPOCH + Duration::from_millis(1_704_067_199_999)),
            "2023-12-31T23:59:59.999Z"
        );
    }
}
