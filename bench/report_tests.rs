//! The report's text for a fixed set of results: every table, target, limit and observation
//! branch, compared with bench/testdata/report.md (rewrite it with `BENCH_REPORT_UPDATE=1
//! cargo test --example bench` after a deliberate change).

use std::time::Duration;

use crate::driver::Results;
use crate::k8s_api::{Apply, K8sResult};
use crate::scenarios::{Crash, Election, Footprint, Handover, NodeLoss, Plot};
use crate::sys::System::{self, Keepalived, KubeVrrp};

fn election(i: usize, transient: bool) -> Election {
    Election {
        time: 3.2 + i as f64 * 0.013,
        transient,
        transient_s: if transient { 0.04 * i as f64 } else { 0.0 },
    }
}

fn loss(sys: System, advert: u32, i: usize) -> (System, u32, NodeLoss) {
    let base = crate::sys::master_down(advert, crate::sys::PRIOS[1]);
    let slow = if sys == KubeVrrp { 1.03 } else { 1.001 };
    (
        sys,
        advert,
        NodeLoss {
            election: election(i, i == 1 && advert == 10),
            takeover: base * slow + i as f64 * 0.0007,
            after_fault: base * 0.8 + i as f64 * 0.01,
            wire: base + 0.0004 * i as f64,
            gap: if i == 2 && advert == 100 {
                base + 1.7
            } else {
                base + 0.05
            },
            lost: 20 + i as u64,
            resumed: !(i == 2 && advert == 100 && sys == Keepalived),
            third: (i == 0 && advert == 10).then_some(0.02),
            spurious: i == 1 && advert == 1000 && sys == KubeVrrp,
            plot: Plot::default(),
        },
    )
}

fn handover(i: usize, lost: u64) -> Handover {
    Handover {
        election: election(i, false),
        gap: 0.02 + i as f64 * 0.001,
        lost,
        resumed: i != 1,
        vip_gap: -0.003 + i as f64 * 0.001,
        takeover: 0.2 + i as f64 * 0.01,
        exit: 0.9,
        plot: Plot::default(),
    }
}

fn foot(instances: usize, advert_ms: u32, version: u8, kube: bool) -> Footprint {
    let scale = instances as f64;
    Footprint {
        instances,
        advert_ms,
        version,
        cpu_ms_min: if kube { 3.0 } else { 2.0 } * scale.sqrt(),
        master_cpu_ms_min: if kube { 4.0 } else { 3.0 } * scale.sqrt(),
        rss: if kube { 9.0 } else { 3.5 } + scale * 0.01,
        pss: if kube { 6.0 } else { 3.0 } + scale * 0.01,
        ready_after: if instances == 255 && kube {
            None
        } else {
            Some(3.3)
        },
        drops_idle: if instances == 255 && !kube { 12 } else { 0 },
        at_end: if instances == 255 && !kube {
            [200, 55, 0]
        } else {
            [instances, 0, 0]
        },
        others_max: if instances >= 50 { 7 } else { 0 },
    }
}

/// Results that reach every branch of the report.
fn sample() -> Results {
    let mut r = Results::default();
    for advert in [1000, 100, 10] {
        for i in 0..3 {
            for sys in System::BOTH {
                r.loss.push(loss(sys, advert, i));
            }
        }
    }
    for i in 0..3 {
        r.handover.push((KubeVrrp, handover(i, u64::from(i == 2))));
        r.handover.push((Keepalived, handover(i, 21 + i as u64)));
    }
    for i in 0..3 {
        r.crash.push((
            KubeVrrp,
            Crash {
                left_after: (i != 2).then_some(3.5 + i as f64 * 0.3),
                takeover: 3.1,
                two_holders: 0.4 * i as f64,
                window: 20.0,
            },
        ));
        r.crash.push((
            Keepalived,
            Crash {
                left_after: None,
                takeover: 3.2,
                two_holders: 16.8,
                window: 20.0,
            },
        ));
    }
    for (n, advert, version) in [
        (1, 1000, 3),
        (1, 1000, 2),
        (1, 50, 3),
        (50, 1000, 3),
        (50, 1000, 2),
        (255, 1000, 3),
    ] {
        r.foot.push((KubeVrrp, foot(n, advert, version, true)));
        r.foot.push((Keepalived, foot(n, advert, version, false)));
        // The floors: the tokio one between the two, the epoll one at keepalived's.
        let mut tokio = foot(n, advert, version, false);
        tokio.cpu_ms_min *= 1.1;
        r.foot.push((crate::sys::System::FloorTokio, tokio));
        r.foot.push((
            crate::sys::System::FloorEpoll,
            foot(n, advert, version, false),
        ));
    }
    r.k8s = Some(K8sResult {
        applies: vec![
            Apply {
                advert_ms: 1000,
                to_vip: 3.4,
                to_ping: 3.45,
                kubectl: 0.2,
            },
            Apply {
                advert_ms: 100,
                to_vip: 0.9,
                to_ping: 0.95,
                kubectl: 0.2,
            },
        ],
        steady_s: 60.0,
        steady_vips: 20,
        writes: 0.0,
        rv_unchanged: true,
        failures: Vec::new(),
    });
    r.failures = vec!["node-loss keepalived rep 3: timeout\nsecond line\nthird\nfourth".into()];
    r.load = vec![("node loss".into(), "0.5 0.4 0.3".into())];
    r.load_start = "0.1 0.2 0.3".into();
    r.load_end = "0.4 0.5 0.6".into();
    r.took = Duration::from_secs(1800);
    r.reps = 3;
    r.crash_window = 20.0;
    r.idle = 60.0;
    r
}

#[test]
fn the_report_text_is_stable() {
    let text = super::render(&sample(), "| machine | fixed |\n");
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/testdata/report.md");
    if std::env::var_os("BENCH_REPORT_UPDATE").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        text == expected,
        "the report changed: diff {} against the test's output, or rewrite it with BENCH_REPORT_UPDATE=1",
        golden.display()
    );
}
