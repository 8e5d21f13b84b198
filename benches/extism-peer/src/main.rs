//! Extism running the same trivial logic as `ventanilla-bench plugins`:
//! a call on a reused instance (Extism's usual mode), and a fresh instance
//! per call from a compiled plugin (what Ventanilla does for isolation).

use extism::{CompiledPlugin, Manifest, Plugin, PluginBuilder, Wasm};
use std::time::{Duration, Instant};

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p) as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() -> anyhow::Result<()> {
    let wasm = std::env::args().nth(1).unwrap_or_else(|| {
        "guest/target/wasm32-unknown-unknown/release/extism_peer_guest.wasm".to_owned()
    });
    let iterations: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(5000);
    let manifest = Manifest::new([Wasm::file(&wasm)]);
    let body = "¿Cuándo abren las inscripciones?";

    let mut reused = Plugin::new(&manifest, [], false)?;
    let reply = reused.call::<&str, &str>("echo", body)?.to_owned();
    anyhow::ensure!(reply == format!("Recibí: {body}"), "unexpected reply {reply}");
    let mut warm = vec![];
    for _ in 0..iterations {
        let started = Instant::now();
        reused.call::<&str, &str>("noop", body)?;
        warm.push(started.elapsed());
    }

    let compiled = CompiledPlugin::new(PluginBuilder::new(manifest.clone()).with_wasi(false))?;
    let mut fresh = vec![];
    for _ in 0..iterations {
        let started = Instant::now();
        let mut plugin = Plugin::new_from_compiled(&compiled)?;
        plugin.call::<&str, &str>("noop", body)?;
        fresh.push(started.elapsed());
    }

    // Throughput of echo on a reused instance per thread, one per core, 3 s.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let until = Instant::now() + Duration::from_secs(3);
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let compiled = CompiledPlugin::new(PluginBuilder::new(manifest.clone()).with_wasi(false));
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let compiled = compiled?;
                let mut n = 0;
                while Instant::now() < until {
                    let mut plugin = Plugin::new_from_compiled(&compiled)?;
                    plugin.call::<&str, &str>("echo", "hola")?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut events = 0;
    for t in threads {
        events += t.join().map_err(|_| anyhow::anyhow!("thread panicked"))??;
    }

    println!("extism 1.30 on wasmtime 43 ({iterations} iterations)");
    println!("  call on a reused instance:        p50 {}  p99 {}", micros(pct(&mut warm, 0.5)), micros(pct(&mut warm, 0.99)));
    println!("  fresh instance + call (compiled): p50 {}  p99 {}", micros(pct(&mut fresh, 0.5)), micros(pct(&mut fresh, 0.99)));
    println!("  echo, fresh instance per event, {cores} threads: {:.0} events/s", events as f64 / 3.0);
    Ok(())
}
