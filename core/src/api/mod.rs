//! The REST API under `/api/v1`, its OpenAPI document and the docs UI.
//!
//! Handlers parse and authorise; the store does the work in one transaction.
//! Only [`error::ApiError`] turns errors into HTTP.

pub mod article;
pub mod attachment;
pub mod audience;
pub mod audit;
pub mod auth;
pub mod bot_outcome;
pub mod campaign;
pub mod canned;
pub mod case;
pub mod channel_account;
pub mod client;
pub mod consent;
pub mod contact;
pub mod data_request;
pub mod directory;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod kb;
pub mod kb_import;
pub mod kb_search;
pub mod message;
pub mod metrics;
pub mod middleware;
pub mod notification;
pub mod plugin;
pub mod plugin_install;
pub mod principal_cache;
pub mod ratelimit;
pub mod read_log;
pub mod report;
pub mod routing;
pub mod schema;
pub mod segment;
pub mod session;
pub mod sign_in_guard;
pub mod sso;
pub mod state;
pub mod stream;
pub mod stream_slots;
pub mod subscription;
pub mod survey;
pub mod token;
pub mod two_factor;
pub mod unit;
pub mod user;
pub mod view;
pub mod webchat;
pub mod webhook;
pub mod widget;

pub use state::AppState;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ventanilla API",
        description = "Cases, contacts, units and staff of a Ventanilla helpdesk. Errors are RFC 9457 problem+json.",
        license(name = "AGPL-3.0-or-later")
    ),
    servers((url = "/api/v1")),
    paths(
        auth::login, auth::refresh, auth::logout, auth::me,
        sso::providers, sso::start, sso::callback, sso::exchange, directory::list, directory::sync,
        two_factor::status, two_factor::begin, two_factor::confirm, two_factor::renew_recovery, two_factor::disable,
        two_factor::reset, session::list, session::end, session::end_all,
        unit::list_units, unit::create_unit, unit::get_unit, unit::update_unit,
        user::list_users, user::create_user, user::get_user, user::update_user,
        contact::list_contacts, contact::create_contact, contact::get_contact, contact::update_contact,
        contact::add_identity, contact::remove_identity, contact::list_consents, contact::record_consent,
        consent::list_consent_texts, consent::create_consent_text, consent::current_consent_text,
        contact::merge_contacts, contact::list_possible_duplicates,
        audience::get_by_external_id, audience::upsert_contact, audience::import_contacts,
        segment::list_segments, segment::create_segment, segment::preview_segment, segment::get_segment,
        segment::update_segment, segment::delete_segment, segment::segment_members,
        campaign::list_campaigns, campaign::create_campaign, campaign::get_campaign, campaign::update_campaign,
        campaign::test_campaign, campaign::list_recipients, campaign::act_on_campaign, campaign::get_outreach,
        campaign::set_outreach,
        data_request::create_data_request, data_request::list_contact_requests, data_request::list_data_requests,
        data_request::get_data_request, data_request::answer_data_request, data_request::export_data_request,
        data_request::download_export, data_request::erase_data_request, data_request::hold_contact,
        data_request::lift_contact_hold, data_request::hold_case, data_request::lift_case_hold,
        data_request::run_retention,
        case::list_cases, case::create_case, case::get_case, case::update_case, case::add_tag, case::remove_tag,
        case::list_tags, channel_account::list_channel_accounts,
        channel_account::list_provider_templates, channel_account::sync_provider_templates,
        routing::claim_case, routing::transfer_case, routing::list_agents, routing::get_me, routing::set_presence,
        routing::update_agent, stream::stream,
        canned::list_canned, canned::create_canned, canned::update_canned, canned::delete_canned,
        view::list_views, view::create_view, view::update_view, view::delete_view,
        survey::list_surveys, survey::survey_summary,
        report::get_report, report::wallboard, report::list_schedules, report::create_schedule, report::delete_schedule,
        subscription::list_subscriptions, subscription::create_subscription, subscription::get_subscription,
        subscription::update_subscription, subscription::delete_subscription, subscription::list_deliveries,
        subscription::redeliver,
        bot_outcome::list_bot_conversations, bot_outcome::bot_summary,
        message::list_messages, message::create_message, message::retry_message, message::list_failed_deliveries,
        message::list_notes, message::create_note, message::reply_options,
        attachment::upload_attachment, attachment::download_attachment,
        token::list_api_tokens, token::create_api_token, token::revoke_api_token,
        audit::list_audit_events, audit::export_audit_events,
        plugin::upload_plugin, plugin::list_plugins, plugin::get_plugin, plugin::delete_plugin_version,
        plugin_install::create_install, plugin_install::list_installs, plugin_install::get_install,
        plugin_install::update_install, plugin_install::upgrade_install, plugin_install::rollback_install,
        plugin_install::delete_install, plugin_install::test_install, plugin_install::install_health, plugin_install::list_unit_protocols, plugin_install::update_unit_protocol,
        plugin_install::set_secret, plugin_install::delete_secret,
        notification::list_notifications, notification::read_notification,
        kb::list_knowledge_bases, kb::create_knowledge_base, kb::get_knowledge_base, kb::update_knowledge_base,
        kb::list_categories, kb::create_category, kb::delete_category,
        article::list_articles, article::create_article, article::get_article, article::update_article,
        article::list_article_versions, article::restore_article,
        kb_search::search_knowledge_base, kb_search::search_all, kb_search::reindex, kb_search::knowledge_base_analytics,
        kb_import::import_articles, kb_import::export_articles,
        crate::api::webhook::receive_post, crate::api::webhook::receive_get,
        crate::api::webchat::start_session, crate::api::webchat::conversation,
        crate::api::webchat::send_message, crate::api::webchat::leave_email, crate::api::webchat::events,
    ),
    components(schemas(error::Problem, error::FieldError)),
    modifiers(&BearerAuth, &ProblemResponses),
    tags(
        (name = "auth", description = "Sign-in and tokens"),
        (name = "units", description = "Units of the institution"),
        (name = "users", description = "Staff accounts and roles"),
        (name = "contacts", description = "People who write in, their identities and consent"),
        (name = "campaigns", description = "Messages sent first to a segment of people, with their consent"),
        (name = "cases", description = "Cases, their messages, notes and tags"),
        (name = "routing", description = "Queues, agents' presence and capacity, and live events for consoles"),
        (name = "reports", description = "Figures of the cases opened in a period: volumes, times, SLAs, satisfaction, the bot, topics"),
        (name = "webhooks", description = "Event subscriptions: signed webhooks to external systems, their delivery log and dead letters (admins)"),
        (name = "surveys", description = "Satisfaction surveys and bot conversation outcomes, and their figures"),
        (name = "api-tokens", description = "Tokens for external systems"),
        (name = "audit", description = "Who did what"),
        (name = "plugins", description = "WebAssembly plugins (admins)"),
        (name = "notifications", description = "What staff are told"),
        (name = "channels", description = "Provider webhooks, handled by connector plugins"),
        (name = "knowledge-bases", description = "FAQ and articles per unit, and their search"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT or vnt_ API token").build(),
            ),
        );
        components.add_security_scheme(
            "visitor",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("web chat visitor token from POST /webchat/sessions")
                    .build(),
            ),
        );
    }
}

/// Documents errors as they are sent: every error response is
/// `application/problem+json`, and every operation lists the errors any
/// request can meet (malformed input, auth, limits).
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        const COMMON: [(&str, &str); 9] = [
            ("400", "Malformed request: unparseable JSON or query string"),
            ("401", "Missing, expired or invalid credentials"),
            ("403", "Authenticated, but not allowed to do this"),
            ("404", "No such resource, or not visible to the caller"),
            ("413", "Body larger than the configured limit"),
            ("415", "Body is not application/json"),
            ("422", "A field failed validation; `errors` names it"),
            ("429", "Rate limited; see Retry-After"),
            ("500", "Internal error; quote the request id"),
        ];
        let problem = || ContentBuilder::new().schema(Some(RefOr::Ref(Ref::from_schema_name("Problem")))).build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                for (status, response) in responses.iter_mut() {
                    if status.as_str() >= "400"
                        && let RefOr::T(response) = response
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response.content.insert("application/problem+json".into(), content);
                    }
                }
                for (status, description) in COMMON {
                    responses.entry(status.to_owned()).or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content("application/problem+json", problem())
                            .build()
                            .into()
                    });
                }
            }
        }
    }
}

/// The OpenAPI document as served and as committed in openapi/openapi.json.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .route("/api/v1/openapi.json", web::get().to(serve_openapi))
        .service(utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}").url("/api/v1/openapi.json", ApiDoc::openapi()))
        .service(
            web::scope("/api/v1")
                .service(crate::api::webchat::scope())
                .service(auth::login)
                .service(auth::refresh)
                .service(auth::logout)
                .service(auth::me)
                .service(sso::providers)
                .service(sso::start)
                .service(sso::callback)
                .service(sso::exchange)
                .service(directory::list)
                .service(directory::sync)
                .service(two_factor::status)
                .service(two_factor::begin)
                .service(two_factor::confirm)
                .service(two_factor::renew_recovery)
                .service(two_factor::disable)
                .service(two_factor::reset)
                .service(session::list)
                .service(session::end_all)
                .service(session::end)
                .service(unit::list_units)
                .service(unit::create_unit)
                .service(unit::get_unit)
                .service(unit::update_unit)
                .service(user::list_users)
                .service(user::create_user)
                .service(user::get_user)
                .service(user::update_user)
                // Before /contacts/{contact_id}/...: an external id may be any word.
                .service(audience::get_by_external_id)
                .service(audience::upsert_contact)
                .service(
                    web::resource("/contacts/import")
                        .app_data(web::PayloadConfig::new(audience::MAX_IMPORT_BYTES))
                        .route(web::post().to(audience::import_contacts)),
                )
                .service(contact::list_contacts)
                .service(contact::create_contact)
                // Before /segments/{segment_id}.
                .service(segment::preview_segment)
                .service(segment::list_segments)
                .service(segment::create_segment)
                .service(segment::get_segment)
                .service(segment::update_segment)
                .service(segment::delete_segment)
                .service(segment::segment_members)
                .service(campaign::list_campaigns)
                .service(campaign::create_campaign)
                .service(campaign::get_campaign)
                .service(campaign::update_campaign)
                // Before /campaigns/{campaign_id}/{action}.
                .service(campaign::test_campaign)
                .service(campaign::list_recipients)
                .service(campaign::act_on_campaign)
                .service(campaign::get_outreach)
                .service(campaign::set_outreach)
                .service(contact::get_contact)
                .service(contact::update_contact)
                .service(contact::add_identity)
                .service(contact::remove_identity)
                .service(contact::list_consents)
                .service(contact::record_consent)
                .service(consent::list_consent_texts)
                .service(consent::create_consent_text)
                .service(consent::current_consent_text)
                .service(contact::merge_contacts)
                .service(contact::list_possible_duplicates)
                .service(data_request::create_data_request)
                .service(data_request::list_contact_requests)
                .service(data_request::list_data_requests)
                .service(data_request::get_data_request)
                .service(data_request::answer_data_request)
                .service(data_request::export_data_request)
                .service(data_request::download_export)
                .service(data_request::erase_data_request)
                .service(data_request::hold_contact)
                .service(data_request::lift_contact_hold)
                .service(data_request::hold_case)
                .service(data_request::lift_case_hold)
                .service(data_request::run_retention)
                .service(case::list_cases)
                .service(case::create_case)
                .service(case::get_case)
                .service(case::update_case)
                .service(case::add_tag)
                .service(case::remove_tag)
                .service(case::list_tags)
                .service(routing::claim_case)
                .service(routing::transfer_case)
                .service(routing::list_agents)
                .service(routing::get_me)
                .service(routing::set_presence)
                .service(routing::update_agent)
                .service(stream::stream)
                .service(canned::list_canned)
                .service(canned::create_canned)
                .service(canned::update_canned)
                .service(canned::delete_canned)
                .service(view::list_views)
                .service(view::create_view)
                .service(view::update_view)
                .service(view::delete_view)
                .service(report::get_report)
                .service(report::wallboard)
                .service(report::list_schedules)
                .service(report::create_schedule)
                .service(report::delete_schedule)
                .service(subscription::list_subscriptions)
                .service(subscription::create_subscription)
                .service(subscription::get_subscription)
                .service(subscription::update_subscription)
                .service(subscription::delete_subscription)
                .service(subscription::list_deliveries)
                .service(subscription::redeliver)
                .service(survey::survey_summary)
                .service(survey::list_surveys)
                .service(bot_outcome::bot_summary)
                .service(bot_outcome::list_bot_conversations)
                .service(message::list_messages)
                .service(message::create_message)
                .service(message::retry_message)
                .service(message::list_failed_deliveries)
                .service(message::list_notes)
                .service(message::create_note)
                .service(message::reply_options)
                .service(channel_account::list_channel_accounts)
                .service(channel_account::list_provider_templates)
                .service(channel_account::sync_provider_templates)
                .service(attachment::upload_attachment)
                .service(attachment::download_attachment)
                .service(token::list_api_tokens)
                .service(token::create_api_token)
                .service(token::revoke_api_token)
                .service(audit::export_audit_events)
                .service(audit::list_audit_events)
                .service(plugin::upload_plugin)
                .service(plugin::list_plugins)
                .service(plugin::get_plugin)
                .service(plugin::delete_plugin_version)
                .service(plugin_install::create_install)
                .service(plugin_install::list_installs)
                .service(plugin_install::get_install)
                .service(plugin_install::update_install)
                .service(plugin_install::upgrade_install)
                .service(plugin_install::rollback_install)
                .service(plugin_install::delete_install)
                .service(plugin_install::test_install)
                .service(plugin_install::install_health)
                .service(plugin_install::list_unit_protocols)
                .service(plugin_install::update_unit_protocol)
                .service(plugin_install::set_secret)
                .service(plugin_install::delete_secret)
                .service(notification::list_notifications)
                .service(notification::read_notification)
                .service(kb::list_knowledge_bases)
                .service(kb::create_knowledge_base)
                .service(kb::get_knowledge_base)
                .service(kb::update_knowledge_base)
                .service(kb::list_categories)
                .service(kb::create_category)
                .service(kb::delete_category)
                .service(article::list_articles)
                .service(article::create_article)
                .service(article::get_article)
                .service(article::update_article)
                .service(article::list_article_versions)
                .service(article::restore_article)
                .service(kb_search::search_knowledge_base)
                .service(kb_search::search_all)
                .service(kb_search::reindex)
                .service(kb_search::knowledge_base_analytics)
                .service(
                    web::resource("/knowledge-bases/{kb_id}/import")
                        .app_data(web::PayloadConfig::new(kb_import::MAX_IMPORT_BYTES))
                        .route(web::post().to(kb_import::import_articles)),
                )
                .route("/knowledge-bases/{kb_id}/export", web::get().to(kb_import::export_articles))
                .service(
                    web::resource("/webhooks/{install_id}")
                        .route(web::post().to(crate::api::webhook::receive_post))
                        .route(web::get().to(crate::api::webhook::receive_get)),
                ),
        );
}

async fn serve_openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(openapi_json())
}

/// Unknown routes and methods: problem+json, never an HTML page.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    tracing::debug!(path = %req.path(), "no such route");
    ApiError::NotFound("route").error_response()
}

/// Query strings that do not parse: 400 problem+json with serde's reason.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        let message = err.to_string();
        let message = message.strip_prefix("Query deserialize error: ").unwrap_or(&message).to_owned();
        ApiError::BadRequest(format!("invalid query string: {message}")).into()
    })
}

/// Path segments that do not parse (e.g. a bad uuid) are a 404: no such resource.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| ApiError::NotFound("resource").into())
}
