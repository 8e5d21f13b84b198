//! Consent texts (habeas data): admins write new versions; staff read them;
//! anyone may read the current one, which forms and the web chat show.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, FieldError, Problem};
use super::extract::{Auth, Json, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::Actor;
use crate::domain::consent::{ConsentText, NewConsentText};
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct ConsentTextDto {
    pub id: uuid::Uuid,
    /// What the data is used for, e.g. `data_processing`.
    pub purpose: String,
    pub version: i32,
    /// What a record of consent to this text names as `text_version`.
    #[schema(example = "v3")]
    pub label: String,
    #[schema(example = "es")]
    pub locale: String,
    pub text: String,
    pub policy_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<ConsentText> for ConsentTextDto {
    fn from(t: ConsentText) -> Self {
        ConsentTextDto {
            id: t.id,
            label: t.label(),
            purpose: t.purpose,
            version: t.version,
            locale: t.locale,
            text: t.text,
            policy_url: t.policy_url,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConsentText {
    #[schema(example = "data_processing")]
    pub purpose: String,
    /// `es` (the default), `en` or `pt`.
    pub locale: Option<String>,
    pub text: String,
    /// The institution's data protection policy.
    pub policy_url: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this purpose's versions.
    pub purpose: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CurrentQuery {
    #[param(example = "data_processing")]
    pub purpose: String,
    /// Defaults to the server's locale.
    pub locale: Option<String>,
}

/// Every version of the consent texts, newest first (staff).
#[utoipa::path(
    tag = "contacts",
    params(ListQuery),
    responses((status = 200, body = ListResponse<ConsentTextDto>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/consent-texts")]
pub async fn list_consent_texts(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    require(auth.0.can_read_units(), "this needs a staff account or the units:read scope")?;
    let texts = store::consent_text::list(&state.store.db, query.purpose.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(texts.into_iter().map(ConsentTextDto::from).collect(), None)))
}

/// Writes the next version of a purpose's consent text (admins). Earlier
/// versions stay as they were: consent records name the one people saw.
#[utoipa::path(
    tag = "contacts",
    request_body = CreateConsentText,
    responses(
        (status = 201, body = ConsentTextDto), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    ),
    security(("bearer" = []))
)]
#[post("/consent-texts")]
pub async fn create_consent_text(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateConsentText>,
) -> Result<HttpResponse, ApiError> {
    require(auth.0.is_admin(), "only admins write consent texts")?;
    let body = body.0;
    let new = NewConsentText::parse(
        &body.purpose,
        body.locale.as_deref().unwrap_or("es"),
        &body.text,
        body.policy_url.as_deref(),
    )
    .map_err(|errors| {
        ApiError::Validation(
            errors
                .into_iter()
                .map(|e| match e {
                    crate::domain::Error::Invalid { field, message } => FieldError { field, message },
                    other => FieldError { field: String::new(), message: other.to_string() },
                })
                .collect(),
        )
    })?;
    let text = store::consent_text::create(&state.store, &Actor::from(&auth.0), new).await?;
    Ok(HttpResponse::Created().json(ConsentTextDto::from(text)))
}

/// The consent text people are shown now for a purpose, in their language
/// if there is one (public: forms and the web chat show it).
#[utoipa::path(
    tag = "contacts",
    params(CurrentQuery),
    responses((status = 200, body = ConsentTextDto), (status = 404, body = Problem), (status = 429, body = Problem)),
    security(())
)]
#[get("/consent-texts/current")]
pub async fn current_consent_text(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CurrentQuery>,
) -> Result<HttpResponse, ApiError> {
    let ip = super::auth::client_ip(&req, &state);
    state.public_by_ip.hit(&ip).map_err(ApiError::RateLimited)?;
    let locale = query.locale.as_deref().unwrap_or(&state.config.locale);
    match store::consent_text::current(&state.store.db, &query.purpose, locale).await? {
        Some(text) => Ok(HttpResponse::Ok().json(ConsentTextDto::from(text))),
        None => Err(ApiError::NotFound("consent text")),
    }
}
