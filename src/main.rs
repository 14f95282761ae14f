//! The `disco` binary: the console (`disco tui`) or the command line.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The console is dispatched here, not by the CLI, so neither depends on the other.
    let code = match args.first().map(String::as_str) {
        Some("tui") => disco::tui::run(&args[1..]),
        _ => disco::cli::run(args),
    };
    std::process::exit(code);
}
