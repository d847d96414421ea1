//! Traefik's custom resources (traefik.io/v1alpha1, Traefik v3) as plain manifests: HTTP routes
//! (IngressRoute), TCP routes (IngressRouteTCP), TLS options and middlewares. `build()` checks
//! them and returns the manifest; it is applied like any other with `kube_apply`.

use serde_json::{json, Value};

use super::error::{KubeError, Result};

pub const API_VERSION: &str = "traefik.io/v1alpha1";

fn meta(name: &str, ns: &str) -> Value {
    json!({"name": name, "namespace": ns})
}

/// One backend of a route.
#[derive(Clone, Debug, PartialEq)]
pub struct Backend {
    pub name: String,
    pub port: i64,
    pub weight: Option<i64>,
}

impl Backend {
    fn to_value(&self) -> Value {
        let mut v = json!({"name": self.name, "port": self.port});
        if let Some(w) = self.weight {
            v["weight"] = json!(w);
        }
        v
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpRoute {
    pub name: String,
    pub namespace: String,
    pub entrypoints: Vec<String>,
    pub hostnames: Vec<String>,
    pub path_prefix: Option<String>,
    pub services: Vec<Backend>,
    pub middlewares: Vec<String>,
    pub priority: Option<i64>,
    pub tls_secret: Option<String>,
    /// A certResolver name (`tls_letsencrypt`).
    pub tls_resolver: Option<String>,
}

/// A value inside Traefik's rule backquotes.
fn quoted(field: &str, v: &str) -> Result<String> {
    if v.is_empty() || v.contains('`') {
        return Err(KubeError::invalid(
            field,
            format!("{v:?} is empty or contains a backquote"),
        ));
    }
    Ok(format!("`{v}`"))
}

impl HttpRoute {
    pub fn rule(&self) -> Result<String> {
        let mut parts = Vec::new();
        if !self.hostnames.is_empty() {
            let hosts: Vec<String> = self
                .hostnames
                .iter()
                .map(|h| quoted("hostname", h).map(|q| format!("Host({q})")))
                .collect::<Result<_>>()?;
            parts.push(if hosts.len() == 1 {
                hosts[0].clone()
            } else {
                format!("({})", hosts.join(" || "))
            });
        }
        if let Some(p) = &self.path_prefix {
            if !p.starts_with('/') {
                return Err(KubeError::invalid(
                    "path_prefix",
                    format!("{p:?} does not start with /"),
                ));
            }
            parts.push(format!("PathPrefix({})", quoted("path_prefix", p)?));
        }
        if parts.is_empty() {
            return Err(KubeError::invalid(
                "http_route",
                format!(
                    "{} matches nothing: give .hostname() or .path_prefix()",
                    self.name
                ),
            ));
        }
        Ok(parts.join(" && "))
    }

    pub fn build(&self) -> Result<Value> {
        if self.services.is_empty() {
            return Err(KubeError::invalid(
                "http_route",
                format!("{} has no service: give .service(name, port)", self.name),
            ));
        }
        let tls = self.tls_secret.is_some() || self.tls_resolver.is_some();
        let entrypoints = if self.entrypoints.is_empty() {
            vec![if tls { "websecure" } else { "web" }.to_string()]
        } else {
            self.entrypoints.clone()
        };
        let mut route = json!({
            "match": self.rule()?,
            "kind": "Rule",
            "services": self.services.iter().map(Backend::to_value).collect::<Vec<_>>(),
        });
        if let Some(p) = self.priority {
            route["priority"] = json!(p);
        }
        if !self.middlewares.is_empty() {
            route["middlewares"] = self
                .middlewares
                .iter()
                .map(|m| json!({"name": m}))
                .collect();
        }
        let mut spec = json!({"entryPoints": entrypoints, "routes": [route]});
        if let Some(s) = &self.tls_secret {
            spec["tls"] = json!({"secretName": s});
        } else if let Some(r) = &self.tls_resolver {
            spec["tls"] = json!({"certResolver": r});
        }
        Ok(json!({"apiVersion": API_VERSION, "kind": "IngressRoute",
                  "metadata": meta(&self.name, &self.namespace), "spec": spec}))
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TcpRoute {
    pub name: String,
    pub namespace: String,
    pub entrypoint: Option<String>,
    pub sni: Option<String>,
    pub sni_regex: Option<String>,
    pub services: Vec<Backend>,
    pub passthrough: bool,
}

impl TcpRoute {
    pub fn build(&self) -> Result<Value> {
        let Some(ep) = &self.entrypoint else {
            return Err(KubeError::invalid(
                "tcp_route",
                format!("{} has no entrypoint: give .entrypoint(name)", self.name),
            ));
        };
        if self.services.is_empty() {
            return Err(KubeError::invalid(
                "tcp_route",
                format!("{} has no service: give .service(name, port)", self.name),
            ));
        }
        let rule = match (&self.sni, &self.sni_regex) {
            (Some(_), Some(_)) => {
                return Err(KubeError::invalid(
                    "tcp_route",
                    "give .sni() or .sni_regex(), not both",
                ))
            }
            (Some(h), None) => format!("HostSNI({})", quoted("sni", h)?),
            (None, Some(r)) => format!("HostSNIRegexp({})", quoted("sni_regex", r)?),
            (None, None) => "HostSNI(`*`)".into(),
        };
        let mut spec = json!({
            "entryPoints": [ep],
            "routes": [{"match": rule,
                        "services": self.services.iter().map(Backend::to_value).collect::<Vec<_>>()}]
        });
        if self.passthrough {
            spec["tls"] = json!({"passthrough": true});
        }
        Ok(json!({"apiVersion": API_VERSION, "kind": "IngressRouteTCP",
                  "metadata": meta(&self.name, &self.namespace), "spec": spec}))
    }
}

pub const TLS_VERSIONS: [&str; 4] = [
    "VersionTLS10",
    "VersionTLS11",
    "VersionTLS12",
    "VersionTLS13",
];
pub const CLIENT_AUTH: [&str; 5] = [
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsOption {
    pub name: String,
    pub namespace: String,
    pub min_version: Option<String>,
    pub cipher_suites: Vec<String>,
    pub sni_strict: Option<bool>,
    pub client_auth: Option<(String, Vec<String>)>,
}

/// "1.2", "TLS12" or "VersionTLS12" → "VersionTLS12".
pub fn tls_version(v: &str) -> Result<String> {
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    let want = format!("VersionTLS{digits}");
    if TLS_VERSIONS.contains(&want.as_str()) {
        Ok(want)
    } else {
        Err(KubeError::invalid(
            "min_version",
            format!("{v:?} is not one of {}", TLS_VERSIONS.join(", ")),
        ))
    }
}

pub fn client_auth_type(v: &str) -> Result<String> {
    CLIENT_AUTH
        .iter()
        .find(|c| c.eq_ignore_ascii_case(v))
        .map(|c| c.to_string())
        .ok_or_else(|| {
            KubeError::invalid(
                "client_auth",
                format!("{v:?} is not one of {}", CLIENT_AUTH.join(", ")),
            )
        })
}

impl TlsOption {
    pub fn build(&self) -> Result<Value> {
        let mut spec = json!({});
        if let Some(v) = &self.min_version {
            spec["minVersion"] = json!(v);
        }
        if !self.cipher_suites.is_empty() {
            spec["cipherSuites"] = json!(self.cipher_suites);
        }
        if let Some(s) = self.sni_strict {
            spec["sniStrict"] = json!(s);
        }
        if let Some((mode, secrets)) = &self.client_auth {
            spec["clientAuth"] = json!({"clientAuthType": mode, "secretNames": secrets});
        }
        Ok(json!({"apiVersion": API_VERSION, "kind": "TLSOption",
                  "metadata": meta(&self.name, &self.namespace), "spec": spec}))
    }
}

/// A Middleware does one thing: the key of its spec and that key's value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Middleware {
    pub name: String,
    pub namespace: String,
    pub spec: Vec<(String, Value)>,
}

impl Middleware {
    pub fn set(&mut self, key: &str, value: Value) {
        self.spec.retain(|(k, _)| k != key);
        self.spec.push((key.to_string(), value));
    }

    pub fn build(&self) -> Result<Value> {
        match self.spec.as_slice() {
            [] => Err(KubeError::invalid(
                "middleware",
                format!(
                    "{} does nothing: call one of redirect_https, headers, rate_limit, \
                     forward_auth, ip_whitelist, compress, chain",
                    self.name
                ),
            )),
            [(k, v)] => Ok(json!({"apiVersion": API_VERSION, "kind": "Middleware",
                                  "metadata": meta(&self.name, &self.namespace),
                                  "spec": {k.as_str(): v}})),
            several => Err(KubeError::invalid(
                "middleware",
                format!(
                    "{} does several things ({}); a Traefik middleware does one: chain several",
                    self.name,
                    several
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(name: &str, port: i64, weight: Option<i64>) -> Backend {
        Backend {
            name: name.into(),
            port,
            weight,
        }
    }

    #[test]
    fn http_routes() {
        let mut r = HttpRoute {
            name: "web".into(),
            namespace: "ns".into(),
            ..HttpRoute::default()
        };
        assert!(r.build().is_err());
        r.services.push(backend("web", 80, None));
        assert!(r
            .build()
            .unwrap_err()
            .to_string()
            .contains("matches nothing"));
        r.hostnames.push("a.example.com".into());
        let m = r.build().unwrap();
        assert_eq!(m["kind"], "IngressRoute");
        assert_eq!(m["spec"]["entryPoints"], json!(["web"]));
        assert_eq!(m["spec"]["routes"][0]["match"], "Host(`a.example.com`)");
        r.hostnames.push("b.example.com".into());
        r.path_prefix = Some("/api".into());
        r.services.push(backend("canary", 80, Some(10)));
        r.middlewares.push("https".into());
        r.priority = Some(5);
        r.tls_resolver = Some("letsencrypt".into());
        let m = r.build().unwrap();
        let route = &m["spec"]["routes"][0];
        assert_eq!(
            route["match"],
            "(Host(`a.example.com`) || Host(`b.example.com`)) && PathPrefix(`/api`)"
        );
        assert_eq!(
            route["services"][1],
            json!({"name": "canary", "port": 80, "weight": 10})
        );
        assert_eq!(route["middlewares"], json!([{"name": "https"}]));
        assert_eq!(route["priority"], 5);
        assert_eq!(m["spec"]["entryPoints"], json!(["websecure"]));
        assert_eq!(m["spec"]["tls"], json!({"certResolver": "letsencrypt"}));
        r.path_prefix = Some("api".into());
        assert!(r.build().is_err());
        r.path_prefix = Some("/a`b".into());
        assert!(r.build().is_err());
    }

    #[test]
    fn tcp_routes_tls_options_middlewares() {
        let mut t = TcpRoute {
            name: "pg".into(),
            namespace: "ns".into(),
            ..TcpRoute::default()
        };
        assert!(t.build().is_err());
        t.entrypoint = Some("postgres".into());
        t.services.push(backend("pg", 5432, None));
        assert_eq!(
            t.build().unwrap()["spec"]["routes"][0]["match"],
            "HostSNI(`*`)"
        );
        t.sni = Some("db.example.com".into());
        t.passthrough = true;
        let m = t.build().unwrap();
        assert_eq!(m["spec"]["routes"][0]["match"], "HostSNI(`db.example.com`)");
        assert_eq!(m["spec"]["tls"], json!({"passthrough": true}));
        t.sni_regex = Some("^.+\\.example\\.com$".into());
        assert!(t.build().is_err());

        assert_eq!(tls_version("1.2").unwrap(), "VersionTLS12");
        assert_eq!(tls_version("VersionTLS13").unwrap(), "VersionTLS13");
        assert!(tls_version("1.4").is_err());
        assert_eq!(
            client_auth_type("requireandverifyclientcert").unwrap(),
            "RequireAndVerifyClientCert"
        );
        let o = TlsOption {
            name: "strict".into(),
            namespace: "ns".into(),
            min_version: Some("VersionTLS12".into()),
            cipher_suites: vec!["TLS_AES_128_GCM_SHA256".into()],
            sni_strict: Some(true),
            client_auth: Some(("RequireAndVerifyClientCert".into(), vec!["ca".into()])),
        };
        assert_eq!(
            o.build().unwrap()["spec"],
            json!({"minVersion": "VersionTLS12", "cipherSuites": ["TLS_AES_128_GCM_SHA256"], "sniStrict": true,
                   "clientAuth": {"clientAuthType": "RequireAndVerifyClientCert", "secretNames": ["ca"]}})
        );

        let mut mw = Middleware {
            name: "https".into(),
            namespace: "ns".into(),
            ..Middleware::default()
        };
        assert!(mw.build().is_err());
        mw.set(
            "redirectScheme",
            json!({"scheme": "https", "permanent": true}),
        );
        assert_eq!(
            mw.build().unwrap()["spec"],
            json!({"redirectScheme": {"scheme": "https", "permanent": true}})
        );
        mw.set("compress", json!({}));
        assert!(mw
            .build()
            .unwrap_err()
            .to_string()
            .contains("does several things"));
    }
}
