//! Contacts, their identities per channel, consent records and merges.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, PageParams, require};
use super::schema::{Channel, ConsentAction, ListResponse};
use crate::api::AppState;
use crate::domain::{
    self, Actor, ConsentRecord, Contact, ContactId, Identity, IdentityId, Principal, Scope,
    consent::{NewConsent, parse_label},
    contact::{ContactPatch, NewContact, normalize_identity},
    required_text,
};
use crate::store::{
    self,
    contact::{IdentityAdded, Visibility},
};

#[derive(Serialize, ToSchema)]
pub struct ContactDto {
    pub id: uuid::Uuid,
    pub name: Option<String>,
    /// The person's id in the institution's own systems (student or
    /// applicant number), set by imports and the upsert API.
    pub external_id: Option<String>,
    pub identities: Vec<IdentityDto>,
    #[schema(value_type = Object)]
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
    /// Set when this contact was merged into another.
    pub merged_into: Option<uuid::Uuid>,
    /// Why the person's data must be kept; while set nothing of theirs is
    /// erased or expired.
    pub legal_hold: Option<String>,
    /// When the person's data was erased (the record stays, anonymous).
    pub erased_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityDto {
    pub id: uuid::Uuid,
    pub channel: Channel,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentDto {
    pub id: uuid::Uuid,
    pub purpose: String,
    pub action: ConsentAction,
    pub text_version: String,
    pub channel: Channel,
    /// Where the answer came from: `bot`, `channel` (the host's question),
    /// `web_form`, `web_chat`; for one staff recorded, how it was given
    /// (`phone`, `in_person`, `written`, `agent`, `api`).
    pub source: String,
    /// The form, file or document it came from.
    pub reference: Option<String>,
    /// The staff member who recorded it; none when the person answered on a channel.
    pub recorded_by: Option<uuid::Uuid>,
    /// When the person gave it, when staff recorded it later.
    pub given_at: Option<DateTime<Utc>>,
    pub recorded_at: DateTime<Utc>,
}

impl From<Identity> for IdentityDto {
    fn from(i: Identity) -> Self {
        IdentityDto { id: i.id.0, channel: i.channel.into(), value: i.value }
    }
}

impl From<Contact> for ContactDto {
    fn from(c: Contact) -> Self {
        ContactDto {
            id: c.id.0,
            name: c.name,
            external_id: c.external_id,
            identities: c.identities.into_iter().map(IdentityDto::from).collect(),
            custom_attributes: c.custom_attributes,
            merged_into: c.merged_into.map(|m| m.0),
            legal_hold: c.legal_hold,
            erased_at: c.erased_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl From<ConsentRecord> for ConsentDto {
    fn from(r: ConsentRecord) -> Self {
        ConsentDto {
            id: r.id.0,
            purpose: r.purpose,
            action: r.action.into(),
            text_version: r.text_version,
            channel: r.channel.into(),
            source: r.source,
            reference: r.reference,
            recorded_by: r.recorded_by.map(|u| u.0),
            given_at: r.given_at,
            recorded_at: r.recorded_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityInput {
    pub channel: Channel,
    #[schema(example = "+57 300 123 4567")]
    pub value: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    #[schema(example = "Laura Gómez")]
    pub name: Option<String>,
    #[serde(default)]
    pub identities: Vec<IdentityInput>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContact {
    /// A name, or null to clear it.
    #[serde(default, deserialize_with = "super::schema::double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// Merged into the current attributes; a null value removes a key.
    #[schema(value_type = Option<Object>)]
    pub custom_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsent {
    #[schema(example = "data_processing")]
    pub purpose: String,
    pub action: ConsentAction,
    #[schema(example = "2026-01")]
    pub text_version: String,
    pub channel: Channel,
    /// Where the answer came from, or how it was given (`phone`,
    /// `in_person`, `written`); defaults to `agent` for staff and `api` for tokens.
    pub source: Option<String>,
    /// When the person gave it, if earlier (a call written down afterwards);
    /// not in the future, nor more than a year ago.
    pub given_at: Option<DateTime<Utc>>,
    /// The form, file or document it came from (a signed form's number, a
    /// web form's address), at most 300 characters.
    pub reference: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeContacts {
    /// The contact merged away; its identities, cases and consents move to this one.
    pub source_contact_id: uuid::Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Text in the name or in an identity (phone, e-mail...), at most 200 characters.
    pub q: Option<String>,
    /// Include contacts merged into others.
    pub include_merged: Option<bool>,
}

/// The longest contact search: a name or an address, not a document.
const MAX_QUERY_CHARS: usize = 200;

/// Which contacts the caller may read.
pub(super) fn visibility(principal: &Principal) -> Result<Visibility, ApiError> {
    if matches!(principal, Principal::Token { .. }) {
        require(principal.token_has(Scope::ContactsRead), "this needs the contacts:read scope")?;
    }
    Ok(Visibility::of(principal))
}

/// Visibility for a change: staff within their visibility, or a `contacts:write` token.
pub(super) fn write_visibility(principal: &Principal) -> Result<Visibility, ApiError> {
    if matches!(principal, Principal::Token { .. }) {
        require(principal.token_has(Scope::ContactsWrite), "this needs the contacts:write scope")?;
    }
    visibility(principal)
}

pub(super) fn parse_identities(inputs: &[IdentityInput], check: &mut Checker) -> Vec<(domain::Channel, String)> {
    inputs
        .iter()
        .enumerate()
        .filter_map(|(i, input)| {
            let channel: domain::Channel = input.channel.into();
            check
                .check(normalize_identity(&format!("identities[{i}].value"), channel, &input.value))
                .map(|v| (channel, v))
        })
        .collect()
}

pub(super) fn check_attributes(
    field: &str,
    attributes: &serde_json::Map<String, serde_json::Value>,
    check: &mut Checker,
) {
    if attributes.len() > 100 || serde_json::to_string(attributes).map_or(0, |s| s.len()) > 16 * 1024 {
        check.check::<()>(Err(domain::Error::invalid(field, "must have at most 100 keys and 16 KiB")));
    }
}

#[utoipa::path(
    tag = "contacts",
    params(ContactQuery, PageParams),
    responses((status = 200, body = ListResponse<ContactDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<ContactQuery>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = params.page()?;
    let visibility = visibility(&auth.0)?;
    let query = query.into_inner();
    if query.q.as_deref().is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
        return Err(ApiError::field("q", format!("must be at most {MAX_QUERY_CHARS} characters")));
    }
    let filter = store::contact::ContactFilter { q: query.q, include_merged: query.include_merged.unwrap_or(false) };
    let (contacts, next) = store::contact::list(&state.store.db, &visibility, &filter, &page).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(contacts.into_iter().map(ContactDto::from).collect(), next)))
}

/// Creates a contact. Honors `Idempotency-Key`.
#[utoipa::path(
    tag = "contacts",
    request_body = CreateContact,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = ContactDto), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/contacts")]
pub async fn create_contact(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: Json<CreateContact>,
) -> Result<HttpResponse, ApiError> {
    let visibility = write_visibility(&auth.0)?;
    let body = body.0;
    let mut check = Checker::default();
    let name = body.name.as_deref().and_then(|n| check.check(required_text("name", n, 200)));
    let identities = parse_identities(&body.identities, &mut check);
    check_attributes("custom_attributes", &body.custom_attributes, &mut check);
    check.finish()?;
    let new = NewContact { name, identities, custom_attributes: body.custom_attributes, external_id: None };
    let actor = Actor::from(&auth.0);
    super::idempotency::run(&state, &req, &auth.0, || async {
        let contact = store::contact::create(&state.store, &actor, &visibility, new).await?;
        super::idempotency::created(&ContactDto::from(contact))
    })
    .await
}

#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ContactDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/contacts/{contact_id}")]
pub async fn get_contact(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let contact = store::contact::get(&state.store.db, &visibility(&auth.0)?, ContactId(path.into_inner())).await?;
    Ok(HttpResponse::Ok().json(ContactDto::from(contact)))
}

/// A contact that may be the same person, found when a channel identity
/// matched more than one contact; a person decides whether to merge.
#[derive(Serialize, ToSchema)]
pub struct PossibleDuplicateDto {
    pub contact: ContactDto,
    /// Why they may be the same person, e.g. `same sms identity +573001234567`.
    pub reason: String,
}

/// Contacts that may be the same person as this one (never merged
/// automatically); merge with `POST /contacts/{id}/merge`.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<PossibleDuplicateDto>), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/contacts/{contact_id}/possible-duplicates")]
pub async fn list_possible_duplicates(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let visibility = visibility(&auth.0)?;
    let contact = store::contact::get(&state.store.db, &visibility, ContactId(path.into_inner())).await?;
    let mut found = vec![];
    for (other, reason) in store::contact::possible_duplicates(&state.store.db, contact.id).await? {
        match store::contact::get(&state.store.db, &visibility, other).await {
            Ok(other) if other.merged_into.is_none() && contact.merged_into.is_none() => {
                found.push(PossibleDuplicateDto { contact: ContactDto::from(other), reason });
            }
            Ok(_) | Err(store::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(HttpResponse::Ok().json(found))
}

#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path)),
    request_body = UpdateContact,
    responses((status = 200, body = ContactDto), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/contacts/{contact_id}")]
pub async fn update_contact(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateContact>,
) -> Result<HttpResponse, ApiError> {
    let visibility = write_visibility(&auth.0)?;
    let body = body.0;
    let mut check = Checker::default();
    let name = match body.name {
        Some(Some(name)) => check.check(required_text("name", &name, 200)).map(|n| Some(Some(n))).unwrap_or(None),
        Some(None) => Some(None),
        None => None,
    };
    if let Some(attributes) = &body.custom_attributes {
        check_attributes("custom_attributes", attributes, &mut check);
    }
    check.finish()?;
    let patch = ContactPatch { name, custom_attributes: body.custom_attributes };
    let contact =
        store::contact::update(&state.store, &Actor::from(&auth.0), &visibility, ContactId(path.into_inner()), patch)
            .await?;
    Ok(HttpResponse::Ok().json(ContactDto::from(contact)))
}

/// An identity that was not added because a contact the caller cannot see
/// holds it.
#[derive(Serialize, ToSchema)]
pub struct IdentityReview {
    /// `review`.
    pub status: String,
    pub message: String,
}

/// Adds a channel identity; an identity belongs to one contact only. When a
/// contact the caller cannot see holds it, nothing of that contact is shown
/// or changed: the answer is 202 and the two contacts wait as possible
/// duplicates for someone who sees both.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = IdentityInput,
    responses((status = 201, body = IdentityDto), (status = 202, body = IdentityReview), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[post("/contacts/{contact_id}/identities")]
pub async fn add_identity(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<IdentityInput>,
) -> Result<HttpResponse, ApiError> {
    let visibility = write_visibility(&auth.0)?;
    let channel: domain::Channel = body.0.channel.into();
    let value = normalize_identity("value", channel, &body.0.value)?;
    let id = ContactId(path.into_inner());
    super::idempotency::run(&state, &req, &auth.0, || async {
        let actor = Actor::from(&auth.0);
        match store::contact::add_identity(&state.store, &actor, &visibility, id, channel, &value).await? {
            IdentityAdded::Added(identity) => super::idempotency::created(&IdentityDto::from(identity)),
            IdentityAdded::Review => Ok((
                actix_web::http::StatusCode::ACCEPTED,
                serde_json::to_value(IdentityReview {
                    status: "review".into(),
                    message: "kept for review: someone who sees both contacts decides whether they are one".into(),
                })
                .map_err(ApiError::internal)?,
            )),
        }
    })
    .await
}

#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path), ("identity_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/contacts/{contact_id}/identities/{identity_id}")]
pub async fn remove_identity(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let visibility = write_visibility(&auth.0)?;
    let (contact, identity) = path.into_inner();
    store::contact::remove_identity(
        &state.store,
        &Actor::from(&auth.0),
        &visibility,
        ContactId(contact),
        IdentityId(identity),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The contact's consent history, oldest first; the latest record per purpose stands.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ListResponse<ConsentDto>), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/contacts/{contact_id}/consents")]
pub async fn list_consents(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let contact = ContactId(path.into_inner());
    let records = store::contact::consents(&state.store.db, &visibility(&auth.0)?, contact).await?;
    // Who looked at a person's consent history is itself a record.
    let read = super::read_log::Read {
        action: "contact.consents_read",
        target_kind: "contact",
        target_id: contact.to_string(),
        unit: None,
        details: serde_json::json!({ "records": records.len() }),
    };
    super::read_log::note(&state, &auth.0, read).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(records.into_iter().map(ConsentDto::from).collect(), None)))
}

/// Checks an answer to consent given by staff or an API client; fields are
/// named under `prefix` (`consents[0].`). `oldest` bounds how long ago it
/// may have been given.
pub(super) fn consent_of(
    principal: &Principal,
    body: &RecordConsent,
    prefix: &str,
    oldest: Option<chrono::Duration>,
    check: &mut Checker,
) -> Option<NewConsent> {
    let default_source = if matches!(principal, Principal::Token { .. }) { "api" } else { "agent" };
    let field = |name: &str| format!("{prefix}{name}");
    let purpose = check.check(parse_label(&field("purpose"), &body.purpose));
    let text_version = check.check(required_text(&field("text_version"), &body.text_version, 64));
    let source = check.check(parse_label(&field("source"), body.source.as_deref().unwrap_or(default_source)));
    let reference = body.reference.as_deref().map(|r| check.check(required_text(&field("reference"), r, 300)));
    let now = chrono::Utc::now();
    if let Some(at) = body.given_at {
        if at > now + chrono::Duration::minutes(5) {
            check.push(&field("given_at"), "must not be in the future");
        } else if oldest.is_some_and(|oldest| at < now - oldest) {
            check.push(&field("given_at"), "must be a moment within the past year");
        }
    }
    let reference = match reference {
        Some(checked) => Some(checked?),
        None => None,
    };
    Some(NewConsent {
        purpose: purpose?,
        action: body.action.into(),
        text_version: text_version?,
        channel: body.channel.into(),
        source: source?,
        reference,
        given_at: body.given_at,
    })
}

/// Records a consent grant or revocation.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = RecordConsent,
    responses((status = 201, body = ConsentDto), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/contacts/{contact_id}/consents")]
pub async fn record_consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<RecordConsent>,
) -> Result<HttpResponse, ApiError> {
    let visibility = write_visibility(&auth.0)?;
    let mut check = Checker::default();
    let new = consent_of(&auth.0, &body.0, "", Some(chrono::Duration::days(366)), &mut check);
    check.finish()?;
    let new = new.ok_or_else(|| ApiError::internal("checked values missing"))?;
    let id = ContactId(path.into_inner());
    super::idempotency::run(&state, &req, &auth.0, || async {
        let record = store::contact::record_consent(&state.store, &Actor::from(&auth.0), &visibility, id, new).await?;
        super::idempotency::created(&ConsentDto::from(record))
    })
    .await
}

/// Merges another contact into this one, keeping the other as history.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = uuid::Uuid, Path)),
    request_body = MergeContacts,
    responses((status = 200, body = ContactDto), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[post("/contacts/{contact_id}/merge")]
pub async fn merge_contacts(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<MergeContacts>,
) -> Result<HttpResponse, ApiError> {
    let visibility = write_visibility(&auth.0)?;
    let contact = store::contact::merge(
        &state.store,
        &Actor::from(&auth.0),
        &visibility,
        ContactId(path.into_inner()),
        ContactId(body.0.source_contact_id),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ContactDto::from(contact)))
}
