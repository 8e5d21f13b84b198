//! The `bot` world: bindings, the host side of its imports, and one call.

use wasmtime::component::{HasSelf, Linker};

use super::host::HostState;
use super::{CallContext, Compiled, Error, Limits, PluginHost};

pub(super) mod bindings {
    wasmtime::component::bindgen!({
        world: "bot",
        path: "../sdk/wit",
        imports: { default: async },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

pub use bindings::BotEvent;
pub use bindings::ventanilla::plugin::types::{
    Action, Attachment, AuthorKind, CaseStatus, CaseSummary, Channel, Choice, ConsentRequest, ContactSummary, HandOff,
    Message, Notification, NotifyTarget, PluginError, Priority, ReplyWithOptions, Timer,
};
use bindings::ventanilla::plugin::{kb, outcomes};

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<(), Error> {
    bindings::Bot::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| state)
        .map_err(|e| Error::Cache(format!("bot linker: {e}")))
}

/// An event for a dry run: the first message of a new web-chat conversation.
pub fn dry_run_event(body: String, settings: String, locale: String) -> BotEvent {
    let now = chrono::Utc::now().timestamp_millis();
    BotEvent {
        message: Message {
            id: "test-message".into(),
            case_id: "test-case".into(),
            author_kind: AuthorKind::Contact,
            body,
            attachments: vec![],
            selected_option: None,
            created_at: now,
        },
        case: CaseSummary {
            id: "test-case".into(),
            number: 0,
            subject: "Prueba del plugin".into(),
            channel: Channel::Webchat,
            unit_slug: String::new(),
            status: CaseStatus::Bot,
            priority: Priority::Normal,
            tags: vec![],
            assignee_id: None,
            contact_id: "test-contact".into(),
            created_at: now,
        },
        contact: ContactSummary { id: "test-contact".into(), name: None, consents: vec![] },
        settings,
        locale,
    }
}

/// How many actions a call may return.
const MAX_ACTIONS: usize = 50;

/// A bot ready to run: its imports resolved once, instantiated per event.
#[derive(Clone)]
pub struct BotPlugin {
    pub hash: String,
    pre: bindings::BotPre<HostState>,
}

impl PluginHost {
    /// Checks that `compiled` implements the bot world (WIT 1.x) and
    /// resolves its imports once for every later call.
    pub fn prepare_bot(&self, compiled: &Compiled) -> Result<BotPlugin, Error> {
        let pre = self
            .linkers
            .bot
            .instantiate_pre(&compiled.component)
            .and_then(bindings::BotPre::new)
            .map_err(|e| Error::WrongWorld { world: "bot", reason: format!("{e:#}") })?;
        Ok(BotPlugin { hash: compiled.hash.clone(), pre })
    }

    /// Runs one message through a bot in a fresh instance, on the plugin
    /// executor; the caller's thread only waits for the outcome.
    pub async fn run_bot(&self, bot: &BotPlugin, ctx: CallContext, event: &BotEvent) -> Result<Outcome, Error> {
        let (host, bot, event) = (self.clone(), bot.clone(), event.clone());
        self.on_executor(async move { host.call_bot(&bot, &ctx, &event).await }).await
    }

    /// Runs a bot on the current thread. For tools and benchmarks only: on a
    /// thread that serves requests use [`PluginHost::run_bot`], so a spinning
    /// plugin cannot stall other requests.
    pub async fn run_bot_on_current_thread(
        &self,
        bot: &BotPlugin,
        ctx: &CallContext,
        event: &BotEvent,
    ) -> Result<Outcome, Error> {
        self.call_bot(bot, ctx, event).await
    }

    async fn call_bot(&self, bot: &BotPlugin, ctx: &CallContext, event: &BotEvent) -> Result<Outcome, Error> {
        let limits = &self.limits;
        if event_size(event) > limits.max_input_bytes {
            return Err(Error::InputTooLarge(limits.max_input_bytes));
        }
        let mut store = self.store(ctx);
        let pre = &bot.pre;
        let call = async {
            let bot = pre.instantiate_async(&mut store).await?;
            bot.call_on_message(&mut store, event).await
        };
        let result = self.within_wall(call).await;
        let (returned, logs) = PluginHost::settle(&mut store, result)?;
        let actions = returned.map_err(|e| Error::Plugin(e.message))?;
        check_actions(&actions, limits)?;
        Ok((actions, logs))
    }
}

/// What a bot or protocol call returned: its actions and its log lines.
pub type Outcome = (Vec<Action>, Vec<(String, String)>);

pub(super) fn check_actions(actions: &[Action], limits: &Limits) -> Result<(), Error> {
    if actions.len() > MAX_ACTIONS {
        return Err(Error::InvalidOutput(format!("{} actions; at most {MAX_ACTIONS}", actions.len())));
    }
    let size: usize = actions.iter().map(action_size).sum();
    if size > limits.max_output_bytes {
        return Err(Error::InvalidOutput(format!("{size} bytes of actions; at most {}", limits.max_output_bytes)));
    }
    Ok(())
}

/// Bytes of text an event carries (what a plugin must read).
fn event_size(event: &BotEvent) -> usize {
    let message = &event.message;
    let attachments: usize =
        message.attachments.iter().map(|a| a.file_name.len() + a.content_type.len() + a.reference.len()).sum();
    message.body.len()
        + attachments
        + event.settings.len()
        + event.case.subject.len()
        + event.case.tags.iter().map(String::len).sum::<usize>()
        + event.contact.name.as_ref().map_or(0, String::len)
        + event.contact.consents.iter().map(String::len).sum::<usize>()
        + 512
}

/// Bytes of text an action carries.
fn action_size(action: &Action) -> usize {
    16 + match action {
        Action::Reply(text) | Action::AddTag(text) | Action::Assign(text) | Action::CancelTimer(text) => text.len(),
        Action::ReplyWithOptions(r) => {
            r.text.len() + r.options.iter().map(|o| o.id.len() + o.label.len()).sum::<usize>()
        }
        Action::HandOff(h) => h.unit_slug.len() + h.reason.len(),
        Action::RequestConsent(c) => c.purpose.len(),
        Action::Notify(n) => n.text.len() + 64,
        Action::ScheduleTimer(t) => t.name.len() + t.payload.len(),
        Action::SetPriority(_) | Action::Close => 0,
    }
}

impl kb::Host for HostState {
    /// The same search the help center runs, over the public knowledge bases
    /// of the case's unit and the institution, bounded by the call's deadline.
    async fn search(&mut self, query: String, locale: Option<String>, limit: u32) -> Result<Vec<kb::Hit>, kb::KbError> {
        self.search_in(query, locale, limit, vec![]).await
    }

    async fn search_in(
        &mut self,
        query: String,
        locale: Option<String>,
        limit: u32,
        knowledge_bases: Vec<String>,
    ) -> Result<Vec<kb::Hit>, kb::KbError> {
        if !self.grants.kb_search {
            return Err(kb::KbError::Denied);
        }
        let Some(scope) = &self.kb else { return Err(kb::KbError::Unavailable) };
        // Only among the bases the plugin may reach anyway; none named: all of them.
        let bases: Vec<&crate::domain::kb::KnowledgeBase> = scope
            .bases
            .iter()
            .filter(|kb| knowledge_bases.is_empty() || knowledge_bases.iter().any(|slug| *slug == kb.slug.as_str()))
            .collect();
        let Some(first) = bases.first() else { return Ok(vec![]) };
        let Ok(text) = crate::domain::kb::query_text(&query) else { return Ok(vec![]) };
        let locale = locale.and_then(|l| crate::domain::kb::Locale::parse("locale", &l).ok());
        let mut request =
            crate::search::Query::new(text, bases.iter().map(|kb| kb.id).collect(), locale.unwrap_or(first.locale));
        request.locale = locale;
        request.synonyms = bases.iter().flat_map(|kb| kb.synonyms.iter().cloned()).collect();
        request.limit = limit.clamp(1, 10) as usize;
        let deadline = tokio::time::Instant::from_std(self.deadline);
        let hits = match tokio::time::timeout_at(deadline, scope.search.query(&request)).await {
            Ok(Ok(hits)) => hits,
            Ok(Err(e)) => {
                tracing::warn!(install = %self.install, error = %e, "kb search for a plugin failed");
                return Err(kb::KbError::Unavailable);
            }
            Err(_) => return Err(kb::KbError::Unavailable),
        };
        scope.search.record(&request, "bot", &hits);
        Ok(hits
            .into_iter()
            .filter_map(|hit| {
                let kb = scope.bases.iter().find(|kb| kb.id == hit.kb_id)?;
                let path = crate::domain::kb::article_path(kb, hit.locale, &hit.slug);
                Some(kb::Hit {
                    article_id: hit.article_id.to_string(),
                    title: hit.title,
                    short_answer: hit.short_answer,
                    url: format!("{}{}", scope.public_url, path),
                    confidence: hit.confidence,
                })
            })
            .collect())
    }
}

impl outcomes::Host for HostState {
    /// Records where the event's conversation stands (nothing in a dry run).
    async fn report(&mut self, outcome: outcomes::Outcome, article_id: Option<String>, confidence: Option<f32>) {
        let case = self.case_id.as_deref().and_then(|c| uuid::Uuid::parse_str(c).ok());
        let (Some(db), Some(case), Ok(install)) = (self.db.clone(), case, uuid::Uuid::parse_str(&self.install)) else {
            return;
        };
        let outcome = match outcome {
            outcomes::Outcome::Answered => "answered",
            outcomes::Outcome::Confirmed => "confirmed",
            outcomes::Outcome::HandedOff => "handed_off",
            outcomes::Outcome::Unanswered => "unanswered",
        };
        let article = article_id.and_then(|a| uuid::Uuid::parse_str(&a).ok());
        let confidence = confidence.filter(|c| c.is_finite()).map(|c| c.clamp(0.0, 1.0));
        let recorded = async {
            let case = crate::store::case::get(&db.db, None, crate::domain::CaseId(case)).await?;
            crate::store::bot_outcome::record(&db, &case, install, outcome, article, confidence).await
        };
        if let Err(e) = recorded.await {
            tracing::warn!(install = %self.install, error = %e, "cannot record a bot conversation's outcome");
        }
    }
}
