//! The engine, the compile cache, and the store each call runs in.

use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::{Error, kv::Kv, kv::MemoryKv};
use crate::secrets::SecretValue;
use crate::store::Store as Db;
use std::collections::HashMap;

/// How often the epoch advances; CPU deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(5);

pub use crate::config::PluginLimits as Limits;

pub use crate::domain::plugin::Grants;

/// A component compiled for this engine, with its content hash.
#[derive(Clone)]
pub struct Compiled {
    pub hash: String,
    pub component: Component,
}

/// The one engine of the process and what it needs to run plugins.
#[derive(Clone)]
pub struct PluginHost {
    pub(super) engine: Engine,
    pub(super) linkers: Arc<Linkers>,
    /// Key-value storage for calls without a database (tools, benchmarks).
    pub(super) kv: MemoryKv,
    /// The client plugins' HTTP goes through, bound to the network policy.
    pub(super) http: reqwest::Client,
    /// The client the host downloads files people send with.
    pub(super) downloads: reqwest::Client,
    pub limits: Limits,
    cache_dir: Option<PathBuf>,
    /// Plugin calls run here, never on the threads that serve requests, so
    /// a plugin burning its CPU budget cannot stall unrelated requests.
    pub(super) executor: Arc<Executor>,
    _ticker: Arc<Ticker>,
}

/// One linker per world, each with WASI and that world's imports only.
pub(super) struct Linkers {
    pub(super) bot: Linker<HostState>,
    pub(super) protocol: Linker<HostState>,
    pub(super) connector: Linker<HostState>,
}

/// Who a call is for and what it may reach.
#[derive(Clone, Default)]
pub struct CallContext {
    /// The install, as plugins' logs and key-value namespaces name it.
    pub install: String,
    pub grants: Grants,
    /// The database, for durable key-value storage and case reads; `None`
    /// in tools, where key-value storage lives in memory.
    pub db: Option<Db>,
    /// The case the event is about: the only one `cases` may read.
    pub case_id: Option<String>,
    /// The install's granted secrets, opened; never handed to the plugin.
    pub secrets: HashMap<String, SecretValue>,
    /// What `kb.search` searches, when granted.
    pub kb: Option<KbScope>,
    /// The idempotency key of the message a connector's `send` is sending:
    /// the provider's successful answers are journaled under it, so a retry
    /// of the same request is answered from the journal.
    pub send_key: Option<String>,
    /// What the connector's `outbound.context` answers during a send.
    pub send_context: Option<super::SendContext>,
    /// What the connector's `outbound.template-values` answers during a send.
    pub template_parts: Option<super::connector::TemplateParts>,
    /// The files a mail connector's `submit` may attach during a send.
    pub outbound_files: Option<super::mail::OutboundFiles>,
    /// Answers to the plugin's HTTP instead of the network (local runs only).
    pub canned_http: Option<super::local::CannedHttp>,
}

/// The knowledge bases a plugin's `kb.search` reaches: the public ones of
/// the case's unit and of the institution, through the one search service.
#[derive(Clone)]
pub struct KbScope {
    pub search: std::sync::Arc<crate::search::Search>,
    pub bases: Vec<crate::domain::kb::KnowledgeBase>,
    /// Prefix of article links, e.g. `https://ayuda.uni.edu.co`; empty for relative links.
    pub public_url: String,
}

impl CallContext {
    pub fn new(install: impl Into<String>, grants: Grants) -> Self {
        CallContext { install: install.into(), grants, ..Default::default() }
    }
}

/// A runtime of its own for plugin calls; shut down without blocking.
pub(super) struct Executor(Option<tokio::runtime::Runtime>);

impl Executor {
    pub(super) fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(|r| r.handle())
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Advances the engine's epoch from a background thread until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl PluginHost {
    /// Builds the engine; compiled components are cached in `cache_dir`.
    pub fn new(cache_dir: Option<PathBuf>, limits: Limits) -> Result<Self, Error> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(256)
            .total_core_instances(512)
            .total_memories(256)
            .total_tables(512)
            .max_memory_size(limits.memory_bytes.max(1 << 20) * 2)
            // Reused slots keep their first pages mapped and zero them by
            // hand; more than a few pages costs more to zero on every call
            // than it saves in faults (1 MiB measured 52 µs a call, 64 KiB 31,
            // none 34: docs/benchmarks.md).
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| Error::Cache(format!("engine: {e}")))?;
        let wasi = || {
            let mut linker = Linker::<HostState>::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| Error::Cache(format!("wasi: {e}")))?;
            Ok::<_, Error>(linker)
        };
        let (mut bot, mut protocol, mut connector) = (wasi()?, wasi()?, wasi()?);
        super::bot::add_to_linker(&mut bot)?;
        super::protocol::add_to_linker(&mut protocol)?;
        super::connector::add_to_linker(&mut connector)?;
        super::mail::add_to_linker(&mut connector)?;
        let http = super::http::client(&limits)?;
        let downloads = super::media::client(&limits)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticking = engine.clone();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticking.increment_epoch();
                }
            })
            .map_err(|e| Error::Cache(format!("epoch thread: {e}")))?;
        if let Some(dir) = &cache_dir {
            crate::private_fs::dir(dir).map_err(|e| Error::Cache(format!("{}: {e}", dir.display())))?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .thread_name("plugin-exec")
            // Time for deadlines; I/O for the host's HTTP on plugins' behalf.
            .enable_all()
            .build()
            .map_err(|e| Error::Cache(format!("plugin executor: {e}")))?;
        Ok(PluginHost {
            executor: Arc::new(Executor(Some(runtime))),
            engine,
            linkers: Arc::new(Linkers { bot, protocol, connector }),
            kv: MemoryKv::default(),
            http,
            downloads,
            limits,
            cache_dir,
            _ticker: Arc::new(Ticker { stop }),
        })
    }

    /// Compiles a component, or loads it from the cache when this exact
    /// content was compiled by a compatible engine before.
    pub fn compile(&self, bytes: &[u8]) -> Result<Compiled, Error> {
        let hash = hex::encode(Sha256::digest(bytes));
        if !wasmparser_is_component(bytes) {
            return Err(Error::InvalidComponent("not a WebAssembly component (wrong magic or layer)".into()));
        }
        let cached = self.cache_dir.as_ref().map(|dir| dir.join(format!("{hash}.cwasm")));
        if let Some(path) = &cached
            && path.exists()
            && let Some(component) = self.load_cached(path)
        {
            return Ok(Compiled { hash, component });
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| Error::InvalidComponent(format!("{e:#}")))?;
        if let Some(path) = &cached {
            // Best effort: a missing cache costs a compile, never a failure.
            if let Ok(serialized) = component.serialize() {
                let tmp = path.with_extension("tmp");
                // Native code this process will map and run: nobody else may write or read it.
                let written = crate::private_fs::create(&tmp)
                    .and_then(|mut file| std::io::Write::write_all(&mut file, &serialized));
                if written.is_ok() {
                    let _ = std::fs::rename(&tmp, path);
                }
            }
        }
        Ok(Compiled { hash, component })
    }

    #[allow(unsafe_code)]
    fn load_cached(&self, path: &std::path::Path) -> Option<Component> {
        // SAFETY: the file was written by `Component::serialize` of this host
        // into its own data directory, named by the hash of the source bytes;
        // wasmtime refuses files from an incompatible engine or version.
        unsafe { Component::deserialize_file(&self.engine, path) }.ok()
    }

    /// A fresh store for one call, with nothing from the outside world in WASI.
    pub(super) fn store(&self, ctx: &CallContext) -> Store<HostState> {
        let limits = &self.limits;
        let kv = match (&ctx.db, uuid::Uuid::parse_str(&ctx.install)) {
            (Some(db), Ok(install)) => Kv::Db(db.clone(), install),
            _ => Kv::Memory(self.kv.clone()),
        };
        let state = HostState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            cap: MemoryCap { max: limits.memory_bytes, hit: false },
            install: ctx.install.clone(),
            grants: ctx.grants.clone(),
            kv,
            db: ctx.db.clone(),
            case_id: ctx.case_id.clone(),
            secrets: ctx.secrets.clone(),
            kb: ctx.kb.clone(),
            send_key: ctx.send_key.clone(),
            send_context: ctx.send_context,
            template_parts: ctx.template_parts.clone(),
            outbound_files: ctx.outbound_files.clone(),
            canned_http: ctx.canned_http.clone(),
            http: self.http.clone(),
            limits: limits.clone(),
            deadline: std::time::Instant::now() + Duration::from_millis(limits.wall_ms),
            log_budget: limits.max_log_bytes,
            logs: vec![],
            sla: None,
            ticks_used: 0,
            tick_budget: limits.cpu_ms.div_ceil(TICK.as_millis() as u64).max(1),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.cap);
        // At every tick the guest gives its thread back to the executor, so a
        // spinning plugin never holds a request thread for more than one tick;
        // once it has run for its whole budget it is interrupted.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            state.ticks_used += 1;
            if state.ticks_used >= state.tick_budget {
                Ok(wasmtime::UpdateDeadline::Interrupt)
            } else {
                Ok(wasmtime::UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// Runs a call's future on the plugin executor, so the caller's thread
    /// only waits for the outcome.
    pub(super) async fn on_executor<T: Send + 'static>(
        &self,
        call: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        match self.executor.handle() {
            Some(executor) => executor.spawn(call).await.map_err(|e| Error::Trap(format!("plugin task: {e}")))?,
            None => call.await,
        }
    }

    /// Bounds a call by the wall clock.
    pub(super) async fn within_wall<T>(
        &self,
        call: impl std::future::Future<Output = wasmtime::Result<T>>,
    ) -> Result<wasmtime::Result<T>, tokio::time::error::Elapsed> {
        tokio::time::timeout(Duration::from_millis(self.limits.wall_ms), call).await
    }

    /// Sorts out how a call ended; returns what the plugin returned and the
    /// lines it logged.
    pub(super) fn settle<T>(
        store: &mut Store<HostState>,
        result: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<(T, Vec<(String, String)>), Error> {
        let returned = match result {
            Err(_) => return Err(Error::Timeout),
            Ok(Err(err)) => return Err(PluginHost::classify(store, err)),
            Ok(Ok(returned)) => returned,
        };
        Ok((returned, std::mem::take(&mut store.data_mut().logs)))
    }

    /// Turns a wasmtime error from a call into what happened.
    pub(super) fn classify(store: &Store<HostState>, err: wasmtime::Error) -> Error {
        if store.data().cap.hit {
            return Error::MemoryExceeded;
        }
        match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => Error::Deadline,
            Some(trap) => Error::Trap(trap.to_string()),
            None => Error::Trap(format!("{err:#}")),
        }
    }
}

fn wasmparser_is_component(bytes: &[u8]) -> bool {
    // Magic `\0asm`, then version 0x0d and layer 0x01 for components.
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [0x01, 0x00]
}

/// Caps linear memory; remembers when a plugin hit the cap.
pub(super) struct MemoryCap {
    max: usize,
    pub(super) hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// What host functions see during one call.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) cap: MemoryCap,
    pub(super) install: String,
    pub(super) grants: Grants,
    pub(super) kv: Kv,
    pub(super) db: Option<Db>,
    pub(super) case_id: Option<String>,
    pub(super) secrets: HashMap<String, SecretValue>,
    pub(super) kb: Option<KbScope>,
    pub(super) send_key: Option<String>,
    pub(super) send_context: Option<super::SendContext>,
    pub(super) template_parts: Option<super::connector::TemplateParts>,
    pub(super) outbound_files: Option<super::mail::OutboundFiles>,
    pub(super) canned_http: Option<super::local::CannedHttp>,
    pub(super) http: reqwest::Client,
    pub(super) limits: Limits,
    /// When the call's wall-clock time runs out; host calls stop there too.
    pub(super) deadline: std::time::Instant,
    pub(super) log_budget: usize,
    /// Lines the plugin logged during the call (level, text).
    pub logs: Vec<(String, String)>,
    /// The service-level targets a protocol set during the call (the last
    /// set wins); stored with its actions, in their transaction.
    pub(super) sla: Option<Vec<crate::domain::sla::SlaTarget>>,
    ticks_used: u64,
    tick_budget: u64,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
