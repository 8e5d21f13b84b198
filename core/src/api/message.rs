//! A case's conversation and its internal notes.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::extract::{Auth, Json, PageParams};
use super::schema::{AuthorKind, DeliveryStatus, Direction, ListResponse};
use crate::api::AppState;
use crate::domain::{self, Actor, CaseId, Message, Note, message::MAX_BODY_CHARS, required_text};
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct MessageDto {
    pub id: uuid::Uuid,
    pub case_id: uuid::Uuid,
    pub direction: Direction,
    pub author_kind: AuthorKind,
    pub author_user_id: Option<uuid::Uuid>,
    pub body: String,
    pub attachments: Vec<AttachmentDto>,
    pub provider_message_id: Option<String>,
    pub delivery_status: DeliveryStatus,
    /// Why delivery failed: once `failed`, the final reason; while still
    /// `pending`, why the last try did not work (it is tried again at
    /// `next_attempt_at`).
    pub delivery_error: Option<String>,
    /// Tries to send it so far.
    pub delivery_attempts: i32,
    /// When a pending message is tried next: after a failed try, or when
    /// the earlier message it waits behind is.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The earlier message of the same case this one waits behind: a case's
    /// messages reach the person in the order they were written.
    pub waiting_for: Option<uuid::Uuid>,
    /// Choices offered with the message (quick replies), as the bot sent them.
    pub options: Vec<OptionDto>,
    /// The choice the person picked, for an inbound answer to options.
    pub selected_option: Option<String>,
    /// The channel account (connector install) it came in or went out on.
    pub channel_install_id: Option<uuid::Uuid>,
    /// The approved template it was sent as, if any.
    pub template: Option<TemplateDto>,
    /// Where the person wrote it from (web chat: the page's address and title).
    pub context: Option<ContextDto>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ContextDto {
    pub page_url: Option<String>,
    pub page_title: Option<String>,
}

/// An approved message template (WhatsApp) and its placeholder values.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct TemplateDto {
    /// The template's name as approved by the provider, e.g. `recordatorio_cita`.
    pub name: String,
    /// The language it was approved in, e.g. `es` or `es_CO`.
    pub language: String,
    /// Values for the template's body placeholders, in order.
    #[serde(default)]
    pub parameters: Vec<String>,
    /// The header's value, for a template whose header takes one: its
    /// text parameter, or an `https` link to its image, document or video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderValueDto>,
    /// Values of the buttons that take one (a URL's variable part, a code
    /// to copy), by the button's position from 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ButtonValueDto>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HeaderKindDto {
    Text,
    Image,
    Document,
    Video,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct HeaderValueDto {
    pub kind: HeaderKindDto,
    #[schema(example = "https://uni.example/afiche.png")]
    pub value: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ButtonValueDto {
    #[schema(minimum = 0, maximum = 9)]
    pub index: u8,
    pub value: String,
}

impl TemplateDto {
    /// The template a client sent, checked; `field` is where it was sent.
    pub(super) fn checked(self, field: &str) -> Result<domain::channel_rules::Template, domain::Error> {
        use domain::template::{ButtonValue, HeaderValue};
        let header = self.header.map(|h| match h.kind {
            HeaderKindDto::Text => HeaderValue::Text(h.value),
            HeaderKindDto::Image => HeaderValue::Image(h.value),
            HeaderKindDto::Document => HeaderValue::Document(h.value),
            HeaderKindDto::Video => HeaderValue::Video(h.value),
        });
        let buttons = self.buttons.into_iter().map(|b| ButtonValue { index: b.index, value: b.value }).collect();
        domain::channel_rules::Template::parse(field, &self.name, &self.language, self.parameters)?
            .with_parts(field, header, buttons)
    }
}

impl From<&domain::channel_rules::Template> for TemplateDto {
    fn from(t: &domain::channel_rules::Template) -> Self {
        use domain::template::HeaderValue;
        TemplateDto {
            name: t.name.clone(),
            language: t.language.clone(),
            parameters: t.parameters.clone(),
            header: t.header.as_ref().map(|h| {
                let kind = match h {
                    HeaderValue::Text(_) => HeaderKindDto::Text,
                    HeaderValue::Image(_) => HeaderKindDto::Image,
                    HeaderValue::Document(_) => HeaderKindDto::Document,
                    HeaderValue::Video(_) => HeaderKindDto::Video,
                };
                HeaderValueDto { kind, value: h.value().to_owned() }
            }),
            buttons: t.buttons.iter().map(|b| ButtonValueDto { index: b.index, value: b.value.clone() }).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OptionDto {
    pub id: String,
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentDto {
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// A download link that works for a while (`attachments.link_ttl_secs`);
    /// none while the file is still only with the provider.
    pub url: Option<String>,
    pub status: AttachmentStatus,
    /// Why the file could not be kept (`status` is `failed`).
    pub error: Option<String>,
}

/// Where a file is: kept by this server, still being downloaded from the
/// provider, or given up on.
#[derive(Serialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentStatus {
    Kept,
    Pending,
    Failed,
}

/// A file uploaded with `POST /cases/{id}/attachments`, to send.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttachmentDto {
    /// The `reference` the upload returned (`sha256:...`).
    pub reference: String,
    /// The name to show; defaults to `archivo`.
    pub file_name: Option<String>,
}

/// Most files one message carries.
const MAX_ATTACHMENTS: usize = 10;

#[derive(Serialize, ToSchema)]
pub struct NoteDto {
    pub id: uuid::Uuid,
    pub case_id: uuid::Uuid,
    pub author_user_id: Option<uuid::Uuid>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl MessageDto {
    /// The message as the API shows it; kept files get a fresh link.
    pub fn new(m: Message, files: &crate::attachments::Attachments) -> Self {
        MessageDto {
            id: m.id.0,
            case_id: m.case_id.0,
            direction: m.direction.into(),
            author_kind: m.author_kind.into(),
            author_user_id: m.author_user_id.map(|u| u.0),
            body: m.body,
            attachments: m
                .attachments
                .into_iter()
                .map(|a| AttachmentDto {
                    url: crate::domain::message::hash_of(&a.reference)
                        .map(|hash| files.link(hash, &a.content_type, &a.file_name, files.config.link_ttl_secs)),
                    status: match (crate::domain::message::hash_of(&a.reference), &a.error) {
                        (Some(_), _) => AttachmentStatus::Kept,
                        (None, None) => AttachmentStatus::Pending,
                        (None, Some(_)) => AttachmentStatus::Failed,
                    },
                    error: a.error,
                    file_name: a.file_name,
                    content_type: a.content_type,
                    size_bytes: a.size_bytes,
                })
                .collect(),
            provider_message_id: m.provider_message_id,
            delivery_status: m.delivery_status.into(),
            delivery_error: m.delivery_error,
            delivery_attempts: m.delivery_attempts,
            next_attempt_at: m.next_attempt_at,
            waiting_for: m.waiting_for.map(|w| w.0),
            options: m.options.into_iter().map(|o| OptionDto { id: o.id, label: o.label }).collect(),
            selected_option: m.selected_option,
            channel_install_id: m.channel_install_id,
            template: m.template.as_ref().map(TemplateDto::from),
            context: m.context.map(|c| ContextDto { page_url: c.page_url, page_title: c.page_title }),
            created_at: m.created_at,
        }
    }
}

impl From<Note> for NoteDto {
    fn from(n: Note) -> Self {
        NoteDto {
            id: n.id.0,
            case_id: n.case_id.0,
            author_user_id: n.author_user_id.map(|u| u.0),
            body: n.body,
            created_at: n.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMessage {
    /// The text; may be left out when `template` is given.
    #[serde(default)]
    pub body: Option<String>,
    /// Staff default to `agent` (a reply sent on the case's channel) and may
    /// log what the contact said as `contact`; tokens may also use `bot` and `system`.
    pub author_kind: Option<AuthorKind>,
    /// Send an approved template instead of free text: on WhatsApp the only
    /// thing that may go out once 24 hours have passed since the person last wrote.
    pub template: Option<TemplateDto>,
    /// Files to send (uploaded first); `body` may then be left out.
    #[serde(default)]
    pub attachments: Vec<NewAttachmentDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    pub body: String,
}

/// What a reply to the case may be now.
#[derive(Serialize, ToSchema)]
pub struct ReplyOptionsDto {
    /// Free text may be sent now.
    pub free_text: bool,
    /// Why not, when it may not (e.g. WhatsApp's 24-hour window has closed).
    pub reason: Option<String>,
    /// The approved templates the case's channel account offers (its
    /// `templates` setting); what may still go out once the window closes.
    pub templates: Vec<TemplateOptionDto>,
}

/// An approved template an agent may pick.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TemplateOptionDto {
    pub name: String,
    pub language: String,
    /// Its body, with `{{1}}`, `{{2}}`... where the parameters go.
    pub text: String,
    /// How many parameters it takes.
    #[serde(default)]
    pub parameters: u32,
    /// The provider's category (`UTILITY`, `MARKETING`...), when read from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Its header, when it has one: what `header` must carry when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<TemplateHeaderDto>,
    /// Its buttons, in order: those with `takes_value` need a value in
    /// `buttons` when sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<TemplateButtonDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TemplateHeaderDto {
    /// `text`, `image`, `document`, `video` or `location`.
    #[schema(example = "image")]
    pub kind: String,
    /// A text header's text, with `{{1}}` where its value goes.
    pub text: Option<String>,
    /// Whether a value must be sent with it (a text parameter or a file link).
    pub takes_value: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TemplateButtonDto {
    /// `quick_reply`, `url`, `phone_number`, `copy_code` or `other`.
    #[schema(example = "url")]
    pub kind: String,
    pub text: String,
    pub takes_value: bool,
}

impl From<&domain::template::ProviderTemplate> for TemplateOptionDto {
    fn from(t: &domain::template::ProviderTemplate) -> Self {
        use domain::template::HeaderKind;
        let name_of = |value: serde_json::Value| value.as_str().unwrap_or_default().to_owned();
        TemplateOptionDto {
            name: t.name.clone(),
            language: t.language.clone(),
            text: t.body.clone(),
            parameters: u32::from(t.body_parameters),
            category: Some(t.category.clone()),
            header: t.header.as_ref().map(|h| TemplateHeaderDto {
                kind: name_of(serde_json::to_value(h.kind).unwrap_or_default()),
                text: h.text.clone(),
                takes_value: h.kind != HeaderKind::Text || h.parameters > 0,
            }),
            buttons: t
                .buttons
                .iter()
                .map(|b| TemplateButtonDto {
                    kind: name_of(serde_json::to_value(b.kind).unwrap_or_default()),
                    text: b.text.clone(),
                    takes_value: b.takes_value,
                })
                .collect(),
            footer: t.footer.clone(),
        }
    }
}

/// The approved templates a channel account offers: once its provider's
/// templates were read, those it approved; else its `templates` setting
/// (checked against its schema when saved).
pub(super) async fn templates_of(
    state: &AppState,
    install: &store::plugin_install::Install,
) -> Result<Vec<TemplateOptionDto>, store::Error> {
    if !store::channel_template::is_synced(&state.store.db, install.id).await? {
        return Ok(serde_json::from_value(install.settings["templates"].clone()).unwrap_or_default());
    }
    Ok(store::channel_template::list(&state.store.db, install.id)
        .await?
        .iter()
        .filter(|kept| kept.template.status == domain::template::TemplateStatus::Approved)
        .map(|kept| TemplateOptionDto::from(&kept.template))
        .collect())
}

/// Whether the case's channel takes free text now, and the templates it
/// offers otherwise: what the console's composer shows.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ReplyOptionsDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/cases/{case_id}/reply-options")]
pub async fn reply_options(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    super::case::require_case_reader(&auth.0)?;
    let scope = auth.0.case_units();
    let case = store::case::get(&state.store.db, scope.as_deref(), CaseId(path.into_inner())).await?;
    let (free_text, reason) =
        match crate::channels::check_outbound(&state, &case, None, domain::AuthorKind::Agent).await {
            Ok(()) => (true, None),
            Err(store::Error::Domain(domain::Error::Invalid { message, .. })) => (false, Some(message)),
            Err(e) => return Err(e.into()),
        };
    let templates = match case.channel_install_id {
        Some(install) => match store::plugin_install::get(&state.store.db, install).await {
            // The install's settings were checked against its schema.
            Ok(install) => templates_of(&state, &install).await?,
            Err(store::Error::NotFound(_)) => vec![],
            Err(e) => return Err(e.into()),
        },
        None => vec![],
    };
    Ok(HttpResponse::Ok().json(ReplyOptionsDto { free_text, reason, templates }))
}

/// The conversation, oldest first.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = ListResponse<MessageDto>), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/cases/{case_id}/messages")]
pub async fn list_messages(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = params.page()?;
    let scope = auth.0.case_units();
    let case = CaseId(path.into_inner());
    let (messages, next) = store::message::list(&state.store.db, scope.as_deref(), case, &page).await?;
    super::read_log::case_id_read(&state, &auth.0, case, "messages").await?;
    Ok(HttpResponse::Ok()
        .json(ListResponse::new(messages.into_iter().map(|m| MessageDto::new(m, &state.attachments)).collect(), next)))
}

/// Adds a message; an outbound one is queued for delivery on the case's channel.
/// Honors `Idempotency-Key`.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateMessage,
    responses((status = 201, body = MessageDto), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/cases/{case_id}/messages")]
pub async fn create_message(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateMessage>,
) -> Result<HttpResponse, ApiError> {
    let id = CaseId(path.into_inner());
    let case = super::case::workable_case(&state, &auth.0, id).await?;
    let CreateMessage { body, author_kind, template, attachments } = body.0;
    let attachments = kept_files(&state, case.id, attachments).await?;
    let template = template.map(|t| t.checked("template")).transpose()?;
    let text = match (body, &template) {
        (Some(body), _) if !body.trim().is_empty() => body,
        (_, Some(template)) => template.summary(),
        (body, None) => body.unwrap_or_default(),
    };
    // Files alone make a message: the text may be empty then.
    let only_files = text.trim().is_empty() && !attachments.is_empty();
    let checked = if only_files { "-" } else { text.as_str() };
    let mut new = super::case::new_message(&auth.0, "body", checked, author_kind, domain::AuthorKind::Agent)?;
    if only_files {
        new.body = String::new();
    }
    new.attachments = attachments;
    if template.is_some() && new.author_kind.direction() == domain::Direction::Inbound {
        return Err(ApiError::field("template", "only outbound messages are sent as templates"));
    }
    new.template = template;
    if new.author_kind.direction() == domain::Direction::Outbound {
        crate::channels::check_outbound(&state, &case, new.template.as_ref(), new.author_kind).await?;
        // A provider fetches the files it sends from the public address
        // (e-mail carries them itself).
        let by_link = case.channel_install_id.is_some() && !case.channel.uses_email_address();
        if !new.attachments.is_empty() && by_link && state.config.link_prefix().is_empty() {
            return Err(ApiError::field(
                "attachments",
                "files can be sent on this channel only once the server's public_url is set: the provider fetches them from there",
            ));
        }
    }
    let actor = Actor::from(&auth.0);
    let scope = auth.0.case_units();
    super::idempotency::run(&state, &req, &auth.0, || async {
        let message = store::message::add(&state.store, &actor, scope.as_deref(), id, new).await?;
        super::idempotency::created(&MessageDto::new(message, &state.attachments))
    })
    .await
}

/// The uploaded files a new message names, as stored attachments: each must
/// have been uploaded for this case.
async fn kept_files(
    state: &AppState,
    case: CaseId,
    files: Vec<NewAttachmentDto>,
) -> Result<Vec<domain::message::Attachment>, ApiError> {
    if files.len() > MAX_ATTACHMENTS {
        return Err(ApiError::field("attachments", format!("at most {MAX_ATTACHMENTS} files per message")));
    }
    let mut kept = Vec::with_capacity(files.len());
    for (i, file) in files.into_iter().enumerate() {
        let field = format!("attachments[{i}].reference");
        let unknown = || {
            ApiError::field(field.clone(), "must be a reference POST /cases/{id}/attachments returned for this case")
        };
        let hash = crate::domain::message::hash_of(&file.reference).ok_or_else(unknown)?;
        let stored = store::attachment::find_for_case(&state.store.db, hash, case).await?.ok_or_else(unknown)?;
        kept.push(domain::message::Attachment {
            file_name: super::attachment::clean_name(file.file_name.as_deref().unwrap_or_default(), "archivo"),
            content_type: stored.content_type,
            size_bytes: stored.size_bytes,
            reference: file.reference,
            error: None,
        });
    }
    Ok(kept)
}

/// Sends a message again, with the same idempotency key: one that failed
/// (after fixing what the provider complained about), or one still
/// pending that waits out its backoff after a failed try (tried now).
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path), ("message_id" = uuid::Uuid, Path)),
    responses(
        (status = 202, description = "Queued for delivery again", body = MessageDto),
        (status = 404, body = Problem),
        (status = 409, description = "The message has neither failed nor is waiting to be tried again, or it waits behind an earlier message (`waiting_for`)", body = Problem),
        (status = 422, description = "The channel would not take it now (e.g. its reply window closed)", body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/cases/{case_id}/messages/{message_id}/retry")]
pub async fn retry_message(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (case_id, message_id) = path.into_inner();
    let case = super::case::workable_case(&state, &auth.0, CaseId(case_id)).await?;
    let message = store::message::get_unscoped(&state.store.db, domain::MessageId(message_id)).await?;
    if message.case_id != case.id {
        return Err(ApiError::NotFound("message"));
    }
    if message.direction == domain::Direction::Outbound {
        crate::channels::check_outbound(&state, &case, message.template.as_ref(), message.author_kind).await?;
    }
    let actor = Actor::from(&auth.0);
    let scope = auth.0.case_units();
    let message = store::message::retry_delivery(&state.store, &actor, scope.as_deref(), case.id, message.id).await?;
    Ok(HttpResponse::Accepted().json(MessageDto::new(message, &state.attachments)))
}

/// Outbound messages the channel could not deliver (the dead letters), with
/// the provider's reason, on the cases the caller may see; newest first.
#[utoipa::path(
    tag = "cases",
    params(PageParams),
    responses((status = 200, body = ListResponse<MessageDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/failed-deliveries")]
pub async fn list_failed_deliveries(
    state: web::Data<AppState>,
    auth: Auth,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    super::case::require_case_reader(&auth.0)?;
    let page = params.page()?;
    let scope = auth.0.case_units();
    let (messages, next) = store::message::failed(&state.store.db, scope.as_deref(), &page).await?;
    Ok(HttpResponse::Ok()
        .json(ListResponse::new(messages.into_iter().map(|m| MessageDto::new(m, &state.attachments)).collect(), next)))
}

/// Internal notes, oldest first: staff only, never sent to the contact.
#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path), PageParams),
    responses((status = 200, body = ListResponse<NoteDto>), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/cases/{case_id}/notes")]
pub async fn list_notes(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = params.page()?;
    let scope = auth.0.case_units();
    let case = CaseId(path.into_inner());
    let (notes, next) = store::message::list_notes(&state.store.db, scope.as_deref(), case, &page).await?;
    super::read_log::case_id_read(&state, &auth.0, case, "notes").await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(notes.into_iter().map(NoteDto::from).collect(), next)))
}

#[utoipa::path(
    tag = "cases",
    params(("case_id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateNote,
    responses((status = 201, body = NoteDto), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/cases/{case_id}/notes")]
pub async fn create_note(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateNote>,
) -> Result<HttpResponse, ApiError> {
    let id = CaseId(path.into_inner());
    super::case::workable_case(&state, &auth.0, id).await?;
    let text = required_text("body", &body.0.body, MAX_BODY_CHARS)?;
    let scope = auth.0.case_units();
    super::idempotency::run(&state, &req, &auth.0, || async {
        let actor = Actor::from(&auth.0);
        let note = store::message::add_note(&state.store, &actor, scope.as_deref(), id, auth.0.user_id(), text).await?;
        super::idempotency::created(&NoteDto::from(note))
    })
    .await
}
