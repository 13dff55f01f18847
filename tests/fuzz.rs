//! In-process mutational fuzzing, bounded in time, run by CI: the packet decoder, the
//! configuration loader and the keepalived converter must never panic on any input. Seeds are the
//! golden packets and the example files; mutations are byte-level (flip, set, insert, delete,
//! truncate, duplicate, splice). `FUZZ_SECONDS` sets the time per target (default 15).
//! A crash prints the input in hex and the command that saves it under tests/data/fuzz/TARGET/:
//! every file there joins that target's seeds, which each run tries first (a regression test).

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::pcap;
use kube_vrrp::convert::{self, ConvertOptions, HostFile};
use kube_vrrp::vrrp::packet::{
    self, Advert, Auth, Expectation, MULTICAST_V4, MULTICAST_V6, Version,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    Duration::from_secs(secs)
}

/// xorshift64*: deterministic for a seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = [0, 0xff, 0x7f, 0x80, b'{', b'}', b'\n', b':'][rng.below(8)];
            }
            2 => {
                let i = rng.below(len + 1);
                out.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                out.remove(rng.below(len));
            }
            4 => out.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(16)).min(len);
                let chunk = out[a..b].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, chunk);
            }
            6 => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(out.len() + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ => {
                let i = rng.below(len + 1);
                out.insert(i, b"0123456789 \"#!"[rng.below(14)]);
            }
        }
    }
    out
}

/// Run `target` on mutations of `corpus` until the time budget is spent; returns executions.
fn fuzz(name: &str, mut corpus: Vec<Vec<u8>>, mut target: impl FnMut(&[u8])) -> u64 {
    corpus.extend(files_under(
        &repo().join("tests/data/fuzz").join(name),
        &["bin"],
    ));
    assert!(!corpus.is_empty());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    let end = Instant::now() + budget();
    let mut runs = 0u64;
    for seed in &corpus {
        target(seed);
    }
    while Instant::now() < end {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input)));
        if caught.is_err() {
            let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
            panic!(
                "{name}: crash after {runs} runs on input {hex}\nkeep it as a regression: \
                 echo {hex} | xxd -r -p > tests/data/fuzz/{name}/crash-{runs}.bin"
            );
        }
        runs += 1;
    }
    println!("{name}: {runs} inputs in {:?} without a crash", budget());
    runs
}

fn golden_payloads() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in [
        "vrrp-v2-advert.pcap",
        "vrrp-v2-prio0.pcap",
        "vrrp-v3-advert.pcap",
        "vrrp-v3-prio0.pcap",
        "vrrp-v3-ipv6-advert.pcap",
    ] {
        for frame in pcap::frames(&repo().join("tests/data").join(f)) {
            out.push(frame[14..].to_vec());
        }
    }
    out
}

fn decode_everything(bytes: &[u8]) {
    let v4: IpAddr = "192.0.2.11".parse().unwrap_or(IpAddr::V4(MULTICAST_V4));
    let v6: IpAddr = "fe80::ff:fe00:60a"
        .parse()
        .unwrap_or(IpAddr::V6(MULTICAST_V6));
    let auth = Auth::pass("1111");
    let addrs = ["192.0.2.100".parse().unwrap_or(v4)];
    let check = |ad: &Advert| {
        let _ = ad.validate(&Expectation {
            version: Version::V2,
            auth: &auth,
            interval_cs: 100,
            addresses: &addrs,
            local_is_owner: false,
        });
        let _ = ad.encode(v4, IpAddr::V4(MULTICAST_V4));
    };
    if let Ok((_, payload)) = packet::parse_ipv4(bytes)
        && let Ok(ad) = Advert::decode(payload, v4, IpAddr::V4(MULTICAST_V4))
    {
        check(&ad);
    }
    // The same bytes as a bare VRRP message, and as the payload after an IPv6 header.
    for (src, dst, body) in [
        (v4, IpAddr::V4(MULTICAST_V4), bytes),
        (
            v6,
            IpAddr::V6(MULTICAST_V6),
            bytes.get(40..).unwrap_or_default(),
        ),
    ] {
        if let Ok(ad) = Advert::decode(body, src, dst) {
            check(&ad);
        }
    }
}

#[test]
fn packet_decoder_never_panics() {
    assert!(fuzz("decoder", golden_payloads(), decode_everything) > 0);
}

fn files_under(dir: &Path, ext: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| ext.contains(&x))
            {
                out.push(std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

#[test]
fn config_loader_never_panics() {
    let mut corpus = files_under(&repo().join("examples"), &["yaml"]);
    corpus.push(include_bytes!("../examples/lab-vips.yaml").to_vec());
    corpus.push(b"apiVersion: kubevrrp.io/v1alpha1\nkind: VirtualIP\nmetadata: {name: a}\nspec: {vrid: 1, version: 2, addresses: [198.51.100.1/32], authentication: {type: PASS, secretRef: {name: s, key: k}}, trackers: [{name: t, script: {command: [/bin/true], interval: 1s, rise: 2, fall: 3}, weight: -5}], priorities: [{nodeSelector: {matchExpressions: [{key: a, operator: In, values: [b]}]}, priority: 7}]}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: MTExMQ==}\n".to_vec());
    let path = Path::new("fuzz.yaml");
    assert!(
        fuzz("config", corpus, |bytes| {
            let text = String::from_utf8_lossy(bytes);
            if let Ok(file) = kube_vrrp::config::parse(path, &text) {
                // Whatever loads must also translate without panicking.
                let facts = kube_vrrp::translate::NodeFacts::default();
                for v in &file.virtual_ips {
                    let _ = kube_vrrp::translate::translate(&v.name, &v.spec, &facts, &|r| {
                        file.password(r)
                    });
                }
            }
        }) > 0
    );
}

#[test]
fn keepalived_converter_never_panics() {
    let corpus = files_under(&repo().join("tests/data/keepalived"), &["conf"]);
    let dir = std::env::temp_dir().join(format!("kvfuzz{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("keepalived.conf");
    let runs = fuzz("converter", corpus, |bytes| {
        std::fs::write(&file, bytes).expect("write");
        let _ = convert::convert(
            &[HostFile {
                node: None,
                path: file.clone(),
            }],
            &ConvertOptions::default(),
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(runs > 0);
}
