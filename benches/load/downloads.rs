//! The Contract Administrator's side (`--downloads`): each new message fetched once
//! (GetMessage: its first retrieval, which marks it retrieved) and acknowledged (AckMessage),
//! by 16 workers on kept-alive connections, on every engine's gateway in three alternating
//! rounds; with `IMAX_BENCH_BEFORE`, an earlier build's gateway beside each, so a change to
//! what a download or an acknowledgement writes is measured in one sitting. Each round first
//! sends the messages it then fetches (SendFile 10 KiB, c=16), unmeasured.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A round's fetch-and-acknowledge figures for one gateway.
struct Round {
    rps: f64,
    p99_ms: f64,
    cpu_us: f64,
    services_us: f64,
}

/// GetMessage then AckMessage of each of `ids` (each once, shared by the workers) until they
/// run out or `duration` passes; both calls count as requests. Also how many were answered.
async fn fetch_and_ack(server: &Server, ids: Vec<String>, duration: Duration) -> (Stats, usize) {
    let (ids, next) = (Arc::new(ids), Arc::new(AtomicUsize::new(0)));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (url, ca) = (server.url.clone(), server.ca.clone());
        let (ids, next) = (ids.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = S2sClient::connect(&url, &ca, CA_USER.0, CA_USER.1)
                .await
                .unwrap();
            let (mut lat, mut errors) = (Vec::new(), 0);
            while start.elapsed() < duration {
                let Some(id) = ids.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let asked = [
                    ("mailbox", PBCA.0),
                    ("mailboxPassword", PBCA.1),
                    ("messageId", id.as_str()),
                ];
                for call in ["GetMessage", "AckMessage"] {
                    let t = Instant::now();
                    match c.call(call, &asked).await {
                        Ok(r) if r.fault.is_none() => lat.push(t.elapsed()),
                        _ => errors += 1,
                    }
                }
            }
            (lat, errors)
        }));
    }
    let (lat, errors) = gathered(tasks).await;
    let answered = lat.len();
    (stats(lat, start.elapsed(), errors), answered)
}

/// Three alternating rounds over every engine's gateway; prints each round and, for a build
/// beside an earlier one, the median ratio of their rates.
pub async fn downloads(dir: &Path, engines: &[Engine], duration: Duration) {
    let mut servers = Vec::new();
    for (n, engine) in engines.iter().enumerate() {
        let server = start(&dir.join(format!("gateway-{n}")), engine).await;
        println!(
            "{}: pid {} at {}",
            engine.short,
            server.child.id(),
            server.url
        );
        servers.push((engine.short, server));
    }
    let mut rounds: Vec<Vec<Round>> = servers.iter().map(|_| Vec::new()).collect();
    for round in 1..=3 {
        for (i, (name, server)) in servers.iter().enumerate() {
            let (_, ids) = run_sends(server, 16, 10 * 1024, duration).await;
            let sent = ids.len();
            let pid = server.child.id();
            let (cpu, services) = (cpu_secs(pid), side::services_cpu_secs());
            let (s, answered) = fetch_and_ack(server, ids, duration).await;
            let requests = answered.max(1) as f64;
            let r = Round {
                rps: s.rps,
                p99_ms: s.p99.as_secs_f64() * 1000.0,
                cpu_us: (cpu_secs(pid) - cpu) / requests * 1e6,
                services_us: (side::services_cpu_secs() - services) / requests * 1e6,
            };
            println!(
                "round {round} {name:<14} GetMessage + AckMessage 10 KiB c=16 (of {sent} new): {:>6.0} req/s   p99 {:>6.2} ms   CPU {:>4.0} µs/request (+ services {:>4.0})   errors {}",
                r.rps, r.p99_ms, r.cpu_us, r.services_us, s.errors
            );
            rounds[i].push(r);
        }
    }
    for (i, (name, _)) in servers.iter().enumerate() {
        let Some(j) = servers
            .iter()
            .position(|(other, _)| *other == format!("{name}-before"))
        else {
            continue;
        };
        let mut ratios: Vec<f64> = rounds[i]
            .iter()
            .zip(&rounds[j])
            .map(|(a, b)| a.rps / b.rps.max(1e-9))
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "{name} / {name}-before, GetMessage + AckMessage: {:.0} % of the requests per second (median of rounds)",
            100.0 * ratios[ratios.len() / 2]
        );
    }
}
