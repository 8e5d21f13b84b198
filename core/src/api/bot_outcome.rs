//! What the bots' conversations came to, for reports: per conversation the
//! article answered with, the search's confidence and the outcome
//! (`confirmed`, `answered`, `handed_off`, `unanswered`, or `abandoned`
//! when left unanswered and quiet), and a summary. Scoped like cases.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::case::require_case_reader;
use super::error::{ApiError, Problem};
use super::extract::Auth;
use super::schema::ListResponse;
use crate::api::AppState;
use crate::domain::UnitId;
use crate::store::{self, bot_outcome::BotOutcome};

#[derive(Serialize, ToSchema)]
pub struct BotConversationDto {
    pub case_id: uuid::Uuid,
    /// The bot install that answered.
    pub install_id: uuid::Uuid,
    pub unit_id: uuid::Uuid,
    #[schema(example = "webchat")]
    pub channel: String,
    /// `confirmed`, `answered`, `handed_off`, `unanswered` or `abandoned`.
    #[schema(example = "confirmed")]
    pub outcome: String,
    /// The article the bot answered with last.
    pub article_id: Option<uuid::Uuid>,
    /// How sure the search was (0 to 1).
    pub confidence: Option<f32>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn dto(o: BotOutcome, now: DateTime<Utc>) -> BotConversationDto {
    BotConversationDto {
        outcome: store::bot_outcome::shown(&o, now).to_owned(),
        case_id: o.case_id,
        install_id: o.install_id,
        unit_id: o.unit_id,
        channel: o.channel,
        article_id: o.article_id,
        confidence: o.confidence,
        started_at: o.created_at,
        updated_at: o.updated_at,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BotQuery {
    pub unit_id: Option<uuid::Uuid>,
    /// Conversations started at or after this time.
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
}

async fn load(state: &AppState, auth: &Auth, query: &BotQuery) -> Result<Vec<BotOutcome>, ApiError> {
    require_case_reader(&auth.0)?;
    let scope = auth.0.case_units();
    let unit = query.unit_id.map(UnitId);
    Ok(store::bot_outcome::list(&state.store.db, scope.as_deref(), unit, query.started_after, query.started_before)
        .await?)
}

/// Bot conversations, newest first.
#[utoipa::path(
    tag = "surveys",
    params(BotQuery),
    responses((status = 200, body = ListResponse<BotConversationDto>), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/bot-conversations")]
pub async fn list_bot_conversations(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<BotQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = store::now();
    let rows = load(&state, &auth, &query).await?;
    Ok(HttpResponse::Ok().json(ListResponse::new(rows.into_iter().map(|o| dto(o, now)).collect(), None)))
}

#[derive(Serialize, ToSchema)]
pub struct BotSummary {
    pub conversations: usize,
    /// Conversations per outcome.
    pub outcomes: BTreeMap<String, usize>,
    /// Share the bot resolved itself (`confirmed` + `answered`).
    pub containment_rate: Option<f64>,
    /// Mean confidence of the answers given.
    pub average_confidence: Option<f64>,
    /// The articles answered with most, with how many conversations each.
    pub top_articles: Vec<ArticleCount>,
}

#[derive(Serialize, ToSchema)]
pub struct ArticleCount {
    pub article_id: uuid::Uuid,
    pub conversations: usize,
}

/// The bots in figures: conversations per outcome, containment and the
/// articles answered with most.
#[utoipa::path(
    tag = "surveys",
    params(BotQuery),
    responses((status = 200, body = BotSummary), (status = 403, body = Problem)),
    security(("bearer" = []))
)]
#[get("/bot-conversations/summary")]
pub async fn bot_summary(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<BotQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = store::now();
    let rows = load(&state, &auth, &query).await?;
    let mut outcomes: BTreeMap<String, usize> = ["confirmed", "answered", "handed_off", "unanswered", "abandoned"]
        .iter()
        .map(|o| ((*o).to_owned(), 0))
        .collect();
    let mut articles: BTreeMap<uuid::Uuid, usize> = BTreeMap::new();
    let (mut confidence_sum, mut answers) = (0.0f64, 0usize);
    for row in &rows {
        *outcomes.entry(store::bot_outcome::shown(row, now).to_owned()).or_default() += 1;
        if let Some(article) = row.article_id {
            *articles.entry(article).or_default() += 1;
        }
        if let (Some(c), true) = (row.confidence, row.article_id.is_some()) {
            confidence_sum += f64::from(c);
            answers += 1;
        }
    }
    let contained = outcomes["confirmed"] + outcomes["answered"];
    let mut top: Vec<ArticleCount> =
        articles.into_iter().map(|(article_id, conversations)| ArticleCount { article_id, conversations }).collect();
    top.sort_by(|a, b| b.conversations.cmp(&a.conversations).then(a.article_id.cmp(&b.article_id)));
    top.truncate(10);
    Ok(HttpResponse::Ok().json(BotSummary {
        conversations: rows.len(),
        containment_rate: (!rows.is_empty()).then(|| contained as f64 / rows.len() as f64),
        average_confidence: (answers > 0).then(|| confidence_sum / answers as f64),
        outcomes,
        top_articles: top,
    }))
}
