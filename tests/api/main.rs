//! API tests: the real server in-process on a random port, on SQLite and on
//! PostgreSQL, driven over HTTP.

mod attachments;
mod attacks;
mod auth;
mod authz;
mod bad_input;
mod canned;
mod cases;
mod channel_email;
mod channel_meta;
mod channel_sms;
mod channel_telegram;
mod channel_webform;
mod channel_whatsapp;
mod consent;
mod contacts;
mod data_requests;
mod delivery;
mod faq_bot;
mod fuzz;
mod jobs;
mod kb;
mod kb_eval;
mod kb_io;
mod kb_meilisearch;
mod media;
mod operations;
mod plugin_runtime;
mod plugins;
mod protocols;
mod reports;
mod routing;
mod saved_views;
mod scale_out;
mod surveys;
mod webchat;
