//! The web chat: Ventanilla's own channel, for the widget any site embeds
//! with one `<script>` tag (`/widget.js`). No provider, so no connector: a
//! visitor gets an anonymous token that reaches only their own
//! conversation with one unit; messages go through the same store, bot and
//! event path as every channel; replies are read by the widget over
//! server-sent events. Called from other sites, so every route answers CORS
//! (tokens travel in headers, never cookies).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::AppState;
use crate::api::error::{ApiError, Problem};
use crate::api::extract::Json;
use crate::api::stream_slots::{Holder, Slot};
use crate::domain::message::{MAX_BODY_CHARS, MessageContext, NewMessage};
use crate::domain::privacy::DATA_PURPOSE;
use crate::domain::{self, Actor, AuthorKind, Case, CaseStatus, Channel, UnitId, case::NewCase};
use crate::store;

/// Messages one visitor may send per minute.
const MESSAGES_PER_MINUTE: u32 = 30;
/// A live stream reads the conversation when the server publishes news
/// about it (a message, an assignment), and at least this often (the unit
/// opening or closing, anything a lost notification would have said).
/// Idle streams cost no queries in between: thousands of open widgets must
/// not load the database.
const REFRESH: Duration = Duration::from_secs(120);
/// A live stream ends after this; the browser reconnects by itself.
const STREAM_LIFETIME: Duration = Duration::from_secs(600);

/// The web chat routes, under `/api/v1/webchat`.
pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/webchat")
        .wrap(from_fn(cors))
        .route("/sessions", web::post().to(start_session))
        .route("/conversation", web::get().to(conversation))
        .route("/messages", web::post().to(send_message))
        .route("/email", web::post().to(leave_email))
        .route("/events", web::get().to(events))
}

/// Any site may embed the widget: allow every origin, answer preflights.
async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let preflight = req.method() == actix_web::http::Method::OPTIONS;
    let mut response = if preflight {
        req.into_response(HttpResponse::NoContent().finish()).map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSession {
    /// Slug of the unit the widget talks to.
    pub unit: String,
    /// `es` (default), `en` or `pt`.
    pub locale: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionDto {
    /// The visitor's token: send it as `Authorization: Bearer` (and as
    /// `?token=` to `/events`). It reaches only this visitor's conversation.
    pub token: String,
    pub locale: String,
    pub unit_name: String,
    /// The widget's texts in `locale`.
    pub strings: BTreeMap<String, String>,
}

/// Starts an anonymous visitor's session with a unit.
#[utoipa::path(
    post,
    path = "/webchat/sessions",
    tag = "webchat",
    request_body = StartSession,
    responses((status = 201, body = SessionDto), (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)),
    security(())
)]
pub async fn start_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<StartSession>,
) -> Result<HttpResponse, ApiError> {
    let ip = crate::api::auth::client_ip(&req, &state);
    state.public_by_ip.hit(&ip).map_err(ApiError::RateLimited)?;
    state.webchat_sessions_by_ip.hit(&ip).map_err(ApiError::RateLimited)?;
    state.webchat_sessions.hit("all").map_err(ApiError::RateLimited)?;
    let unit =
        store::unit::find_by_slug(&state.store.db, body.0.unit.trim()).await?.ok_or(ApiError::NotFound("unit"))?;
    let locale = match body.0.locale.as_deref() {
        None => "es".to_owned(),
        Some(l) if crate::i18n::LOCALES.contains(&l) => l.to_owned(),
        Some(l) => return Err(ApiError::field("locale", format!("`{l}` is not one of es, en, pt"))),
    };
    let token = state.jwt.issue_visitor(uuid::Uuid::now_v7(), unit.id).map_err(ApiError::internal)?;
    let strings = crate::i18n::with_prefix(&locale, "widget.");
    Ok(HttpResponse::Created().json(SessionDto { token, locale, unit_name: unit.name, strings }))
}

/// The visitor a request's token names.
struct Visitor {
    id: uuid::Uuid,
    unit: UnitId,
}

impl Visitor {
    /// From `Authorization: Bearer`.
    fn from_request(req: &HttpRequest, state: &AppState) -> Result<Visitor, ApiError> {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        Visitor::from_token(token, state)
    }

    /// From the header or, for the event stream only (browsers' EventSource
    /// cannot send headers), from `?token=`.
    fn from_stream_request(req: &HttpRequest, state: &AppState) -> Result<Visitor, ApiError> {
        if req.headers().contains_key(header::AUTHORIZATION) {
            return Visitor::from_request(req, state);
        }
        let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map_err(|_| ApiError::Unauthorized)?;
        Visitor::from_token(query.get("token").ok_or(ApiError::Unauthorized)?, state)
    }

    fn from_token(token: &str, state: &AppState) -> Result<Visitor, ApiError> {
        let (id, unit) = state.jwt.verify_visitor(token).ok_or(ApiError::Unauthorized)?;
        Ok(Visitor { id, unit })
    }

    fn identity(&self) -> String {
        format!("visitor-{}", self.id.simple())
    }

    /// The visitor's latest conversation, if they have written: one this
    /// token started, whatever has become of its contact (a merge with
    /// another person's record gives the token nothing of theirs).
    async fn case(&self, conn: &impl sea_orm::ConnectionTrait) -> Result<Option<Case>, store::Error> {
        store::case::latest_of_visitor(conn, self.id).await
    }
}

/// A message as the widget shows it.
#[derive(Serialize, ToSchema)]
pub struct WidgetMessage {
    pub id: uuid::Uuid,
    /// `me` (the visitor), `bot`, `agent` or `system`.
    pub from: String,
    /// The agent's display name, for agent messages.
    pub author_name: Option<String>,
    pub body: String,
    pub options: Vec<crate::api::message::OptionDto>,
    /// Files the message carries that the server keeps, with a download
    /// path (relative to the server) that works for a while.
    pub files: Vec<WidgetFile>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct WidgetFile {
    pub name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub url: String,
}

/// Who is answering the visitor now.
#[derive(Serialize, ToSchema, Clone, PartialEq)]
pub struct Answering {
    /// `bot`, `agent`, `queue` (waiting for a person) or `none` (not written yet).
    pub kind: String,
    pub name: Option<String>,
    /// The unit is within its business hours.
    pub open: bool,
    /// The case is resolved or closed; writing again starts a new one.
    pub ended: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationDto {
    pub answering: Answering,
    /// The latest messages, oldest first.
    pub messages: Vec<WidgetMessage>,
    /// The authorisation to ask for before the visitor's next message:
    /// present when the unit asks on the web chat and the visitor never
    /// answered. The answer goes with that message (`consent`).
    pub consent: Option<WidgetConsent>,
}

/// The consent question the widget shows before the first message.
#[derive(Serialize, ToSchema)]
pub struct WidgetConsent {
    #[schema(example = "data_processing")]
    pub purpose: String,
    /// The text's version, to send back with the answer; none for the
    /// built-in text (before admins wrote one).
    pub version: Option<i32>,
    pub text: String,
    pub policy_url: Option<String>,
}

/// The visitor's answer to [`WidgetConsent`].
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentAnswer {
    pub action: crate::api::schema::ConsentAction,
    /// The `version` the widget showed.
    pub version: Option<i32>,
}

/// What to ask the visitor before their next message, if anything.
async fn consent_to_ask(
    state: &AppState,
    visitor: &Visitor,
    case: Option<&Case>,
    locale: &str,
) -> Result<Option<WidgetConsent>, store::Error> {
    let db = &state.store.db;
    let unit = store::unit::get(db, visitor.unit).await?;
    if !unit.privacy.asks_on(Channel::Webchat) {
        return Ok(None);
    }
    let contact = match case {
        Some(case) => Some(case.contact_id),
        None => store::contact::find_by_identity(db, Channel::Webchat, &visitor.identity()).await?,
    };
    if let Some(contact) = contact
        && store::contact::answered(db, contact, DATA_PURPOSE).await?
    {
        return Ok(None);
    }
    let asked = match store::consent_text::current(db, DATA_PURPOSE, locale).await? {
        Some(t) => {
            WidgetConsent { purpose: t.purpose, version: Some(t.version), text: t.text, policy_url: t.policy_url }
        }
        None => WidgetConsent {
            purpose: DATA_PURPOSE.to_owned(),
            version: None,
            text: crate::i18n::t(locale, "consent.request", &[("purpose", DATA_PURPOSE)]),
            policy_url: None,
        },
    };
    Ok(Some(asked))
}

/// Records the visitor's answer before their message, when they never
/// answered: required when the unit asks on the web chat.
async fn record_visitor_consent(
    conn: &impl sea_orm::ConnectionTrait,
    visitor: &Visitor,
    contact: domain::ContactId,
    answer: Option<&ConsentAnswer>,
) -> Result<(), ApiError> {
    if store::contact::answered(conn, contact, DATA_PURPOSE).await? {
        return Ok(());
    }
    let Some(answer) = answer else {
        let unit = store::unit::get(conn, visitor.unit).await?;
        if unit.privacy.asks_on(Channel::Webchat) {
            return Err(ApiError::field(
                "consent",
                "this unit asks for the authorisation to process personal data before the first message: send the answer",
            ));
        }
        return Ok(());
    };
    let text = match answer.version {
        Some(v) => Some(
            store::consent_text::version(conn, DATA_PURPOSE, v)
                .await?
                .ok_or_else(|| ApiError::field("consent.version", "no consent text has this version"))?,
        ),
        None => store::consent_text::latest(conn, DATA_PURPOSE).await?,
    };
    let new = domain::consent::NewConsent {
        purpose: DATA_PURPOSE.to_owned(),
        action: answer.action.into(),
        text_version: text.map_or_else(|| "default".to_owned(), |t| t.label()),
        channel: Channel::Webchat,
        source: "web_chat".to_owned(),
        reference: None,
        given_at: None,
    };
    store::contact::add_consent_in(conn, &Actor::System, contact, new).await?;
    Ok(())
}

/// Turns messages into what the widget shows, naming agents.
async fn widget_messages(state: &AppState, messages: Vec<domain::Message>) -> Result<Vec<WidgetMessage>, store::Error> {
    let mut names: HashMap<domain::UserId, String> = HashMap::new();
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let author_name = match m.author_user_id {
            Some(user) if m.author_kind == AuthorKind::Agent => match names.get(&user) {
                Some(name) => Some(name.clone()),
                None => {
                    let name =
                        store::user::get(&state.store.db, user).await.map(|u| u.display_name).unwrap_or_default();
                    names.insert(user, name.clone());
                    Some(name)
                }
            },
            _ => None,
        };
        let from = match m.author_kind {
            AuthorKind::Contact => "me",
            AuthorKind::Agent => "agent",
            AuthorKind::Bot => "bot",
            AuthorKind::System => "system",
        };
        out.push(WidgetMessage {
            id: m.id.0,
            from: from.to_owned(),
            author_name,
            body: m.body,
            options: m
                .options
                .into_iter()
                .map(|o| crate::api::message::OptionDto { id: o.id, label: o.label })
                .collect(),
            files: m
                .attachments
                .into_iter()
                .filter_map(|a| {
                    let files = &state.attachments;
                    let hash = crate::domain::message::hash_of(&a.reference)?;
                    let url = files.link(hash, &a.content_type, &a.file_name, files.config.link_ttl_secs);
                    Some(WidgetFile { url, name: a.file_name, content_type: a.content_type, size_bytes: a.size_bytes })
                })
                .collect(),
            created_at: m.created_at,
        });
    }
    Ok(out)
}

async fn answering(
    state: &AppState,
    unit: UnitId,
    case: Option<&Case>,
    locale: &str,
) -> Result<Answering, store::Error> {
    let unit = store::unit::get(&state.store.db, unit).await?;
    let open = unit.business_hours.is_open(unit.timezone, store::now());
    let (kind, name) = match case {
        None => ("none", None),
        Some(case) if case.status == CaseStatus::Bot => ("bot", Some(crate::i18n::t(locale, "widget.bot_name", &[]))),
        Some(case) => match case.assignee_id {
            Some(user) => ("agent", store::user::get(&state.store.db, user).await.ok().map(|u| u.display_name)),
            None => ("queue", None),
        },
    };
    let ended = case.is_some_and(|c| matches!(c.status, CaseStatus::Resolved | CaseStatus::Closed));
    Ok(Answering { kind: kind.to_owned(), name, open, ended })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LocaleQuery {
    /// Language of the bot's name: `es` (default), `en` or `pt`.
    pub locale: Option<String>,
    /// (`/events`) The id of the last message the widget shows.
    pub after: Option<String>,
}

/// The visitor's conversation: who is answering, and the latest messages.
#[utoipa::path(
    get,
    path = "/webchat/conversation",
    tag = "webchat",
    params(LocaleQuery),
    responses((status = 200, body = ConversationDto), (status = 401, body = Problem)),
    security(("visitor" = []))
)]
pub async fn conversation(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LocaleQuery>,
) -> Result<HttpResponse, ApiError> {
    let visitor = Visitor::from_request(&req, &state)?;
    let case = visitor.case(&state.store.db).await?;
    let messages = match &case {
        Some(case) => store::message::recent(&state.store.db, case.id, 100).await?,
        None => vec![],
    };
    let locale = query.locale.as_deref().unwrap_or("es");
    let answering = answering(&state, visitor.unit, case.as_ref(), locale).await?;
    let consent = consent_to_ask(&state, &visitor, case.as_ref(), locale).await?;
    Ok(HttpResponse::Ok().json(ConversationDto {
        answering,
        messages: widget_messages(&state, messages).await?,
        consent,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub body: String,
    /// The id of the quick reply the visitor chose, if any.
    pub selected_option: Option<String>,
    /// The page the widget is on.
    pub page_url: Option<String>,
    pub page_title: Option<String>,
    /// The answer to the conversation's `consent` question; required on the
    /// first message when the unit asks for it.
    pub consent: Option<ConsentAnswer>,
}

/// The visitor writes: the first message (or the first after a resolved
/// case) opens a case in the token's unit, with its bot if it has one.
#[utoipa::path(
    post,
    path = "/webchat/messages",
    tag = "webchat",
    request_body = SendMessage,
    responses((status = 201, body = WidgetMessage), (status = 401, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)),
    security(("visitor" = []))
)]
pub async fn send_message(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SendMessage>,
) -> Result<HttpResponse, ApiError> {
    let visitor = Visitor::from_request(&req, &state)?;
    state.webchat_by_visitor.hit(&visitor.id.to_string()).map_err(ApiError::RateLimited)?;
    let text = domain::required_text("body", &body.0.body, MAX_BODY_CHARS.min(4000))?;
    let selected = match body.0.selected_option.as_deref().map(str::trim) {
        Some(s) if s.is_empty() || s.len() > 255 => {
            return Err(ApiError::field("selected_option", "must be 1 to 255 characters"));
        }
        other => other.map(str::to_owned),
    };
    let context = MessageContext::parse(body.0.page_url.as_deref(), body.0.page_title.as_deref());
    let actor = Actor::System;
    let tx = state.store.begin().await?;
    let resolved = store::contact::resolve_sender(&*tx, &actor, Channel::Webchat, &visitor.identity(), None).await?;
    record_visitor_consent(&*tx, &visitor, resolved.id(), body.0.consent.as_ref()).await?;
    // An ended conversation takes only the answer to its survey; anything
    // else starts a new one.
    let open = match visitor.case(&*tx).await? {
        Some(case) if !matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) => Some(case),
        Some(case) if store::survey::reply_in(&*tx, &case, selected.as_deref(), &text).await?.is_some() => Some(case),
        _ => None,
    };
    let message =
        NewMessage { selected_option: selected, context, ..NewMessage::text(AuthorKind::Contact, text.clone()) };
    let stored = match open {
        Some(mut case) => store::message::add_in(&*tx, &actor, &mut case, message).await?,
        None => {
            // Each conversation is a case and a bot run: an address opens a
            // few per hour, however many sessions it starts.
            let ip = crate::api::auth::client_ip(&req, &state);
            state.webchat_conversations_by_ip.hit(&ip).map_err(ApiError::RateLimited)?;
            let status =
                if store::event::has_bot(&*tx, visitor.unit).await? { CaseStatus::Bot } else { CaseStatus::Queued };
            let new = NewCase {
                subject: crate::channels::subject_of(&text, Channel::Webchat),
                channel: Channel::Webchat,
                contact_id: resolved.id(),
                unit_id: visitor.unit,
                status,
                assignee_id: None,
                priority: domain::Priority::Normal,
                tags: vec![],
                custom_fields: Default::default(),
                channel_install_id: None,
            };
            let case = store::case::create_in(&*tx, &actor, new, Some(message)).await?;
            store::case::bind_visitor_in(&*tx, case.id, visitor.id).await?;
            let first = store::message::recent(&*tx, case.id, 1).await?.pop();
            first.ok_or_else(|| ApiError::internal("a new case without its first message"))?
        }
    };
    tx.commit().await?;
    let shown = widget_messages(&state, vec![stored]).await?;
    Ok(HttpResponse::Created().json(&shown[0]))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveEmail {
    pub email: String,
}

/// With nobody available, the visitor leaves an address: the conversation
/// becomes a ticket answered by e-mail. Nobody has proved the address is
/// theirs, so it is only written on the case for the agent (a note, and the
/// `dejó-correo` tag): it becomes no identity of the contact and proposes
/// no merge, or a stranger typing someone's address could be joined to that
/// person's record.
#[utoipa::path(
    post,
    path = "/webchat/email",
    tag = "webchat",
    request_body = LeaveEmail,
    responses((status = 204), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("visitor" = []))
)]
pub async fn leave_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LeaveEmail>,
) -> Result<HttpResponse, ApiError> {
    let visitor = Visitor::from_request(&req, &state)?;
    state.webchat_by_visitor.hit(&visitor.id.to_string()).map_err(ApiError::RateLimited)?;
    let email = domain::Email::parse("email", body.0.email.trim())?;
    let tx = state.store.begin().await?;
    let Some(mut case) = visitor.case(&*tx).await? else {
        return Err(ApiError::Conflict { field: "email".into(), message: "write a message first".into() });
    };
    let note = crate::i18n::t(&state.config.locale, "webchat.email_left_note", &[("email", email.as_str())]);
    store::message::note_in(&*tx, &Actor::System, &case, None, note).await?;
    let tag = domain::case::parse_tag("tag", "dejó-correo")?;
    if !case.tags.contains(&tag) {
        let mut tags = case.tags.clone();
        tags.push(tag);
        let patch = domain::case::CasePatch { tags: Some(tags), ..Default::default() };
        store::case::update_in(&*tx, &Actor::System, &mut case, patch).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Live updates for the widget, as server-sent events: `message` for each
/// new message, `answering` when who answers changes. Takes the token as
/// `?token=`, since browsers' EventSource cannot send headers.
#[utoipa::path(
    get,
    path = "/webchat/events",
    tag = "webchat",
    params(("token" = String, Query, description = "The visitor's token"), LocaleQuery),
    responses((status = 200, description = "text/event-stream"), (status = 401, body = Problem), (status = 429, body = Problem)),
    security(())
)]
pub async fn events(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LocaleQuery>,
) -> Result<HttpResponse, ApiError> {
    let visitor = Visitor::from_stream_request(&req, &state)?;
    let ip = crate::api::auth::client_ip(&req, &state);
    let slot = state.streams.take(Holder::Visitor(&visitor.id), &ip)?;
    let locale = query.locale.clone().unwrap_or_else(|| "es".into());
    // Resume after the last message the browser has (`?after=`, or the
    // id of the last event on an automatic reconnection), else from now.
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query.after.clone())
        .and_then(|v| uuid::Uuid::parse_str(&v).ok());
    let news = state.live.subscribe();
    let start = Stream {
        state,
        visitor,
        locale,
        case: None,
        cursor: None,
        resume,
        waited: false,
        answering: None,
        refreshed: std::time::Instant::now(),
        started: std::time::Instant::now(),
        first: true,
        news,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(start, |mut s| async move {
        if s.started.elapsed() > STREAM_LIFETIME {
            return None;
        }
        let read = s.first || s.wait_for_news().await || s.refreshed.elapsed() >= REFRESH;
        s.first = false;
        let chunk = if read {
            s.refreshed = std::time::Instant::now();
            s.poll().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "web chat stream");
                String::new()
            })
        } else {
            String::new()
        };
        let chunk = if chunk.is_empty() { ": \n\n".to_owned() } else { chunk };
        Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), s))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream))
}

/// One visitor's live stream. It reads the conversation's new messages and
/// who is answering when news about it arrives, and every `REFRESH`
/// otherwise; in between it only sends heartbeats.
struct Stream {
    state: web::Data<AppState>,
    visitor: Visitor,
    locale: String,
    case: Option<domain::CaseId>,
    /// The last message sent down the stream.
    cursor: Option<(DateTime<Utc>, uuid::Uuid)>,
    /// The last message the browser already has, when it said so.
    resume: Option<uuid::Uuid>,
    /// The visitor had not written when the stream started.
    waited: bool,
    answering: Option<Answering>,
    /// When the conversation was last read.
    refreshed: std::time::Instant,
    started: std::time::Instant,
    first: bool,
    /// The server's live events (the consoles' hub), to wake on.
    news: tokio::sync::broadcast::Receiver<std::sync::Arc<crate::store::live::LiveEvent>>,
    /// This stream's place among the open ones, given back when it ends.
    _slot: Slot,
}

impl Stream {
    /// Waits until an event concerns this visitor's conversation (true),
    /// or a heartbeat is due (false).
    async fn wait_for_news(&mut self) -> bool {
        use tokio::sync::broadcast::error::RecvError;
        // A quiet stream sends a comment every `streams.heartbeat_secs`, so
        // proxies keep it open; it reads nothing for it.
        let idle = tokio::time::sleep(Duration::from_secs(self.state.config.streams.heartbeat_secs));
        tokio::pin!(idle);
        loop {
            tokio::select! {
                () = &mut idle => return false,
                received = self.news.recv() => match received {
                    Ok(event) if self.concerns(&event) => return true,
                    Ok(_) => {}
                    // Missed some: read the conversation to be sure.
                    Err(RecvError::Lagged(_)) => return true,
                    Err(RecvError::Closed) => {
                        idle.as_mut().await;
                        return false;
                    }
                },
            }
        }
    }

    /// News about the conversation, or a new conversation of this visitor.
    fn concerns(&self, event: &crate::store::live::LiveEvent) -> bool {
        if event.kind == store::case::WEBCHAT_STARTED {
            return event.data.get("visitor").and_then(|v| v.as_str()) == Some(self.visitor.id.to_string().as_str());
        }
        self.case.is_some_and(|case| event.case_id == Some(case.0))
    }

    /// What happened since the last poll, as event-stream text.
    async fn poll(&mut self) -> Result<String, store::Error> {
        let db = &self.state.store.db;
        let mut out = String::new();
        {
            let case = self.visitor.case(db).await?;
            let id = case.as_ref().map(|c| c.id);
            if id != self.case {
                match (&case, self.waited) {
                    // An existing conversation: start where the browser is.
                    (Some(case), false) if self.case.is_none() => {
                        let seen = match self.resume.take() {
                            Some(m) => store::message::get_unscoped(db, domain::MessageId(m))
                                .await
                                .ok()
                                .filter(|m| m.case_id == case.id),
                            None => store::message::recent(db, case.id, 1).await?.pop(),
                        };
                        self.cursor = Some(seen.map_or(START, |m| (m.created_at, m.id.0)));
                    }
                    // One that began (or began again) while streaming: all of it is news.
                    (Some(_), _) => self.cursor = Some(START),
                    (None, _) => {}
                }
                self.case = id;
            }
            self.waited |= case.is_none();
            let answering = answering(&self.state, self.visitor.unit, case.as_ref(), &self.locale).await?;
            if self.answering.as_ref() != Some(&answering) {
                let data = serde_json::to_string(&answering).unwrap_or_default();
                out.push_str(&format!("event: answering\ndata: {data}\n\n"));
                self.answering = Some(answering);
            }
        }
        let Some(case) = self.case else { return Ok(out) };
        let fresh = store::message::after(db, case, self.cursor, 50).await?;
        if let Some(last) = fresh.last() {
            self.cursor = Some((last.created_at, last.id.0));
        }
        for message in widget_messages(&self.state, fresh).await? {
            let data = serde_json::to_string(&message).unwrap_or_default();
            out.push_str(&format!("id: {}\nevent: message\ndata: {data}\n\n", message.id));
        }
        Ok(out)
    }
}

/// Before every message.
const START: (DateTime<Utc>, uuid::Uuid) = (DateTime::<Utc>::MIN_UTC, uuid::Uuid::nil());

/// A rate limiter for visitors' writes.
pub fn visitor_limiter() -> crate::api::ratelimit::RateLimiter {
    crate::api::ratelimit::RateLimiter::new(MESSAGES_PER_MINUTE, Duration::from_secs(60))
}
