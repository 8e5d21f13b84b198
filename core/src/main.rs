//! The `ventanilla` binary: parse the command line, load config, run.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::{Read, Write};
use std::path::PathBuf;

use ventanilla::config::{Config, ConfigArgs, LogFormat};
use ventanilla::{app, demo, domain, store};

#[derive(Parser)]
#[command(name = "ventanilla", version, about = "Self-hosted omnichannel helpdesk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server.
    Serve {
        #[command(flatten)]
        common: ConfigArgs,
        /// Seed a demo institution (in Spanish) on first start, into a
        /// database without accounts. Its passwords are public: only on a
        /// loopback address unless `--demo-on-public-address` is given too.
        #[arg(long)]
        demo: bool,
        /// Allow `--demo` on an address other machines can reach.
        #[arg(long, requires = "demo")]
        demo_on_public_address: bool,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, env = "VENTANILLA_LISTEN")]
        listen: Option<String>,
        /// Install the bundled plugins found here (one directory per plugin
        /// holding plugin.toml and plugin.wasm).
        #[arg(long)]
        bundled_plugins: Option<std::path::PathBuf>,
    },
    /// Manage accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: ConfigArgs,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Rebuild the knowledge-base search index from the database. With the
    /// embedded index, stop the server first (or call POST /api/v1/search/reindex).
    Reindex {
        #[command(flatten)]
        common: ConfigArgs,
    },
    /// Reports' figures: `rebuild` works out every case's facts again from
    /// its timeline (after an upgrade that changes a definition, or a
    /// restore). Safe while servers run.
    Reports {
        #[command(subcommand)]
        command: ReportsCommand,
    },
    /// Write the rows changed in a window, one file per table, for a data
    /// warehouse (docs/export.md): into `--to`, or where `[export]` says.
    Export {
        #[command(flatten)]
        common: ConfigArgs,
        /// Only rows changed after this (RFC 3339, e.g. 2026-03-01T00:00:00Z); all when absent.
        #[arg(long)]
        since: Option<String>,
        /// Only rows changed up to this; now when absent.
        #[arg(long)]
        until: Option<String>,
        /// `ndjson` or `csv`; `[export] format` when absent.
        #[arg(long)]
        format: Option<String>,
        /// A directory to write into (instead of `[export]`'s).
        #[arg(long)]
        to: Option<std::path::PathBuf>,
    },
    /// Work with plugins locally, without a server.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Work out the facts of every case again.
    Rebuild {
        #[command(flatten)]
        common: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Run one call of a plugin with the real host and print what it did
    /// (JSON): a bot or protocol on an event, a connector on a webhook
    /// request, a message to send or a file reference. No server needed.
    Run(Box<RunArgs>),
    /// Start a new plugin crate: the plugin, its manifest (every key
    /// commented), sample inputs, a test through the real host, and the SDK.
    New {
        /// `connector`, `bot` or `protocol`.
        world: String,
        /// Its id: lowercase letters, digits and dashes, e.g. `acme-chat`.
        name: String,
        /// The folder to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The plugin component (.wasm).
    wasm: PathBuf,
    /// Its plugin.toml: the world is checked and its capabilities granted.
    /// By default the one beside the component or in the current folder.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Bot or protocol: the event, as JSON (see plugins/example-bot/event.json).
    #[arg(long, group = "call")]
    event: Option<PathBuf>,
    /// Connector: a webhook request to verify and parse, as JSON
    /// (`{"headers": {...}, "body": ...}`; docs/plugins.md).
    #[arg(long, group = "call")]
    request: Option<PathBuf>,
    /// Connector: a message to send, as JSON (`{"recipient": ..., "body": ...}`).
    #[arg(long, group = "call")]
    send: Option<PathBuf>,
    /// Connector: a file reference to locate.
    #[arg(long, group = "call")]
    locate_media: Option<String>,
    /// The install's settings: JSON text, or @FILE.
    #[arg(long)]
    settings: Option<String>,
    /// A secret, NAME=VALUE (repeat for more); never printed.
    #[arg(long = "secret", value_parser = ventanilla::plugins::local::secret_pair)]
    secrets: Vec<(String, String)>,
    /// A host:port on a private address the plugin may reach, such as a
    /// local stand-in of the provider (repeat for more).
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
    /// Answer the plugin's HTTP requests from this file (a JSON list of
    /// `{"status", "headers", "body"}`) instead of the network.
    #[arg(long)]
    http_replies: Option<PathBuf>,
    /// Grant kv (when there is no manifest).
    #[arg(long)]
    grant_kv: bool,
    /// Grant kb search (when there is no manifest).
    #[arg(long)]
    grant_kb: bool,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account without prompting.
    Create {
        #[command(flatten)]
        common: ConfigArgs,
        #[arg(long)]
        email: String,
        /// File holding the password, or `-` for standard input.
        #[arg(long)]
        password_file: PathBuf,
        #[arg(long, default_value = "Administración")]
        name: String,
    },
    /// Delete kept files no message refers to (uploads never sent).
    GcFiles {
        #[command(flatten)]
        common: ConfigArgs,
        /// Only files kept longer ago than this.
        #[arg(long, default_value_t = 24)]
        older_than_hours: u32,
        /// Count what would go, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VENTANILLA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() {
    if let Err(err) = run() {
        let _ = writeln!(std::io::stderr(), "error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve { common, demo, demo_on_public_address, listen, bundled_plugins } => {
            let mut config = common.load()?;
            if let Some(listen) = listen {
                config.listen = listen;
                config.validate()?;
            }
            let loopback = config.listen.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_loopback());
            if demo && !loopback && !demo_on_public_address {
                anyhow::bail!(
                    "--demo prints accounts whose password everyone knows: it listens only on a loopback address \
                     (127.0.0.1), not {}; add --demo-on-public-address if this machine is yours alone",
                    config.listen
                );
            }
            if bundled_plugins.is_some() {
                config.bundled_plugins = bundled_plugins;
            }
            init_logs(&config);
            runtime.block_on(serve(config, demo))
        }
        Command::Admin { command: AdminCommand::Create { common, email, password_file, name } } => {
            let config = common.load()?;
            init_logs(&config);
            runtime.block_on(create_admin(config, &email, &password_file, &name))
        }
        Command::Admin { command: AdminCommand::GcFiles { common, older_than_hours, dry_run } } => {
            let config = common.load()?;
            init_logs(&config);
            runtime.block_on(async {
                let store = app::open_store(&config).await?;
                // Removing needs no link key: only where the files are.
                let files =
                    ventanilla::attachments::Attachments::new(&config.data_dir, config.attachments.clone(), b"")
                        .map_err(|m| anyhow::anyhow!("attachments.s3: {m}"))?;
                let before = chrono::Utc::now() - chrono::Duration::hours(i64::from(older_than_hours));
                let collected = ventanilla::attachments::collect_garbage(&store, &files, before, dry_run).await?;
                let verb = if dry_run { "would remove" } else { "removed" };
                writeln!(std::io::stdout(), "{verb} {} files ({} bytes)", collected.files, collected.bytes)?;
                Ok(())
            })
        }
        Command::Migrate { common } => {
            let config = common.load()?;
            init_logs(&config);
            runtime.block_on(async {
                app::open_store(&config).await?;
                writeln!(std::io::stdout(), "migrations applied")?;
                Ok(())
            })
        }
        Command::Plugin { command: PluginCommand::Run(args) } => runtime.block_on(run_plugin(*args)),
        Command::Plugin { command: PluginCommand::New { world, name, dir } } => new_plugin(&world, &name, &dir),
        Command::Reindex { common } => {
            let config = common.load()?;
            init_logs(&config);
            runtime.block_on(async {
                let store = app::open_store(&config).await?;
                let search = app::open_search(&config).await?;
                let report = search.rebuild(&store).await?;
                writeln!(std::io::stdout(), "search index rebuilt: {} articles", report.documents)?;
                Ok(())
            })
        }
        Command::Reports { command: ReportsCommand::Rebuild { common } } => {
            let config = common.load()?;
            init_logs(&config);
            runtime.block_on(async {
                let store = app::open_store(&config).await?;
                let started = std::time::Instant::now();
                let cases = store::report::rebuild(&store).await?;
                let secs = started.elapsed().as_secs_f64();
                writeln!(std::io::stdout(), "report figures rebuilt: {cases} cases in {secs:.1} s")?;
                Ok(())
            })
        }
        Command::Export { common, since, until, format, to } => {
            let config = common.load()?;
            init_logs(&config);
            let moment = |name: &str, text: &str| {
                chrono::DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .with_context(|| format!("--{name}: use RFC 3339, e.g. 2026-03-01T00:00:00Z"))
            };
            let since = since.map(|s| moment("since", &s)).transpose()?;
            let until = match until {
                Some(u) => moment("until", &u)?,
                None => store::now(),
            };
            let format = match format {
                Some(f) => ventanilla::export::Format::parse(&f).context("--format: use ndjson or csv")?,
                None => config.export.format,
            };
            let sink = match to {
                Some(dir) => ventanilla::export::Sink::Dir(dir),
                None => ventanilla::export::sink_of(&config)?
                    .context("say where: --to DIR, or export.dir or [export.s3] in the configuration")?,
            };
            runtime.block_on(async {
                let store = app::open_store(&config).await?;
                let manifest = ventanilla::export::run(&store, since, until, format, &sink).await?;
                for (table, file, rows) in &manifest.tables {
                    writeln!(std::io::stdout(), "{table}: {rows} rows in {file}")?;
                }
                Ok(())
            })
        }
        Command::Openapi => {
            writeln!(std::io::stdout(), "{}", ventanilla::api::openapi_json())?;
            Ok(())
        }
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let store = app::open_store(&config).await?;
    let seeded = if demo { Some(demo::seed(&store).await?) } else { None };
    let has_users = store::user::any_exists(&store.db).await?;
    let state = app::state(config, store).await?;
    let bundled = match &state.config.bundled_plugins {
        Some(dir) => ventanilla::plugins::bundled::install_all(&state.store, &state.plugins, dir).await?,
        None => vec![],
    };
    for done in &bundled {
        tracing::info!(?done, "bundled plugin");
    }
    let running = app::serve(state)?;
    let base = format!("http://{}", running.addr);
    tracing::info!(%base, "ventanilla is listening");
    let mut out = std::io::stdout();
    writeln!(out, "Ventanilla escucha en {base}")?;
    writeln!(out, "  Documentación de la API: {base}/api/docs/")?;
    if let Some(seeded) = seeded {
        match seeded {
            demo::Outcome::Created | demo::Outcome::AlreadyThere => {
                let created = matches!(seeded, demo::Outcome::Created);
                writeln!(out, "  Datos de demostración {}.", if created { "creados" } else { "ya presentes" })?;
                writeln!(out, "  Inicie sesión: POST {base}/api/v1/auth/login")?;
                writeln!(out, "    admin: {} / {}", demo::DEMO_ADMIN, demo::DEMO_PASSWORD)?;
                writeln!(
                    out,
                    "    agentes: juan.pardo@demo.ventanilla.test, sofia.lara@demo.ventanilla.test (misma clave)"
                )?;
            }
            demo::Outcome::Refused => writeln!(
                out,
                "  Esta base de datos ya tiene cuentas: no se crearon datos de demostración (use otro --data-dir)."
            )?,
        }
    } else if !has_users {
        writeln!(
            out,
            "  No hay cuentas aún: cree un admin con `ventanilla admin create --email ... --password-file -`"
        )?;
    }
    out.flush()?;
    running.server.await.context("server stopped with an error")
}

async fn run_plugin(args: RunArgs) -> anyhow::Result<()> {
    use ventanilla::plugins::local::{Call, LocalRun};
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let json = |path: &std::path::Path| -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(&read(path)?).with_context(|| format!("{} is not JSON", path.display()))
    };
    let component = std::fs::read(&args.wasm).with_context(|| format!("cannot read {}", args.wasm.display()))?;
    let beside = args.wasm.parent().map(|dir| dir.join("plugin.toml"));
    let manifest_path = args
        .manifest
        .clone()
        .or_else(|| [beside, Some(PathBuf::from("plugin.toml"))].into_iter().flatten().find(|path| path.is_file()));
    let manifest = match &manifest_path {
        Some(path) => {
            let text = read(path)?;
            let manifest = ventanilla::plugins::manifest::Manifest::parse(&text)
                .with_context(|| format!("{} is not a valid plugin.toml", path.display()))?;
            writeln!(std::io::stderr(), "using {} ({} {})", path.display(), manifest.id, manifest.version)?;
            Some(manifest)
        }
        None => None,
    };
    let call = match (args.event, args.request, args.send, args.locate_media) {
        (Some(event), ..) => Call::Event(json(&event)?),
        (_, Some(request), ..) => Call::Request(
            serde_json::from_value(json(&request)?)
                .with_context(|| format!("{} is not a request", request.display()))?,
        ),
        (_, _, Some(send), _) => Call::Send(
            serde_json::from_value(json(&send)?).with_context(|| format!("{} is not a message", send.display()))?,
        ),
        (_, _, _, Some(reference)) => Call::LocateMedia(reference),
        _ => anyhow::bail!(
            "say what to run: --event FILE (bot, protocol), --request FILE, --send FILE or --locate-media REFERENCE (connector)"
        ),
    };
    let settings = match args.settings {
        None => serde_json::Value::Null,
        Some(text) => {
            let text = match text.strip_prefix('@') {
                Some(path) => read(std::path::Path::new(path))?,
                None => text,
            };
            serde_json::from_str(&text).context("--settings is not JSON")?
        }
    };
    let http_replies = match &args.http_replies {
        Some(path) => Some(serde_json::from_value(json(path)?).with_context(|| {
            format!("{} is not a list of replies ({{\"status\", \"headers\", \"body\"}})", path.display())
        })?),
        None => None,
    };
    let local = LocalRun {
        component,
        manifest,
        settings,
        secrets: args.secrets.into_iter().collect(),
        private_hosts: args.allow_hosts,
        http_replies,
        grant_kv: args.grant_kv,
        grant_kb: args.grant_kb,
        call,
    };
    let report = ventanilla::plugins::local::run(local).await?;
    writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(())
}

fn new_plugin(world: &str, name: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    use ventanilla::plugins::manifest::World;
    let world = match world {
        "connector" => World::Connector,
        "bot" => World::Bot,
        "protocol" => World::Protocol,
        other => anyhow::bail!("`{other}` is not a world: use connector, bot or protocol"),
    };
    let root = ventanilla::plugins::scaffold::create(world, name, dir)?;
    let mut out = std::io::stdout();
    writeln!(out, "{} plugin created in {}", world.as_str(), root.display())?;
    writeln!(out, "  cd {} && cargo build --release --target wasm32-wasip2 && cargo test", root.display())?;
    writeln!(out, "  README.md says how to run, upload and install it")?;
    Ok(())
}

async fn create_admin(config: Config, email: &str, password_file: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let mut password = String::new();
    if password_file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut password)?;
    } else {
        password = std::fs::read_to_string(password_file)
            .with_context(|| format!("cannot read password file {}", password_file.display()))?;
    }
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    let email = domain::Email::parse("email", email)?;
    domain::user::check_password("password", &password, &email)?;
    if let Some(file) = &config.auth.breached_passwords_file
        && ventanilla::breached::BreachedList::open(file)?.contains(&password)?
    {
        anyhow::bail!("password: appears in a list of passwords exposed in breaches; choose another");
    }
    let display_name = domain::required_text("name", name, 200)?;
    let store = app::open_store(&config).await?;
    let new = domain::user::NewUser {
        email,
        display_name,
        password_hash: ventanilla::auth::hash_password(&password)?,
        is_admin: true,
        locale: "es".into(),
        memberships: vec![],
    };
    let user = store::user::create(&store, &domain::Actor::System, new).await?;
    writeln!(std::io::stdout(), "admin {} created ({})", user.email.as_str(), user.id)?;
    Ok(())
}
