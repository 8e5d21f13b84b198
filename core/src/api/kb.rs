//! Knowledge bases and their categories.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Checker, Problem};
use super::extract::{Auth, Json, require};
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::kb::{
    Category, KbPatch, KnowledgeBase, Locale, NewCategory, NewKnowledgeBase, Theme, Visibility, validate_synonyms,
};
use crate::domain::{Actor, CategoryId, KbId, Principal, Slug, UnitId, required_text};
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct KnowledgeBaseDto {
    pub id: uuid::Uuid,
    /// Null for the institution's knowledge base.
    pub unit_id: Option<uuid::Uuid>,
    pub slug: String,
    pub name: String,
    /// Default locale: `es`, `en` or `pt`.
    pub locale: String,
    /// `public` (help center, no sign-in) or `internal` (staff).
    pub visibility: String,
    pub theme: ThemeDto,
    /// Groups of words and phrases searched as one, e.g. `["matrícula", "inscripción"]`.
    pub synonyms: Vec<Vec<String>>,
    /// Where the public reads it: `/help/{slug}`.
    pub help_center_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ThemeDto {
    #[schema(example = "Universidad del Valle")]
    pub institution_name: Option<String>,
    /// An https URL or a path on this server.
    pub logo_url: Option<String>,
    #[schema(example = "#0a3d62")]
    pub primary_color: Option<String>,
    #[schema(example = "#f6b93b")]
    pub accent_color: Option<String>,
}

impl From<Theme> for ThemeDto {
    fn from(t: Theme) -> Self {
        ThemeDto {
            institution_name: t.institution_name,
            logo_url: t.logo_url,
            primary_color: t.primary_color,
            accent_color: t.accent_color,
        }
    }
}

impl ThemeDto {
    fn parse(self, field: &str) -> Result<Theme, crate::domain::Error> {
        let theme = Theme {
            institution_name: self.institution_name,
            logo_url: self.logo_url,
            primary_color: self.primary_color,
            accent_color: self.accent_color,
        };
        theme.validate(field)?;
        Ok(theme)
    }
}

impl From<KnowledgeBase> for KnowledgeBaseDto {
    fn from(kb: KnowledgeBase) -> Self {
        KnowledgeBaseDto {
            id: kb.id.0,
            unit_id: kb.unit_id.map(|u| u.0),
            help_center_url: format!("/help/{}", kb.slug.as_str()),
            slug: kb.slug.as_str().to_owned(),
            name: kb.name,
            locale: kb.locale.as_str().to_owned(),
            visibility: kb.visibility.as_str().to_owned(),
            theme: kb.theme.into(),
            synonyms: kb.synonyms,
            created_at: kb.created_at,
            updated_at: kb.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKnowledgeBase {
    #[schema(example = "Preguntas frecuentes de Admisiones")]
    pub name: String,
    #[schema(example = "admisiones")]
    pub slug: String,
    /// `es` (default), `en` or `pt`.
    #[schema(example = "es")]
    pub locale: Option<String>,
    /// The unit that owns it; omit for the institution's knowledge base (admins).
    pub unit_id: Option<uuid::Uuid>,
    /// `public` (default) or `internal`.
    pub visibility: Option<String>,
    pub theme: Option<ThemeDto>,
    pub synonyms: Option<Vec<Vec<String>>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKnowledgeBase {
    pub name: Option<String>,
    pub locale: Option<String>,
    pub visibility: Option<String>,
    pub theme: Option<ThemeDto>,
    /// Replaces every synonym group.
    pub synonyms: Option<Vec<Vec<String>>>,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryDto {
    pub id: uuid::Uuid,
    pub kb_id: uuid::Uuid,
    /// The top category of a subcategory.
    pub parent_id: Option<uuid::Uuid>,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i32,
}

impl From<Category> for CategoryDto {
    fn from(c: Category) -> Self {
        CategoryDto {
            id: c.id.0,
            kb_id: c.kb_id.0,
            parent_id: c.parent_id.map(|p| p.0),
            slug: c.slug.as_str().to_owned(),
            name: c.name,
            description: c.description,
            position: c.position,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategory {
    #[schema(example = "becas")]
    pub slug: String,
    #[schema(example = "Becas y apoyos")]
    pub name: String,
    pub description: Option<String>,
    /// A top category, to make this a subcategory.
    pub parent_id: Option<uuid::Uuid>,
    /// Order among siblings, ascending.
    pub position: Option<i32>,
}

/// A knowledge base the caller may read: public ones for anyone, internal
/// ones for staff and `kb:read` tokens.
pub async fn readable(state: &AppState, caller: Option<&Principal>, id: KbId) -> Result<KnowledgeBase, ApiError> {
    let kb = store::kb::get(&state.store.db, id).await?;
    let staff = caller.is_some_and(Principal::can_read_kb);
    if kb.visibility == Visibility::Public || staff {
        Ok(kb)
    } else if caller.is_none() {
        Err(ApiError::Unauthorized)
    } else {
        Err(ApiError::NotFound("knowledge base"))
    }
}

/// Every knowledge base (staff, `kb:read` tokens).
#[utoipa::path(
    tag = "knowledge-bases",
    responses((status = 200, body = ListResponse<KnowledgeBaseDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/knowledge-bases")]
pub async fn list_knowledge_bases(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    require(auth.0.can_read_kb(), "this needs a staff account or the kb:read scope")?;
    let kbs = store::kb::list(&state.store.db).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(kbs.into_iter().map(KnowledgeBaseDto::from).collect(), None)))
}

/// Creates a knowledge base: a unit's (its supervisors, admins) or the
/// institution's (admins, `kb:write` tokens).
#[utoipa::path(
    tag = "knowledge-bases",
    request_body = CreateKnowledgeBase,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = KnowledgeBaseDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/knowledge-bases")]
pub async fn create_knowledge_base(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    auth: Auth,
    body: Json<CreateKnowledgeBase>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let unit_id = body.unit_id.map(UnitId);
    if let Some(unit) = unit_id {
        store::unit::get(&state.store.db, unit).await.map_err(|_| ApiError::field("unit_id", "no such unit"))?;
    }
    require(auth.0.can_manage_kb(unit_id), "only the unit's supervisors and admins may create its knowledge base")?;
    let mut check = Checker::default();
    let slug = check.check(Slug::parse("slug", &body.slug));
    let name = check.check(required_text("name", &body.name, 200));
    let locale = check.check(Locale::parse("locale", body.locale.as_deref().unwrap_or("es")));
    let visibility = check.check(Visibility::parse("visibility", body.visibility.as_deref().unwrap_or("public")));
    let theme = check.check(body.theme.unwrap_or_default().parse("theme"));
    let synonyms = check.check(validate_synonyms("synonyms", &body.synonyms.unwrap_or_default()));
    check.finish()?;
    let (Some(slug), Some(name), Some(locale), Some(visibility), Some(theme), Some(synonyms)) =
        (slug, name, locale, visibility, theme, synonyms)
    else {
        return Err(ApiError::internal("checked values missing"));
    };
    let new = NewKnowledgeBase { unit_id, slug, name, locale, visibility, theme, synonyms };
    super::idempotency::run(&state, &req, &auth.0, || async {
        let kb = store::kb::create(&state.store, &Actor::from(&auth.0), new).await?;
        super::idempotency::created(&KnowledgeBaseDto::from(kb))
    })
    .await
}

#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path)),
    responses((status = 200, body = KnowledgeBaseDto), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/knowledge-bases/{kb_id}")]
pub async fn get_knowledge_base(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    Ok(HttpResponse::Ok().json(KnowledgeBaseDto::from(kb)))
}

/// Changes settings, theme or synonyms (the unit's supervisors, admins).
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path)),
    request_body = UpdateKnowledgeBase,
    responses((status = 200, body = KnowledgeBaseDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[patch("/knowledge-bases/{kb_id}")]
pub async fn update_knowledge_base(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<UpdateKnowledgeBase>,
) -> Result<HttpResponse, ApiError> {
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    require(auth.0.can_manage_kb(kb.unit_id), "only the unit's supervisors and admins may change its knowledge base")?;
    let body = body.0;
    let mut check = Checker::default();
    let patch = KbPatch {
        name: body.name.as_deref().and_then(|n| check.check(required_text("name", n, 200))),
        locale: body.locale.as_deref().and_then(|l| check.check(Locale::parse("locale", l))),
        visibility: body.visibility.as_deref().and_then(|v| check.check(Visibility::parse("visibility", v))),
        theme: body.theme.and_then(|t| check.check(t.parse("theme"))),
        synonyms: body.synonyms.as_deref().and_then(|s| check.check(validate_synonyms("synonyms", s))),
    };
    check.finish()?;
    let kb = store::kb::update(&state.store, &Actor::from(&auth.0), kb.id, patch).await?;
    Ok(HttpResponse::Ok().json(KnowledgeBaseDto::from(kb)))
}

/// Categories, top categories first.
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ListResponse<CategoryDto>), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/knowledge-bases/{kb_id}/categories")]
pub async fn list_categories(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    let categories = store::kb::categories(&state.store.db, kb.id).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(categories.into_iter().map(CategoryDto::from).collect(), None)))
}

#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path)),
    request_body = CreateCategory,
    responses((status = 201, body = CategoryDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[post("/knowledge-bases/{kb_id}/categories")]
pub async fn create_category(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<uuid::Uuid>,
    body: Json<CreateCategory>,
) -> Result<HttpResponse, ApiError> {
    let kb = readable(&state, Some(&auth.0), KbId(path.into_inner())).await?;
    require(auth.0.can_manage_kb(kb.unit_id), "only the unit's supervisors and admins may change its knowledge base")?;
    let body = body.0;
    let mut check = Checker::default();
    let slug = check.check(Slug::parse("slug", &body.slug));
    let name = check.check(required_text("name", &body.name, 200));
    let description = match body.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => check.check(required_text("description", d, 1000)),
        None => Some(String::new()),
    };
    check.finish()?;
    let (Some(slug), Some(name), Some(description)) = (slug, name, description) else {
        return Err(ApiError::internal("checked values missing"));
    };
    let new = NewCategory {
        parent_id: body.parent_id.map(CategoryId),
        slug,
        name,
        description,
        position: body.position.unwrap_or(0),
    };
    let category = store::kb::create_category(&state.store, &Actor::from(&auth.0), &kb, new).await?;
    Ok(HttpResponse::Created().json(CategoryDto::from(category)))
}

/// Deletes a category without subcategories; its articles stay, uncategorised.
#[utoipa::path(
    tag = "knowledge-bases",
    params(("kb_id" = uuid::Uuid, Path), ("category_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []))
)]
#[delete("/knowledge-bases/{kb_id}/categories/{category_id}")]
pub async fn delete_category(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (kb_id, category_id) = path.into_inner();
    let kb = readable(&state, Some(&auth.0), KbId(kb_id)).await?;
    require(auth.0.can_manage_kb(kb.unit_id), "only the unit's supervisors and admins may change its knowledge base")?;
    store::kb::delete_category(&state.store, &Actor::from(&auth.0), &kb, CategoryId(category_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
