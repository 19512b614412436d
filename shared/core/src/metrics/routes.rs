//! Route templates for the `route` label, taken from the OpenAPI document so that every
//! documented operation has one and nothing else (a scanner's paths) adds a label value.

use crate::routes::openapi::ApiDoc;
use utoipa::OpenApi;

/// Paths served outside the documented operations.
const UNDOCUMENTED: [&str; 1] = ["/openapi.json"];
/// The label of every path no template matches.
pub const OTHER: &str = "other";

pub struct RouteTemplates(Vec<(String, Vec<Segment>)>);

enum Segment {
    Literal(String),
    Parameter,
}

impl RouteTemplates {
    /// Built once per instance, on its first request (the document takes a few ms).
    pub fn from_api_doc() -> Self {
        let doc = ApiDoc::openapi();
        let documented = doc.paths.paths.keys().map(String::as_str);
        RouteTemplates::new(documented.chain(UNDOCUMENTED))
    }

    pub fn new<'a>(templates: impl IntoIterator<Item = &'a str>) -> Self {
        let parse = |t: &str| {
            let segments = t.trim_matches('/').split('/');
            segments
                .map(|s| if s.starts_with('{') { Segment::Parameter } else { Segment::Literal(s.into()) })
                .collect()
        };
        RouteTemplates(templates.into_iter().map(|t| (t.to_string(), parse(t))).collect())
    }

    /// The template `path` matches with the most literal segments (`/sessions/search`
    /// before `/sessions/{id}`), or [`OTHER`].
    pub fn template(&self, path: &str) -> &str {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let literals =
            |template: &[Segment]| template.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        self.0
            .iter()
            .filter(|(_, template)| matches(template, &segments))
            .max_by_key(|(_, template)| literals(template))
            .map_or(OTHER, |(name, _)| name)
    }
}

fn matches(template: &[Segment], segments: &[&str]) -> bool {
    template.len() == segments.len()
        && template.iter().zip(segments).all(|(t, s)| match t {
            Segment::Literal(l) => l == s,
            Segment::Parameter => !s.is_empty(),
        })
}
