//! The HTTP state: the services background work shares, and what only
//! requests need (the token signer, metrics, rate limits, open streams, the
//! webhooks' commit queue). Handlers read services through it as if they
//! were its own fields (`state.store`), by `Deref`.

use std::sync::Arc;

use super::{metrics::Metrics, ratelimit::RateLimiter};
use crate::auth::Jwt;
use crate::services::Services;

/// What every request handler shares.
pub struct AppState {
    pub services: Arc<Services>,
    pub jwt: Jwt,
    pub metrics: Metrics,
    /// Who signed-in users are, for a few seconds (see `principal_cache`).
    pub principals: Arc<super::principal_cache::PrincipalCache>,
    /// Password guesses, per address and per account.
    pub sign_in: super::sign_in_guard::SignInGuard,
    /// Public webhook endpoints: requests per minute per client address.
    pub webhooks_by_ip: RateLimiter,
    /// Posts per hour per address to channel accounts whose connector caps
    /// them (`rules.max_posts_per_ip_per_hour`: web forms), keyed by both.
    pub posts_by_ip: RateLimiter,
    /// The help center and public search: requests per minute per address.
    pub public_by_ip: RateLimiter,
    /// Article feedback: answers per hour per address.
    pub feedback_by_ip: RateLimiter,
    /// Web chat visitors' writes per minute.
    pub webchat_by_visitor: RateLimiter,
    /// Where webhooks wait for their commit.
    pub ingest: Arc<crate::channels::ingest::Committer>,
    /// Live event streams open now, per holder, address and in all.
    pub streams: Arc<super::stream_slots::StreamSlots>,
    /// Web-chat sessions started per address.
    pub webchat_sessions_by_ip: RateLimiter,
    /// Web-chat sessions started on this instance, all addresses together.
    pub webchat_sessions: RateLimiter,
    /// Web-chat conversations (cases) opened per address.
    pub webchat_conversations_by_ip: RateLimiter,
    /// The single sign-on providers and what is known of them.
    pub oidc: Arc<crate::oidc::Oidc>,
    /// Reads of sensitive records written to the audit log (see `read_log`).
    pub reads: super::read_log::ReadLog,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
