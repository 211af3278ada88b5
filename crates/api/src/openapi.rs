//! The API's description, generated from the handlers and DTOs: OpenAPI 3.1 at
//! `/api/v1/openapi.json`, and an offline reference page at `/api/v1/docs` (our own
//! HTML, no script from elsewhere).

use axum::Json;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{contents, dlq, dto, health, ingest, outcomes, problem, signals, sources};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sigflow",
        description = "Market signals from where market-moving words appear first. Every error is application/problem+json (RFC 9457). Keys: `Authorization: Bearer sfk_…` (`sigflow keys create`); reads need one when the server listens beyond loopback.",
    ),
    paths(
        health::healthz, health::readyz, health::metrics,
        contents::list, contents::one, signals::list, signals::one, signals::verify,
        outcomes::list, outcomes::track_record,
        dlq::list, ingest::push,
        sources::list, sources::add, sources::pause, sources::resume, sources::remove, sources::test,
    ),
    components(schemas(problem::Problem, dto::ContentPage, dto::ContentItem, dto::DeadLetterPage,
        dto::SourceList, dto::SourceChanged, dto::NewSource, dto::TestResult, dto::IngestAccepted,
        dto::Readiness, dto::Healthz, signals::SignalPage, signals::SignalDetail, signals::Signal,
        signals::LedgerReport, signals::DirectionParam, signals::AnalyzerParam,
        contents::OrderParam, contents::Sentiment, outcomes::OutcomePage, outcomes::OutcomeDto,
        outcomes::TrackRecords, outcomes::TrackRecord, outcomes::ReliabilityBin, outcomes::HorizonParam,
        outcomes::StatusParam, outcomes::ByParam)),
    modifiers(&BearerKeys),
    tags(
        (name = "contents", description = "Stored items and their filters"),
        (name = "signals", description = "Sealed predictions and the ledger's verification"),
        (name = "outcomes", description = "What the predictions' calls turned out to be, and track records"),
        (name = "sources", description = "Source management"),
        (name = "dlq", description = "Dead letters"),
        (name = "ingest", description = "Webhook ingest (HMAC-signed)"),
        (name = "health", description = "Liveness, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerKeys;

/// Answers any endpoint may give, from the gate and the server rather than the
/// handler; documented once here for every operation.
const COMMON: &[(&str, &str)] = &[
    ("400", "A parameter or the body is not valid"),
    ("401", "An API key is needed, or the one sent is not valid"),
    (
        "403",
        "The key's scope is not enough, or the Origin is not allowed",
    ),
    ("408", "The request took too long"),
    ("413", "The body is over the limit"),
    ("415", "A state change with a body must be application/json"),
    ("421", "This server does not answer for that Host"),
    ("429", "Too many requests; see Retry-After"),
    (
        "503",
        "Not available now (store down, or at the connection limit); see Retry-After",
    ),
];

impl Modify for BearerKeys {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("sfk_ API key".into());
        c.add_security_scheme("api_key", SecurityScheme::Http(http));
        let problem = |what: &str| {
            utoipa::openapi::ResponseBuilder::new()
                .description(what)
                .content(
                    problem::PROBLEM_JSON,
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in api.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (code, what) in COMMON {
                    op.responses
                        .responses
                        .entry((*code).to_string())
                        .or_insert_with(|| problem(what).into());
                }
            }
        }
    }
}

/// The OpenAPI document.
pub async fn json() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// A reference page rendered on the server from the same document.
pub async fn docs() -> impl IntoResponse {
    let api = ApiDoc::openapi();
    let mut html = String::from(
        "<!doctype html><html lang=en><meta charset=utf-8><title>sigflow API</title>\
         <style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
         code{background:#f3f3f3;padding:0 .2em}h2{margin-top:2rem}.m{font-weight:bold;text-transform:uppercase}</style>\
         <h1>sigflow API</h1><p>The machine-readable description: <a href=/api/v1/openapi.json>openapi.json</a>.</p>",
    );
    html.push_str(&format!(
        "<p>{}</p>",
        escape(api.info.description.as_deref().unwrap_or(""))
    ));
    for (path, item) in &api.paths.paths {
        let ops = [
            ("get", &item.get),
            ("post", &item.post),
            ("delete", &item.delete),
        ];
        for (m, op) in ops {
            if let Some(op) = op {
                html.push_str(&format!(
                    "<h2><span class=m>{m}</span> <code>{}</code></h2><p>{}</p>",
                    escape(path),
                    escape(
                        op.description
                            .as_deref()
                            .or(op.summary.as_deref())
                            .unwrap_or("")
                    )
                ));
                if let Some(params) = &op.parameters {
                    html.push_str("<ul>");
                    for p in params {
                        html.push_str(&format!(
                            "<li><code>{}</code> — {}</li>",
                            escape(&p.name),
                            escape(p.description.as_deref().unwrap_or(""))
                        ));
                    }
                    html.push_str("</ul>");
                }
            }
        }
    }
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
