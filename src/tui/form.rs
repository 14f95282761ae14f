//! The register form: tui-input fields. Each field's text is parsed here (a port, a list,
//! a check written as a URL, host:port or duration); the definition it makes is then
//! validated by the agent's own [`service_from`], so the form refuses exactly what the
//! API refuses, with its message, before anything is sent.

use crossterm::event::Event;
use serde_json::{Map, Value, json};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use crate::api::decode::decode_value;
use crate::api::definition::service_from;
use crate::api::input::{SERVICE_SCHEMA, ServiceDefinitionIn};

/// Field labels, in tab order.
pub const LABELS: [&str; 8] = [
    "Name", "ID", "Address", "Port", "Tags", "Meta", "Check", "Interval",
];

/// What each field takes, shown under the form.
pub const HINTS: [&str; 8] = [
    "service name (required)",
    "instance ID (default: the name)",
    "IP or host name (default: the node's)",
    "0-65535",
    "comma-separated: web,v2",
    "comma-separated k=v: env=prod,team=core",
    "http(s)://host/path → HTTP, host:port → TCP, a duration like 30s → TTL",
    "how often HTTP/TCP checks run (default 10s)",
];

const NAME: usize = 0;
const ID: usize = 1;
const ADDRESS: usize = 2;
const PORT: usize = 3;
const TAGS: usize = 4;
const META: usize = 5;
const CHECK: usize = 6;
const INTERVAL: usize = 7;

/// The form's state.
#[derive(Debug, Clone, Default)]
pub struct RegisterForm {
    /// One input per label.
    pub inputs: [Input; 8],
    /// Focused field.
    pub focus: usize,
    /// Per-field error from the last validation.
    pub errors: [Option<String>; 8],
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

impl RegisterForm {
    /// An empty form focused on Name.
    pub fn new() -> RegisterForm {
        RegisterForm::default()
    }

    /// Move focus forward (Tab), wrapping.
    pub fn next(&mut self) {
        self.focus = (self.focus + 1) % LABELS.len();
    }

    /// Move focus back (Shift-Tab), wrapping.
    pub fn prev(&mut self) {
        self.focus = (self.focus + LABELS.len() - 1) % LABELS.len();
    }

    /// Give a key or paste event to the focused field.
    pub fn handle(&mut self, ev: &Event) {
        self.inputs[self.focus].handle_event(ev);
        self.errors[self.focus] = None;
    }

    /// Set a field's text (tests, and the palette's `:register NAME`).
    pub fn set(&mut self, field: usize, value: &str) {
        self.inputs[field] = Input::new(value.to_string());
    }

    fn value(&self, field: usize) -> &str {
        self.inputs[field].value().trim()
    }

    /// Validate every field; on success the `agent/service/register` body, otherwise
    /// the errors are set, focus moves to the first bad field, and `None` is returned.
    pub fn submit(&mut self) -> Option<Value> {
        self.errors = Default::default();
        let vals: Vec<String> = (0..LABELS.len())
            .map(|i| self.value(i).to_string())
            .collect();
        let mut body = Map::new();
        let name = vals[NAME].as_str();
        if name.is_empty() {
            self.errors[NAME] = Some("required".into());
        } else {
            body.insert("Name".into(), json!(name));
        }
        let id = vals[ID].as_str();
        if !id.is_empty() {
            body.insert("ID".into(), json!(id));
        }
        let address = vals[ADDRESS].as_str();
        if address.contains(char::is_whitespace) {
            self.errors[ADDRESS] = Some("no spaces".into());
        } else if !address.is_empty() {
            body.insert("Address".into(), json!(address));
        }
        let port = vals[PORT].as_str();
        if !port.is_empty() {
            match port.parse::<u16>() {
                Ok(p) => {
                    body.insert("Port".into(), json!(p));
                }
                Err(_) => self.errors[PORT] = Some("a number 0-65535".into()),
            }
        }
        let tags = split_list(vals[TAGS].as_str());
        if !tags.is_empty() {
            body.insert("Tags".into(), json!(tags));
        }
        let mut meta = Map::new();
        for pair in split_list(vals[META].as_str()) {
            match pair.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    meta.insert(k.trim().into(), json!(v.trim()));
                }
                _ => {
                    self.errors[META] = Some(format!("{pair:?} is not key=value"));
                    break;
                }
            }
        }
        if !meta.is_empty() {
            body.insert("Meta".into(), Value::Object(meta));
        }
        let check = vals[CHECK].as_str();
        let interval = vals[INTERVAL].as_str();
        let interval_ok = interval.is_empty()
            || crate::api::duration::parse_go(interval).is_some_and(|d| !d.is_zero());
        if !interval_ok {
            self.errors[INTERVAL] = Some("a duration like 10s".into());
        }
        let interval = if interval.is_empty() { "10s" } else { interval };
        if !check.is_empty() {
            let def = if check.starts_with("http://") || check.starts_with("https://") {
                Some(json!({"HTTP": check, "Interval": interval}))
            } else if let Some((host, port)) = check.rsplit_once(':')
                && !host.is_empty()
                && port.parse::<u16>().is_ok()
            {
                Some(json!({"TCP": check, "Interval": interval}))
            } else if crate::api::duration::parse_go(check).is_some_and(|d| !d.is_zero()) {
                Some(json!({"TTL": check}))
            } else {
                self.errors[CHECK] = Some("a URL, host:port or a duration".into());
                None
            };
            if let Some(d) = def {
                body.insert("Check".into(), d);
            }
        }
        let body = Value::Object(body);
        if self.errors.iter().all(Option::is_none)
            && let Err(e) = validate(&body)
        {
            let field = field_of(&e);
            self.errors[field] = Some(e);
        }
        if let Some(first) = self.errors.iter().position(Option::is_some) {
            self.focus = first;
            return None;
        }
        Some(body)
    }
}

/// Check a register body as `PUT /v1/agent/service/register` would; the API's message.
fn validate(body: &Value) -> Result<(), String> {
    let def: ServiceDefinitionIn = decode_value(&SERVICE_SCHEMA, body.clone()).map_err(|e| e.0)?;
    // The node name only fills the rows; script checks are never made by the form.
    service_from(&def, "", true).map(|_| ()).map_err(|e| e.0)
}

/// The field an API message is about (its messages start with what they refuse).
fn field_of(message: &str) -> usize {
    if message.starts_with("Invalid service address") {
        ADDRESS
    } else if message.starts_with("Invalid Service Meta") {
        META
    } else if message.contains("Interval") {
        INTERVAL
    } else if message.starts_with("Invalid check") || message.contains("TTL") {
        CHECK
    } else {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_form_becomes_a_registration() {
        let mut f = RegisterForm::new();
        f.set(NAME, "web");
        f.set(ID, "web-1");
        f.set(ADDRESS, "10.0.0.5");
        f.set(PORT, "8080");
        f.set(TAGS, "v2, blue ,");
        f.set(META, "env=prod,team=core");
        f.set(CHECK, "http://10.0.0.5:8080/health");
        f.set(INTERVAL, "5s");
        let body = f.submit().expect("valid");
        assert_eq!(
            body,
            json!({"Name":"web","ID":"web-1","Address":"10.0.0.5","Port":8080,
                "Tags":["v2","blue"],"Meta":{"env":"prod","team":"core"},
                "Check":{"HTTP":"http://10.0.0.5:8080/health","Interval":"5s"}})
        );
    }

    #[test]
    fn check_kinds_follow_the_text() {
        let mut f = RegisterForm::new();
        f.set(NAME, "db");
        f.set(CHECK, "127.0.0.1:5432");
        assert_eq!(
            f.submit().unwrap()["Check"],
            json!({"TCP":"127.0.0.1:5432","Interval":"10s"})
        );
        f.set(CHECK, "30s");
        assert_eq!(f.submit().unwrap()["Check"], json!({"TTL":"30s"}));
    }

    #[test]
    fn invalid_fields_are_marked_and_focused() {
        let mut f = RegisterForm::new();
        f.set(PORT, "http");
        f.set(META, "novalue");
        f.set(CHECK, "sometimes");
        f.set(INTERVAL, "often");
        f.focus = INTERVAL;
        assert!(f.submit().is_none());
        assert_eq!(f.errors[NAME].as_deref(), Some("required"));
        assert!(f.errors[PORT].is_some());
        assert!(f.errors[META].is_some());
        assert!(f.errors[CHECK].is_some());
        assert!(f.errors[INTERVAL].is_some());
        assert!(f.errors[ID].is_none());
        assert_eq!(f.focus, NAME);
    }

    #[test]
    fn the_api_rules_apply_with_the_api_message() {
        let mut f = RegisterForm::new();
        f.set(NAME, "web");
        f.set(META, "consul-version=1");
        assert!(f.submit().is_none());
        assert_eq!(
            f.errors[META].as_deref(),
            Some(
                "Invalid Service Meta: Key prefix 'consul-' is reserved for internal use: \"consul-version\""
            )
        );
        assert_eq!(f.focus, META);
        f.set(META, &format!("k={}", "v".repeat(513)));
        assert!(f.submit().is_none());
        assert!(
            f.errors[META]
                .as_deref()
                .is_some_and(|e| e.contains("too long"))
        );
        let many: Vec<String> = (0..65).map(|i| format!("k{i}=v")).collect();
        f.set(META, &many.join(","));
        assert!(f.submit().is_none());
        assert!(f.errors[META].as_deref().is_some_and(|e| e.contains("64")));
        f.set(META, "");
        f.set(ADDRESS, "0.0.0.0");
        assert!(f.submit().is_none());
        assert_eq!(
            f.errors[ADDRESS].as_deref(),
            Some("Invalid service address \"0.0.0.0\"")
        );
    }

    #[test]
    fn tab_order_wraps() {
        let mut f = RegisterForm::new();
        f.prev();
        assert_eq!(f.focus, INTERVAL);
        f.next();
        assert_eq!(f.focus, NAME);
    }
}
