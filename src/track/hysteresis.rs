//! The pure part of tracking (no I/O, no clock): rise/fall counting, what one tracker
//! contributes to its instance, and how the contributions of a set combine. keepalived's rules:
//!
//! - weight > 0 adds `weight` to the priority while the tracker is up;
//! - weight < 0 subtracts `|weight|` while it is down;
//! - weight 0 puts the instance in Fault while it is down;
//! - a file tracker contributes `value x weight` (weight 0: any non-zero value is a fault), and
//!   a result of -254 or less is a fault.
//!
//! The engine clamps the effective priority to 1..254 and never changes an owner's 255
//! ([`crate::vrrp::priority::effective`]).

/// What one check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// The check passed (exit 0, enough processes, link up).
    Pass,
    /// The check failed, or could not be carried out.
    Fail,
    /// A file tracker read this integer.
    Value(i64),
}

/// Up/down state of a tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// No result yet. keepalived's default script state: the first result decides at once,
    /// whatever `rise` and `fall` say.
    Pending,
    /// Up.
    Up,
    /// Down.
    Down,
}

/// What a tracker contributes to its instance, and what a set of trackers adds up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Contribution {
    /// Added to the base priority (may be negative).
    pub adjustment: i32,
    /// The instance must be in Fault.
    pub fault: bool,
}

/// Rise/fall counting: `fall` consecutive failures take an up tracker down, `rise` consecutive
/// successes bring a down tracker up; a result of the other kind restarts the count. The first
/// result decides at once (keepalived's default, without `init_fail`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    health: Health,
    streak: u32,
}

impl Hysteresis {
    /// Pending, with the given thresholds (0 is taken as 1).
    pub fn new(rise: u32, fall: u32) -> Hysteresis {
        Hysteresis {
            rise: rise.max(1),
            fall: fall.max(1),
            health: Health::Pending,
            streak: 0,
        }
    }

    /// Current state.
    pub fn health(&self) -> Health {
        self.health
    }

    /// Record one result; true when the state changed.
    pub fn record(&mut self, pass: bool) -> bool {
        let (threshold, next) = match (self.health, pass) {
            (Health::Pending, true) => (1, Health::Up),
            (Health::Pending, false) => (1, Health::Down),
            (Health::Up, false) => (self.fall, Health::Down),
            (Health::Down, true) => (self.rise, Health::Up),
            // A result that confirms the current state ends any streak against it.
            (Health::Up, true) | (Health::Down, false) => {
                self.streak = 0;
                return false;
            }
        };
        self.streak += 1;
        if self.streak < threshold {
            return false;
        }
        self.streak = 0;
        self.health = next;
        true
    }
}

/// `value x weight` as keepalived computes it for a file: the value clamped to -254..254, the
/// product to -254..253.
pub fn scaled(value: i64, weight: i32) -> i32 {
    let product = value.clamp(-254, 254) * i64::from(weight);
    product.clamp(-254, 253) as i32
}

/// Whether a reading counts as a success for a tracker of this weight.
pub fn passes(reading: Reading, weight: i32) -> bool {
    match reading {
        Reading::Pass => true,
        Reading::Fail => false,
        Reading::Value(v) if weight == 0 => v == 0,
        Reading::Value(v) => scaled(v, weight) > -254,
    }
}

/// One tracker's state: its weight, its rise/fall counting and its last reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerCore {
    weight: i32,
    hysteresis: Hysteresis,
    last: Option<Reading>,
}

impl TrackerCore {
    /// A pending tracker.
    pub fn new(weight: i32, rise: u32, fall: u32) -> TrackerCore {
        TrackerCore {
            weight,
            hysteresis: Hysteresis::new(rise, fall),
            last: None,
        }
    }

    /// Record a reading; true when the tracker went up or down.
    pub fn observe(&mut self, reading: Reading) -> bool {
        self.last = Some(reading);
        self.hysteresis.record(passes(reading, self.weight))
    }

    /// Current state.
    pub fn health(&self) -> Health {
        self.hysteresis.health()
    }

    /// The weight.
    pub fn weight(&self) -> i32 {
        self.weight
    }

    /// What the tracker contributes now. A pending weight-0 tracker holds the instance in
    /// Fault until its first result (keepalived keeps such an instance out of the election
    /// while its scripts are in their initial state).
    pub fn contribution(&self) -> Contribution {
        let w = self.weight;
        let adjust = |adjustment| Contribution {
            adjustment,
            fault: false,
        };
        let fault = |adjustment| Contribution {
            adjustment,
            fault: true,
        };
        match (self.health(), self.last) {
            (Health::Pending, _) if w == 0 => fault(0),
            (Health::Pending, _) => Contribution::default(),
            (Health::Up, Some(Reading::Value(v))) if w != 0 => adjust(scaled(v, w)),
            (Health::Up, _) => adjust(w.max(0)),
            (Health::Down, Some(Reading::Value(v))) => fault(if w == 0 { 0 } else { scaled(v, w) }),
            (Health::Down, _) if w == 0 => fault(0),
            (Health::Down, _) => adjust(w.min(0)),
        }
    }
}

/// The sum of the adjustments (saturating) and whether any tracker demands Fault.
pub fn combine(parts: impl IntoIterator<Item = Contribution>) -> Contribution {
    parts
        .into_iter()
        .fold(Contribution::default(), |acc, c| Contribution {
            adjustment: acc.adjustment.saturating_add(c.adjustment),
            fault: acc.fault || c.fault,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::priority::effective;

    fn run(h: &mut Hysteresis, results: &str) -> Vec<Health> {
        results
            .chars()
            .map(|c| {
                h.record(c == 'S');
                h.health()
            })
            .collect()
    }

    #[test]
    fn first_result_decides_at_once() {
        let mut h = Hysteresis::new(5, 5);
        assert_eq!(h.health(), Health::Pending);
        assert!(h.record(true));
        assert_eq!(h.health(), Health::Up);
        let mut h = Hysteresis::new(5, 5);
        assert!(h.record(false));
        assert_eq!(h.health(), Health::Down);
    }

    #[test]
    fn fall_needs_consecutive_failures() {
        use Health::*;
        let mut h = Hysteresis::new(1, 3);
        // S: up; F F: still up; S restarts the count; F F F: down on the third.
        assert_eq!(run(&mut h, "SFFSFFF"), [Up, Up, Up, Up, Up, Up, Down]);
    }

    #[test]
    fn rise_needs_consecutive_successes() {
        use Health::*;
        let mut h = Hysteresis::new(2, 1);
        assert_eq!(run(&mut h, "FSFSS"), [Down, Down, Down, Down, Up]);
        // Once up, one failure (fall 1) takes it down again.
        assert_eq!(run(&mut h, "F"), [Down]);
    }

    #[test]
    fn record_reports_only_changes() {
        let mut h = Hysteresis::new(2, 2);
        let changes: Vec<bool> = "SSFFFSS".chars().map(|c| h.record(c == 'S')).collect();
        assert_eq!(changes, [true, false, false, true, false, false, true]);
    }

    #[test]
    fn zero_thresholds_count_as_one() {
        let mut h = Hysteresis::new(0, 0);
        h.record(true);
        assert!(h.record(false));
        assert!(h.record(true));
    }

    fn after(weight: i32, rise: u32, fall: u32, readings: &[Reading]) -> TrackerCore {
        let mut t = TrackerCore::new(weight, rise, fall);
        for r in readings {
            t.observe(*r);
        }
        t
    }

    fn c(adjustment: i32, fault: bool) -> Contribution {
        Contribution { adjustment, fault }
    }

    #[test]
    fn weights_follow_keepalived() {
        use Reading::*;
        // weight > 0 adds while up, nothing while down.
        assert_eq!(after(10, 1, 1, &[Pass]).contribution(), c(10, false));
        assert_eq!(after(10, 1, 1, &[Fail]).contribution(), c(0, false));
        // weight < 0 subtracts while down, nothing while up.
        assert_eq!(after(-20, 1, 1, &[Pass]).contribution(), c(0, false));
        assert_eq!(after(-20, 1, 1, &[Fail]).contribution(), c(-20, false));
        // weight 0: Fault while down.
        assert_eq!(after(0, 1, 1, &[Pass]).contribution(), c(0, false));
        assert_eq!(after(0, 1, 1, &[Fail]).contribution(), c(0, true));
        // Hysteresis applies before the weight: fall 3 keeps the bonus through two failures.
        assert_eq!(
            after(10, 1, 3, &[Pass, Fail, Fail]).contribution(),
            c(10, false)
        );
        assert_eq!(
            after(10, 1, 3, &[Pass, Fail, Fail, Fail]).contribution(),
            c(0, false)
        );
    }

    #[test]
    fn pending_contributes_nothing_but_weight_zero_holds_fault() {
        assert_eq!(TrackerCore::new(10, 1, 1).contribution(), c(0, false));
        assert_eq!(TrackerCore::new(-10, 1, 1).contribution(), c(0, false));
        assert_eq!(TrackerCore::new(0, 1, 1).contribution(), c(0, true));
    }

    #[test]
    fn file_values_scale_by_weight() {
        use Reading::*;
        assert_eq!(after(1, 1, 1, &[Value(7)]).contribution(), c(7, false));
        assert_eq!(after(-2, 1, 1, &[Value(7)]).contribution(), c(-14, false));
        assert_eq!(after(1, 1, 1, &[Value(0)]).contribution(), c(0, false));
        assert_eq!(after(3, 1, 1, &[Value(-10)]).contribution(), c(-30, false));
        // -254 or less is a fault; large values clamp.
        assert_eq!(after(1, 1, 1, &[Value(-254)]).contribution(), c(-254, true));
        assert_eq!(after(2, 1, 1, &[Value(-200)]).contribution(), c(-254, true));
        assert_eq!(
            after(1, 1, 1, &[Value(-253)]).contribution(),
            c(-253, false)
        );
        assert_eq!(
            after(1, 1, 1, &[Value(1_000_000)]).contribution(),
            c(253, false)
        );
        assert_eq!(
            after(254, 1, 1, &[Value(i64::MIN)]).contribution(),
            c(-254, true)
        );
        // weight 0: zero is up, anything else is a fault.
        assert_eq!(after(0, 1, 1, &[Value(0)]).contribution(), c(0, false));
        assert_eq!(after(0, 1, 1, &[Value(3)]).contribution(), c(0, true));
        assert_eq!(after(0, 1, 1, &[Value(-1)]).contribution(), c(0, true));
        // Unreadable content counts as down, like any failed check.
        assert_eq!(
            after(1, 1, 1, &[Value(5), Fail]).contribution(),
            c(0, false)
        );
        assert_eq!(after(-5, 1, 1, &[Fail]).contribution(), c(-5, false));
        assert_eq!(after(0, 1, 1, &[Fail]).contribution(), c(0, true));
        // And a good value afterwards counts again.
        assert_eq!(
            after(1, 1, 1, &[Fail, Value(4)]).contribution(),
            c(4, false)
        );
    }

    #[test]
    fn combination_sums_and_ors() {
        assert_eq!(combine([]), c(0, false));
        assert_eq!(combine([c(10, false), c(-20, false)]), c(-10, false));
        assert_eq!(combine([c(10, false), c(0, true)]), c(10, true));
        assert_eq!(
            combine([c(i32::MAX, false), c(5, false)]),
            c(i32::MAX, false)
        );
        assert_eq!(
            combine([c(i32::MIN, false), c(-5, false)]),
            c(i32::MIN, false)
        );
    }

    #[test]
    fn seed_weights_on_the_engine() {
        use Reading::*;
        // process httpd weight 10 (up), track_app_file weight 1 (value 7), ens9 weight 5 (down),
        // script weight 0 (up): 100 + 10 + 7 = 117, no fault.
        let set = [
            after(10, 1, 1, &[Pass]),
            after(1, 1, 1, &[Value(7)]),
            after(5, 1, 1, &[Fail]),
            after(0, 1, 3, &[Pass]),
        ];
        let total = combine(set.iter().map(TrackerCore::contribution));
        assert_eq!(total, c(17, false));
        assert_eq!(effective(100, total.adjustment), 117);
        // Clamped to 1..254; the owner never moves.
        assert_eq!(effective(250, total.adjustment), 254);
        assert_eq!(effective(255, -200), 255);
        let down = combine([after(-20, 1, 1, &[Fail]).contribution(); 10]);
        assert_eq!(effective(100, down.adjustment), 1);
    }
}
