//! Ventanilla plugin SDK: the WIT contract and Rust guest helpers for
//! connector, bot and protocol plugins. The contract arrives with the plugin
//! platform; this crate reserves the name and place in the workspace.
#![deny(missing_docs)]
