//! `ventanilla-bench`: the benchmarks' helpers and figures, kept out of the
//! production binary. Run them in release mode:
//! `cargo build --release -p ventanilla-bench`, then for example
//! `target/release/ventanilla-bench ingest --postgres postgres://...`.
//! The scripts in benches/ call it (`seed`) next to the `ventanilla` binary.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ventanilla::config::{Config, ConfigArgs};
use ventanilla::{app, store};

#[derive(Parser)]
#[command(name = "ventanilla-bench", about = "Ventanilla's benchmarks", version)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Bulk-insert cases (each with a contact and a first message) into a unit.
    Seed {
        #[command(flatten)]
        common: ConfigArgs,
        /// Slug of the unit that receives the cases.
        #[arg(long)]
        unit: String,
        #[arg(long, default_value_t = 100_000)]
        cases: usize,
    },
    /// Knowledge-base search figures: accuracy, indexing, latency (run in release mode).
    Search {
        /// The evaluation set.
        #[arg(long, default_value = "tests/data/kb_eval_es.json")]
        eval: PathBuf,
        /// Corpus sizes to time, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000, 100_000])]
        sizes: Vec<usize>,
        /// Articles to publish one by one for the publish-to-searchable figure.
        #[arg(long, default_value_t = 200)]
        publishes: usize,
        /// Scratch directory for the indexes and the database.
        #[arg(long, default_value = "target/bench-search")]
        work_dir: PathBuf,
    },
    /// Console figures: message → console latency with many consoles on one
    /// instance (SQLite, and PostgreSQL with `--postgres`), and the bytes of
    /// a console's first load. Run in release mode.
    Console {
        #[arg(long, default_value_t = 200)]
        consoles: usize,
        #[arg(long, default_value_t = 200)]
        messages: usize,
        /// A PostgreSQL server URL to create a scratch database on.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value = "target/bench-console")]
        work_dir: PathBuf,
    },
    /// Channel figures with the real WhatsApp connector: webhooks ingested
    /// per second and their acknowledgement latency (SQLite, and PostgreSQL
    /// with `--postgres`, next to pgbench's ceiling), and sends per second
    /// through the outbox. Run in release mode.
    Ingest {
        /// whatsapp_cloud.wasm; by default the release build under the target dir.
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// The connector's plugin.toml.
        #[arg(long)]
        manifest: Option<PathBuf>,
        #[arg(long, default_value_t = 20_000)]
        messages: usize,
        /// Concurrent webhook clients.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Replies to send through the outbox.
        #[arg(long, default_value_t = 5_000)]
        sends: usize,
        /// A PostgreSQL server URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)
        /// to create a scratch database on.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value = "target/bench-ingest")]
        work_dir: PathBuf,
    },
    /// Campaign figures with the real WhatsApp connector (SQLite, and
    /// PostgreSQL with `--postgres`): people imported per second, sends per
    /// second to a stand-in of the Graph API, resident memory while it runs,
    /// and agents' reply latency during it against idle. Run in release mode.
    Campaign {
        /// whatsapp_cloud.wasm; by default the release build under the target dir.
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// The connector's plugin.toml.
        #[arg(long)]
        manifest: Option<PathBuf>,
        #[arg(long, default_value_t = 100_000)]
        recipients: usize,
        /// `whatsapp` (a template), `sms` (a text) or `email` (subject and body).
        #[arg(long, default_value = "whatsapp")]
        channel: String,
        /// Agent replies timed idle, and again during the campaign.
        #[arg(long, default_value_t = 200)]
        replies: usize,
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value = "target/bench-campaign")]
        work_dir: PathBuf,
    },
    /// FAQ bot figures with the real plugin, host, job workers and search
    /// (SQLite): accuracy on the evaluation set, message-to-reply latency,
    /// and bot replies per second in a burst. Run in release mode.
    Bot {
        /// faq_bot.wasm; by default the release build under the target dir.
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// The bot's plugin.toml.
        #[arg(long)]
        manifest: Option<PathBuf>,
        #[arg(long, default_value = "tests/data/kb_eval_es.json")]
        eval: PathBuf,
        /// Conversations opened at once for the throughput figure.
        #[arg(long, default_value_t = 500)]
        burst: usize,
        #[arg(long, default_value = "target/bench-bot")]
        work_dir: PathBuf,
    },
    /// Report figures: report times on millions of cases (SQLite, and
    /// PostgreSQL with `--postgres`), the lag of the figures after a burst,
    /// and what keeping them costs case creation. Run in release mode.
    Reports {
        #[arg(long, default_value_t = 2_000_000)]
        cases: usize,
        #[arg(long, default_value_t = 20)]
        runs: usize,
        #[arg(long, default_value_t = 1_000)]
        creations: usize,
        #[arg(long, default_value_t = 2_500)]
        burst: usize,
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value = "target/bench-reports")]
        work_dir: PathBuf,
    },
    /// Plugin host figures, using the hostile-bot test fixture's benchmark modes.
    Plugins {
        /// hostile_bot.wasm (built with `cargo build --release --target wasm32-wasip2 -p hostile-bot`).
        wasm: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        iterations: usize,
    },
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VENTANILLA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.filter));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        BenchCommand::Seed { common, unit, cases } => {
            let config = common.load()?;
            init_logs(&config);
            runtime.block_on(async {
                let store = app::open_store(&config).await?;
                let units = store::unit::list(&store.db).await?;
                let unit = units.iter().find(|u| u.slug.as_str() == unit).context("no unit with that slug")?;
                let started = std::time::Instant::now();
                ventanilla_bench::seed_cases(&store, unit.id, cases).await?;
                writeln!(std::io::stdout(), "seeded {cases} cases in {:.1}s", started.elapsed().as_secs_f64())?;
                Ok(())
            })
        }
        BenchCommand::Plugins { wasm, iterations } => runtime.block_on(async {
            let report = ventanilla_bench::plugins(&wasm, iterations).await?;
            write!(std::io::stdout(), "{report}")?;
            Ok(())
        }),
        BenchCommand::Search { eval, sizes, publishes, work_dir } => runtime.block_on(async {
            let report = ventanilla_bench::search::run(&eval, &sizes, publishes, &work_dir).await?;
            write!(std::io::stdout(), "{report}")?;
            Ok(())
        }),
        BenchCommand::Ingest { wasm, manifest, messages, concurrency, sends, postgres, work_dir } => {
            runtime.block_on(async {
                let (default_wasm, default_manifest) = ventanilla_bench::ingest::default_paths();
                let options = ventanilla_bench::ingest::Options {
                    wasm: wasm.unwrap_or(default_wasm),
                    manifest: manifest.unwrap_or(default_manifest),
                    messages,
                    concurrency,
                    sends,
                    postgres,
                    work_dir,
                };
                let report = ventanilla_bench::ingest::run(&options).await?;
                write!(std::io::stdout(), "{report}")?;
                Ok(())
            })
        }
        BenchCommand::Campaign { wasm, manifest, recipients, channel, replies, postgres, work_dir } => runtime
            .block_on(async {
                let channel = ventanilla_bench::campaign::Channel::parse(&channel)?;
                let (default_wasm, default_manifest) = ventanilla_bench::campaign::default_paths(channel);
                let options = ventanilla_bench::campaign::Options {
                    channel,
                    wasm: wasm.unwrap_or(default_wasm),
                    manifest: manifest.unwrap_or(default_manifest),
                    recipients,
                    replies,
                    postgres,
                    work_dir,
                };
                ventanilla_bench::campaign::run(&options).await
            }),
        BenchCommand::Reports { cases, runs, creations, burst, postgres, work_dir } => runtime.block_on(async {
            let options = ventanilla_bench::reports::Options { cases, runs, creations, burst, postgres, work_dir };
            // Printed line by line as it runs.
            ventanilla_bench::reports::run(&options).await?;
            Ok(())
        }),
        BenchCommand::Console { consoles, messages, postgres, work_dir } => runtime.block_on(async {
            let options = ventanilla_bench::console::Options { consoles, messages, postgres, work_dir };
            let report = ventanilla_bench::console::run(&options).await?;
            write!(std::io::stdout(), "{report}")?;
            Ok(())
        }),
        BenchCommand::Bot { wasm, manifest, eval, burst, work_dir } => runtime.block_on(async {
            let (default_wasm, default_manifest) = ventanilla_bench::bot::default_paths();
            let options = ventanilla_bench::bot::Options {
                wasm: wasm.unwrap_or(default_wasm),
                manifest: manifest.unwrap_or(default_manifest),
                eval,
                burst,
                work_dir,
            };
            let report = ventanilla_bench::bot::run(&options).await?;
            write!(std::io::stdout(), "{report}")?;
            Ok(())
        }),
    }
}
