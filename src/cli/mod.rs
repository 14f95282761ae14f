//! The `disco` command line: Consul's commands, flags and output.

pub mod agent;
mod commands;
pub mod flags;
pub mod table;

/// Run the CLI with `args` (without the binary name); returns the exit code.
pub fn run(args: Vec<String>) -> i32 {
    let Some(cmd) = args.first().map(String::as_str) else {
        eprintln!("{}", usage());
        return 1;
    };
    let rest = &args[1..];
    match cmd {
        "agent" => agent::run(rest),
        "tui" => crate::tui::run(rest),
        "version" | "-version" | "--version" | "-v" => {
            println!(
                "disco v{} (Consul API {})",
                env!("CARGO_PKG_VERSION"),
                crate::agent::CONSUL_VERSION
            );
            println!(
                "Protocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)"
            );
            0
        }
        "keygen" => {
            if let Some(extra) = rest.first() {
                eprintln!("flag provided but not defined: {extra}");
                return 1;
            }
            println!("{}", crate::gossip::generate_key());
            0
        }
        "-h" | "--help" | "-help" | "help" => {
            println!("{}", usage());
            0
        }
        _ => commands::run(cmd, rest),
    }
}

fn usage() -> String {
    "Usage: disco [--version] [--help] <command> [<args>]

Available commands are:
    agent          Runs a disco agent
    catalog        Interact with the catalog
    force-leave    Forces a member of the cluster to enter the left state
    info           Provides debugging information for operators.
    join           Tell disco agent to join cluster
    keygen         Generates a new encryption key
    kv             Interact with the key-value store
    leave          Gracefully leaves the cluster and shuts down
    maint          Controls node or service maintenance mode
    members        Lists the members of the cluster
    operator       Provides cluster-level tools (raft list-peers, transfer-leader, remove-peer)
    reload         Triggers the agent to reload configuration files
    services       Interact with services
    tui            The operator console (attach to an agent, or -dev to run one inside)
    version        Prints the disco version"
        .to_string()
}
