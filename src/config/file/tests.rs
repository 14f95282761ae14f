//! The config file reader against Consul-shaped files: values applied, wrong ones named by
//! key and file, unknown keys warned about.

use super::*;

#[test]
fn tutorial_file_applies() {
    let mut cfg = AgentConfig::default();
    let v: Value = serde_json::from_str(
        r#"{"datacenter":"dc1","data_dir":"/tmp/x","log_level":"INFO","server":true,"node_name":"node1","ui":true,
        "bind_addr":"127.0.0.1","client_addr":"0.0.0.0","advertise_addr":"127.0.0.1","bootstrap_expect":3,
        "ports":{"http":8510,"dns":8610,"server":8310,"serf_lan":8311,"serf_wan":8312}}"#,
    )
    .unwrap();
    let w = apply_json(&mut cfg, &v, "consul02.json").unwrap();
    assert!(w.is_empty());
    assert_eq!(cfg.ports.http, 8510);
    assert_eq!(cfg.bootstrap_expect, 3);
    assert_eq!(cfg.log_level, "info");
    assert!(cfg.server && cfg.ui.enabled);
}

#[test]
fn wrong_type_names_key_and_file() {
    let mut cfg = AgentConfig::default();
    let v: Value = serde_json::from_str(r#"{"ports":{"http":"eighty"}}"#).unwrap();
    let e = apply_json(&mut cfg, &v, "a.json").unwrap_err().to_string();
    assert!(e.contains("a.json") && e.contains("ports.http"), "{e}");
}

#[test]
fn unknown_key_warns() {
    let mut cfg = AgentConfig::default();
    let v: Value =
        serde_json::from_str(r#"{"bogus_key":1,"performance":{"raft_multiplier":1}}"#).unwrap();
    let w = apply_json(&mut cfg, &v, "a.json").unwrap();
    assert_eq!(w.len(), 1);
    assert!(w[0].0.contains("bogus_key"));
}

#[test]
fn gossip_keys_apply_and_bad_values_name_the_key() {
    let mut cfg = AgentConfig::default();
    let v: Value = serde_json::from_str(
        r#"{"rejoin_after_leave":true,"retry_interval":"5s","retry_max":3,
        "gossip_lan":{"probe_interval":"2s","probe_timeout":"300ms","suspicion_mult":5,"gossip_nodes":4}}"#,
    )
    .unwrap();
    assert!(apply_json(&mut cfg, &v, "g.json").unwrap().is_empty());
    assert!(cfg.rejoin_after_leave);
    assert_eq!(cfg.retry_interval, std::time::Duration::from_secs(5));
    assert_eq!(cfg.retry_max, 3);
    assert_eq!(cfg.gossip_lan.suspicion_mult, Some(5));
    assert_eq!(
        cfg.gossip_lan.probe_timeout,
        Some(std::time::Duration::from_millis(300))
    );
    let v: Value = serde_json::from_str(r#"{"gossip_lan":{"probe_interval":"soon"}}"#).unwrap();
    let e = apply_json(&mut cfg, &v, "g.json").unwrap_err().to_string();
    assert!(e.contains("gossip_lan.probe_interval"), "{e}");
}

#[test]
fn dns_config_applies_and_bad_values_name_the_key() {
    let mut cfg = AgentConfig::default();
    let v: Value = serde_json::from_str(
        r#"{"discovery_max_stale":"30s","dns_config":{"allow_stale":false,"max_stale":"5s",
        "recursor_timeout":"500ms","recursor_strategy":"random","use_cache":true,
        "cache_max_age":"10s","soa":{"min_ttl":60,"refresh":100,"retry":20,"expire":900}}}"#,
    )
    .unwrap();
    assert!(apply_json(&mut cfg, &v, "d.json").unwrap().is_empty());
    let d = &cfg.dns;
    assert!(!d.allow_stale && d.recursor_random && d.use_cache);
    assert_eq!(d.max_stale, std::time::Duration::from_secs(5));
    assert_eq!(d.recursor_timeout, std::time::Duration::from_millis(500));
    assert_eq!(d.cache_max_age, std::time::Duration::from_secs(10));
    assert_eq!((d.soa_min_ttl, d.soa_timers), (60, [100, 20, 900]));
    assert_eq!(cfg.discovery_max_stale, std::time::Duration::from_secs(30));
    for (bad, key) in [
        (
            r#"{"dns_config":{"recursor_strategy":"fastest"}}"#,
            "dns_config.recursor_strategy",
        ),
        (
            r#"{"dns_config":{"soa":{"expire":-1}}}"#,
            "dns_config.soa.expire",
        ),
        (r#"{"discovery_max_stale":"soon"}"#, "discovery_max_stale"),
    ] {
        let v: Value = serde_json::from_str(bad).unwrap();
        let e = apply_json(&mut cfg, &v, "d.json").unwrap_err().to_string();
        assert!(e.contains(key), "{bad}: {e}");
    }
}

#[test]
fn encrypt_key_is_validated() {
    let mut cfg = AgentConfig {
        dev: true,
        ..AgentConfig::default()
    };
    cfg.encrypt = Some("not a key".into());
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("encrypt"), "{e}");
    cfg.encrypt = Some("AAAAAAAAAAAAAAAAAAAAAA==".into());
    assert!(cfg.validate().is_ok());
}

#[test]
fn security_keys_fail_closed_unless_they_ask_for_nothing() {
    for bad in [
        r#"{"tls": {"grpc": {"verify_incoming": true}}}"#,
        r#"{"tls": {"defaults": {"verify_incomng": true}}}"#,
        r#"{"tls": {"https": {"verify_server_hostname": true}}}"#,
        r#"{"tls_min_version": "TLSv1_1"}"#,
        r#"{"tls": {"defaults": {"tls_cipher_suites": "TLS_RSA_WITH_AES_128_CBC_SHA"}}}"#,
        r#"{"enable_agent_tls_for_checks": true}"#,
        r#"{"auto_encrypt": {"tls": true}}"#,
        r#"{"encrypt_verify_incoming": false}"#,
        r#"{"http_config": {"allow_write_http_from": ["127.0.0.0/8"]}}"#,
        r#"{"acl": {"enabled": true, "tokens": {"bogus": "x"}}}"#,
        r#"{"acl": {"enabeld": true}}"#,
        r#"{"acl": {"default_policy": "maybe"}}"#,
    ] {
        let mut cfg = AgentConfig::default();
        let v: Value = serde_json::from_str(bad).unwrap();
        let e = apply_json(&mut cfg, &v, "sec.json")
            .expect_err(bad)
            .to_string();
        let key = bad.split('"').nth(1).unwrap();
        assert!(e.contains("sec.json") && e.contains(key), "{bad}: {e}");
    }
    // Values that ask for nothing start as before.
    let mut cfg = AgentConfig::default();
    let v: Value = serde_json::from_str(
        r#"{"auto_encrypt": {}, "enable_agent_tls_for_checks": false, "tls": {"defaults": {}},
        "encrypt_verify_incoming": true, "http_config": {"response_headers": {"X": "y"}}}"#,
    )
    .unwrap();
    assert!(apply_json(&mut cfg, &v, "ok.json").unwrap().is_empty());
}

#[test]
fn acl_block_and_legacy_keys_apply() {
    let mut cfg = AgentConfig::default();
    let v: Value = serde_json::from_str(
        r#"{"acl": {"enabled": true, "default_policy": "deny", "down_policy": "deny",
        "enable_token_persistence": true, "token_ttl": "5s",
        "tokens": {"initial_management": "m", "agent": "a", "default": "d"}}}"#,
    )
    .unwrap();
    assert!(apply_json(&mut cfg, &v, "acl.json").unwrap().is_empty());
    assert!(cfg.acl.enabled && cfg.acl.enable_token_persistence);
    assert_eq!(cfg.acl.default_policy, crate::acl::DefaultPolicy::Deny);
    assert_eq!(cfg.acl.token_ttl, std::time::Duration::from_secs(5));
    assert_eq!(cfg.acl.tokens.initial_management.as_deref(), Some("m"));
    assert_eq!(cfg.acl.tokens.default.as_deref(), Some("d"));

    let mut cfg = AgentConfig::default();
    let v: Value = serde_json::from_str(
        r#"{"acl_datacenter": "dc1", "acl_default_policy": "deny", "acl_master_token": "m",
        "acl_token": "d", "acl_agent_master_token": "r"}"#,
    )
    .unwrap();
    let w = apply_json(&mut cfg, &v, "legacy.json").unwrap();
    assert_eq!(w.len(), 5, "{w:?}");
    assert!(w[0].0.contains("deprecated"), "{w:?}");
    assert!(cfg.acl.enabled, "acl_datacenter turns ACLs on");
    assert_eq!(cfg.acl.default_policy, crate::acl::DefaultPolicy::Deny);
    assert_eq!(cfg.acl.tokens.initial_management.as_deref(), Some("m"));
    assert_eq!(cfg.acl.tokens.agent_recovery.as_deref(), Some("r"));
}

#[test]
fn tls_keys_resolve_per_listener_and_legacy_keys_map_with_a_warning() {
    let mut cfg = AgentConfig::default();
    let v: Value = serde_json::from_str(
        r#"{"ca_file": "/ca.pem", "verify_incoming_rpc": true, "verify_server_hostname": true,
            "tls_prefer_server_cipher_suites": true,
            "tls": {"defaults": {"cert_file": "/a.pem", "key_file": "/a-key.pem",
                                 "tls_cipher_suites": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
                    "https": {"cert_file": "/web.pem", "key_file": "/web-key.pem", "tls_min_version": "tls13",
                              "tls_cipher_suites": ""}}}"#,
    )
    .unwrap();
    let warnings = apply_json(&mut cfg, &v, "tls.json").unwrap();
    let text: Vec<String> = warnings.iter().map(|w| w.0.clone()).collect();
    for (old, new) in [
        ("ca_file", "tls.defaults.ca_file"),
        ("verify_incoming_rpc", "tls.internal_rpc.verify_incoming"),
        (
            "verify_server_hostname",
            "tls.internal_rpc.verify_server_hostname",
        ),
    ] {
        let want = format!("The '{old}' field is deprecated. Use the '{new}' field instead.");
        assert!(text.iter().any(|w| w.contains(&want)), "{want}: {text:?}");
    }
    assert!(
        text.iter()
            .any(|w| w.contains("tls_prefer_server_cipher_suites"))
    );
    assert!(text.iter().any(|w| w.contains("'tls13' is deprecated")));

    let rpc = cfg.tls.internal_rpc();
    assert!(rpc.verify_incoming && rpc.verify_server_hostname);
    assert!(
        rpc.verify_outgoing,
        "verify_server_hostname implies verify_outgoing"
    );
    assert_eq!(
        rpc.ca_file.as_deref(),
        Some(std::path::Path::new("/ca.pem"))
    );
    assert_eq!(
        rpc.cert_file.as_deref(),
        Some(std::path::Path::new("/a.pem"))
    );
    assert_eq!(
        rpc.cipher_suites,
        ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"]
    );
    let https = cfg.tls.https();
    assert!(
        !https.verify_incoming,
        "verify_incoming_rpc does not reach HTTPS"
    );
    assert_eq!(
        https.cert_file.as_deref(),
        Some(std::path::Path::new("/web.pem"))
    );
    assert_eq!(
        https.ca_file.as_deref(),
        Some(std::path::Path::new("/ca.pem"))
    );
    assert_eq!(https.min_version, crate::config::tls::TlsVersion::Tls13);

    // A server that verifies incoming RPC needs its own certificate and a CA.
    let mut server = AgentConfig {
        server: true,
        dev: true,
        ..AgentConfig::default()
    };
    server.tls.defaults.verify_incoming = Some(true);
    let e = server.validate().unwrap_err().to_string();
    assert!(
        e.contains("VerifyIncoming set, and no CA certificate provided!"),
        "{e}"
    );
    server.tls.defaults.ca_file = Some("/ca.pem".into());
    let e = server.validate().unwrap_err().to_string();
    assert!(e.contains("no Cert/Key pair provided"), "{e}");
    server.ports.https = 8501;
    server.tls.defaults.cert_file = Some("/a.pem".into());
    server.tls.defaults.key_file = Some("/a-key.pem".into());
    assert!(server.validate().is_ok());
}

#[test]
fn ui_config_turns_the_ui_on_and_moves_it() {
    let apply = |json: &str| {
        let mut cfg = AgentConfig::default();
        let v: Value = serde_json::from_str(json).unwrap();
        apply_json(&mut cfg, &v, "ui.json").map(|w| (cfg, w))
    };
    let (cfg, w) = apply(r#"{}"#).unwrap();
    assert!(w.is_empty());
    assert!(!cfg.ui.served());
    assert_eq!(cfg.ui.content_path, "/ui/");
    let (cfg, w) = apply(
        r#"{"ui_config":{"enabled":true,"content_path":"console-ui","metrics_provider":"prometheus",
        "metrics_proxy":{"base_url":"http://p"},"dashboard_url_templates":{"service":"x"}}}"#,
    )
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert!(cfg.ui.served() && cfg.ui.enabled);
    assert_eq!(cfg.ui.content_path, "/console-ui/");
    // A directory alone turns it on, under either name.
    for json in [
        r#"{"ui_dir":"/srv/ui"}"#,
        r#"{"ui_config":{"dir":"/srv/ui"}}"#,
    ] {
        let (cfg, _) = apply(json).unwrap();
        assert!(cfg.ui.served() && !cfg.ui.enabled, "{json}");
        assert_eq!(cfg.ui.dir, Some(PathBuf::from("/srv/ui")), "{json}");
    }
    // `ui_config` wins over the older names in the same file.
    let (cfg, _) = apply(
        r#"{"ui":true,"ui_dir":"/old","ui_content_path":"/old/",
        "ui_config":{"enabled":false,"dir":"/new","content_path":"/new/"}}"#,
    )
    .unwrap();
    assert!(!cfg.ui.enabled);
    assert_eq!(cfg.ui.dir, Some(PathBuf::from("/new")));
    assert_eq!(cfg.ui.content_path, "/new/");
    for (path, normal) in [
        ("/x", "/x/"),
        ("x/", "/x/"),
        ("//a/b//", "/a/b/"),
        ("", "/ui/"),
    ] {
        let json = format!(r#"{{"ui_config":{{"content_path":"{path}"}}}}"#);
        assert_eq!(apply(&json).unwrap().0.ui.content_path, normal, "{path}");
    }
    let (_, w) = apply(r#"{"ui_config":{"sparkle":1}}"#).unwrap();
    assert!(
        w.len() == 1 && w[0].0.contains("ui_config.sparkle"),
        "{w:?}"
    );
}

#[test]
fn ui_config_errors_name_the_key() {
    for (json, key) in [
        (r#"{"ui_config":"on"}"#, "ui_config"),
        (r#"{"ui_config":{"enabled":"yes"}}"#, "ui_config.enabled"),
        (r#"{"ui_config":{"dir":7}}"#, "ui_config.dir"),
        (
            r#"{"ui_config":{"content_path":"/"}}"#,
            "ui_config.content_path",
        ),
        (
            r#"{"ui_config":{"content_path":"/v1/"}}"#,
            "ui_config.content_path",
        ),
        (
            r#"{"ui_config":{"content_path":"/v1/ui"}}"#,
            "ui_config.content_path",
        ),
        (
            r#"{"ui_config":{"content_path":"/a\"b/"}}"#,
            "ui_config.content_path",
        ),
        (
            r#"{"ui_config":{"content_path":"/a/../b/"}}"#,
            "ui_config.content_path",
        ),
        (r#"{"ui_dir":true}"#, "ui_dir"),
        (r#"{"ui_content_path":"/"}"#, "ui_content_path"),
        (r#"{"ui":"yes"}"#, "ui"),
    ] {
        let mut cfg = AgentConfig::default();
        let v: Value = serde_json::from_str(json).unwrap();
        let e = apply_json(&mut cfg, &v, "ui.json").unwrap_err().to_string();
        assert!(
            e.contains("ui.json") && e.contains(&format!("{key}:")),
            "{json}: {e}"
        );
    }
}

#[test]
fn rpc_client_timeout_applies_and_a_bad_one_names_the_key() {
    use std::time::Duration;
    let mut cfg = AgentConfig::default();
    assert_eq!(cfg.limits.rpc_client_timeout, Duration::from_secs(60));
    let v: Value = serde_json::from_str(r#"{"limits":{"rpc_client_timeout":"15s"}}"#).unwrap();
    apply_json(&mut cfg, &v, "a.json").unwrap();
    assert_eq!(cfg.limits.rpc_client_timeout, Duration::from_secs(15));
    let v: Value = serde_json::from_str(r#"{"limits":{"rpc_client_timeout":"soon"}}"#).unwrap();
    let e = apply_json(&mut cfg, &v, "a.json").unwrap_err().to_string();
    assert!(e.contains("limits.rpc_client_timeout"), "{e}");
}
