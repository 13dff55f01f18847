//! docs/failover.svg: the client's echo requests around a failover, one strip per system and
//! scenario (the repetition with the median client gap), answered in green, lost in red.

use std::fmt::Write as _;

use crate::driver::Results;
use crate::scenarios::Plot;
use crate::stats::median;
use crate::sys::System;

/// Width of the figure.
pub const W: f64 = 960.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 30.0;
/// Height of one row.
pub const ROW: f64 = 34.0;

/// The repetition whose gap is the median (the nearest one): (plot, caption).
pub fn representative(v: &[(f64, &Plot, String)]) -> (Option<Plot>, String) {
    let Some(m) = median(&v.iter().map(|x| x.0).collect::<Vec<_>>()) else {
        return (None, String::new());
    };
    v.iter()
        .min_by(|a, b| (a.0 - m).abs().total_cmp(&(b.0 - m).abs()))
        .map(|x| (Some(x.1.clone()), x.2.clone()))
        .unwrap_or_default()
}

fn nice_step(span: f64) -> f64 {
    let raw = span / 8.0;
    let p = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if raw <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One panel: a title, a time range, the label of time zero and one row per system.
pub struct Panel {
    /// Title.
    pub title: String,
    /// Start of the time axis, seconds.
    pub from: f64,
    /// End of the time axis, seconds.
    pub to: f64,
    /// What happened at time zero.
    pub zero: String,
    /// (system, plot, caption).
    pub rows: Vec<(String, Option<Plot>, String)>,
}

/// Draw a panel at `y0`; returns the y below it.
pub fn panel(out: &mut String, y0: f64, p: &Panel) -> f64 {
    let plot_w = W - LEFT - RIGHT;
    let x = |t: f64| LEFT + (t - p.from) / (p.to - p.from) * plot_w;
    let _ = writeln!(
        out,
        r##"<text x="10" y="{:.1}" font-size="14" font-weight="bold">{}</text>"##,
        y0 + 16.0,
        esc(&p.title)
    );
    let mut y = y0 + 28.0;
    for (label, plot, summary) in &p.rows {
        let _ = writeln!(
            out,
            r##"<text x="10" y="{:.1}" font-size="12">{}</text><text x="10" y="{:.1}" font-size="10" fill="#555">{}</text>"##,
            y + 14.0,
            esc(label),
            y + 27.0,
            esc(summary)
        );
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{y:.1}" width="{plot_w:.1}" height="{:.1}" fill="#f7f7f7" stroke="#ddd"/>"##,
            ROW - 4.0
        );
        if let Some(plot) = plot {
            for s in plot.sent.iter().filter(|s| s.t >= p.from && s.t <= p.to) {
                let (color, top) = if s.answered {
                    ("#2a9d3a", y + 14.0)
                } else {
                    ("#d62828", y + 3.0)
                };
                let _ = writeln!(
                    out,
                    r##"<line x1="{:.1}" y1="{top:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="1"/>"##,
                    x(s.t),
                    x(s.t),
                    y + ROW - 7.0
                );
            }
            for (i, (name, t)) in plot.marks.iter().enumerate() {
                if !t.is_finite() || *t < p.from || *t > p.to {
                    continue;
                }
                let (color, dash) = if i == 0 {
                    ("#1d4ed8", "4,3")
                } else {
                    ("#7c3aed", "")
                };
                let _ = writeln!(
                    out,
                    r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}"><title>{}: {:.1} ms</title></line>"##,
                    x(*t),
                    y - 1.0,
                    x(*t),
                    y + ROW - 3.0,
                    esc(name),
                    t * 1000.0
                );
            }
        } else {
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#999">not measured</text>"##,
                LEFT + 8.0,
                y + 18.0
            );
        }
        y += ROW;
    }
    // Axis.
    let step = nice_step(p.to - p.from);
    let mut t = (p.from / step).ceil() * step;
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#333"/>"##,
        W - RIGHT
    );
    let mut guard = 0;
    while t <= p.to + 1e-9 && guard < 40 {
        guard += 1;
        if t.abs() < step * 1e-6 {
            t = 0.0;
        }
        let label = if step >= 1.0 {
            format!("{t:.0} s")
        } else if step >= 0.1 {
            format!("{t:.1} s")
        } else {
            format!("{:.0} ms", t * 1000.0)
        };
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{label}</text>"##,
            x(t),
            x(t),
            y + 4.0,
            x(t),
            y + 15.0
        );
        t += step;
    }
    let _ = writeln!(
        out,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{y:.1}" stroke="#000" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#000">{}</text>"##,
        x(0.0),
        y0 + 24.0,
        x(0.0),
        x(0.0) + 3.0,
        y0 + 24.0,
        esc(&p.zero)
    );
    y + 24.0
}

/// The SVG document.
pub fn plot(r: &Results) -> String {
    let caption = |gap: f64, lost: u64| format!("gap {:.0} ms, {lost} lost", gap * 1000.0);
    let mut panels = Vec::new();
    for (advert, from, to) in [(1000u32, -1.2, 3.8), (100, -0.15, 0.55), (10, -0.05, 0.12)] {
        let mut rows = Vec::new();
        for sys in System::BOTH {
            let v: Vec<(f64, &Plot, String)> = r
                .loss
                .iter()
                .filter(|(s, a, _)| *s == sys && *a == advert)
                .map(|(_, _, x)| (x.gap, &x.plot, caption(x.gap, x.lost)))
                .collect();
            let (plot, summary) = representative(&v);
            rows.push((sys.name().to_string(), plot, summary));
        }
        let name = if advert >= 1000 {
            format!("{} s", advert / 1000)
        } else {
            format!("{advert} ms")
        };
        panels.push(Panel {
            title: format!("Node loss (link down on the master), {name} adverts"),
            from,
            to,
            zero: "link down".into(),
            rows,
        });
    }
    // The worst 10 ms run of each system: a client cut off until the next announcement burst.
    let mut rows = Vec::new();
    for sys in System::BOTH {
        let worst = r
            .loss
            .iter()
            .filter(|(s, a, _)| *s == sys && *a == 10)
            .max_by(|a, b| a.2.gap.total_cmp(&b.2.gap))
            .map(|(_, _, x)| (Some(x.plot.clone()), caption(x.gap, x.lost)))
            .unwrap_or_default();
        rows.push((sys.name().to_string(), worst.0, worst.1));
    }
    panels.push(Panel {
        title: "Node loss, 10 ms adverts: the worst run of each system".into(),
        from: -0.5,
        to: 5.5,
        zero: "link down".into(),
        rows,
    });
    let mut rows = Vec::new();
    for sys in System::BOTH {
        let v: Vec<(f64, &Plot, String)> = r
            .handover
            .iter()
            .filter(|(s, _)| *s == sys)
            .map(|(_, x)| (x.gap, &x.plot, caption(x.gap, x.lost)))
            .collect();
        let (plot, summary) = representative(&v);
        rows.push((sys.name().to_string(), plot, summary));
    }
    panels.push(Panel {
        title: "Planned handover (SIGTERM to the master), 1 s adverts".into(),
        from: -0.2,
        to: 1.0,
        zero: "SIGTERM".into(),
        rows,
    });
    let height = 74.0 + panels.len() as f64 * (28.0 + 2.0 * ROW + 30.0) + 10.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height:.0}" viewBox="0 0 {W} {height:.0}" font-family="sans-serif">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="10" y="20" font-size="16" font-weight="bold">What a client pinging the VIP every ~10 ms sees (time relative to the fault)</text>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="40" font-size="11"><tspan fill="#2a9d3a">| answered echo request</tspan>   <tspan fill="#d62828">| lost echo request</tspan>   (by send time; one repetition per row: the one with the median gap, unless the title says otherwise)</text>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="56" font-size="11"><tspan fill="#1d4ed8">- - node loss: the master's last advert; handover: VIP on the new master</tspan>   <tspan fill="#7c3aed">— node loss: VIP on the new master; handover: VIP off the old master</tspan></text>"##
    );
    let mut y = 66.0;
    for p in &panels {
        y = panel(&mut s, y, p);
    }
    let _ = writeln!(s, "</svg>");
    s
}
