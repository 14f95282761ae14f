//! `disco acl ...`: the bootstrap, policies, tokens, roles and the agent's tokens, with
//! Consul's flags and its pretty output (or `-format json`).

use clap::Args;
use serde_json::{Value, json};

use super::exec::{CmdResult, client_command};
use crate::api::acl::{Link, NodeIdentityJson, PolicyOut, RoleOut, ServiceIdentityJson, TokenOut};
use crate::client::Client;

/// `-format`.
#[derive(Args, Debug)]
pub struct FormatFlag {
    /// Output format: pretty or json.
    #[arg(long, default_value = "pretty")]
    format: String,
}

fn want_json(f: &FormatFlag) -> Result<bool, String> {
    match f.format.as_str() {
        "pretty" => Ok(false),
        "json" => Ok(true),
        other => Err(format!(
            "Invalid format \"{other}\": must be one of pretty, json"
        )),
    }
}

fn print_json(v: &impl serde::Serialize) -> CmdResult {
    let s = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    println!("{s}");
    Ok(0)
}

/// RFC 3339 as Go's `time.Time` prints it: `2018-12-06 18:03:23.742699239 +0000 UTC`.
fn go_time(rfc3339: &str) -> String {
    let t = rfc3339.trim_end_matches('Z').replacen('T', " ", 1);
    let t = match t.split_once('.') {
        Some((secs, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                secs.to_string()
            } else {
                format!("{secs}.{frac}")
            }
        }
        None => t,
    };
    format!("{t} +0000 UTC")
}

fn token_pretty(t: &TokenOut) -> String {
    let mut s = format!(
        "AccessorID:       {}\nSecretID:         {}\nDescription:      {}\nLocal:            {}\nCreate Time:      {}\n",
        t.accessor_id,
        t.secret_id,
        t.description,
        t.local,
        go_time(&t.create_time)
    );
    if let Some(e) = &t.expiration_time {
        s.push_str(&format!("Expiration Time:  {}\n", go_time(e)));
    }
    links(&mut s, "Policies", &t.policies);
    links(&mut s, "Roles", &t.roles);
    identities(&mut s, &t.service_identities, &t.node_identities);
    s
}

fn links(s: &mut String, title: &str, l: &[Link]) {
    if l.is_empty() {
        return;
    }
    s.push_str(&format!("{title}:\n"));
    for x in l {
        s.push_str(&format!("   {} - {}\n", x.id, x.name));
    }
}

fn identities(s: &mut String, sv: &[ServiceIdentityJson], nv: &[NodeIdentityJson]) {
    if !sv.is_empty() {
        s.push_str("Service Identities:\n");
        for i in sv {
            let dcs = if i.datacenters.is_empty() {
                "all".to_string()
            } else {
                i.datacenters.join(", ")
            };
            s.push_str(&format!("   {} (Datacenters: {dcs})\n", i.service_name));
        }
    }
    if !nv.is_empty() {
        s.push_str("Node Identities:\n");
        for i in nv {
            s.push_str(&format!(
                "   {} (Datacenter: {})\n",
                i.node_name, i.datacenter
            ));
        }
    }
}

fn policy_pretty(p: &PolicyOut) -> String {
    format!(
        "ID:           {}\nName:         {}\nDescription:  {}\nDatacenters:  {}\nRules:\n{}\n",
        p.id,
        p.name,
        p.description,
        p.datacenters.join(", "),
        p.rules.as_deref().unwrap_or_default()
    )
}

fn role_pretty(r: &RoleOut) -> String {
    let mut s = format!(
        "ID:           {}\nName:         {}\nDescription:  {}\n",
        r.id, r.name, r.description
    );
    links(&mut s, "Policies", &r.policies);
    identities(&mut s, &r.service_identities, &r.node_identities);
    s
}

async fn call<T: serde::de::DeserializeOwned>(
    cl: &Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    what: &str,
) -> Result<T, String> {
    let bytes = body.map(|b| b.to_string().into_bytes());
    let (code, out) = cl
        .send(method, path, bytes)
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    if code == 404 {
        return Err(format!(
            "{what}: Unexpected response code: 404 ({})",
            String::from_utf8_lossy(&out).trim()
        ));
    }
    serde_json::from_slice(&out).map_err(|e| format!("{what}: decoding response: {e}"))
}

/// `@file`, `-` (stdin) or the text itself, as Consul's `-rules` takes it.
fn read_rules(v: &str) -> Result<String, String> {
    if let Some(path) = v.strip_prefix('@') {
        return std::fs::read_to_string(path)
            .map_err(|e| format!("Failed to read rules from {path}: {e}"));
    }
    if v == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("Failed to read rules from stdin: {e}"))?;
        return Ok(s);
    }
    Ok(v.to_string())
}

// ---- bootstrap, agent tokens ----

/// `disco acl bootstrap`.
pub fn bootstrap(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: FormatFlag, _| async move {
        let json = want_json(&f)?;
        let t: TokenOut = call(
            &cl,
            reqwest::Method::PUT,
            "/v1/acl/bootstrap",
            None,
            "Failed ACL bootstrapping",
        )
        .await?;
        if json {
            return print_json(&t);
        }
        print!("{}", token_pretty(&t));
        Ok(0)
    })
}

/// Flags of a command without flags of its own.
#[derive(Args, Debug)]
pub struct Nothing {}

/// `disco acl set-agent-token TYPE TOKEN`.
pub fn set_agent_token(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, _: Nothing, args| async move {
        let [kind, token] = args.as_slice() else {
            return Err("Missing TYPE and TOKEN arguments".into());
        };
        cl.send(
            reqwest::Method::PUT,
            &format!("/v1/agent/token/{kind}"),
            Some(json!({ "Token": token }).to_string().into_bytes()),
        )
        .await
        .map_err(|e| format!("Failed to set ACL token: {e}"))?;
        println!("ACL token {kind:?} set successfully");
        Ok(0)
    })
}

// ---- policies ----

/// Flags of `disco acl policy create|update`.
#[derive(Args, Debug)]
pub struct PolicyFlags {
    /// The policy's ID (update).
    #[arg(long)]
    id: Option<String>,
    /// The policy's name.
    #[arg(long)]
    name: Option<String>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
    /// The rules: text, @file or - for stdin.
    #[arg(long)]
    rules: Option<String>,
    /// A datacenter the policy is valid in (repeatable).
    #[arg(long = "valid-datacenter")]
    valid_datacenter: Vec<String>,
    #[command(flatten)]
    format: FormatFlag,
}

fn print_policy(p: &PolicyOut, json: bool) -> CmdResult {
    if json {
        return print_json(p);
    }
    print!("{}", policy_pretty(p));
    Ok(0)
}

/// `disco acl policy create`.
pub fn policy_create(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: PolicyFlags, _| async move {
        let json = want_json(&f.format)?;
        let name = f
            .name
            .filter(|n| !n.is_empty())
            .ok_or("Missing required '-name' flag")?;
        let rules = f
            .rules
            .as_deref()
            .map(read_rules)
            .transpose()?
            .unwrap_or_default();
        let body = json!({"Name": name, "Description": f.description.unwrap_or_default(),
                          "Rules": rules, "Datacenters": f.valid_datacenter});
        let p: PolicyOut = call(
            &cl,
            reqwest::Method::PUT,
            "/v1/acl/policy",
            Some(body),
            "Failed to create new policy",
        )
        .await?;
        print_policy(&p, json)
    })
}

/// The policy or role (`kind`) that `-id` or `-name` names, read.
async fn find<T: serde::de::DeserializeOwned>(
    cl: &Client,
    kind: &str,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<T, String> {
    let (path, what) = match (id.filter(|s| !s.is_empty()), name.filter(|s| !s.is_empty())) {
        (Some(id), _) => (format!("/v1/acl/{kind}/{id}"), id),
        (None, Some(n)) => (
            format!("/v1/acl/{kind}/name/{}", crate::api::path_escape(n)),
            n,
        ),
        (None, None) => return Err("Must specify either the -id or -name parameters".into()),
    };
    call(
        cl,
        reqwest::Method::GET,
        &path,
        None,
        &format!("Error reading {kind} {what:?}"),
    )
    .await
}

async fn find_policy(
    cl: &Client,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<PolicyOut, String> {
    find(cl, "policy", id, name).await
}

/// `disco acl policy read`.
pub fn policy_read(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: PolicyFlags, _| async move {
        let json = want_json(&f.format)?;
        let p = find_policy(&cl, f.id.as_deref(), f.name.as_deref()).await?;
        print_policy(&p, json)
    })
}

/// `disco acl policy update`.
pub fn policy_update(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: PolicyFlags, _| async move {
        let json = want_json(&f.format)?;
        let old = find_policy(&cl, f.id.as_deref(), None).await?;
        let rules = match f.rules.as_deref() {
            Some(r) => read_rules(r)?,
            None => old.rules.clone().unwrap_or_default(),
        };
        let dcs = if f.valid_datacenter.is_empty() {
            old.datacenters.clone()
        } else {
            f.valid_datacenter.clone()
        };
        let body = json!({"ID": old.id, "Name": f.name.unwrap_or(old.name.clone()),
                          "Description": f.description.unwrap_or(old.description.clone()),
                          "Rules": rules, "Datacenters": dcs});
        let p: PolicyOut = call(
            &cl,
            reqwest::Method::PUT,
            &format!("/v1/acl/policy/{}", old.id),
            Some(body),
            &format!("Error updating policy {:?}", old.id),
        )
        .await?;
        print_policy(&p, json)
    })
}

/// `disco acl policy delete`.
pub fn policy_delete(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: PolicyFlags, _| async move {
        let p = find_policy(&cl, f.id.as_deref(), f.name.as_deref()).await?;
        let _: Value = call(
            &cl,
            reqwest::Method::DELETE,
            &format!("/v1/acl/policy/{}", p.id),
            None,
            &format!("Error deleting policy {:?}", p.id),
        )
        .await?;
        println!("Policy {:?} deleted successfully", p.id);
        Ok(0)
    })
}

/// `disco acl policy list`.
pub fn policy_list(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: FormatFlag, _| async move {
        let json = want_json(&f)?;
        let list: Vec<PolicyOut> = call(
            &cl,
            reqwest::Method::GET,
            "/v1/acl/policies",
            None,
            "Failed to retrieve the policy list",
        )
        .await?;
        if json {
            return print_json(&list);
        }
        for p in list {
            println!(
                "{}:\n   ID:           {}\n   Description:  {}\n   Datacenters:  {}",
                p.name,
                p.id,
                p.description,
                p.datacenters.join(", ")
            );
        }
        Ok(0)
    })
}

// ---- tokens ----

/// Flags of `disco acl token ...`.
#[derive(Args, Debug)]
pub struct TokenFlags {
    /// The token's accessor ID (read, update, clone, delete).
    #[arg(long)]
    id: Option<String>,
    /// Read the token the command runs with.
    #[arg(long = "self", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    own: Option<bool>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
    /// A policy by name (repeatable).
    #[arg(long = "policy-name")]
    policy_name: Vec<String>,
    /// A policy by ID (repeatable).
    #[arg(long = "policy-id")]
    policy_id: Vec<String>,
    /// A role by name (repeatable).
    #[arg(long = "role-name")]
    role_name: Vec<String>,
    /// A role by ID (repeatable).
    #[arg(long = "role-id")]
    role_id: Vec<String>,
    /// A service identity, `NAME[:DC1,DC2]` (repeatable).
    #[arg(long = "service-identity")]
    service_identity: Vec<String>,
    /// A node identity, `NAME:DC` (repeatable).
    #[arg(long = "node-identity")]
    node_identity: Vec<String>,
    /// Valid only in this datacenter.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    local: Option<bool>,
    /// Expire after this long (`1h`).
    #[arg(long = "expires-ttl")]
    expires_ttl: Option<String>,
    /// Choose the accessor ID.
    #[arg(long)]
    accessor: Option<String>,
    /// Choose the secret.
    #[arg(long)]
    secret: Option<String>,
    /// Update: keep the token's policies and add these.
    #[arg(long = "merge-policies", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    merge_policies: Option<bool>,
    #[command(flatten)]
    format: FormatFlag,
}

fn policy_links(f: &TokenFlags) -> Vec<Value> {
    f.policy_id
        .iter()
        .map(|id| json!({"ID": id}))
        .chain(f.policy_name.iter().map(|n| json!({"Name": n})))
        .collect()
}

fn service_identities(v: &[String]) -> Vec<Value> {
    v.iter()
        .map(|s| match s.split_once(':') {
            Some((name, dcs)) => json!({"ServiceName": name,
                "Datacenters": dcs.split(',').filter(|d| !d.is_empty()).collect::<Vec<_>>()}),
            None => json!({"ServiceName": s}),
        })
        .collect()
}

fn node_identities(v: &[String]) -> Result<Vec<Value>, String> {
    v.iter()
        .map(|s| match s.split_once(':') {
            Some((name, dc)) => Ok(json!({"NodeName": name, "Datacenter": dc})),
            None => Err(format!(
                "Malformed -node-identity argument: {s:?} (expected NAME:DATACENTER)"
            )),
        })
        .collect()
}

fn print_token(t: &TokenOut, json: bool) -> CmdResult {
    if json {
        return print_json(t);
    }
    print!("{}", token_pretty(t));
    Ok(0)
}

/// `disco acl token create`.
pub fn token_create(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: TokenFlags, _| async move {
        let json = want_json(&f.format)?;
        let mut body = json!({
            "Description": f.description.clone().unwrap_or_default(),
            "Policies": policy_links(&f),
            "Roles": f.role_id.iter().map(|id| json!({"ID": id}))
                .chain(f.role_name.iter().map(|n| json!({"Name": n}))).collect::<Vec<_>>(),
            "ServiceIdentities": service_identities(&f.service_identity),
            "NodeIdentities": node_identities(&f.node_identity)?,
            "Local": f.local.unwrap_or(false),
        });
        for (k, v) in [
            ("ExpirationTTL", &f.expires_ttl),
            ("AccessorID", &f.accessor),
            ("SecretID", &f.secret),
        ] {
            if let Some(v) = v {
                body[k] = json!(v);
            }
        }
        let t: TokenOut = call(
            &cl,
            reqwest::Method::PUT,
            "/v1/acl/token",
            Some(body),
            "Failed to create new token",
        )
        .await?;
        print_token(&t, json)
    })
}

async fn read_token(cl: &Client, f: &TokenFlags) -> Result<TokenOut, String> {
    if f.own.unwrap_or(false) {
        return call(
            cl,
            reqwest::Method::GET,
            "/v1/acl/token/self",
            None,
            "Error reading token",
        )
        .await;
    }
    let id =
        f.id.as_deref()
            .filter(|s| !s.is_empty())
            .ok_or("Must specify the -id parameter")?;
    call(
        cl,
        reqwest::Method::GET,
        &format!("/v1/acl/token/{id}"),
        None,
        &format!("Error reading token {id:?}"),
    )
    .await
}

/// `disco acl token read`.
pub fn token_read(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: TokenFlags, _| async move {
        let json = want_json(&f.format)?;
        let t = read_token(&cl, &f).await?;
        print_token(&t, json)
    })
}

/// `disco acl token update`.
pub fn token_update(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: TokenFlags, _| async move {
        let json = want_json(&f.format)?;
        let old = read_token(&cl, &f).await?;
        let mut policies: Vec<Value> = if f.merge_policies.unwrap_or(false) {
            old.policies.iter().map(|p| json!({"ID": p.id})).collect()
        } else {
            Vec::new()
        };
        let given = policy_links(&f);
        let keep_old = given.is_empty() && !f.merge_policies.unwrap_or(false);
        if keep_old {
            policies = old.policies.iter().map(|p| json!({"ID": p.id})).collect();
        }
        policies.extend(given);
        let body = json!({
            "AccessorID": old.accessor_id,
            "Description": f.description.clone().unwrap_or(old.description.clone()),
            "Policies": policies,
            "Roles": old.roles.iter().map(|r| json!({"ID": r.id})).collect::<Vec<_>>(),
            "ServiceIdentities": old.service_identities,
            "NodeIdentities": old.node_identities,
            "Local": old.local,
        });
        let t: TokenOut = call(
            &cl,
            reqwest::Method::PUT,
            &format!("/v1/acl/token/{}", old.accessor_id),
            Some(body),
            &format!("Failed to update token {}", old.accessor_id),
        )
        .await?;
        print_token(&t, json)
    })
}

/// `disco acl token clone`.
pub fn token_clone(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: TokenFlags, _| async move {
        let json = want_json(&f.format)?;
        let id =
            f.id.clone()
                .filter(|s| !s.is_empty())
                .ok_or("Must specify the -id parameter")?;
        let t: TokenOut = call(
            &cl,
            reqwest::Method::PUT,
            &format!("/v1/acl/token/{id}/clone"),
            Some(json!({"Description": f.description.clone().unwrap_or_default()})),
            "Failed to clone token",
        )
        .await?;
        print_token(&t, json)
    })
}

/// `disco acl token delete`.
pub fn token_delete(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: TokenFlags, _| async move {
        let id =
            f.id.clone()
                .filter(|s| !s.is_empty())
                .ok_or("Must specify the -id parameter")?;
        let _: Value = call(
            &cl,
            reqwest::Method::DELETE,
            &format!("/v1/acl/token/{id}"),
            None,
            &format!("Error deleting token {id:?}"),
        )
        .await?;
        println!("Token {id:?} deleted successfully");
        Ok(0)
    })
}

/// `disco acl token list`.
pub fn token_list(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: FormatFlag, _| async move {
        let json = want_json(&f)?;
        let list: Vec<TokenOut> = call(
            &cl,
            reqwest::Method::GET,
            "/v1/acl/tokens",
            None,
            "Failed to retrieve the token list",
        )
        .await?;
        if json {
            return print_json(&list);
        }
        let blocks: Vec<String> = list.iter().map(token_pretty).collect();
        print!("{}", blocks.join("\n"));
        Ok(0)
    })
}

// ---- roles ----

/// Flags of `disco acl role ...`.
#[derive(Args, Debug)]
pub struct RoleFlags {
    /// The role's ID.
    #[arg(long)]
    id: Option<String>,
    /// The role's name.
    #[arg(long)]
    name: Option<String>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
    /// A policy by name (repeatable).
    #[arg(long = "policy-name")]
    policy_name: Vec<String>,
    /// A policy by ID (repeatable).
    #[arg(long = "policy-id")]
    policy_id: Vec<String>,
    /// A service identity, `NAME[:DC1,DC2]` (repeatable).
    #[arg(long = "service-identity")]
    service_identity: Vec<String>,
    /// A node identity, `NAME:DC` (repeatable).
    #[arg(long = "node-identity")]
    node_identity: Vec<String>,
    #[command(flatten)]
    format: FormatFlag,
}

fn print_role(r: &RoleOut, json: bool) -> CmdResult {
    if json {
        return print_json(r);
    }
    print!("{}", role_pretty(r));
    Ok(0)
}

async fn find_role(cl: &Client, id: Option<&str>, name: Option<&str>) -> Result<RoleOut, String> {
    find(cl, "role", id, name).await
}

fn role_body(f: &RoleFlags, name: &str, description: &str) -> Result<Value, String> {
    Ok(json!({
        "Name": name,
        "Description": description,
        "Policies": f.policy_id.iter().map(|id| json!({"ID": id}))
            .chain(f.policy_name.iter().map(|n| json!({"Name": n}))).collect::<Vec<_>>(),
        "ServiceIdentities": service_identities(&f.service_identity),
        "NodeIdentities": node_identities(&f.node_identity)?,
    }))
}

/// `disco acl role create`.
pub fn role_create(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: RoleFlags, _| async move {
        let json = want_json(&f.format)?;
        let name = f
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or("Missing required '-name' flag")?;
        let body = role_body(&f, &name, f.description.as_deref().unwrap_or_default())?;
        let r: RoleOut = call(
            &cl,
            reqwest::Method::PUT,
            "/v1/acl/role",
            Some(body),
            "Failed to create new role",
        )
        .await?;
        print_role(&r, json)
    })
}

/// `disco acl role read`.
pub fn role_read(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: RoleFlags, _| async move {
        let json = want_json(&f.format)?;
        let r = find_role(&cl, f.id.as_deref(), f.name.as_deref()).await?;
        print_role(&r, json)
    })
}

/// `disco acl role update`: the flags given replace the role's; the rest is kept.
pub fn role_update(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: RoleFlags, _| async move {
        let json = want_json(&f.format)?;
        let old = find_role(&cl, f.id.as_deref(), None).await?;
        let name = f.name.clone().unwrap_or(old.name.clone());
        let description = f.description.clone().unwrap_or(old.description.clone());
        let mut body = role_body(&f, &name, &description)?;
        body["ID"] = json!(old.id);
        if f.policy_id.is_empty() && f.policy_name.is_empty() {
            body["Policies"] = json!(
                old.policies
                    .iter()
                    .map(|p| json!({"ID": p.id}))
                    .collect::<Vec<_>>()
            );
        }
        if f.service_identity.is_empty() {
            body["ServiceIdentities"] = json!(old.service_identities);
        }
        if f.node_identity.is_empty() {
            body["NodeIdentities"] = json!(old.node_identities);
        }
        let r: RoleOut = call(
            &cl,
            reqwest::Method::PUT,
            &format!("/v1/acl/role/{}", old.id),
            Some(body),
            &format!("Error updating role {:?}", old.id),
        )
        .await?;
        print_role(&r, json)
    })
}

/// `disco acl role delete`.
pub fn role_delete(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: RoleFlags, _| async move {
        let r = find_role(&cl, f.id.as_deref(), f.name.as_deref()).await?;
        let _: Value = call(
            &cl,
            reqwest::Method::DELETE,
            &format!("/v1/acl/role/{}", r.id),
            None,
            &format!("Error deleting role {:?}", r.id),
        )
        .await?;
        println!("Role {:?} deleted successfully", r.id);
        Ok(0)
    })
}

/// `disco acl role list`.
pub fn role_list(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, |cl: Client, f: FormatFlag, _| async move {
        let json = want_json(&f)?;
        let list: Vec<RoleOut> = call(
            &cl,
            reqwest::Method::GET,
            "/v1/acl/roles",
            None,
            "Failed to retrieve the role list",
        )
        .await?;
        if json {
            return print_json(&list);
        }
        let blocks: Vec<String> = list.iter().map(role_pretty).collect();
        print!("{}", blocks.join("\n"));
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_prints_them() {
        assert_eq!(
            go_time("2018-12-06T18:03:23.742699230Z"),
            "2018-12-06 18:03:23.74269923 +0000 UTC"
        );
        assert_eq!(
            go_time("2018-12-06T18:03:23.000000000Z"),
            "2018-12-06 18:03:23 +0000 UTC"
        );
    }

    #[test]
    fn identities_parse_consul_s_flag_forms() {
        assert_eq!(
            service_identities(&["web:dc1,dc2".into(), "db".into()]),
            vec![
                json!({"ServiceName": "web", "Datacenters": ["dc1", "dc2"]}),
                json!({"ServiceName": "db"})
            ]
        );
        assert!(node_identities(&["n1".into()]).is_err());
        assert_eq!(
            node_identities(&["n1:dc1".into()]).unwrap(),
            vec![json!({"NodeName": "n1", "Datacenter": "dc1"})]
        );
    }
}
