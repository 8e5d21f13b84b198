//! What background work needs — job handlers, deliveries, plugin events,
//! routing, the live hub — and nothing of HTTP: the store, search, the plugin
//! host with its runtime and the key that opens secrets, kept files, the live
//! hub, send pacing, and the configuration. The HTTP state (`api::AppState`)
//! holds one of these and adds what only requests need (rate limits, the
//! token signer, metrics); workers never see those.

use std::sync::Arc;

use crate::config::Config;
use crate::store::Store;

pub struct Services {
    pub store: Store,
    pub config: Arc<Config>,
    /// Knowledge-base search, shared by every surface.
    pub search: Arc<crate::search::Search>,
    pub plugins: crate::plugins::PluginHost,
    pub runtime: crate::plugins::runtime::Runtime,
    /// Seals and opens plugin install secrets.
    pub secrets: crate::secrets::SecretBox,
    /// Kept files and the links to them.
    pub attachments: crate::attachments::Attachments,
    /// Live events for the consoles connected to this instance.
    pub live: Arc<crate::live::Hub>,
    /// Spaces sends per channel account.
    pub pacer: crate::plugins::pace::Pacer,
}
