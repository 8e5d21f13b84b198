//! Database migrations for Ventanilla, valid on SQLite and PostgreSQL.
//!
//! One file per change; never edit a migration that has shipped, add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261123_000002_plugin_versions;
mod m20261123_000003_plugin_installs;
mod m20261123_000004_plugin_runtime;
mod m20261123_000005_knowledge_base;
mod m20261123_000006_channels;
mod m20261123_000007_message_context;
mod m20261123_000008_attachments;
mod m20261129_000009_consent_texts;
mod m20261130_000010_case_slas;
mod m20261130_000011_surveys;
mod m20261130_000012_bot_outcomes;
mod m20261130_000013_job_groups;
mod m20261130_000014_routing;
mod m20261130_000015_canned_responses;
mod m20261130_000016_snooze;
mod m20261130_000017_custom_fields;
mod m20261201_000018_saved_views;
mod m20261201_000019_search_text;
mod m20261206_000020_webchat_visitor;
mod m20261206_000021_attachment_uploads;
mod m20261207_000022_delivery_attempts;
mod m20261207_000023_consent_asking;
mod m20261207_000024_data_requests;
mod m20261207_000025_erasure;
mod m20261207_000026_case_retention;
mod m20261208_000027_case_facts;
mod m20261208_000028_webhook_subscriptions;
mod m20261208_000029_report_schedules;
mod m20261209_000030_audiences;
mod m20261210_000031_segments;
mod m20261210_000032_campaigns;
mod m20261211_000033_channel_templates;
mod m20261212_000034_two_factor_and_sessions;
mod m20261213_000035_single_sign_on;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261123_000002_plugin_versions::Migration),
            Box::new(m20261123_000003_plugin_installs::Migration),
            Box::new(m20261123_000004_plugin_runtime::Migration),
            Box::new(m20261123_000005_knowledge_base::Migration),
            Box::new(m20261123_000006_channels::Migration),
            Box::new(m20261123_000007_message_context::Migration),
            Box::new(m20261123_000008_attachments::Migration),
            Box::new(m20261129_000009_consent_texts::Migration),
            Box::new(m20261130_000010_case_slas::Migration),
            Box::new(m20261130_000011_surveys::Migration),
            Box::new(m20261130_000012_bot_outcomes::Migration),
            Box::new(m20261130_000013_job_groups::Migration),
            Box::new(m20261130_000014_routing::Migration),
            Box::new(m20261130_000015_canned_responses::Migration),
            Box::new(m20261130_000016_snooze::Migration),
            Box::new(m20261130_000017_custom_fields::Migration),
            Box::new(m20261201_000018_saved_views::Migration),
            Box::new(m20261201_000019_search_text::Migration),
            Box::new(m20261206_000020_webchat_visitor::Migration),
            Box::new(m20261206_000021_attachment_uploads::Migration),
            Box::new(m20261207_000022_delivery_attempts::Migration),
            Box::new(m20261207_000023_consent_asking::Migration),
            Box::new(m20261207_000024_data_requests::Migration),
            Box::new(m20261207_000025_erasure::Migration),
            Box::new(m20261207_000026_case_retention::Migration),
            Box::new(m20261208_000027_case_facts::Migration),
            Box::new(m20261208_000028_webhook_subscriptions::Migration),
            Box::new(m20261208_000029_report_schedules::Migration),
            Box::new(m20261209_000030_audiences::Migration),
            Box::new(m20261210_000031_segments::Migration),
            Box::new(m20261210_000032_campaigns::Migration),
            Box::new(m20261211_000033_channel_templates::Migration),
            Box::new(m20261212_000034_two_factor_and_sessions::Migration),
            Box::new(m20261213_000035_single_sign_on::Migration),
        ]
    }
}
