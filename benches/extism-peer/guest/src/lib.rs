//! The logic of the `hostile-bot` benchmark modes, as an Extism plugin.

use extism_pdk::{FnResult, plugin_fn};

/// `echo-plain`: answer with what the person wrote.
#[plugin_fn]
pub fn echo(body: String) -> FnResult<String> {
    Ok(format!("Recibí: {body}"))
}

/// `noop`: nothing at all.
#[plugin_fn]
pub fn noop(_body: String) -> FnResult<String> {
    Ok(String::new())
}
