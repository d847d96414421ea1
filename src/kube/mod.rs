//! Kubernetes through kube-rs. Rhai is synchronous, so this module owns a tokio runtime (made on
//! first use, one thread) and exposes blocking calls: each request runs under a timeout, is
//! retried with backoff when the server is briefly unavailable (connection refused, 429 with its
//! Retry-After, 5xx), and is raced against the cancel flag so Ctrl-C stops it at once.
//!
//! Objects are handled generically (`DynamicObject` with the resource from a built-in table or
//! from discovery), so built-in kinds and custom resources go through the same code.

pub mod bindings;
pub mod builders;
pub mod copy;
pub mod error;
pub mod machines;
pub mod manager;
pub mod registry;
pub mod resource;
pub mod stream;
pub mod traefik;
pub mod wait;
pub mod ws;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ::kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use ::kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use serde_json::Value;

use crate::exec::CancelToken;
use error::{KubeError, Result};
use resource::Kind;
use wait::Condition;

/// Timeout of one request when `kubernetes_config` sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Objects per list request when `kubernetes_config` sets no `page_size`.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// Retries after the first attempt for retryable failures.
const MAX_RETRIES: u32 = 4;
/// First backoff; it doubles per retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest Retry-After honoured (longer ones are cut to this).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Log lines a crash-loop error carries.
const LAST_LOG_LINES: i64 = 20;
/// The field manager of herodo's server-side applies.
pub const FIELD_MANAGER: &str = "herodo";

/// The tokio runtime behind the blocking calls, created on first use.
#[derive(Default)]
pub struct Runtime {
    rt: OnceLock<std::result::Result<tokio::runtime::Runtime, String>>,
}

impl Runtime {
    fn get(&self) -> Result<&tokio::runtime::Runtime> {
        self.rt
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| KubeError::Other(format!("cannot start the async runtime: {e}")))
    }

    /// Run `fut` to completion, or stop with `cancelled` as soon as the cancel flag is set.
    pub fn block<T>(
        &self,
        cancel: &CancelToken,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let rt = self.get()?;
        rt.block_on(async {
            tokio::select! {
                r = fut => r,
                _ = cancelled(cancel) => Err(KubeError::Cancelled),
            }
        })
    }
}

async fn cancelled(cancel: &CancelToken) {
    while !cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What `kubernetes_config` may override; `None` = from the environment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub timeout: Option<Duration>,
    /// Objects per list request (default 500).
    pub page_size: Option<u32>,
}

/// How a server-side apply is sent.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplyOptions {
    pub field_manager: String,
    /// Take over fields other managers own instead of failing with `conflict`.
    pub force: bool,
    /// `dryRun=All`: the server checks and answers, and stores nothing.
    pub dry_run: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            field_manager: FIELD_MANAGER.into(),
            force: true,
            dry_run: false,
        }
    }
}

/// A connection to one cluster: the client, the server's address and the default namespace.
pub struct Cluster {
    rt: std::sync::Arc<Runtime>,
    client: ::kube::Client,
    /// What the client was made from (a port-forward makes its own client from it).
    config: ::kube::Config,
    pub server: String,
    pub context: String,
    pub namespace: String,
    pub timeout: Duration,
    /// Objects per list request.
    pub page_size: u32,
    cancel: CancelToken,
    /// Kinds found by discovery, by the name they were asked for.
    kinds: Mutex<HashMap<String, Kind>>,
}

fn kubeconfig_error(path: &str, e: KubeconfigError) -> KubeError {
    let reason = match e {
        KubeconfigError::ReadConfig(source, _) => match source.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_string(),
            _ => format!("cannot be read: {source}"),
        },
        KubeconfigError::Parse(e) => format!("is not valid YAML: {e}"),
        KubeconfigError::CurrentContextNotSet => {
            "has no current-context: name one with kubernetes_config(#{context: \"...\"})".into()
        }
        KubeconfigError::LoadContext(c) => format!("has no context {c}"),
        KubeconfigError::LoadClusterOfContext(c) => format!("has no cluster {c}"),
        KubeconfigError::MissingClusterUrl => "names a cluster without a server URL".into(),
        other => other.to_string(),
    };
    KubeError::Config(format!("{path} {reason}"))
}

/// The kubeconfig in use: `explicit`, else $KUBECONFIG (a list of files), else ~/.kube/config.
/// `None` when there is none (then the in-cluster environment is tried).
fn read_kubeconfig(explicit: Option<&PathBuf>) -> Result<Option<(Kubeconfig, String)>> {
    if let Some(p) = explicit {
        let shown = p.display().to_string();
        return Kubeconfig::read_from(p)
            .map(|k| Some((k, shown.clone())))
            .map_err(|e| kubeconfig_error(&shown, e));
    }
    if let Some(v) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let shown = format!("KUBECONFIG={}", v.to_string_lossy());
        return Kubeconfig::from_env()
            .map(|k| k.map(|k| (k, shown.clone())))
            .map_err(|e| kubeconfig_error(&shown, e));
    }
    let Some(home) = dirs::home_dir() else {
        return Ok(None);
    };
    let p = home.join(".kube/config");
    if !p.exists() {
        return Ok(None);
    }
    read_kubeconfig(Some(&p))
}

impl Cluster {
    /// Load the configuration and build a client. Makes no request.
    pub fn connect(
        rt: std::sync::Arc<Runtime>,
        opts: &ConnectOptions,
        cancel: CancelToken,
    ) -> Result<Cluster> {
        let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let (mut config, context) = match read_kubeconfig(opts.kubeconfig.as_ref())? {
            Some((kc, shown)) => {
                let context = opts
                    .context
                    .clone()
                    .or_else(|| kc.current_context.clone())
                    .ok_or_else(|| {
                        kubeconfig_error(&shown, KubeconfigError::CurrentContextNotSet)
                    })?;
                if !kc.contexts.iter().any(|c| c.name == context) {
                    let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
                    return Err(KubeError::Config(format!(
                        "{shown} has no context {context:?} (known: {})",
                        known.join(", ")
                    )));
                }
                let kco = KubeConfigOptions {
                    context: Some(context.clone()),
                    ..KubeConfigOptions::default()
                };
                let config = rt.block(&cancel, async {
                    ::kube::Config::from_custom_kubeconfig(kc, &kco)
                        .await
                        .map_err(|e| kubeconfig_error(&shown, e))
                })?;
                (config, context)
            }
            None => {
                let config = ::kube::Config::incluster().map_err(|_| {
                    KubeError::Config(
                        "none found: set KUBECONFIG, create ~/.kube/config, pass \
                         kubernetes_config(#{kubeconfig: \"...\"}), or run inside a cluster"
                            .into(),
                    )
                })?;
                (config, "in-cluster".to_string())
            }
        };
        config.connect_timeout = Some(timeout.min(Duration::from_secs(10)));
        // A second more than the call's own timeout, which thus ends a slow answer as `timeout`.
        config.read_timeout = Some(timeout + Duration::from_secs(1));
        config.write_timeout = Some(timeout + Duration::from_secs(1));
        // herodo retries itself (also on 500 and refused connections, and cancellably).
        config.default_retry = false;
        if let Some(ns) = &opts.namespace {
            resource::check_label("namespace", ns)?;
            config.default_namespace = ns.clone();
        }
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let namespace = config.default_namespace.clone();
        let client = {
            let _guard = rt.get()?.enter();
            ::kube::Client::try_from(config.clone()).map_err(|e| KubeError::Unreachable {
                server: server.clone(),
                reason: error_chain(&e),
            })?
        };
        Ok(Cluster {
            rt,
            client,
            config,
            server,
            context,
            namespace,
            timeout,
            page_size: opts.page_size.unwrap_or(DEFAULT_PAGE_SIZE),
            cancel,
            kinds: Mutex::new(HashMap::new()),
        })
    }

    /// One API call under the timeout, retried with backoff while the failure is temporary.
    fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, ::kube::Error>>,
    {
        self.rt.block(&self.cancel, self.retrying(what, f))
    }

    /// `call` inside the runtime.
    async fn retrying<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, ::kube::Error>>,
    {
        let mut attempt = 0;
        loop {
            let err = match tokio::time::timeout(self.timeout, f()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => e,
                Err(_) => {
                    return Err(KubeError::Timeout {
                        what: what.to_string(),
                        secs: self.timeout.as_secs(),
                    })
                }
            };
            match retry_delay(&err, attempt) {
                Some(delay) if attempt < MAX_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(self.convert(err)),
            }
        }
    }

    /// Wait until `cond` holds for the object (or it is gone, for `deleted`), within `timeout`.
    /// Watch-based: one list for the current state and its resourceVersion, then a watch from
    /// there; when the watch ends or its connection drops, it resumes from the last
    /// resourceVersion seen (a full re-list only when the server says that one is too old).
    /// Returns the object (`Null` for `deleted`).
    pub fn wait(
        &self,
        kind: &Kind,
        ns: &str,
        name: &str,
        cond: &Condition,
        timeout: Duration,
    ) -> Result<Value> {
        let api = self.api(kind, Some(ns));
        self.rt.block(&self.cancel, async {
            match tokio::time::timeout(timeout, self.watch_until(&api, kind, ns, name, cond)).await
            {
                Ok(r) => r,
                Err(_) => {
                    let timed_out = KubeError::Timeout {
                        what: format!("waiting for {} {ns}/{name} to be {cond}", kind.kind),
                        secs: timeout.as_secs(),
                    };
                    if kind.kind == "Pod" && *cond == Condition::Ready {
                        if let Some(e) = self.probe_error(ns, name, timeout).await {
                            return Err(e);
                        }
                    }
                    Err(timed_out)
                }
            }
        })
    }

    /// The first pod selected by `labels` that cannot run (image missing, crash loop,
    /// unschedulable), with its name.
    async fn pod_problem_among(&self, ns: &str, labels: &str) -> Option<(String, wait::Problem)> {
        let pods = self.api(&resource::builtin("Pod")?, Some(ns));
        let lp = ListParams::default().labels(labels);
        let list = tokio::time::timeout(self.timeout, pods.list(&lp))
            .await
            .ok()?
            .ok()?;
        list.items.into_iter().find_map(|o| {
            let v = to_value(o);
            let problem = wait::pod_problem(&v)?;
            // A pod that has ended is replaced by its ReplicaSet: not a reason to stop.
            if matches!(problem, wait::Problem::NotRunning { .. }) {
                return None;
            }
            Some((v["metadata"]["name"].as_str()?.to_string(), problem))
        })
    }

    /// The error of a pod that will not become what is waited for, with the last log lines of
    /// a crash-looping container.
    async fn problem_error(&self, ns: &str, name: &str, p: wait::Problem) -> KubeError {
        use crate::error::kind;
        use wait::Problem;
        let (k, message, logs) = match p {
            Problem::ImageNotFound { message, .. } => (kind::IMAGE_NOT_FOUND, message, None),
            Problem::CrashLoop {
                container, message, ..
            } => (kind::CRASH_LOOP, message, Some(container)),
            Problem::Unschedulable { message } => (kind::UNSCHEDULABLE, message, None),
            Problem::NotRunning { message } => (kind::NOT_RUNNING, message, None),
            Problem::JobFailed { message } => (kind::JOB_FAILED, message, None),
        };
        let mut logs_text = String::new();
        if let Some(container) = logs {
            let api: Api<k8s_openapi::api::core::v1::Pod> =
                Api::namespaced(self.client.clone(), ns);
            for previous in [true, false] {
                let lp = ::kube::api::LogParams {
                    container: Some(container.clone()),
                    previous,
                    tail_lines: Some(LAST_LOG_LINES),
                    ..Default::default()
                };
                if let Ok(Ok(text)) = tokio::time::timeout(self.timeout, api.logs(name, &lp)).await
                {
                    if !text.trim().is_empty() {
                        logs_text = text.trim_end().to_string();
                        break;
                    }
                }
            }
        }
        let message = if logs_text.is_empty() {
            message
        } else {
            format!("{message}; its last log lines:\n{logs_text}")
        };
        KubeError::Workload {
            kind: k,
            message,
            logs: logs_text,
        }
    }

    /// When a wait for a pod's Ready ran out: `probe_failed` if a readiness probe is what
    /// holds it back (with the kubelet's last Unhealthy event).
    async fn probe_error(&self, ns: &str, name: &str, timeout: Duration) -> Option<KubeError> {
        let api: Api<DynamicObject> = self.api(&resource::builtin("Pod")?, Some(ns));
        let pod = tokio::time::timeout(self.timeout, api.get(name))
            .await
            .ok()?
            .ok()?;
        let unready = wait::unready_probed(&to_value(pod));
        if unready.is_empty() {
            return None;
        }
        let events = Kind {
            group: String::new(),
            version: "v1".into(),
            kind: "Event".into(),
            plural: "events".into(),
            namespaced: true,
        };
        let eapi = self.api(&events, Some(ns));
        let lp =
            ListParams::default().fields(&format!("involvedObject.name={name},reason=Unhealthy"));
        let last = match tokio::time::timeout(self.timeout, eapi.list(&lp)).await {
            Ok(Ok(list)) => list
                .items
                .into_iter()
                .map(to_value)
                .filter(|e| {
                    e["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("Readiness probe"))
                })
                .max_by_key(|e| {
                    e["lastTimestamp"]
                        .as_str()
                        .or(e["eventTime"].as_str())
                        .unwrap_or_default()
                        .to_string()
                })
                .and_then(|e| e["message"].as_str().map(|m| m.trim().to_string())),
            _ => None,
        };
        Some(KubeError::Workload {
            kind: crate::error::kind::PROBE_FAILED,
            message: format!(
                "pod {ns}/{name} did not become Ready within {} s: the readiness probe of \
                 container {} does not pass{}",
                timeout.as_secs(),
                unready.join(", "),
                last.map(|m| format!(" ({m})")).unwrap_or_default()
            ),
            logs: String::new(),
        })
    }

    async fn watch_until(
        &self,
        api: &Api<DynamicObject>,
        kind: &Kind,
        ns: &str,
        name: &str,
        cond: &Condition,
    ) -> Result<Value> {
        use ::kube::api::{WatchEvent, WatchParams};
        use futures_util::StreamExt;
        let selector = format!("metadata.name={name}");
        // A workload's pods are looked at once a second: a crash loop or a missing image
        // changes nothing in the Deployment's own status.
        let watch_pods = kind.kind == "Deployment"
            && matches!(cond, Condition::Ready | Condition::Type(_))
            && *cond != Condition::Deleted;
        let mut pod_labels: Option<String> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        'list: loop {
            let lp = ListParams::default().fields(&selector);
            let list = self
                .retrying(&format!("list {}", kind.plural), || api.list(&lp))
                .await?;
            match list.items.into_iter().next() {
                None if *cond == Condition::Deleted => return Ok(Value::Null),
                Some(o) => {
                    let v = with_type(kind, to_value(o));
                    if cond.met(&v) {
                        return Ok(v);
                    }
                    if let Some(p) = cond.problem(&v) {
                        return Err(self.problem_error(ns, name, p).await);
                    }
                    pod_labels = match_labels(&v).or(pod_labels);
                }
                None => {}
            }
            let mut rv = list.metadata.resource_version.unwrap_or_default();
            loop {
                let wp = WatchParams::default().fields(&selector).timeout(290);
                let stream = match api.watch(&wp, &rv).await {
                    Ok(s) => s,
                    Err(e) if retry_delay(&e, 0).is_some() => {
                        tokio::time::sleep(FIRST_BACKOFF).await;
                        continue;
                    }
                    Err(e) => return Err(self.convert(e)),
                };
                let mut stream = std::pin::pin!(stream);
                loop {
                    let ev = tokio::select! {
                        ev = stream.next() => ev,
                        _ = tick.tick(), if watch_pods && pod_labels.is_some() => {
                            let labels = pod_labels.clone().unwrap_or_default();
                            if let Some((pod, p)) = self.pod_problem_among(ns, &labels).await {
                                return Err(self.problem_error(ns, &pod, p).await);
                            }
                            continue;
                        }
                    };
                    let Some(ev) = ev else { break };
                    match ev {
                        Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                            if let Some(v) = o.metadata.resource_version.clone() {
                                rv = v;
                            }
                            let v = with_type(kind, to_value(o));
                            if cond.met(&v) {
                                return Ok(v);
                            }
                            if let Some(p) = cond.problem(&v) {
                                return Err(self.problem_error(ns, name, p).await);
                            }
                            pod_labels = match_labels(&v).or(pod_labels);
                        }
                        Ok(WatchEvent::Deleted(o)) => {
                            if *cond == Condition::Deleted {
                                return Ok(Value::Null);
                            }
                            if let Some(v) = o.metadata.resource_version {
                                rv = v;
                            }
                        }
                        Ok(WatchEvent::Bookmark(b)) => rv = b.metadata.resource_version,
                        // 410 Expired: the resourceVersion is too old to watch from.
                        Ok(WatchEvent::Error(s)) if s.code == 410 => continue 'list,
                        Ok(WatchEvent::Error(s)) => return Err(self.convert(::kube::Error::Api(s))),
                        // The connection dropped: resume from `rv`.
                        Err(_) => break,
                    }
                }
                // Ended (the server's timeout, or a drop): a short pause, then resume.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn convert(&self, e: ::kube::Error) -> KubeError {
        match e {
            ::kube::Error::Api(s) => {
                let fields = s
                    .details
                    .as_ref()
                    .map(|d| d.causes.iter().map(|c| c.field.clone()).collect())
                    .unwrap_or_default();
                let message = match s.code {
                    401 => format!(
                        "the API server at {} rejected the credentials of context {:?} (401 \
                         Unauthorized)",
                        self.server, self.context
                    ),
                    _ if s.message.is_empty() => format!("{} ({})", s.reason, s.code),
                    _ => s.message.trim_end().to_string(),
                };
                KubeError::Api {
                    code: s.code,
                    reason: s.reason,
                    message,
                    fields,
                }
            }
            other => {
                let chain = error_chain(&other);
                let lower = chain.to_ascii_lowercase();
                let reason = if lower.contains("connection refused") {
                    "connection refused".to_string()
                } else if lower.contains("certificate") || lower.contains("unknownissuer") {
                    format!(
                        "TLS: the server's certificate is not trusted by the kubeconfig's \
                         certificate authority ({})",
                        last_cause(&other)
                    )
                } else if lower.contains("timed out") || lower.contains("timeout") {
                    return KubeError::Timeout {
                        what: "the request".into(),
                        secs: self.timeout.as_secs(),
                    };
                } else {
                    chain
                };
                KubeError::Unreachable {
                    server: self.server.clone(),
                    reason,
                }
            }
        }
    }

    fn api(&self, kind: &Kind, ns: Option<&str>) -> Api<DynamicObject> {
        let ar = kind.api_resource();
        match (kind.namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            _ => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// The kind a script names (`Deployment`, `deploy`, `ingressroutes`, ...): the built-in
    /// table first, then discovery (every group's preferred version).
    pub fn resolve(&self, name: &str) -> Result<Kind> {
        if let Some(k) = resource::builtin(name) {
            return Ok(k);
        }
        let key = name.to_ascii_lowercase();
        if let Some(k) = self.lock_kinds().get(&key) {
            return Ok(k.clone());
        }
        let groups = self.call("discovery", || self.client.list_api_groups())?;
        for g in groups.groups {
            let Some(gv) = g
                .preferred_version
                .as_ref()
                .or(g.versions.first())
                .map(|v| v.group_version.clone())
            else {
                continue;
            };
            if let Some(k) = self.find_in(&gv, |r| {
                resource::entry_matches(
                    name,
                    &r.kind,
                    &r.name,
                    &r.singular_name,
                    r.short_names.as_deref().unwrap_or_default(),
                )
            })? {
                self.lock_kinds().insert(key, k.clone());
                return Ok(k);
            }
        }
        Err(KubeError::invalid(
            "kind",
            format!("the server knows no kind {name:?}"),
        ))
    }

    /// The kind of a manifest's `apiVersion` and `kind`.
    pub fn resolve_gvk(&self, api_version: &str, kind: &str) -> Result<Kind> {
        if let Some(k) = resource::builtin_for(api_version, kind) {
            return Ok(k);
        }
        let key = format!("{api_version}/{kind}");
        if let Some(k) = self.lock_kinds().get(&key) {
            return Ok(k.clone());
        }
        match self.find_in(api_version, |r| r.kind == kind) {
            Ok(Some(k)) => {
                self.lock_kinds().insert(key, k.clone());
                Ok(k)
            }
            Ok(None) | Err(KubeError::Api { code: 404, .. }) => Err(KubeError::invalid(
                "kind",
                format!("the server knows no kind {kind:?} in {api_version}"),
            )),
            Err(e) => Err(e),
        }
    }

    fn find_in(
        &self,
        gv: &str,
        want: impl Fn(&k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource) -> bool,
    ) -> Result<Option<Kind>> {
        let list = if gv.contains('/') {
            self.call("discovery", || self.client.list_api_group_resources(gv))?
        } else {
            self.call("discovery", || self.client.list_core_api_resources(gv))?
        };
        let (group, version) = gv.split_once('/').unwrap_or(("", gv));
        Ok(list
            .resources
            .iter()
            .find(|r| !r.name.contains('/') && want(r))
            .map(|r| Kind {
                group: group.to_string(),
                version: version.to_string(),
                kind: r.kind.clone(),
                plural: r.name.clone(),
                namespaced: r.namespaced,
            }))
    }

    fn lock_kinds(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kind>> {
        self.kinds.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, kind: &Kind, ns: &str, name: &str) -> Result<Value> {
        let api = self.api(kind, Some(ns));
        let obj = self.call(&format!("get {} {name}", kind.kind), || api.get(name))?;
        Ok(with_type(kind, to_value(obj)))
    }

    /// Objects of a kind; `ns` None = every namespace.
    /// Fetched `page_size` objects at a time (`limit` and `continue`), so a large listing
    /// neither times out nor weighs on the server in one answer.
    pub fn list(&self, kind: &Kind, ns: Option<&str>, lp: &ListParams) -> Result<Vec<Value>> {
        let api = self.api(kind, ns);
        let mut out = Vec::new();
        let mut page = ListParams {
            limit: Some(self.page_size),
            continue_token: None,
            ..lp.clone()
        };
        loop {
            let list = self.call(&format!("list {}", kind.plural), || api.list(&page))?;
            out.extend(list.items.into_iter().map(|o| with_type(kind, to_value(o))));
            match list.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => page.continue_token = Some(token),
                None => return Ok(out),
            }
        }
    }

    /// Delete one object: what the server returned (the object, or a Status).
    pub fn delete(&self, kind: &Kind, ns: &str, name: &str, dry_run: bool) -> Result<Value> {
        let api = self.api(kind, Some(ns));
        let dp = DeleteParams {
            dry_run,
            ..DeleteParams::default()
        };
        let res = self.call(&format!("delete {} {name}", kind.kind), || {
            api.delete(name, &dp)
        })?;
        Ok(res
            .map_left(to_value)
            .map_right(|s| serde_json::to_value(s).unwrap_or(Value::Null))
            .into_inner())
    }

    /// Server-side apply of one object (created when missing) as `how.field_manager`.
    pub fn apply(&self, kind: &Kind, ns: &str, obj: &Value, how: &ApplyOptions) -> Result<Value> {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let api = self.api(kind, Some(ns));
        let pp = PatchParams {
            dry_run: how.dry_run,
            force: how.force,
            field_manager: Some(how.field_manager.clone()),
            ..PatchParams::default()
        };
        let patch = Patch::Apply(obj);
        let res = self.call(&format!("apply {} {name}", kind.kind), || {
            api.patch(name, &pp, &patch)
        })?;
        Ok(with_type(kind, to_value(res)))
    }

    /// Create one object (`already_exists` when it does).
    pub fn create(&self, kind: &Kind, ns: &str, obj: &Value, dry_run: bool) -> Result<Value> {
        let dynobj: DynamicObject = serde_json::from_value(obj.clone())
            .map_err(|e| KubeError::invalid("manifest", e.to_string()))?;
        let api = self.api(kind, Some(ns));
        let pp = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        let res = self.call(&format!("create {}", kind.kind), || {
            api.create(&pp, &dynobj)
        })?;
        Ok(with_type(kind, to_value(res)))
    }

    /// Merge-patch the status subresource (what a controller or node agent does).
    pub fn patch_status(
        &self,
        kind: &Kind,
        ns: &str,
        name: &str,
        status: &Value,
        dry_run: bool,
    ) -> Result<Value> {
        let api = self.api(kind, Some(ns));
        let body = serde_json::json!({ "status": status });
        let patch = Patch::Merge(&body);
        let pp = PatchParams {
            dry_run,
            ..PatchParams::default()
        };
        let res = self.call(&format!("patch status of {} {name}", kind.kind), || {
            api.patch_status(name, &pp, &patch)
        })?;
        Ok(with_type(kind, to_value(res)))
    }
}

/// A workload's `spec.selector.matchLabels` as a label selector (`a=b,c=d`).
fn match_labels(obj: &Value) -> Option<String> {
    let m = obj["spec"]["selector"]["matchLabels"].as_object()?;
    if m.is_empty() {
        return None;
    }
    Some(
        m.iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn to_value(obj: DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

/// List items come without apiVersion and kind; put them back.
fn with_type(kind: &Kind, mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.entry("apiVersion")
            .or_insert_with(|| Value::String(kind.api_version()));
        m.entry("kind")
            .or_insert_with(|| Value::String(kind.kind.clone()));
    }
    v
}

/// How long to wait before retrying, or None when the failure is not temporary.
fn retry_delay(e: &::kube::Error, attempt: u32) -> Option<Duration> {
    let backoff = FIRST_BACKOFF * 2u32.saturating_pow(attempt);
    match e {
        ::kube::Error::Api(s) => match s.code {
            429 => {
                let after = s.details.as_ref().map_or(0, |d| d.retry_after_seconds);
                Some(if after > 0 {
                    Duration::from_secs(after.into()).min(MAX_RETRY_AFTER)
                } else {
                    backoff
                })
            }
            500 | 502 | 503 | 504 => Some(backoff),
            _ => None,
        },
        other => error_chain(other)
            .to_ascii_lowercase()
            .contains("connection refused")
            .then_some(backoff),
    }
}

/// An error and its sources in one line, repeated texts dropped.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// The innermost cause's text.
fn last_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_err(code: u16, retry_after: u32) -> ::kube::Error {
        let mut s = ::kube::core::Status::failure("x", "y");
        s.code = code;
        s.details = Some(::kube::core::response::StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: Vec::new(),
            retry_after_seconds: retry_after,
        });
        ::kube::Error::Api(Box::new(s))
    }

    #[test]
    fn retries_only_temporary_failures_with_backoff() {
        assert_eq!(
            retry_delay(&api_err(429, 2), 0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_delay(&api_err(429, 3600), 0), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_delay(&api_err(429, 0), 1),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            retry_delay(&api_err(503, 0), 2),
            Some(Duration::from_millis(400))
        );
        assert_eq!(retry_delay(&api_err(500, 0), 0), Some(FIRST_BACKOFF));
        for code in [400, 401, 403, 404, 409, 422] {
            assert_eq!(retry_delay(&api_err(code, 0), 0), None, "{code}");
        }
    }

    #[test]
    fn runtime_stops_at_once_when_cancelled() {
        let rt = Runtime::default();
        let cancel = CancelToken::new();
        cancel.cancel();
        let start = std::time::Instant::now();
        let res: Result<()> = rt.block(&cancel, async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        });
        assert!(matches!(res, Err(KubeError::Cancelled)));
        assert!(start.elapsed() < Duration::from_millis(500));
    }
}
