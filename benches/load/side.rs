//! Issue 29's figures in one run: every engine's gateway beside one bare durable upload server
//! ([`super::bare`]), the very same requests in alternating rounds (gateways first, then the
//! bare server, in every round), and a summary of the ratios against the targets.
//!
//! * SendFile 10 KiB at c=16 on kept-alive connections: requests per second, p99, the server's
//!   CPU per request (from `/proc/<pid>/stat`; a PostgreSQL gateway's figure leaves out the
//!   database server's own CPU, printed beside it, with SeaweedFS's, as `+ services`, and
//!   the client's own, all on the same cores);
//! * the same with a new TLS connection per call (connect, one SendFile, close), each server
//!   with a client configuration of its own, shared by its workers, so that sessions resume;
//! * one 50 MiB upload at a time, base64 and MTOM;
//! * the server's RSS growth per 100 MiB sent up and fetched back, on each store.

use super::*;

/// One run's figures for one server.
#[derive(Clone, Copy)]
struct Run {
    rps: f64,
    p99: f64,
    cpu: f64,
    /// PostgreSQL's and SeaweedFS's CPU per request (µs), on the same cores.
    services: f64,
    /// The benchmark client's own CPU per request (µs), on the same cores too.
    client: f64,
}

/// The median of `v` (the middle one of an odd count, as the rounds are).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A ratio as a percentage with one decimal: a whole number would print 79.96 % as the
/// 80 % it misses.
fn percent(ratio: f64) -> String {
    format!("{:.1} %", 100.0 * ratio)
}

/// The summary's lines: what was measured, the figure, the target and whether it was met.
#[derive(Default)]
pub struct Summary(Vec<(String, String, String, bool)>);

impl Summary {
    fn add(&mut self, what: String, figure: String, target: &str, met: bool) {
        self.0.push((what, figure, target.to_string(), met));
    }

    pub fn print(&self) {
        println!("\n== Summary (issue 29 targets; ratios are medians of alternating rounds)");
        for (what, figure, target, met) in &self.0 {
            let mark = if *met { "met" } else { "MISSED" };
            println!("{what:<58} {figure:<34} target {target:<22} {mark}");
        }
    }
}

/// The gateways of `engines` (in that order) and the bare server, started and warmed.
async fn servers(dir: &Path, engines: &[Engine]) -> Vec<(String, Server)> {
    let mut all = Vec::new();
    for (n, engine) in engines.iter().enumerate() {
        let server = start(&dir.join(format!("gateway-{n}")), engine).await;
        all.push((engine.short.to_string(), server));
    }
    let reference = start_bare(&dir.join("bare"));
    until_up(&reference).await;
    all.push(("bare".to_string(), reference));
    for (name, server) in &all {
        println!("{name}: pid {} at {}", server.child.id(), server.url);
        run_sends(server, 4, 10 * 1024, Duration::from_millis(500)).await;
    }
    all
}

/// Three alternating rounds of SendFile 10 KiB at c=16 over every server; each server's runs.
async fn rounds(all: &[(String, Server)], duration: Duration, per_call: bool) -> Vec<Vec<Run>> {
    let how = if per_call {
        "new connection per call"
    } else {
        "kept-alive"
    };
    let configs: Vec<_> = all
        .iter()
        .map(|(_, s)| per_call.then(|| S2sClient::config(&s.ca).unwrap()))
        .collect();
    let mut runs = vec![Vec::new(); all.len()];
    for round in 1..=3 {
        for (i, (name, server)) in all.iter().enumerate() {
            let pid = server.child.id();
            let me = std::process::id();
            let (cpu, services, client) = (cpu_secs(pid), services_cpu_secs(), cpu_secs(me));
            let (s, _) = run_sends_with(server, 16, 10 * 1024, duration, configs[i].clone()).await;
            let requests = (s.rps * duration.as_secs_f64()).max(1.0);
            let cpu = (cpu_secs(pid) - cpu) / requests;
            let services = (services_cpu_secs() - services) / requests;
            let client = (cpu_secs(me) - client) / requests;
            let run = Run {
                rps: s.rps,
                p99: s.p99.as_secs_f64() * 1000.0,
                cpu: cpu * 1e6,
                services: services * 1e6,
                client: client * 1e6,
            };
            println!(
                "round {round} {name:<10} SendFile 10 KiB c=16 {how}: {:>6.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   CPU {:>4.0} µs/request (+ services {:>4.0}, client {:>4.0})   errors {}",
                run.rps, s.p50.as_secs_f64() * 1000.0, run.p99, run.cpu, run.services, run.client, s.errors
            );
            runs[i].push(run);
        }
    }
    runs
}

/// The CPU time so far of every PostgreSQL and SeaweedFS process on the machine (in seconds):
/// the services a gateway on those stores makes work for each request, on the same two cores.
/// Sessions that ended between two readings are counted in their server's process (its
/// children's time): summed over live processes alone, a round in which the benchmark's
/// sessions closed came out below zero.
pub fn services_cpu_secs() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            matches!(comm.trim_end(), "postgres" | "weed")
        })
        .map(cpu_with_ended_children_secs)
        .sum()
}

/// Per round, `a` against `b`: requests per second, CPU per request, p99 difference and ratio.
fn ratios(a: &[Run], b: &[Run]) -> (f64, f64, f64, f64) {
    let pick =
        |f: &dyn Fn(&Run, &Run) -> f64| median(a.iter().zip(b).map(|(a, b)| f(a, b)).collect());
    (
        pick(&|a, b| a.rps / b.rps.max(1e-9)),
        pick(&|a, b| a.cpu / b.cpu.max(1e-9)),
        pick(&|a, b| a.p99 - b.p99),
        pick(&|a, b| a.p99 / b.p99.max(1e-9)),
    )
}

/// Which steps of the side-by-side run to make (`--large`, `--kept-alive`, `--per-call` each
/// run only theirs; none of them: all three).
#[derive(Clone, Copy)]
pub struct Steps {
    pub kept_alive: bool,
    pub per_call: bool,
    pub large: bool,
}

/// SendFile 10 KiB at c=16, kept-alive then a new connection per call, and the 50 MiB
/// uploads, for every engine beside the bare server; adds the ratios to `summary`.
pub async fn side_by_side(
    dir: &Path,
    engines: &[Engine],
    duration: Duration,
    steps: Steps,
    summary: &mut Summary,
) {
    let all = servers(dir, engines).await;
    let bare = all.len() - 1;
    if steps.kept_alive {
        let kept = rounds(&all, duration, false).await;
        for (i, (name, _)) in all.iter().enumerate().take(bare) {
            let (rps, cpu, p99, _) = ratios(&kept[i], &kept[bare]);
            println!("{name} / bare, kept-alive: {:.0} % of the requests per second, {cpu:.2}× the CPU per request, p99 {p99:+.1} ms", 100.0 * rps);
            if i == 0 {
                let what = format!("SendFile 10 KiB c=16, {name} / bare");
                let fig = format!("{}, CPU {cpu:.2}×, p99 {p99:+.1} ms", percent(rps));
                summary.add(
                    what,
                    fig,
                    "≥70 %, ≤1.5×, ≤+5 ms",
                    rps >= 0.7 && cpu <= 1.5 && p99 <= 5.0,
                );
            } else {
                let (rps, _, _, p99) = ratios(&kept[i], &kept[0]);
                let what = format!("SendFile 10 KiB c=16, {name} / {}", all[0].0);
                // On shared, saturated cores the rates go as the inverse of the whole CPU a
                // request costs (gateway, services, client): the ratio those costs allow.
                let cpu = |runs: &[Run], f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
                let whole = |runs: &[Run]| cpu(runs, |r| r.cpu + r.services + r.client);
                println!(
                    "{what}: {:.0} %, p99 {p99:.2}×; CPU per request: {name} {:.0} µs + services {:.0} µs, {} {:.0} µs (client {:.0} µs); the ratio those costs allow: {:.0} %",
                    100.0 * rps,
                    cpu(&kept[i], |r| r.cpu),
                    cpu(&kept[i], |r| r.services),
                    all[0].0,
                    cpu(&kept[0], |r| r.cpu),
                    cpu(&kept[0], |r| r.client),
                    100.0 * whole(&kept[0]) / whole(&kept[i]).max(1e-9)
                );
                let target = if engines[i].s3.is_some() {
                    "≥80 %, p99 ≤2×"
                } else {
                    "(no target)"
                };
                let met = engines[i].s3.is_none() || (rps >= 0.8 && p99 <= 2.0);
                summary.add(
                    what,
                    format!("{}, p99 {p99:.2}×", percent(rps)),
                    target,
                    met,
                );
            }
        }
    }
    if steps.per_call {
        let fresh = rounds(&all, duration, true).await;
        for (i, (name, _)) in all.iter().enumerate().take(bare) {
            let (rps, cpu, p99, _) = ratios(&fresh[i], &fresh[bare]);
            let what = format!("new TLS connection per SendFile, {name} / bare");
            let fig = format!("{}, CPU {cpu:.2}×, p99 {p99:+.1} ms", percent(rps));
            println!("{what}: {fig}");
            summary.add(what, fig, "≥70 %", rps >= 0.7);
        }
    }
    if !steps.large {
        return;
    }
    let file = big_file(dir, 50);
    for (i, (name, gateway)) in all.iter().enumerate().take(bare) {
        if let Some((endpoint, bucket)) = &engines[i].s3 {
            let r = bucket_alone(&file, endpoint, bucket, &all[bare].1).await;
            summary.add(
                "one 50 MiB PutObject straight to the bucket (no gateway) / bare".to_string(),
                format!("{:.0} %", 100.0 * r),
                "(the ceiling of PG+S3 / bare)",
                true,
            );
        }
        for (how, mtom) in [("base64", false), ("MTOM", true)] {
            let r = large_uploads(&file, gateway, &all[bare].1, mtom, name, how).await;
            let what = format!("one 50 MiB upload ({how}), {name} / bare");
            let target = if mtom || engines[i].s3.is_none() && engines[i].postgres.is_some() {
                "(no target)"
            } else {
                "≥90 %"
            };
            summary.add(
                what,
                percent(r),
                target,
                target.starts_with('(') || r >= 0.9,
            );
        }
    }
    let _ = std::fs::remove_file(file);
}

/// One 50 MiB upload at a time to `gateway` and `reference`, three alternating rounds after
/// one each to warm (a fresh store's first large file also grows its files); the median ratio.
async fn large_uploads(
    file: &Path,
    gateway: &Server,
    reference: &Server,
    mtom: bool,
    name: &str,
    how: &str,
) -> f64 {
    one_upload(gateway, file, 50, mtom).await;
    one_upload(reference, file, 50, mtom).await;
    let mut ratios = Vec::new();
    for round in 1..=3 {
        let g = one_upload(gateway, file, 50, mtom).await;
        let b = one_upload(reference, file, 50, mtom).await;
        println!(
            "round {round} one 50 MiB upload ({how}): {name} {g:.0} MiB/s, bare {b:.0} MiB/s of file content ({:.0} %)",
            100.0 * g / b
        );
        ratios.push(g / b);
    }
    median(ratios)
}

/// What the bucket takes with no gateway in front: one `PutObject` of the 50 MiB file, from
/// memory, by `object_store` (unsigned payload, as the gateway sends), alternating with the
/// bare server's upload of the same file; the median ratio. On one machine the bucket's own
/// work per byte shares the cores, so this is the ceiling of the gateway's ratio on PG+S3.
async fn bucket_alone(file: &Path, endpoint: &str, bucket: &str, reference: &Server) -> f64 {
    use object_store::ObjectStoreExt;
    // The S3 client's TLS provider, as the gateway installs it (harmless if already there).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s3 = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_unsigned_payload(true)
        .build()
        .unwrap();
    let bytes = bytes::Bytes::from(std::fs::read(file).unwrap());
    let mib = bytes.len() as f64 / (1024.0 * 1024.0);
    let path = object_store::path::Path::from("bench-bucket-alone/50mib");
    let put = || async {
        let t = Instant::now();
        s3.put(&path, object_store::PutPayload::from(bytes.clone()))
            .await
            .unwrap();
        mib / t.elapsed().as_secs_f64()
    };
    put().await;
    let mut ratios = Vec::new();
    for round in 1..=3 {
        let s = put().await;
        let b = one_upload(reference, file, 50, false).await;
        println!(
            "round {round} one 50 MiB PutObject straight to the bucket: {s:.0} MiB/s, bare {b:.0} MiB/s ({:.0} %)",
            100.0 * s / b
        );
        ratios.push(s / b);
    }
    let _ = s3.delete(&path).await;
    median(ratios)
}

/// The server's RSS growth while 100 MiB files go up and come back, `pairs` times in a row,
/// on a fresh gateway of `engine`, from its RSS after one small SendFile (pools, caches and
/// buffers made): the peak growth (`VmHWM`) over the first 100 MiB up and back, and the
/// resident growth (`VmRSS`) per 100 MiB moved after all of them.
pub async fn flat_memory(dir: &Path, engine: &Engine, pairs: usize, summary: &mut Summary) {
    let server = start(dir, engine).await;
    let pid = server.child.id();
    let path = big_file(dir, 100);
    let mut c = S2sClient::connect(&server.url, &server.ca, SITE_USER.0, SITE_USER.1)
        .await
        .unwrap();
    c.resend = true;
    let small = Content::Bytes(vec![1; 10 * 1024]);
    let r = c
        .send_file(MAPLE.0, MAPLE.1, None, "W.DAT", small, None)
        .await
        .unwrap();
    assert!(r.fault.is_none(), "{:?}", r.fault);
    let before = status_kib(pid, "VmRSS:");
    let mut first_peak = 0.0;
    for n in 1..=pairs {
        up_and_down(&server, &mut c, &path).await;
        let peak = status_kib(pid, "VmHWM:").saturating_sub(before) as f64 / 1024.0;
        if n == 1 {
            first_peak = peak;
        }
        println!(
            "memory {}: after {n} × 100 MiB up and back: RSS {:.1} MiB (from {:.1}), peak growth {peak:.1} MiB",
            engine.short,
            status_kib(pid, "VmRSS:") as f64 / 1024.0,
            before as f64 / 1024.0
        );
    }
    let grown = status_kib(pid, "VmRSS:").saturating_sub(before) as f64 / 1024.0;
    let per_100 = grown / (2 * pairs) as f64;
    let what = format!("RSS growth per 100 MiB up and down, {}", engine.short);
    let fig = format!("{per_100:.1} MiB (peak +{first_peak:.1} MiB)");
    summary.add(what, fig, "<16 MiB", per_100 < 16.0 && first_peak < 16.0);
    let _ = std::fs::remove_file(path);
}

/// Sends `path` through `c` and fetches it back as the Contract Administrator; its ID.
async fn up_and_down(server: &Server, c: &mut S2sClient, path: &Path) -> String {
    timed_upload(c, path).await;
    let sent = c
        .call(
            "ListMessages",
            &[
                ("mailbox", MAPLE.0),
                ("mailboxPassword", MAPLE.1),
                ("folder", "sentToOthers"),
            ],
        )
        .await
        .unwrap();
    let id = sent.all("messageId").last().expect("the file").to_string();
    let mut ca = S2sClient::connect(&server.url, &server.ca, CA_USER.0, CA_USER.1)
        .await
        .unwrap();
    let (r, bytes) = ca.get_message_mtom(PBCA.0, PBCA.1, &id).await.unwrap();
    assert!(r.fault.is_none(), "{:?}", r.fault);
    assert_eq!(
        bytes.map(|b| b.len() as u64),
        std::fs::metadata(path).ok().map(|m| m.len())
    );
    id
}
