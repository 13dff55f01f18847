//! The shared timer's tests: real timerfds on the test's runtime.

use super::*;

fn timer(timers: &Timers) -> EngineTimer {
    EngineTimer::new(Some(timers), Duration::from_millis(10))
}

#[tokio::test]
async fn fires_at_the_instant_and_not_before() {
    let timers = Timers::start().unwrap();
    let mut d = timer(&timers);
    let start = Instant::now();
    d.set(Some(start + Duration::from_millis(30)));
    d.fired().await;
    assert!(start.elapsed() >= Duration::from_millis(30));
    // Unset now: waiting again does not complete.
    let again = tokio::time::timeout(Duration::from_millis(50), d.fired()).await;
    assert!(again.is_err());
}

#[tokio::test]
async fn a_moved_deadline_replaces_the_old_one() {
    let timers = Timers::start().unwrap();
    let mut d = timer(&timers);
    let start = Instant::now();
    d.set(Some(start + Duration::from_millis(10)));
    d.set(Some(start + Duration::from_millis(60)));
    d.fired().await;
    assert!(start.elapsed() >= Duration::from_millis(60));
    // A passed instant fires at once; unsetting stops it.
    d.set(Some(start));
    d.fired().await;
    d.set(Some(Instant::now() + Duration::from_millis(5)));
    d.set(None);
    let never = tokio::time::timeout(Duration::from_millis(50), d.fired()).await;
    assert!(never.is_err());
}

#[tokio::test]
async fn many_timers_each_fire_at_their_own_instant() {
    let timers = Timers::start().unwrap();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..20u64 {
        let timers = timers.clone();
        tasks.push(tokio::spawn(async move {
            let mut d = timer(&timers);
            let at = start + Duration::from_millis(5 * (20 - i));
            d.set(Some(at));
            d.fired().await;
            (at, Instant::now())
        }));
    }
    for t in tasks {
        let (at, fired) = t.await.unwrap();
        assert!(fired >= at, "fired {:?} early", at - fired);
    }
    // A dropped timer leaves nothing behind.
    assert!(timers.lock().entries.is_empty());
}

#[tokio::test]
async fn later_deadlines_rearm_once_after_the_burst_and_never_late() {
    let timers = Timers::start().unwrap();
    let start = Instant::now();
    let mut a = timer(&timers);
    let mut b = timer(&timers);
    a.set(Some(start + Duration::from_millis(20)));
    b.set(Some(start + Duration::from_millis(40)));
    let first = timers.lock().armed;
    // `a` moves later: the timerfd stays armed early until the serving task runs.
    a.set(Some(start + Duration::from_millis(60)));
    assert_eq!(timers.lock().armed, first);
    assert!(timers.lock().rearm_pending);
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    {
        let s = timers.lock();
        assert!(!s.rearm_pending);
        assert_eq!(s.armed, s.entries.keys().next().map(|k| k.0));
    }
    // Moving earlier re-arms at once.
    b.set(Some(start + Duration::from_millis(30)));
    assert_eq!(
        timers.lock().armed,
        Some(start + Duration::from_millis(30) + Duration::from_micros(10))
    );
    b.fired().await;
    assert!(start.elapsed() >= Duration::from_millis(30));
    a.fired().await;
    assert!(start.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn dropping_an_armed_timer_removes_its_entry() {
    let timers = Timers::start().unwrap();
    let mut d = timer(&timers);
    d.set(Some(Instant::now() + Duration::from_secs(60)));
    assert_eq!(timers.lock().entries.len(), 1);
    drop(d);
    assert!(timers.lock().entries.is_empty());
    assert_eq!(timers.lock().armed, None);
}

#[tokio::test]
async fn deadlines_of_one_expiry_fire_at_one_instant() {
    let timers = Timers::start().unwrap();
    // 1 s adverts: 1 ms of slack, so deadlines 0.5 ms apart share an expiry.
    let mut a = EngineTimer::new(Some(&timers), Duration::from_secs(1));
    let mut b = EngineTimer::new(Some(&timers), Duration::from_secs(1));
    let start = Instant::now();
    a.set(Some(start + Duration::from_millis(20)));
    b.set(Some(start + Duration::from_micros(20_500)));
    let (fired_a, fired_b) = tokio::join!(a.fired(), b.fired());
    assert_eq!(fired_a, fired_b);
    assert!(fired_a >= start + Duration::from_micros(20_500));
    // A deadline found due before the serving task saw it fires at the time it was found.
    let late = Instant::now() - Duration::from_millis(5);
    a.set(Some(late));
    let fired = a.fired().await;
    assert!(
        fired > late + Duration::from_millis(4),
        "{fired:?} {late:?}"
    );
}
