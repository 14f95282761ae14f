//! `disco template` as operators run consul-template: the tutorial's nginx upstream
//! rendered from the catalog and reloaded on change, quiescence, `-once`/`-dry`, SIGHUP,
//! and consul-template's exit codes for every kind of failure, the previous output left
//! as it was.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Agent, wait_for};

fn nginx_bin() -> String {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).exists() {
            return p.to_string();
        }
    }
    panic!("nginx is not installed (apt-get install nginx-light; scripts/test.sh does)");
}

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("disco-t93-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A process group that is killed when the test ends, pass or fail.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let pgid = self.0.id() as i32;
        // SAFETY: a signal to the process group this test created.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> Proc {
    use std::os::unix::process::CommandExt;
    let f = std::fs::File::create(log).unwrap();
    Proc(
        cmd.stdout(Stdio::from(f.try_clone().unwrap()))
            .stderr(Stdio::from(f))
            .process_group(0)
            .spawn()
            .expect("spawn"),
    )
}

fn template_cmd(agent: &Agent, args: &[&str]) -> Command {
    let mut c = Command::new(support::bin());
    c.arg("template")
        .args(["-http-addr", &format!("127.0.0.1:{}", agent.http)])
        .args(args);
    c
}

/// A backend answering every request with its name.
fn backend(name: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                name.len()
            );
        }
    });
    port
}

fn get_through(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET / HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Wait until twelve requests in a row through nginx all reach other backends than
/// `gone` (and all succeed).
fn avoided_by_nginx(front: u16, gone: &str) {
    wait_for(
        &format!("nginx to stop sending to {gone}"),
        Duration::from_secs(30),
        || {
            (0..12)
                .all(|_| get_through(front).is_some_and(|b| b.trim() != gone))
                .then_some(())
        },
    );
}

fn count_lines(p: &Path, needle: &str) -> usize {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

const UPSTREAM: &str = "upstream app {
{{- range service \"web\" }}
  server {{ .Address }}:{{ .Port }};
{{- else }}
  server 127.0.0.1:65535 down;
{{- end }}
}
";

/// nginx on a free port, proxying to `upstream app` from `<work>/upstream.conf`, which
/// starts as a placeholder (one server marked down). Returns the binary, the port and
/// the process.
fn start_nginx(work: &Path) -> (String, u16, Proc) {
    let front = support::free_port();
    let w = work.display().to_string();
    std::fs::write(
        work.join("upstream.conf"),
        "upstream app { server 127.0.0.1:65535 down; }\n",
    )
    .unwrap();
    std::fs::write(
        work.join("nginx.conf"),
        format!(
            "worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {w}/body;
  proxy_temp_path {w}/proxy;
  fastcgi_temp_path {w}/fastcgi;
  uwsgi_temp_path {w}/uwsgi;
  scgi_temp_path {w}/scgi;
  include {w}/upstream.conf;
  server {{
    listen 127.0.0.1:{front};
    location / {{ proxy_pass http://app; proxy_next_upstream error timeout http_502; }}
  }}
}}
"
        ),
    )
    .unwrap();
    let nginx = nginx_bin();
    let ngx = spawn(
        Command::new(&nginx).args([
            "-p",
            &w,
            "-c",
            &format!("{w}/nginx.conf"),
            "-g",
            "daemon off;",
        ]),
        &work.join("nginx.out"),
    );
    wait_for("nginx", Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", front)).ok()
    });
    (nginx, front, ngx)
}

#[test]
fn the_tutorial_nginx_upstream_follows_the_catalog_and_reloads_once_per_change() {
    let agent = Agent::dev("t93ngx");
    let work = workdir("nginx");
    let w = work.display().to_string();
    let (nginx, front, _ngx) = start_nginx(&work);
    std::fs::write(work.join("upstream.ctmpl"), UPSTREAM).unwrap();
    // Test the config before reloading, so a bad render never reaches nginx.
    let reload = format!(
        "{nginx} -p {w} -c {w}/nginx.conf -t -q && {nginx} -p {w} -c {w}/nginx.conf -s reload && echo reload >> {w}/reloads.log"
    );
    let spec = format!("{w}/upstream.ctmpl:{w}/upstream.conf:{reload}");
    let _tpl = spawn(
        &mut template_cmd(
            &agent,
            &[
                "-template",
                &spec,
                "-wait",
                "500ms:3s",
                "-log-level",
                "info",
            ],
        ),
        &work.join("template.log"),
    );
    let upstream = work.join("upstream.conf");
    let reloads = work.join("reloads.log");
    // No instance yet: the placeholder line, and one reload for it.
    wait_for("the first render", Duration::from_secs(30), || {
        (count_lines(&reloads, "reload") == 1).then_some(())
    });
    assert!(
        std::fs::read_to_string(&upstream)
            .unwrap()
            .contains("65535 down")
    );

    let names = ["backend-1", "backend-2", "backend-3"];
    for (i, name) in names.iter().enumerate() {
        let port = backend(name);
        let body = format!(
            r#"{{"Name":"web","ID":"web{}","Port":{port},"Check":{{"TTL":"600s","Status":"passing"}}}}"#,
            i + 1
        );
        let r = agent.put("/v1/agent/service/register", body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    wait_for(
        "three servers in the upstream",
        Duration::from_secs(30),
        || (count_lines(&upstream, "server 127.0.0.1:") == 3).then_some(()),
    );
    // Requests through nginx reach all three.
    let mut seen = std::collections::BTreeSet::new();
    wait_for(
        "nginx to reach every backend",
        Duration::from_secs(30),
        || {
            if let Some(b) = get_through(front) {
                seen.insert(b);
            }
            (seen.len() == 3).then_some(())
        },
    );

    // A change that leaves the output as it was writes nothing and reloads nothing.
    let before = count_lines(&reloads, "reload");
    let mtime = std::fs::metadata(&upstream).unwrap().modified().unwrap();
    agent.put(
        "/v1/agent/service/register",
        format!(
            r#"{{"Name":"web","ID":"web1","Port":{},"Meta":{{"v":"2"}},"Check":{{"TTL":"600s","Status":"passing"}}}}"#,
            std::fs::read_to_string(&upstream)
                .unwrap()
                .lines()
                .find_map(|l| l.trim().strip_prefix("server 127.0.0.1:"))
                .unwrap()
                .trim_end_matches(';')
        )
        .as_bytes(),
    );
    // Past the quiet period and then some: nothing may have changed.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(count_lines(&reloads, "reload"), before);
    assert_eq!(
        std::fs::metadata(&upstream).unwrap().modified().unwrap(),
        mtime
    );

    // One backend's check goes critical: it leaves the upstream with exactly one reload,
    // and nginx stops sending to it.
    let r = agent.put("/v1/agent/check/fail/service:web2", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for(
        "the critical instance to leave",
        Duration::from_secs(30),
        || (count_lines(&upstream, "server 127.0.0.1:") == 2).then_some(()),
    );
    wait_for("the reload", Duration::from_secs(30), || {
        (count_lines(&reloads, "reload") == before + 1).then_some(())
    });
    // `nginx -s reload` only signals the master; old workers serve until the new ones
    // are up. Wait for a run of requests that all avoid the critical backend.
    avoided_by_nginx(front, "backend-2");
    // Deregistering everything falls back to the placeholder, never an empty upstream.
    for id in ["web1", "web2", "web3"] {
        agent.put(&format!("/v1/agent/service/deregister/{id}"), b"");
    }
    wait_for("the placeholder again", Duration::from_secs(30), || {
        std::fs::read_to_string(&upstream)
            .unwrap()
            .contains("65535 down")
            .then_some(())
    });
    let log = std::fs::read_to_string(work.join("nginx-error.log")).unwrap_or_default();
    assert!(!log.contains("[emerg]"), "nginx saw a broken config: {log}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn quiescence_merges_a_burst_into_one_render_and_sighup_rereads_the_template() {
    let agent = Agent::dev("t93wait");
    let work = workdir("wait");
    let w = work.display().to_string();
    std::fs::write(
        work.join("in.ctmpl"),
        "{{ range service \"burst|any\" }}{{ .ID }}\n{{ end }}",
    )
    .unwrap();
    let spec = format!("{w}/in.ctmpl:{w}/out:echo render >> {w}/renders.log");
    let tpl = spawn(
        &mut template_cmd(&agent, &["-template", &spec, "-wait", "3s:30s"]),
        &work.join("template.log"),
    );
    let renders = work.join("renders.log");
    wait_for("the first render", Duration::from_secs(30), || {
        (count_lines(&renders, "render") == 1).then_some(())
    });
    // Twenty registrations well inside the 3 s quiet period: one render.
    let started = Instant::now();
    for i in 0..20 {
        agent.put(
            "/v1/agent/service/register",
            format!(r#"{{"Name":"burst","ID":"burst-{i:02}"}}"#).as_bytes(),
        );
    }
    let burst = started.elapsed();
    wait_for("the burst rendered", Duration::from_secs(60), || {
        (count_lines(&work.join("out"), "burst-") == 20).then_some(())
    });
    // The command runs just after the write: wait for it, then past another quiet
    // period, so a second render of the burst would have shown.
    wait_for("the burst's command", Duration::from_secs(30), || {
        (count_lines(&renders, "render") >= 2).then_some(())
    });
    std::thread::sleep(Duration::from_secs(4));
    if burst < Duration::from_secs(2) {
        assert_eq!(
            count_lines(&renders, "render"),
            2,
            "one render for the whole burst (registered in {burst:?})"
        );
    }
    // SIGHUP: the edited template is read again, without a restart.
    std::fs::write(
        work.join("in.ctmpl"),
        "count={{ service \"burst|any\" | len }}\n",
    )
    .unwrap();
    // SAFETY: a signal to the child this test started.
    unsafe {
        libc::kill(tpl.0.id() as i32, libc::SIGHUP);
    }
    wait_for("the new template", Duration::from_secs(30), || {
        (std::fs::read_to_string(work.join("out")).unwrap_or_default() == "count=20\n")
            .then_some(())
    });
    // SIGTERM stops it with consul-template's interrupt code.
    let mut tpl = tpl;
    unsafe {
        libc::kill(tpl.0.id() as i32, libc::SIGTERM);
    }
    let status = wait_for("exit", Duration::from_secs(30), || {
        tpl.0.try_wait().ok().flatten()
    });
    assert_eq!(status.code(), Some(12));
    let _ = std::fs::remove_dir_all(&work);
}

/// Run `disco template` to the end: exit code and stderr.
fn run_to_end(agent: &Agent, args: &[&str]) -> (i32, String, String) {
    let out = template_cmd(agent, args)
        .args(["-consul-retry-attempts", "2"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn once_dry_config_files_and_every_failure_exit_like_consul_template() {
    let agent = Agent::dev("t93once");
    let work = workdir("once");
    let w = work.display().to_string();
    agent.put("/v1/kv/app/name", b"shop");
    agent.put("/v1/kv/app/limits/conns", b"100");
    agent.put(
        "/v1/agent/service/register",
        br#"{"Name":"api","ID":"api-1","Tags":["v2","blue"],"Port":9000}"#,
    );
    let tmpl = work.join("all.ctmpl");
    std::fs::write(
        &tmpl,
        r#"name={{ key "app/name" }}
{{ range ls "app" }}ls {{ .Key }}={{ .Value }}
{{ end }}{{ range tree "app" }}tree {{ .Key }}
{{ end }}{{ range services }}svc {{ .Name }} {{ join "," .Tags }}
{{ end }}{{ range $t, $s := service "api" | byTag }}tag {{ $t }} {{ len $s }}
{{ end }}{{ with node }}node {{ .Node.Node }} {{ len .Services }}{{ end }}
{{ range nodes }}nodes {{ .Node }}
{{ end }}json={{ service "api" | toJSON | parseJSON | len }}
"#,
    )
    .unwrap();
    let out = work.join("all.out");
    let (code, _, err) = run_to_end(
        &agent,
        &[
            "-once",
            "-template",
            &format!("{}:{}", tmpl.display(), out.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text,
        "name=shop
ls name=shop
tree limits/conns
tree name
svc api blue,v2
svc consul 
tag blue 1
tag v2 1
node t93once 2
nodes t93once
json=1
"
    );

    // -dry prints and writes nothing, runs nothing.
    let dry_out = work.join("dry.out");
    let marker = work.join("ran");
    let (code, stdout, err) = run_to_end(
        &agent,
        &[
            "-once",
            "-dry",
            "-template",
            &format!(
                "{}:{}:touch {}",
                tmpl.display(),
                dry_out.display(),
                marker.display()
            ),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.starts_with(&format!("> {}\nname=shop\n", dry_out.display())),
        "{stdout}"
    );
    assert!(!dry_out.exists() && !marker.exists());

    // A config file: perms and backup honoured.
    std::fs::write(&out, "old").unwrap();
    let cfg = work.join("ct.hcl");
    std::fs::write(
        &cfg,
        format!(
            "template {{\n  contents = \"v={{{{ keyOrDefault \\\"app/none\\\" \\\"7\\\" }}}}\"\n  destination = \"{}\"\n  perms = 0640\n  backup = true\n}}\n",
            out.display()
        ),
    )
    .unwrap();
    let (code, _, err) = run_to_end(&agent, &["-once", "-config", &cfg.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "v=7");
    assert_eq!(
        std::fs::read_to_string(work.join("all.out.bak")).unwrap(),
        "old"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o640
    );

    // Failures: each one line naming the template, the exit code, the old output kept.
    std::fs::write(&out, "previous").unwrap();
    let put = |name: &str, body: &str| {
        let p = work.join(name);
        std::fs::write(&p, body).unwrap();
        format!("{}:{}", p.display(), out.display())
    };
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec!["-template".into(), put("parse.ctmpl", "ok\n{{ if }}")],
            14,
            "parse.ctmpl:2",
        ),
        (
            vec![
                "-template".into(),
                put("args.ctmpl", "{{ keyOrDefault \"x\" }}"),
            ],
            14,
            "keyOrDefault: wrong number of arguments",
        ),
        (
            vec!["-template".into(), put("func.ctmpl", "{{ nosuch \"x\" }}")],
            14,
            "nosuch",
        ),
        (
            vec![
                "-template".into(),
                format!("{w}/ok.ctmpl:{w}/all.out/sub/x"),
            ],
            14,
            "all.out/sub/x",
        ),
        (
            vec![
                "-template".into(),
                format!("{}:false", put("cmd.ctmpl", "fine")),
            ],
            14,
            "non-zero exit status",
        ),
        (
            vec![
                "-template".into(),
                put("dc.ctmpl", "{{ service \"web@nowhere\" }}"),
            ],
            14,
            "health.service(web@nowhere|passing)",
        ),
        (vec!["-bogus".into()], 13, "-bogus"),
        (
            vec![
                "-wait".into(),
                "soon".into(),
                "-template".into(),
                "a:b".into(),
            ],
            13,
            "-wait",
        ),
        (vec![], 15, "no templates"),
    ];
    std::fs::write(work.join("ok.ctmpl"), "fine").unwrap();
    let bad_cfg = work.join("bad.hcl");
    std::fs::write(&bad_cfg, "template {\n  sorce = \"x\"\n}\n").unwrap();
    let mut cases = cases;
    cases.push((
        vec!["-config".into(), bad_cfg.display().to_string()],
        15,
        "template.sorce",
    ));
    for (args, want, needle) in cases {
        // The command case writes its output first (the command runs after the write).
        std::fs::write(&out, "previous").unwrap();
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all = vec!["-once"];
        all.extend(a);
        let (code, _, err) = run_to_end(&agent, &all);
        assert_eq!(code, want, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: wanted {needle:?} in {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        if !needle.contains("non-zero") {
            assert_eq!(
                std::fs::read_to_string(&out).unwrap(),
                "previous",
                "{args:?}"
            );
        }
    }
    // An agent that is not there: retried, then the same code.
    std::fs::write(work.join("key.ctmpl"), "{{ key \"a\" }}").unwrap();
    let gone = Command::new(support::bin())
        .args(["template", "-once", "-http-addr", "127.0.0.1:1"])
        .args(["-consul-retry-attempts", "2"])
        .args(["-template", &format!("{w}/key.ctmpl:{w}/x.out")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&gone.stderr);
    assert_eq!(gone.status.code(), Some(14), "{err}");
    assert!(
        err.contains("kv.block(a)") && err.contains("gave up after 2 attempts"),
        "{err}"
    );
    assert!(!work.join("x.out").exists());
    let _ = std::fs::remove_dir_all(&work);
}

/// Whether a container engine answers; without one the registrator test fails unless
/// `DISCO_NO_DOCKER=1` says the machine has none (scripts/test.sh sets it only when
/// dockerd cannot start).
fn docker_ready() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("DISCO_NO_DOCKER").as_deref() == Ok("1"),
            "no container engine: start dockerd (scripts/test.sh does) or set DISCO_NO_DOCKER=1"
        );
        eprintln!("NOT TESTED: no container engine on this machine (DISCO_NO_DOCKER=1)");
    }
    ok
}

const IMAGE: &str = "disco-test/busybox-web:1";

/// A `FROM scratch` image holding only Debian's static busybox, built locally (no
/// registry is reachable): `docker import` of a one-file root.
fn build_image(work: &Path) {
    let root = work.join("rootfs");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy("/bin/busybox", root.join("busybox"))
        .expect("busybox-static is installed (scripts/test.sh does)");
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C {} -c . | docker import - {IMAGE} >/dev/null",
            root.display()
        ))
        .status()
        .unwrap();
    assert!(st.success(), "docker import");
}

/// Containers removed when the test ends.
struct Containers(Vec<String>);

impl Containers {
    /// A web server answering with its container name, published on a loopback port.
    fn run(&mut self, name: &str, env: &[&str], ports: &[&str]) {
        let mut c = Command::new("docker");
        c.args(["run", "-d", "--name", name]);
        for p in ports {
            c.args(["-p", &format!("127.0.0.1::{p}")]);
        }
        for e in env {
            c.args(["-e", e]);
        }
        c.args([
            IMAGE,
            "/busybox",
            "sh",
            "-c",
            &format!(
                "/busybox mkdir -p /www && /busybox echo {name} > /www/index.html && exec /busybox httpd -f -p 80 -h /www"
            ),
        ]);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.0.push(name.to_string());
    }

    fn stop(&self, name: &str) {
        let st = Command::new("docker")
            .args(["stop", "-t", "1", name])
            .output()
            .unwrap();
        assert!(st.status.success());
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&self.0)
                .output();
        }
    }
}

#[test]
fn the_config_loop_containers_registered_by_registrator_reach_nginx_and_leave_when_stopped() {
    if !docker_ready() {
        return;
    }
    let agent = Agent::dev("t93reg");
    let work = workdir("registrator");
    let w = work.display().to_string();
    build_image(&work);
    let pid = std::process::id();
    let svc = format!("shop{pid}");
    let (nginx, front, _ngx) = start_nginx(&work);
    std::fs::write(
        work.join("upstream.ctmpl"),
        UPSTREAM.replace("service \"web\"", &format!("service \"{svc}\"")),
    )
    .unwrap();
    let reload = format!(
        "{nginx} -p {w} -c {w}/nginx.conf -t -q && {nginx} -p {w} -c {w}/nginx.conf -s reload"
    );
    let _tpl = spawn(
        &mut template_cmd(
            &agent,
            &[
                "-template",
                &format!("{w}/upstream.ctmpl:{w}/upstream.conf:{reload}"),
                "-wait",
                "500ms:3s",
            ],
        ),
        &work.join("template.log"),
    );
    let registrator = |log: &str| {
        let mut c = Command::new(support::bin());
        c.args([
            "registrator",
            "-verbose",
            "-hostname",
            &format!("t93-{pid}"),
        ])
        .arg(format!("consul://127.0.0.1:{}", agent.http));
        spawn(&mut c, &work.join(log))
    };
    let reg = registrator("registrator.log");
    let mut containers = Containers(Vec::new());
    let name = |i: u32| format!("t93-{pid}-c{i}");
    let env_name = format!("SERVICE_NAME={svc}");
    let env = [
        env_name.as_str(),
        "SERVICE_CHECK_TCP=true",
        "SERVICE_CHECK_INTERVAL=1s",
    ];
    for i in 1..=3 {
        containers.run(&name(i), &env, &["80"]);
    }
    let upstream = work.join("upstream.conf");
    wait_for(
        "three containers in the upstream",
        Duration::from_secs(60),
        || (count_lines(&upstream, "server 127.0.0.1:") == 3).then_some(()),
    );
    let mut seen = std::collections::BTreeSet::new();
    wait_for(
        "nginx to reach every container",
        Duration::from_secs(60),
        || {
            if let Some(b) = get_through(front) {
                seen.insert(b.trim().to_string());
            }
            (seen.len() == 3).then_some(())
        },
    );
    assert_eq!(seen, (1..=3).map(name).collect());
    // Registrator's IDs: host, container, port.
    let ids = agent.get("/v1/agent/services").json();
    assert!(
        ids.get(format!("t93-{pid}:{}:80", name(1))).is_some(),
        "{ids}"
    );

    // A stopped container leaves the upstream, and nginx stops sending to it.
    containers.stop(&name(2));
    wait_for(
        "the stopped container to leave",
        Duration::from_secs(60),
        || (count_lines(&upstream, "server 127.0.0.1:") == 2).then_some(()),
    );
    avoided_by_nginx(front, &name(2));

    // Registrator restarts: what changed while it was down is found by the resync.
    drop(reg);
    containers.stop(&name(3));
    containers.run(&name(4), &env, &["80"]);
    let _reg = registrator("registrator2.log");
    wait_for("the resync", Duration::from_secs(60), || {
        let text = std::fs::read_to_string(&upstream).unwrap_or_default();
        let ports: Vec<String> = agent
            .get(&format!("/v1/catalog/service/{svc}"))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ServiceID"].as_str().unwrap().to_string())
            .collect();
        (count_lines(&upstream, "server 127.0.0.1:") == 2
            && ports.iter().any(|p| p.contains(&name(4)))
            && !ports.iter().any(|p| p.contains(&name(3))))
        .then_some(text)
    });
    let mut seen = std::collections::BTreeSet::new();
    wait_for(
        "nginx to reach the new container",
        Duration::from_secs(60),
        || {
            if let Some(b) = get_through(front) {
                seen.insert(b.trim().to_string());
            }
            seen.contains(&name(4)).then_some(())
        },
    );

    // Several published ports and no name: the image's name with the port.
    containers.run(&name(5), &["SERVICE_TAGS=multi"], &["80", "8080"]);
    wait_for("both ports registered", Duration::from_secs(60), || {
        let services = agent.get("/v1/catalog/services").json();
        (services.get("busybox-web-80").is_some() && services.get("busybox-web-8080").is_some())
            .then_some(())
    });
    let log = std::fs::read_to_string(work.join("nginx-error.log")).unwrap_or_default();
    assert!(!log.contains("[emerg]"), "nginx saw a broken config: {log}");
    drop(containers);
    let _ = std::fs::remove_dir_all(&work);
}
