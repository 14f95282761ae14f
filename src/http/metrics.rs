//! `GET /v1/agent/metrics`: the agent's counters, timers and gauges in go-metrics' JSON
//! shape, or Prometheus text with `?format=prometheus`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::ApiError;
use super::query::Query;
use super::respond::{json_plain, text};
use crate::agent::Agent;

/// The answer to `GET /v1/agent/metrics`.
pub fn metrics(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let counters = agent.metrics.counters();
    let samples = agent.metrics.samples();
    let rss = read_rss_bytes();
    let (kv, (nodes, services, _)) = {
        let s = agent.store.read();
        (s.kv_len(), s.catalog_counts())
    };
    let mut gauges: Vec<(&str, f64)> = vec![
        ("consul.runtime.alloc_bytes", rss as f64),
        ("consul.state.kv_entries", kv as f64),
        ("consul.state.nodes", nodes as f64),
        ("consul.state.services", services as f64),
        (
            "consul.agent.uptime_seconds",
            agent.started.elapsed().as_secs_f64(),
        ),
    ];
    let cs = agent.check_stats();
    gauges.push(("consul.agent.checks.runs", cs.runs() as f64));
    for (name, q) in [
        ("consul.agent.checks.schedule_lag_p50_ms", 0.5),
        ("consul.agent.checks.schedule_lag_p99_ms", 0.99),
    ] {
        gauges.push((name, cs.lag_quantile_ms(q).unwrap_or(0.0)));
    }
    gauges.push(("consul.agent.checks.schedule_lag_max_ms", cs.lag_max_ms()));
    if let Some(g) = &agent.gossip {
        use std::sync::atomic::Ordering::Relaxed;
        let st = g.stats();
        let (members, failed, left) = g.counts();
        gauges.extend([
            ("consul.serf.members", members as f64),
            ("consul.serf.member.failed", failed as f64),
            ("consul.serf.member.left", left as f64),
        ]);
        for (name, counter) in [
            ("consul.memberlist.packets_dropped", &st.dropped),
            ("consul.memberlist.packets_malformed", &st.malformed),
            ("consul.memberlist.send_dropped", &st.send_dropped),
            ("consul.memberlist.streams_rejected", &st.rejected_streams),
            ("consul.memberlist.bytes_sent", &st.bytes_sent),
            ("consul.memberlist.bytes_received", &st.bytes_received),
        ] {
            gauges.push((name, counter.load(Relaxed) as f64));
        }
    }
    if q.get("format") == Some("prometheus") {
        let mut out = String::new();
        let prom = |n: &str| n.replace(['.', '-'], "_");
        for (n, v) in &gauges {
            out.push_str(&format!("# TYPE {0} gauge\n{0} {1}\n", prom(n), v));
        }
        for (n, c) in &counters {
            out.push_str(&format!("# TYPE {0} counter\n{0} {1}\n", prom(n), c));
        }
        for (n, s) in &samples {
            let p = prom(n);
            out.push_str(&format!(
                "# TYPE {p} summary\n{p}_sum {}\n{p}_count {}\n",
                s.sum, s.count
            ));
        }
        let mut r = text(StatusCode::OK, out.trim_end());
        r.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return Ok(r);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let body = json!({
        "Timestamp": format!("{now}"),
        "Gauges": gauges.iter().map(|(n, v)| json!({"Name": n, "Value": v, "Labels": {}})).collect::<Vec<_>>(),
        "Points": [],
        "Counters": counters.iter().map(|(n, c)| json!({"Name": n, "Count": c, "Rate": 0.0, "Sum": *c as f64, "Min": 1.0, "Max": 1.0, "Mean": 1.0, "Stddev": 0.0, "Labels": {}})).collect::<Vec<_>>(),
        "Samples": samples.iter().map(|(n, s)| {
            let mean = if s.count > 0 { s.sum / s.count as f64 } else { 0.0 };
            let var = if s.count > 1 { ((s.sum_sq - s.sum * mean) / (s.count as f64 - 1.0)).max(0.0) } else { 0.0 };
            json!({"Name": n, "Count": s.count, "Rate": 0.0, "Sum": s.sum, "Min": s.min, "Max": s.max, "Mean": mean, "Stddev": var.sqrt(), "Labels": {}})
        }).collect::<Vec<_>>(),
    });
    json_plain(&body)
}

/// Resident set size, from `/proc/self/status` (0 elsewhere).
fn read_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
