//! Effective priority: the base priority adjusted by tracker weights (keepalived semantics).

/// The address owner's priority; never adjusted (RFC 5798 §5.2.4).
pub const OWNER: u8 = 255;
/// Priority a leaving master advertises (RFC 5798 §5.2.4).
pub const STOP: u8 = 0;

/// Base priority plus the sum of tracker adjustments, clamped to 1..=254 as keepalived does.
/// An owner (255) stays 255 whatever the trackers say.
pub fn effective(base: u8, adjustment: i32) -> u8 {
    if base == OWNER {
        return OWNER;
    }
    (i64::from(base) + i64::from(adjustment)).clamp(1, 254) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_keeps_owner() {
        assert_eq!(effective(100, 10), 110);
        assert_eq!(effective(100, -200), 1);
        assert_eq!(effective(250, 10), 254);
        assert_eq!(effective(255, -50), 255);
        assert_eq!(effective(1, i32::MIN), 1);
        assert_eq!(effective(254, i32::MAX), 254);
    }
}
