//! `disco template`: consul-template's job built in. Templates in Go's text/template
//! language read the catalog, health and KV through consul-template's functions; each
//! query is followed with blocking queries; a template is written (atomically, only when
//! its text changed) once every query it needs has answered, and its command runs after.
//!
//! It runs as its own process beside nginx or whatever it configures, talking to any
//! agent over HTTP, as consul-template does: the host it renders on is rarely a server,
//! and a render loop inside the agent would share the agent's fate and privileges.

pub mod config;
pub mod deps;
pub mod funcs;
pub mod render;
pub mod runner;

pub use config::{RunConfig, TemplateSpec, Wait};
pub use runner::{Mode, exit, run};
