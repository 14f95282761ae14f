//! Frame time of the console with a large cluster's worth of data: 5,000 services, 500
//! members, 5 Raft peers and 5,000 checks, drawn into an off-screen terminal (render plus
//! diff, as a real frame). Run by `scripts/bench.sh tui`.
//!
//! Usage: cargo run --release --example tui_frames [-- SERVICES MEMBERS FRAMES]

use std::time::Instant;

use crossterm::event::{Event, KeyCode};
use disco::tui::app::{App, Update, View};
use disco::tui::model::*;
use disco::tui::theme::Theme;
use disco::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let services = args.first().copied().unwrap_or(5000);
    let members = args.get(1).copied().unwrap_or(500);
    let frames = args.get(2).copied().unwrap_or(500);

    let mut app = App::new("127.0.0.1:8500", Theme::dark());
    app.apply(Update::Connected(Overview {
        datacenter: "dc1".into(),
        node: "node-0".into(),
        server: true,
        version: "1.21.0".into(),
    }));
    app.services = (0..services)
        .map(|i| ServiceRow {
            name: format!("service-{i:05}"),
            tags: vec![format!("team-{}", i % 17), "v2".into()],
            instances: (i % 7 + 1) as u64,
            passing: (i % 7 + 1) as u64 * 2,
            warning: u64::from(i % 53 == 0),
            critical: u64::from(i % 97 == 0),
        })
        .collect();
    app.members = (0..members)
        .map(|i| MemberRow {
            name: format!("node-{i}"),
            address: format!("10.0.{}.{}:8301", i / 250, i % 250),
            status: if i % 61 == 0 { "failed" } else { "alive" }.into(),
            kind: if i < 5 { "server" } else { "client" }.into(),
            build: "1.21.0".into(),
            dc: "dc1".into(),
        })
        .collect();
    app.raft = (0..5)
        .map(|i| RaftRow {
            node: format!("node-{i}"),
            id: format!("00000000-0000-4000-8000-00000000000{i}"),
            address: format!("10.0.0.{i}:8300"),
            leader: i == 0,
            voter: true,
            last_index: 100_000 - i as u64,
        })
        .collect();
    app.checks = (0..services)
        .map(|i| CheckRow {
            node: format!("node-{}", i % members.max(1)),
            id: format!("service:service-{i:05}"),
            name: format!("Service 'service-{i:05}' check"),
            status: if i % 97 == 0 { "critical" } else { "passing" }.into(),
            output: "HTTP GET http://10.0.0.1:8080/health: 200 OK Output: ok".into(),
            service_id: format!("service-{i:05}"),
            service_name: format!("service-{i:05}"),
            kind: "http".into(),
        })
        .collect();

    let mut term = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    println!("| view | frames | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---|---:|---:|---:|---:|");
    for v in [View::Services, View::Members, View::Raft, View::Checks] {
        app.view = v;
        // Warm up (first frame allocates the buffers).
        term.draw(|f| view::draw(f, &app)).expect("draw");
        let mut times = Vec::with_capacity(frames);
        for i in 0..frames {
            // Move the selection as a user scrolling would, so every frame differs.
            let key = if (i / 100) % 2 == 0 {
                KeyCode::Down
            } else {
                KeyCode::Up
            };
            app.on_event(&Event::Key(key.into()));
            let t0 = Instant::now();
            term.draw(|f| view::draw(f, &app)).expect("draw");
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {} ({}) | {frames} | {:.3} | {:.3} | {:.3} |",
            v.title(),
            app.list_len(),
            pct(0.5),
            pct(0.99),
            times[times.len() - 1]
        );
    }
    // A filter typed over the full service list.
    app.view = View::Services;
    app.services.set_filter("team-3".into());
    let t0 = Instant::now();
    for _ in 0..frames {
        term.draw(|f| view::draw(f, &app)).expect("draw");
    }
    println!(
        "| Services filtered /team-3 ({}) | {frames} | {:.3} (mean) | | |",
        app.list_len(),
        t0.elapsed().as_secs_f64() * 1000.0 / frames as f64
    );
}
