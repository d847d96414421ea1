//! Rhai glue for Traefik's resources: `http_route`, `tcp_route`, `tls_option`, `middleware`
//! (builders whose `build()` returns the manifest map for `kube_apply`) and `to_yaml(obj)`.

use rhai::{Array, Dynamic, Map, INT};
use serde_json::{json, Value};

use super::{from_dynamic, to_dynamic};
use crate::glue::{invalid, string_array, IntoRhai, RResult, Registrar};
use crate::kube::builders;
use crate::kube::manager::check_port;
use crate::kube::resource::{check_label, check_name};
use crate::kube::traefik::{
    client_auth_type, tls_version, Backend, HttpRoute, Middleware, TcpRoute, TlsOption,
};

fn named(name: &str, ns: &str) -> RResult<()> {
    check_name("name", name).rhai()?;
    check_label("namespace", ns).rhai()
}

fn backend(name: &str, port: INT, weight: Option<INT>) -> RResult<Backend> {
    check_label("service", name).rhai()?;
    check_port("port", port).rhai()?;
    if weight.is_some_and(|w| w < 0) {
        return Err(invalid("weight", "is negative"));
    }
    Ok(Backend {
        name: name.into(),
        port,
        weight,
    })
}

pub(super) fn register(r: &mut Registrar) {
    r.engine()
        .register_type_with_name::<HttpRoute>("HttpRoute")
        .register_type_with_name::<TcpRoute>("TcpRoute")
        .register_type_with_name::<TlsOption>("TlsOption")
        .register_type_with_name::<Middleware>("Middleware");
    register_http(r);
    register_tcp(r);
    register_tls(r);
    register_middleware(r);
    r.pure(
        "to_yaml",
        &["manifest"],
        r#"A manifest map as YAML (Secret values as `***`; `to_yaml(obj, true)` shows them).
```rhai
print(to_yaml(http_route("web", "apps").hostname("a.example.com").service("web", 80).build()));
```"#,
        |m: Map| -> RResult<String> {
            let v = from_dynamic(&Dynamic::from_map(m), "manifest")?;
            builders::to_yaml(&v, false).rhai()
        },
    );
    r.pure(
        "to_yaml",
        &["manifest", "reveal"],
        r#"A manifest map as YAML; `reveal: true` shows Secret values.
```rhai
file_write("secret.yaml", to_yaml(obj, true));
```"#,
        |m: Map, reveal: bool| -> RResult<String> {
            let v = from_dynamic(&Dynamic::from_map(m), "manifest")?;
            builders::to_yaml(&v, reveal).rhai()
        },
    );
}

fn register_http(r: &mut Registrar) {
    r.pure(
        "http_route",
        &["name", "namespace"],
        r#"A Traefik IngressRoute builder (traefik.io/v1alpha1); `build()` returns the manifest.
```rhai
kube_apply(http_route("web", "apps").hostname("a.example.com").service("web", 80).build());
```"#,
        |name: &str, ns: &str| -> RResult<HttpRoute> {
            named(name, ns)?;
            Ok(HttpRoute {
                name: name.into(),
                namespace: ns.into(),
                ..HttpRoute::default()
            })
        },
    );
    r.pure(
        "hostname",
        &["route", "host"],
        r#"Match this host (several: any of them).
```rhai
route.hostname("a.example.com");
```"#,
        |h: &mut HttpRoute, v: &str| -> HttpRoute {
            h.hostnames.push(v.into());
            h.clone()
        },
    );
    r.pure(
        "path_prefix",
        &["route", "prefix"],
        r#"Match paths under this prefix (starting with /).
```rhai
route.path_prefix("/api");
```"#,
        |h: &mut HttpRoute, v: &str| -> HttpRoute {
            h.path_prefix = Some(v.into());
            h.clone()
        },
    );
    r.pure(
        "entrypoint",
        &["route", "name"],
        r#"A Traefik entrypoint (default "web", or "websecure" with TLS).
```rhai
route.entrypoint("websecure");
```"#,
        |h: &mut HttpRoute, v: &str| -> HttpRoute {
            h.entrypoints.push(v.into());
            h.clone()
        },
    );
    r.pure(
        "service",
        &["route", "name", "port"],
        r#"Send to this Service's port.
```rhai
route.service("web", 80);
```"#,
        |h: &mut HttpRoute, name: &str, port: INT| -> RResult<HttpRoute> {
            h.services.push(backend(name, port, None)?);
            Ok(h.clone())
        },
    );
    r.pure(
        "weighted_service",
        &["route", "name", "port", "weight"],
        r#"Send a share of the traffic (by weight) to this Service's port.
```rhai
route.weighted_service("web", 80, 90).weighted_service("canary", 80, 10);
```"#,
        |h: &mut HttpRoute, name: &str, port: INT, w: INT| -> RResult<HttpRoute> {
            h.services.push(backend(name, port, Some(w))?);
            Ok(h.clone())
        },
    );
    r.pure(
        "tls_secret",
        &["route", "secret"],
        r#"Serve TLS with the certificate in this Secret.
```rhai
route.tls_secret("web-tls");
```"#,
        |h: &mut HttpRoute, v: &str| -> RResult<HttpRoute> {
            check_name("tls_secret", v).rhai()?;
            h.tls_secret = Some(v.into());
            Ok(h.clone())
        },
    );
    r.pure(
        "tls_letsencrypt",
        &["route"],
        r#"Serve TLS with a certificate from the "letsencrypt" certificate resolver.
```rhai
route.tls_letsencrypt();
```"#,
        |h: &mut HttpRoute| -> HttpRoute {
            h.tls_resolver = Some("letsencrypt".into());
            h.clone()
        },
    );
    r.pure(
        "tls_letsencrypt",
        &["route", "resolver"],
        r#"Serve TLS with a certificate from the named certificate resolver.
```rhai
route.tls_letsencrypt("le-staging");
```"#,
        |h: &mut HttpRoute, v: &str| -> HttpRoute {
            h.tls_resolver = Some(v.into());
            h.clone()
        },
    );
    r.pure(
        "middleware",
        &["route", "name"],
        r#"Run a Middleware (of the same namespace) on the route.
```rhai
route.middleware("https-redirect");
```"#,
        |h: &mut HttpRoute, v: &str| -> RResult<HttpRoute> {
            check_name("middleware", v).rhai()?;
            h.middlewares.push(v.into());
            Ok(h.clone())
        },
    );
    r.pure(
        "priority",
        &["route", "priority"],
        r#"The route's priority (higher wins).
```rhai
route.priority(10);
```"#,
        |h: &mut HttpRoute, p: INT| -> HttpRoute {
            h.priority = Some(p);
            h.clone()
        },
    );
    r.pure(
        "build",
        &["route"],
        r#"The IngressRoute manifest. Throws `invalid_argument` without a service or a match.
```rhai
kube_apply(route.build());
```"#,
        |h: &mut HttpRoute| -> RResult<Dynamic> { to_dynamic(&h.build().rhai()?) },
    );
}

fn register_tcp(r: &mut Registrar) {
    r.pure(
        "tcp_route",
        &["name", "namespace"],
        r#"A Traefik IngressRouteTCP builder; `build()` returns the manifest.
```rhai
kube_apply(tcp_route("pg", "db").entrypoint("postgres").service("pg", 5432).build());
```"#,
        |name: &str, ns: &str| -> RResult<TcpRoute> {
            named(name, ns)?;
            Ok(TcpRoute {
                name: name.into(),
                namespace: ns.into(),
                ..TcpRoute::default()
            })
        },
    );
    r.pure(
        "entrypoint",
        &["route", "name"],
        r#"The Traefik entrypoint (required).
```rhai
route.entrypoint("postgres");
```"#,
        |t: &mut TcpRoute, v: &str| -> TcpRoute {
            t.entrypoint = Some(v.into());
            t.clone()
        },
    );
    r.pure(
        "sni",
        &["route", "host"],
        r#"Match this TLS server name (default: any, `HostSNI(*)`).
```rhai
route.sni("db.example.com");
```"#,
        |t: &mut TcpRoute, v: &str| -> TcpRoute {
            t.sni = Some(v.into());
            t.clone()
        },
    );
    r.pure(
        "sni_regex",
        &["route", "regex"],
        r#"Match TLS server names by regular expression.
```rhai
route.sni_regex("^.+\\.example\\.com$");
```"#,
        |t: &mut TcpRoute, v: &str| -> TcpRoute {
            t.sni_regex = Some(v.into());
            t.clone()
        },
    );
    r.pure(
        "service",
        &["route", "name", "port"],
        r#"Send to this Service's port.
```rhai
route.service("pg", 5432);
```"#,
        |t: &mut TcpRoute, name: &str, port: INT| -> RResult<TcpRoute> {
            t.services.push(backend(name, port, None)?);
            Ok(t.clone())
        },
    );
    r.pure(
        "tls_passthrough",
        &["route"],
        r#"Pass TLS through to the service untouched.
```rhai
route.tls_passthrough();
```"#,
        |t: &mut TcpRoute| -> TcpRoute {
            t.passthrough = true;
            t.clone()
        },
    );
    r.pure(
        "tls_passthrough",
        &["route", "on"],
        r#"Pass TLS through untouched (`true`) or not (`false`), as the original's scripts write it.
```rhai
route.tls_passthrough(true);
```"#,
        |t: &mut TcpRoute, on: bool| -> TcpRoute {
            t.passthrough = on;
            t.clone()
        },
    );
    r.pure(
        "build",
        &["route"],
        r#"The IngressRouteTCP manifest. Throws `invalid_argument` without an entrypoint or a
service, or with both `sni` and `sni_regex`.
```rhai
kube_apply(route.build());
```"#,
        |t: &mut TcpRoute| -> RResult<Dynamic> { to_dynamic(&t.build().rhai()?) },
    );
}

fn register_tls(r: &mut Registrar) {
    r.pure(
        "tls_option",
        &["name", "namespace"],
        r#"A Traefik TLSOption builder; `build()` returns the manifest.
```rhai
kube_apply(tls_option("strict", "apps").min_version("1.2").sni_strict(true).build());
```"#,
        |name: &str, ns: &str| -> RResult<TlsOption> {
            named(name, ns)?;
            Ok(TlsOption {
                name: name.into(),
                namespace: ns.into(),
                ..TlsOption::default()
            })
        },
    );
    r.pure(
        "min_version",
        &["option", "version"],
        r#"The lowest TLS version: "1.2", "TLS13" or "VersionTLS12".
```rhai
opt.min_version("1.2");
```"#,
        |o: &mut TlsOption, v: &str| -> RResult<TlsOption> {
            o.min_version = Some(tls_version(v).rhai()?);
            Ok(o.clone())
        },
    );
    r.pure(
        "cipher_suites",
        &["option", "suites"],
        r#"The allowed cipher suites (Go names).
```rhai
opt.cipher_suites(["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]);
```"#,
        |o: &mut TlsOption, a: Array| -> TlsOption {
            o.cipher_suites = string_array(&a);
            o.clone()
        },
    );
    r.pure(
        "sni_strict",
        &["option", "strict"],
        r#"Refuse clients that send no matching server name.
```rhai
opt.sni_strict(true);
```"#,
        |o: &mut TlsOption, v: bool| -> TlsOption {
            o.sni_strict = Some(v);
            o.clone()
        },
    );
    r.pure(
        "client_auth",
        &["option", "mode", "secrets"],
        r#"Client certificates: a mode (e.g. "RequireAndVerifyClientCert") and the Secrets with
the CA certificates.
```rhai
opt.client_auth("RequireAndVerifyClientCert", ["client-ca"]);
```"#,
        |o: &mut TlsOption, mode: &str, secrets: Array| -> RResult<TlsOption> {
            o.client_auth = Some((client_auth_type(mode).rhai()?, string_array(&secrets)));
            Ok(o.clone())
        },
    );
    r.pure(
        "build",
        &["option"],
        r#"The TLSOption manifest.
```rhai
kube_apply(opt.build());
```"#,
        |o: &mut TlsOption| -> RResult<Dynamic> { to_dynamic(&o.build().rhai()?) },
    );
}

fn register_middleware(r: &mut Registrar) {
    r.pure(
        "middleware",
        &["name", "namespace"],
        r#"A Traefik Middleware builder (one kind of middleware each; `chain` combines them).
```rhai
kube_apply(middleware("https", "apps").redirect_https().build());
```"#,
        |name: &str, ns: &str| -> RResult<Middleware> {
            named(name, ns)?;
            Ok(Middleware {
                name: name.into(),
                namespace: ns.into(),
                ..Middleware::default()
            })
        },
    );
    let simple: [(&str, &str, &str, Value); 2] = [
        (
            "redirect_https",
            "redirectScheme",
            "Redirect plain HTTP to HTTPS (permanently).",
            json!({"scheme": "https", "permanent": true}),
        ),
        ("compress", "compress", "Compress responses.", json!({})),
    ];
    for (fname, key, doc, value) in simple {
        r.pure(
            fname,
            &["middleware"],
            &format!("{doc}\n```rhai\nmiddleware(\"m\", \"apps\").{fname}();\n```"),
            move |m: &mut Middleware| -> Middleware {
                m.set(key, value.clone());
                m.clone()
            },
        );
    }
    r.pure(
        "headers",
        &["middleware", "headers"],
        r#"Add these request headers.
```rhai
middleware("hdr", "apps").headers(#{"X-Env": "prod"});
```"#,
        |m: &mut Middleware, h: Map| -> RResult<Middleware> {
            let h = from_dynamic(&Dynamic::from_map(h), "headers")?;
            m.set("headers", json!({"customRequestHeaders": h}));
            Ok(m.clone())
        },
    );
    r.pure(
        "rate_limit",
        &["middleware", "average", "burst"],
        r#"Allow `average` requests per second, bursts of `burst`.
```rhai
middleware("rl", "apps").rate_limit(100, 50);
```"#,
        |m: &mut Middleware, avg: INT, burst: INT| -> RResult<Middleware> {
            if avg < 0 || burst < 0 {
                return Err(invalid(
                    "rate_limit",
                    "average and burst must not be negative",
                ));
            }
            m.set("rateLimit", json!({"average": avg, "burst": burst}));
            Ok(m.clone())
        },
    );
    r.pure(
        "forward_auth",
        &["middleware", "url"],
        r#"Ask this URL whether a request may pass.
```rhai
middleware("auth", "apps").forward_auth("http://auth.apps.svc:8080/check");
```"#,
        |m: &mut Middleware, url: &str| -> RResult<Middleware> {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    "forward_auth",
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
            m.set("forwardAuth", json!({"address": url}));
            Ok(m.clone())
        },
    );
    r.pure(
        "ip_whitelist",
        &["middleware", "cidrs"],
        r#"Only let these source ranges in (Traefik v3's `ipAllowList`).
```rhai
middleware("office", "apps").ip_whitelist(["10.0.0.0/8", "192.168.1.0/24"]);
```"#,
        |m: &mut Middleware, cidrs: Array| -> RResult<Middleware> {
            let cidrs = string_array(&cidrs);
            if cidrs.is_empty() {
                return Err(invalid("ip_whitelist", "is empty"));
            }
            m.set("ipAllowList", json!({"sourceRange": cidrs}));
            Ok(m.clone())
        },
    );
    r.pure(
        "chain",
        &["middleware", "names"],
        r#"Run these Middlewares in order.
```rhai
middleware("web-chain", "apps").chain(["https", "rl"]);
```"#,
        |m: &mut Middleware, names: Array| -> RResult<Middleware> {
            let names = string_array(&names);
            for n in &names {
                check_name("chain", n).rhai()?;
            }
            let list: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
            m.set("chain", json!({"middlewares": list}));
            Ok(m.clone())
        },
    );
    r.pure(
        "build",
        &["middleware"],
        r#"The Middleware manifest. Throws `invalid_argument` when it does nothing or several
things.
```rhai
kube_apply(mw.build());
```"#,
        |m: &mut Middleware| -> RResult<Dynamic> { to_dynamic(&m.build().rhai()?) },
    );
}
