//! The `disco` command line: Consul's commands, flags and output.
//!
//! [`COMMANDS`] is the one list of commands: dispatch, `disco -h` and each group's usage are
//! read from it. A command is a function `fn(bin, args) -> exit code` in the file of its
//! group, parsing its own flags (the shared `-http-addr` is declared once, in `exec`).

mod acl;
pub mod agent;
mod catalog;
mod event;
mod exec;
mod keyring;
mod kv;
mod lock;
mod maint;
mod members;
mod operator;
mod registrator;
mod services;
pub mod table;
mod template;
mod tls;
mod watch;

/// How a command runs.
#[derive(Clone, Copy)]
enum Run {
    /// A group of subcommands (`kv`, `operator raft`): alone it prints the group's usage.
    Group,
    /// The command itself, given its binary name for usage text and its arguments.
    Exec(fn(&str, &[String]) -> i32),
    /// Run by the binary before the CLI is reached (`tui`, so the CLI does not depend on
    /// the console); listed here for `disco -h`.
    Elsewhere,
}

/// One command: the words naming it, the line its usage list shows, and how it runs.
struct Command {
    words: &'static str,
    summary: &'static str,
    run: Run,
}

const fn cmd(words: &'static str, summary: &'static str, run: Run) -> Command {
    Command {
        words,
        summary,
        run,
    }
}

/// Every command. A top-level entry (one word) is listed by `disco -h`; the entries under
/// a group are listed by the group's usage.
const COMMANDS: &[Command] = &[
    cmd("acl", "Interact with the ACL system", Run::Group),
    cmd(
        "acl bootstrap",
        "Bootstrap the ACL system and create the initial management token",
        Run::Exec(acl::bootstrap),
    ),
    cmd("acl policy", "Manage ACL policies", Run::Group),
    cmd(
        "acl policy create",
        "Create an ACL policy",
        Run::Exec(acl::policy_create),
    ),
    cmd(
        "acl policy delete",
        "Delete an ACL policy",
        Run::Exec(acl::policy_delete),
    ),
    cmd(
        "acl policy list",
        "Lists ACL policies",
        Run::Exec(acl::policy_list),
    ),
    cmd(
        "acl policy read",
        "Read an ACL policy",
        Run::Exec(acl::policy_read),
    ),
    cmd(
        "acl policy update",
        "Update an ACL policy",
        Run::Exec(acl::policy_update),
    ),
    cmd("acl role", "Manage ACL roles", Run::Group),
    cmd(
        "acl role create",
        "Create an ACL role",
        Run::Exec(acl::role_create),
    ),
    cmd(
        "acl role delete",
        "Delete an ACL role",
        Run::Exec(acl::role_delete),
    ),
    cmd(
        "acl role list",
        "Lists ACL roles",
        Run::Exec(acl::role_list),
    ),
    cmd(
        "acl role read",
        "Read an ACL role",
        Run::Exec(acl::role_read),
    ),
    cmd(
        "acl role update",
        "Update an ACL role",
        Run::Exec(acl::role_update),
    ),
    cmd(
        "acl set-agent-token",
        "Assign tokens for the disco agent's usage",
        Run::Exec(acl::set_agent_token),
    ),
    cmd("acl token", "Manage ACL tokens", Run::Group),
    cmd(
        "acl token clone",
        "Clone an ACL token",
        Run::Exec(acl::token_clone),
    ),
    cmd(
        "acl token create",
        "Create an ACL token",
        Run::Exec(acl::token_create),
    ),
    cmd(
        "acl token delete",
        "Delete an ACL token",
        Run::Exec(acl::token_delete),
    ),
    cmd(
        "acl token list",
        "List ACL tokens",
        Run::Exec(acl::token_list),
    ),
    cmd(
        "acl token read",
        "Read an ACL token",
        Run::Exec(acl::token_read),
    ),
    cmd(
        "acl token update",
        "Update an ACL token",
        Run::Exec(acl::token_update),
    ),
    cmd("agent", "Runs a disco agent", Run::Exec(agent_command)),
    cmd("catalog", "Interact with the catalog", Run::Group),
    cmd(
        "catalog datacenters",
        "Lists all known datacenters",
        Run::Exec(catalog::datacenters),
    ),
    cmd(
        "catalog nodes",
        "Lists all nodes in the given datacenter",
        Run::Exec(catalog::nodes),
    ),
    cmd(
        "catalog services",
        "Lists all registered services in a datacenter",
        Run::Exec(catalog::services),
    ),
    cmd("event", "Fire a new event", Run::Exec(event::event)),
    cmd(
        "force-leave",
        "Forces a member of the cluster to enter the left state",
        Run::Exec(members::force_leave),
    ),
    cmd(
        "info",
        "Provides debugging information for operators.",
        Run::Exec(maint::info),
    ),
    cmd(
        "join",
        "Tell disco agent to join cluster",
        Run::Exec(members::join),
    ),
    cmd(
        "keygen",
        "Generates a new encryption key",
        Run::Exec(keygen),
    ),
    cmd(
        "keyring",
        "Manages gossip layer encryption keys",
        Run::Exec(keyring::keyring),
    ),
    cmd("kv", "Interact with the key-value store", Run::Group),
    cmd(
        "kv delete",
        "Removes data from the KV store",
        Run::Exec(kv::delete),
    ),
    cmd(
        "kv export",
        "Exports a tree from the KV store as JSON",
        Run::Exec(kv::export),
    ),
    cmd(
        "kv get",
        "Retrieves or lists data from the KV store",
        Run::Exec(kv::get),
    ),
    cmd(
        "kv import",
        "Imports a tree stored as JSON to the KV store",
        Run::Exec(kv::import),
    ),
    cmd(
        "kv put",
        "Sets or updates data in the KV store",
        Run::Exec(kv::put),
    ),
    cmd(
        "leave",
        "Gracefully leaves the cluster and shuts down",
        Run::Exec(members::leave),
    ),
    cmd(
        "lock",
        "Execute a command holding a lock",
        Run::Exec(lock::lock),
    ),
    cmd(
        "maint",
        "Controls node or service maintenance mode",
        Run::Exec(maint::maint),
    ),
    cmd(
        "members",
        "Lists the members of the cluster",
        Run::Exec(members::members),
    ),
    cmd(
        "operator",
        "Provides cluster-level tools (raft list-peers, transfer-leader, remove-peer)",
        Run::Group,
    ),
    cmd(
        "operator raft",
        "Provides cluster-level tools for disco operators",
        Run::Group,
    ),
    cmd(
        "operator raft list-peers",
        "Display the current Raft peer configuration",
        Run::Exec(operator::list_peers),
    ),
    cmd(
        "operator raft remove-peer",
        "Remove a disco server from the Raft configuration",
        Run::Exec(operator::remove_peer),
    ),
    cmd(
        "operator raft transfer-leader",
        "Transfer Raft leadership to another disco server",
        Run::Exec(operator::transfer_leader),
    ),
    cmd(
        "reload",
        "Triggers the agent to reload configuration files",
        Run::Exec(maint::reload),
    ),
    cmd(
        "registrator",
        "Register running containers' published ports as services (registrator)",
        Run::Exec(registrator::registrator),
    ),
    cmd("services", "Interact with services", Run::Group),
    cmd(
        "services deregister",
        "Deregister services with the local agent",
        Run::Exec(services::deregister),
    ),
    cmd(
        "services register",
        "Register services with the local agent",
        Run::Exec(services::register),
    ),
    cmd(
        "template",
        "Render files from the catalog and KV, re-rendering on change (consul-template)",
        Run::Exec(template::template),
    ),
    cmd(
        "tui",
        "The operator console (attach to an agent, or -dev to run one inside)",
        Run::Elsewhere,
    ),
    cmd(
        "tls",
        "Builtin helpers for creating CAs and certificates",
        Run::Group,
    ),
    cmd("tls ca", "Helpers for CAs", Run::Group),
    cmd(
        "tls ca create",
        "Create a new disco CA",
        Run::Exec(tls::ca_create),
    ),
    cmd("tls cert", "Helpers for certificates", Run::Group),
    cmd(
        "tls cert create",
        "Create a new certificate",
        Run::Exec(tls::cert_create),
    ),
    cmd("version", "Prints the disco version", Run::Exec(version)),
    cmd(
        "watch",
        "Watch for changes in disco",
        Run::Exec(watch::watch),
    ),
];

/// Run the CLI with `args` (without the binary name); returns the exit code.
pub fn run(args: Vec<String>) -> i32 {
    let Some(first) = args.first().map(String::as_str) else {
        eprintln!("{}", usage());
        return 1;
    };
    match first {
        "-version" | "--version" | "-v" => return version("disco version", &args[1..]),
        "-h" | "--help" | "-help" | "help" => {
            quiet_on_closed_pipe();
            println!("{}", usage());
            return 0;
        }
        _ => {}
    }
    let Some((command, depth)) = find(&args) else {
        eprintln!("Unknown command: {first}");
        return 1;
    };
    let rest = &args[depth..];
    match command.run {
        Run::Exec(f) => {
            if command.words != "agent" {
                quiet_on_closed_pipe();
            }
            f(&format!("disco {}", command.words), rest)
        }
        Run::Group => match rest.first() {
            Some(sub) if !sub.starts_with('-') => {
                eprintln!("Unknown command: {} {sub}", command.words);
                1
            }
            _ => {
                eprintln!("{}", group_usage(command.words));
                1
            }
        },
        Run::Elsewhere => {
            eprintln!("disco {}: run by the disco binary", command.words);
            1
        }
    }
}

/// Output piped into `head` ends the process quietly, as a Go binary's does, instead of a
/// panic on the closed stdout. Not for the agent, whose sockets must see EPIPE as an error.
fn quiet_on_closed_pipe() {
    // SAFETY: setting a signal disposition before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The command named by the longest run of leading words of `args`, and how many words
/// it took.
fn find(args: &[String]) -> Option<(&'static Command, usize)> {
    COMMANDS
        .iter()
        .filter_map(|c| {
            let words: Vec<&str> = c.words.split(' ').collect();
            let named =
                words.len() <= args.len() && words.iter().zip(args).all(|(w, a)| *w == a.as_str());
            named.then_some((c, words.len()))
        })
        .max_by_key(|(_, depth)| *depth)
}

/// The entries directly under `prefix` (`""` for the top level), as usage lines.
fn listing(prefix: &str) -> String {
    let depth = if prefix.is_empty() {
        1
    } else {
        prefix.split(' ').count() + 1
    };
    let under: Vec<(&str, &str)> = COMMANDS
        .iter()
        .filter(|c| c.words.split(' ').count() == depth)
        .filter(|c| prefix.is_empty() || c.words.starts_with(&format!("{prefix} ")))
        .map(|c| (c.words.rsplit(' ').next().unwrap_or(c.words), c.summary))
        .collect();
    let width = under.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 4;
    under
        .iter()
        .map(|(n, s)| format!("    {n:<width$} {s}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn usage() -> String {
    format!(
        "Usage: disco [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n{}",
        listing("")
    )
}

fn group_usage(group: &str) -> String {
    format!(
        "Usage: disco {group} <subcommand> [options] [args]\n\nSubcommands:\n{}",
        listing(group)
    )
}

fn agent_command(_bin: &str, args: &[String]) -> i32 {
    agent::run(args)
}

fn version(_bin: &str, _args: &[String]) -> i32 {
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

fn keygen(_bin: &str, args: &[String]) -> i32 {
    if let Some(extra) = args.first() {
        eprintln!("flag provided but not defined: {extra}");
        return 1;
    }
    println!("{}", crate::gossip::generate_key());
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn the_longest_run_of_words_names_the_command() {
        let (c, depth) = find(&words("operator raft list-peers -stale")).expect("found");
        assert_eq!((c.words, depth), ("operator raft list-peers", 3));
        let (c, _) = find(&words("kv bogus")).expect("group");
        assert_eq!(c.words, "kv");
        assert!(find(&words("nonsense")).is_none());
    }

    #[test]
    fn every_command_is_named_once_and_every_subcommand_has_its_group() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(seen.insert(c.words), "{} listed twice", c.words);
            if let Some((group, _)) = c.words.rsplit_once(' ') {
                assert!(
                    COMMANDS
                        .iter()
                        .any(|g| g.words == group && matches!(g.run, Run::Group)),
                    "{} has no group entry",
                    c.words
                );
            }
        }
    }

    #[test]
    fn usage_lists_top_level_commands_and_groups_list_their_own() {
        let top = usage();
        assert!(top.contains("    kv "));
        assert!(!top.contains("kv get"));
        let kv = group_usage("kv");
        assert!(kv.contains("    get "), "{kv}");
        assert!(!kv.contains("members"));
    }
}
