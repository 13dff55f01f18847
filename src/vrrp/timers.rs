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

/// The shortest interval Skew_Time is computed with when a router joins (see
/// [`join_down_interval`]).
/// A master refreshes its VIPs' kernel lifetime with the first advert at least this long after
/// the last refresh: with every advert at 1 s and longer intervals, about once a second at
/// shorter ones. (Not 1 s: an advert one interval after the refresh may be due a hair early.)
pub const VIP_REFRESH: Duration = Duration::from_millis(900);

/// How long an installed VIP lives unless refreshed: a little over the backups'
/// Master_Down_Interval, in whole seconds as the kernel counts, at least 3 s. A master killed
/// at once (no priority 0, no removal) leaves the VIP on its node about until a backup has
/// taken over: clients keep being answered meanwhile, and two nodes hold it only briefly.
pub fn vip_lifetime(interval: Duration) -> Duration {
    let d = interval * 3 + Duration::from_secs(1);
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(Duration::from_secs(3))
}

pub const JOIN_SKEW_FLOOR: Duration = Duration::from_secs(1);

/// The Master_Down_Interval a backup waits when it joins (at startup, or when a fault clears)
/// before it has heard a master: 3 * Advertisement_Interval + Skew_Time, the skew computed with
/// an interval of at least [`JOIN_SKEW_FLOOR`].
///
/// RFC 5798 §6.1's skew is what lets the highest priority win when routers start together; at
/// sub-second intervals it shrinks to fractions of a millisecond per priority step (10 ms
/// adverts: 0.39 ms between priorities 210 and 200), less than the spread of process starts
/// across nodes, so at a cold start whichever node starts first takes the VIP and is preempted
/// a moment later: two holders in turn. With 1 s of skew the spread is 39 ms per 10 priority
/// points, as with keepalived's default 1 s adverts. It only lengthens a wait in which no
/// master is heard; an advert from a running master ends it as usual (§6.4.2).
pub fn join_down_interval(priority: u8, interval: Duration) -> Duration {
    interval * 3 + skew_time(priority, interval.max(JOIN_SKEW_FLOOR))
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

    #[test]
    fn joining_skews_on_at_least_a_second() {
        // 1 s and longer: the RFC's interval exactly.
        for cs in [100, 250] {
            let d = from_centis(cs);
            assert_eq!(join_down_interval(100, d), master_down_interval(100, d));
        }
        // 10 ms adverts: 30 ms + 56/256 s = 248.75 ms for priority 200; 39.0625 ms per 10
        // priority points instead of 0.39 ms.
        let d = from_centis(1);
        assert_eq!(join_down_interval(200, d), Duration::from_micros(248_750));
        assert_eq!(
            join_down_interval(200, d) - join_down_interval(210, d),
            Duration::from_micros(39_062) + Duration::from_nanos(500)
        );
    }
}
