//! The connection caps' unit tests.

use super::*;

fn limits(max: usize, per_client: usize) -> ConnLimits {
    ConnLimits {
        max_connections: max,
        max_per_client: per_client,
        ipv6_prefix_len: 64,
        header_timeout: Duration::from_secs(10),
        keepalive_timeout: Duration::from_secs(60),
        send_timeout: Duration::from_secs(60),
        stall_shed: Duration::ZERO,
    }
}

#[test]
fn ipv6_clients_are_counted_by_prefix() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1"
        .parse()
        .unwrap_or(IpAddr::from([0; 4]));
    let b: IpAddr = "2001:db8:1:2:bbbb::9"
        .parse()
        .unwrap_or(IpAddr::from([0; 4]));
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
    assert_eq!(ClientKey::of(a, 64), ClientKey::of(b, 64));
    assert_ne!(ClientKey::of(a, 64), ClientKey::of(c, 64));
    assert_ne!(ClientKey::of(a, 128), ClientKey::of(b, 128));
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 4]));
    assert_eq!(
        ClientKey::of(mapped, 64),
        ClientKey::of(IpAddr::from([192, 0, 2, 7]), 64)
    );
}

#[tokio::test]
async fn per_client_cap_and_shedding_the_longest_idle() {
    let r = Arc::new(Registry::new(limits(3, 2)));
    let one = IpAddr::from([192, 0, 2, 1]);
    let a = r.admit(one).expect("first");
    let _b = r.admit(one).expect("second");
    assert_eq!(r.admit(one).err(), Some(Refused::PerClient));
    let busy = r.admit(IpAddr::from([192, 0, 2, 2])).expect("third");
    let _req = busy.conn.request_started();
    // Full: the oldest idle connection (a) is told to close, the newcomer is admitted.
    let d = r.admit(IpAddr::from([192, 0, 2, 3])).expect("fourth");
    assert_eq!(
        a.conn.deadline(r.limits()).map(|(_, why)| why),
        Some(Expiry::Shed)
    );
    drop(a);
    assert_eq!(r.stats.get("shed_idle"), 1);
    // Still full (b idle, busy in flight, d idle): b goes next, never the busy one.
    let _e = r.admit(IpAddr::from([192, 0, 2, 4])).expect("fifth");
    assert!(busy.conn.deadline(r.limits()).is_none());
    drop(d);
}

#[tokio::test]
async fn stalled_connections_are_shed_after_idle_ones_never_busy_ones() {
    let r = Arc::new(Registry::new(limits(3, 10)));
    let ip = |n| IpAddr::from([192, 0, 2, n]);
    // One connection whose only response waits on its client, one still working on its
    // request, one idle.
    let stalled = r.admit(ip(1)).expect("stalled");
    let stalled_req = stalled.conn.request_started();
    let progress = stalled.conn.answer_started();
    assert!(stalled.conn.stalled_since().is_some());
    let busy = r.admit(ip(2)).expect("busy");
    let _busy_req = busy.conn.request_started();
    assert!(busy.conn.stalled_since().is_none(), "no answer yet");
    let idle = r.admit(ip(3)).expect("idle");
    // Full: the idle one goes first.
    let d = r.admit(ip(4)).expect("fourth");
    let _d_req = d.conn.request_started();
    assert_eq!(
        idle.conn.deadline(r.limits()).map(|(_, w)| w),
        Some(Expiry::Shed)
    );
    assert_eq!(r.stats.get("shed_idle"), 1);
    drop(idle);
    // Then the stalled one, never the busy one.
    let _e = r.admit(ip(5)).expect("fifth");
    assert_eq!(
        stalled.conn.deadline(r.limits()).map(|(_, w)| w),
        Some(Expiry::Shed)
    );
    assert_eq!(r.stats.get("shed_stalled"), 1);
    assert!(busy.conn.deadline(r.limits()).is_none());
    // A response the gateway is producing does not stall its connection.
    progress.produce();
    assert!(stalled.conn.stalled_since().is_none());
    stalled.conn.answer_finished(&progress);
    drop(stalled_req);
}

#[tokio::test]
async fn deadlines_follow_the_connection_phase() {
    let r = Arc::new(Registry::new(limits(10, 10)));
    let c = r.admit(IpAddr::from([192, 0, 2, 1])).expect("admit");
    let (_, why) = c.conn.deadline(r.limits()).expect("deadline");
    assert_eq!(why, Expiry::Header, "a first head is due");
    c.conn.track_heads();
    let req = c.conn.request_started();
    let (_, why) = c.conn.deadline(r.limits()).expect("deadline");
    assert_eq!(why, Expiry::Recheck, "in flight, the gateway at work");
    // HTTP/1.1: a response waiting on its client is closed at the send timeout.
    let answer = c.conn.answer_started();
    let (at, why) = c.conn.deadline(r.limits()).expect("deadline");
    assert_eq!(why, Expiry::Stalled);
    let since = answer.waiting_since().expect("waiting");
    assert_eq!(at, since + r.limits().send_timeout);
    c.conn.answer_finished(&answer);
    drop(req);
    let (idle_at, why) = c.conn.deadline(r.limits()).expect("deadline");
    assert_eq!(why, Expiry::Idle);
    c.conn.on_read();
    let (head_at, why) = c.conn.deadline(r.limits()).expect("deadline");
    assert_eq!(why, Expiry::Header, "a head has begun");
    assert!(head_at < idle_at);
}
