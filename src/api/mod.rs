//! Consul's HTTP API shapes: request bodies (decoded case-insensitively, unknown keys
//! rejected, as Consul does) and response bodies (PascalCase, empty collections never null).

pub mod decode;
pub mod definition;
pub mod duration;
pub mod input;
pub mod output;
