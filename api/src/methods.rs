//! Which methods each route accepts, so that a known path asked with the
//! wrong method gets 405 Method Not Allowed and an `Allow` header (RFC 9110
//! §15.5.6) instead of the 404 of an unknown path.
//!
//! actix-web falls through to the default service both when no route's path
//! matches and when a path matches but no route's method guard does. The
//! table here is built once per worker from the OpenAPI document (which lists
//! every API route, so the two cannot drift apart) plus the few routes that
//! are not part of the API (Swagger UI); the default service looks the path
//! up in it.

use actix_web::http::Method;

/// Routes served outside the OpenAPI document (all `GET`): Swagger UI, the
/// document itself, and the Prometheus endpoint of the metrics middleware.
const EXTRA_GET: &[&str] = &["/docs", "/docs/{tail:.*}", "/v1/openapi.json", "/metrics"];

/// The order methods are listed in an `Allow` header.
const ORDER: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
];

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Must equal the request's segment.
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Param,
    /// `{name:.*}` at the end: the rest of the path, possibly empty.
    Tail,
}

/// A path template and the methods it is served with.
#[derive(Debug, Clone)]
struct Route {
    segments: Vec<Segment>,
    methods: Vec<Method>,
}

impl Route {
    fn parse(template: &str, methods: Vec<Method>) -> Route {
        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(inner) if inner.ends_with(":.*") => Segment::Tail,
                    Some(_) => Segment::Param,
                    None => Segment::Literal(s.to_owned()),
                },
            )
            .collect();
        Route { segments, methods }
    }

    fn matches(&self, path: &str) -> bool {
        let mut parts = path.trim_start_matches('/').split('/');
        for segment in &self.segments {
            match segment {
                Segment::Tail => return true,
                Segment::Literal(l) => {
                    if parts.next() != Some(l.as_str()) {
                        return false;
                    }
                }
                Segment::Param => {
                    if parts.next().is_none_or(str::is_empty) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }
}

/// Every known path template with its methods.
#[derive(Debug, Clone, Default)]
pub struct MethodTable {
    routes: Vec<Route>,
}

impl MethodTable {
    /// The table of `doc`'s operations plus the routes outside the API document.
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> MethodTable {
        let mut routes: Vec<Route> = doc
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let ops = [
                    (Method::GET, item.get.is_some()),
                    (Method::HEAD, item.head.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                    (Method::OPTIONS, item.options.is_some()),
                    (Method::TRACE, item.trace.is_some()),
                ];
                let methods = ops
                    .into_iter()
                    .filter_map(|(m, present)| present.then_some(m))
                    .collect();
                Route::parse(template, methods)
            })
            .collect();
        routes.extend(EXTRA_GET.iter().map(|t| Route::parse(t, vec![Method::GET])));
        MethodTable { routes }
    }

    /// The methods served at `path` (empty for an unknown path), in `Allow` order.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        let mut out: Vec<Method> = Vec::new();
        for route in self.routes.iter().filter(|r| r.matches(path)) {
            for m in &route.methods {
                if !out.contains(m) {
                    out.push(m.clone());
                }
            }
        }
        out.sort_by_key(|m| ORDER.iter().position(|o| o == m).unwrap_or(ORDER.len()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_like_actix() {
        let r = Route::parse("/v1/requests/{id}/grant", vec![Method::POST]);
        assert!(r.matches("/v1/requests/abc/grant"));
        assert!(!r.matches("/v1/requests//grant"));
        assert!(!r.matches("/v1/requests/abc/grant/x"));
        assert!(!r.matches("/v1/requests/abc"));
        let tail = Route::parse("/docs/{tail:.*}", vec![Method::GET]);
        assert!(tail.matches("/docs/"));
        assert!(tail.matches("/docs/index.html"));
        assert!(!tail.matches("/doc"));
    }

    #[test]
    fn methods_of_overlapping_routes_are_merged_in_order() {
        let table = MethodTable {
            routes: vec![
                Route::parse("/v1/x", vec![Method::POST]),
                Route::parse("/v1/{id}", vec![Method::DELETE, Method::GET]),
            ],
        };
        assert_eq!(
            table.allowed("/v1/x"),
            [Method::GET, Method::POST, Method::DELETE]
        );
        assert!(table.allowed("/v2/x").is_empty());
    }
}
