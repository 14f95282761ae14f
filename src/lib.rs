//! disco: service discovery, health checking and configuration in one binary, speaking
//! Consul's HTTP API and command line.

pub mod acl;
pub mod agent;
pub mod api;
pub mod checks;
pub mod cli;
pub mod client;
pub mod config;
pub mod consensus;
pub mod dns;
pub mod filter;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod goflag;
pub mod gossip;
pub mod http;
pub mod logging;
pub mod registrator;
pub mod rpc;
pub mod state;
pub mod template;
pub mod theme;
pub mod tls;
pub mod tui;
