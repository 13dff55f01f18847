//! Medians and their formatting.

/// Median, min, max of the finite values; None when there are none.
pub fn summary(v: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((med, v[0], v[n - 1]))
}

/// The median alone.
pub fn median(v: &[f64]) -> Option<f64> {
    summary(v).map(|s| s.0)
}

/// How a value is shown.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Seconds, shown in ms below 1 s.
    Time,
    /// A count.
    Count,
    /// MiB.
    Mib,
    /// CPU milliseconds per minute.
    CpuMs,
}

/// One value in `unit`, scaled like `reference` (so a range shares the median's unit).
pub fn fmt_as(x: f64, unit: Unit, reference: f64) -> String {
    match unit {
        Unit::Time if reference.abs() >= 1.0 => format!("{x:.3} s"),
        Unit::Time => format!("{:.1} ms", x * 1000.0),
        Unit::Count => format!("{x:.0}"),
        Unit::Mib => format!("{x:.1} MiB"),
        Unit::CpuMs => format!("{x:.1} ms/min"),
    }
}

/// One value.
pub fn fmt(x: f64, unit: Unit) -> String {
    fmt_as(x, unit, x)
}

/// "median [min–max] (n)", or "–" without values.
pub fn cell(v: &[f64], unit: Unit) -> String {
    match summary(v) {
        None => "not measured".into(),
        Some((m, lo, hi)) if v.len() == 1 || lo == hi => fmt_as(m, unit, m),
        Some((m, lo, hi)) => {
            let lo = fmt_as(lo, unit, m);
            let hi = fmt_as(hi, unit, m);
            // Keep the unit once, after the range.
            let strip = |s: &str| s.split(' ').next().unwrap_or_default().to_string();
            let unit_s = fmt_as(m, unit, m)
                .split_once(' ')
                .map(|x| x.1.to_string())
                .unwrap_or_default();
            let sep = if unit_s.is_empty() { "" } else { " " };
            format!(
                "{} [{}–{}]{sep}{unit_s}",
                strip(&fmt_as(m, unit, m)),
                strip(&lo),
                strip(&hi)
            )
        }
    }
}

/// kube-vrrp / keepalived of the medians.
pub fn ratio(a: &[f64], b: &[f64]) -> String {
    match (median(a), median(b)) {
        (Some(a), Some(b)) if b.abs() > 1e-12 => format!("{:.2}", a / b),
        (Some(a), Some(_)) if a.abs() < 1e-12 => "1 (both 0)".into(),
        _ => "–".into(),
    }
}
