//! The `protocol` world: bindings, the `cases` import, and one call.

use wasmtime::component::{HasSelf, Linker};

use super::bot::{Action, Outcome, check_actions};
use super::host::HostState;
use super::{CallContext, Compiled, Error, PluginHost};
use crate::domain::CaseId;

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        world: "protocol",
        path: "../sdk/wit",
        imports: { default: async },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
        with: {
            "ventanilla:plugin/types": crate::plugins::bot::bindings::ventanilla::plugin::types,
            "ventanilla:plugin/log": crate::plugins::bot::bindings::ventanilla::plugin::log,
            "ventanilla:plugin/kv": crate::plugins::bot::bindings::ventanilla::plugin::kv,
            "ventanilla:plugin/clock": crate::plugins::bot::bindings::ventanilla::plugin::clock,
        },
    });
}

use bindings::ventanilla::plugin::cases;
pub use bindings::{EventKind, ProtocolEvent};

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<(), Error> {
    bindings::Protocol::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
        .map_err(|e| Error::Cache(format!("protocol linker: {e}")))
}

/// A protocol ready to run: imports resolved once, instantiated per event.
#[derive(Clone)]
pub struct ProtocolPlugin {
    pub hash: String,
    pre: bindings::ProtocolPre<HostState>,
}

impl PluginHost {
    /// Checks that `compiled` implements the protocol world (WIT 1.x).
    pub fn prepare_protocol(&self, compiled: &Compiled) -> Result<ProtocolPlugin, Error> {
        let pre = self
            .linkers
            .protocol
            .instantiate_pre(&compiled.component)
            .and_then(bindings::ProtocolPre::new)
            .map_err(|e| Error::WrongWorld { world: "protocol", reason: format!("{e:#}") })?;
        Ok(ProtocolPlugin { hash: compiled.hash.clone(), pre })
    }

    /// Runs one event through a protocol in a fresh instance, on the plugin executor.
    pub async fn run_protocol(
        &self,
        protocol: &ProtocolPlugin,
        ctx: CallContext,
        event: &ProtocolEvent,
    ) -> Result<Outcome, Error> {
        let (host, protocol, event) = (self.clone(), protocol.clone(), event.clone());
        self.on_executor(async move { host.call_protocol(&protocol, &ctx, &event).await }).await
    }

    async fn call_protocol(
        &self,
        protocol: &ProtocolPlugin,
        ctx: &CallContext,
        event: &ProtocolEvent,
    ) -> Result<Outcome, Error> {
        let size = serde_json::to_vec(event).map_or(usize::MAX, |v| v.len());
        if size > self.limits.max_input_bytes {
            return Err(Error::InputTooLarge(self.limits.max_input_bytes));
        }
        let mut store = self.store(ctx);
        let pre = &protocol.pre;
        let call = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.call_on_event(&mut store, event).await
        };
        let result = self.within_wall(call).await;
        let (returned, logs) = PluginHost::settle(&mut store, result)?;
        let actions: Vec<Action> = returned.map_err(|e| Error::Plugin(e.message))?;
        check_actions(&actions, &self.limits)?;
        Ok((actions, logs))
    }
}

/// Most messages `recent-messages` returns.
const MAX_RECENT: u32 = 50;

impl HostState {
    /// The event's case, if the plugin may read it.
    fn readable_case(&self, case_id: &str) -> Result<(crate::store::Store, CaseId), cases::CaseError> {
        if !self.grants.case_read {
            return Err(cases::CaseError::Denied);
        }
        if self.case_id.as_deref() != Some(case_id) {
            return Err(cases::CaseError::NotFound);
        }
        let id = uuid::Uuid::parse_str(case_id).map_err(|_| cases::CaseError::NotFound)?;
        let db = self.db.clone().ok_or(cases::CaseError::NotFound)?;
        Ok((db, CaseId(id)))
    }
}

impl cases::Host for HostState {
    async fn get(&mut self, case_id: String) -> Result<super::bot::CaseSummary, cases::CaseError> {
        let (db, id) = self.readable_case(&case_id)?;
        let case = crate::store::case::get(&db.db, None, id).await.map_err(|_| cases::CaseError::NotFound)?;
        super::convert::case_summary(&db.db, &case).await.map_err(|_| cases::CaseError::NotFound)
    }

    async fn recent_messages(
        &mut self,
        case_id: String,
        limit: u32,
    ) -> Result<Vec<super::bot::Message>, cases::CaseError> {
        let (db, id) = self.readable_case(&case_id)?;
        let messages = crate::store::message::recent(&db.db, id, limit.min(MAX_RECENT) as u64)
            .await
            .map_err(|_| cases::CaseError::NotFound)?;
        Ok(messages.iter().map(super::convert::message).collect())
    }
}
