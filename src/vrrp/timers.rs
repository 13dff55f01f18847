//! RFC 5798 §6.1 timer arithmetic, shared by v2 and v3.
//!
//! Intervals are centisecond-exact [`Duration`]s (v2 intervals are whole seconds, which are
//! whole centiseconds too). Skew is computed exactly in nanoseconds: v3 allows fractional skew
//! (RFC 5798 §6.1 "Skew_Time ... (((256 - priority) * Master_Adver_Interval) / 256)").

use std::time::Duration;

/// A centisecond count as a duration.
pub fn from_centis(cs: u16) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}

/// A duration as whole centiseconds, rounded down (what the v3 wire carries).
pub fn to_centis(d: Duration) -> u16 {
    u16::try_from(d.as_millis() / 10).unwrap_or(u16::MAX)
}

/// Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256 (RFC 5798 §6.1; RFC 3768 §6.1
/// gives (256 - Priority) / 256 seconds, the same formula with whole-second intervals).
pub fn skew_time(priority: u8, master_adver_interval: Duration) -> Duration {
    master_adver_interval * (256 - u32::from(priority)) / 256
}

/// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time (RFC 5798 §6.1).
pub fn master_down_interval(priority: u8, master_adver_interval: Duration) -> Duration {
    master_adver_interval * 3 + skew_time(priority, master_adver_interval)
}

/// Whether an advertisement interval can be carried by `version`: v3 10 ms..40.95 s in 10 ms
/// steps (RFC 5798 §5.2.7), v2 whole seconds 1..255 (RFC 3768 §5.3.7).
pub fn check_interval(version: super::Version, d: Duration) -> Result<(), String> {
    let ms = d.as_nanos() as f64 / 1e6;
    match version {
        super::Version::V3 => {
            if !d.as_nanos().is_multiple_of(10_000_000)
                || d < Duration::from_millis(10)
                || d > from_centis(4095)
            {
                return Err(format!(
                    "VRRPv3 needs 10ms..40.95s in steps of 10ms, got {ms}ms"
                ));
            }
        }
        super::Version::V2 => {
            if d.subsec_nanos() != 0 || d.as_secs() == 0 || d.as_secs() > 255 {
                return Err(format!("VRRPv2 needs whole seconds 1s..255s, got {ms}ms"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // Priority 100, 1 s: skew 156/256 s = 609.375 ms; MDI 3.609375 s.
        assert_eq!(
            skew_time(100, from_centis(100)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            master_down_interval(100, from_centis(100)),
            Duration::from_micros(3_609_375)
        );
        // 10 ms adverts keep sub-millisecond skew.
        assert_eq!(
            skew_time(200, from_centis(1)),
            Duration::from_nanos(2_187_500)
        );
        // The owner's skew is 1/256 of the interval.
        assert_eq!(skew_time(255, from_centis(256)), Duration::from_millis(10));
        assert_eq!(to_centis(Duration::from_millis(1234)), 123);
    }
}
