//! The `protocol` world: bindings, the `cases` import, and one call.

use wasmtime::component::{HasSelf, Linker};

use super::bot::{Action, check_actions};
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

use bindings::ventanilla::plugin::{cases, hours, sla};
pub use bindings::{EventKind, ProtocolEvent};

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<(), Error> {
    bindings::Protocol::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
        .map_err(|e| Error::Cache(format!("protocol linker: {e}")))
}

/// What a protocol call returned: its actions, the service-level targets it
/// set (if it set any), and the lines it logged. The targets are stored with
/// the actions, so nobody sees one without the other.
#[derive(Debug)]
pub struct ProtocolOutcome {
    pub actions: Vec<Action>,
    pub sla: Option<Vec<crate::domain::sla::SlaTarget>>,
    pub logs: Vec<(String, String)>,
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
    ) -> Result<ProtocolOutcome, Error> {
        let (host, protocol, event) = (self.clone(), protocol.clone(), event.clone());
        self.on_executor(async move { host.call_protocol(&protocol, &ctx, &event).await }).await
    }

    async fn call_protocol(
        &self,
        protocol: &ProtocolPlugin,
        ctx: &CallContext,
        event: &ProtocolEvent,
    ) -> Result<ProtocolOutcome, Error> {
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
        Ok(ProtocolOutcome { actions, sla: store.data_mut().sla.take(), logs })
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

/// A unit's business hours and timezone, by slug.
async fn unit_hours(
    db: Option<crate::store::Store>,
    slug: &str,
) -> Option<(crate::domain::BusinessHours, chrono_tz::Tz)> {
    let unit = crate::store::unit::find_by_slug(&db?.db, slug).await.ok()??;
    Some((unit.business_hours, unit.timezone))
}

fn instant(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
}

impl hours::Host for HostState {
    async fn add(&mut self, unit_slug: String, from_ms: i64, open_ms: u64) -> Option<i64> {
        let (hours, tz) = unit_hours(self.db.clone(), &unit_slug).await?;
        let open = chrono::Duration::milliseconds(i64::try_from(open_ms).ok()?);
        let due = hours.add_open_time(tz, instant(from_ms)?, open)?;
        Some(due.timestamp_millis())
    }

    async fn between(&mut self, unit_slug: String, from_ms: i64, to_ms: i64) -> Option<u64> {
        let (hours, tz) = unit_hours(self.db.clone(), &unit_slug).await?;
        let open = hours.open_time_between(tz, instant(from_ms)?, instant(to_ms)?);
        Some(u64::try_from(open.num_milliseconds()).unwrap_or(0))
    }
}

impl sla::Host for HostState {
    /// Checks the targets now (the plugin hears what is wrong) and keeps
    /// them for the action transaction.
    async fn set(&mut self, case_id: String, targets: Vec<sla::Target>) -> Result<(), sla::SlaError> {
        use crate::domain::sla::{SlaState, SlaTarget};
        // Setting targets needs no read grant, only the event's case.
        if self.case_id.as_deref() != Some(case_id.as_str()) {
            return Err(sla::SlaError::Denied);
        }
        let time = |field: &str, ms: Option<i64>| match ms {
            None => Ok(None),
            Some(ms) => instant(ms).map(Some).ok_or_else(|| sla::SlaError::Invalid(format!("{field}: not a time"))),
        };
        let mut checked = Vec::with_capacity(targets.len());
        for (i, t) in targets.into_iter().enumerate() {
            let state = match t.state {
                sla::SlaState::Running => SlaState::Running,
                sla::SlaState::Paused => SlaState::Paused,
                sla::SlaState::Warning => SlaState::Warning,
                sla::SlaState::Breached => SlaState::Breached,
                sla::SlaState::Met => SlaState::Met,
            };
            let due_at = time(&format!("targets[{i}].due_at"), t.due_at)?;
            let settled_at = time(&format!("targets[{i}].settled_at"), t.settled_at)?;
            checked.push(SlaTarget { name: t.name, state, due_at, settled_at });
        }
        crate::domain::sla::validate(&checked).map_err(|e| sla::SlaError::Invalid(e.to_string()))?;
        self.sla = Some(checked);
        Ok(())
    }
}
