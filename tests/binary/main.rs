//! Tests of the real `ventanilla` binary: start-up, configuration errors,
//! the admin command, and durability across SIGKILL.

mod channels;
mod durability;
mod search_index;
mod startup;
