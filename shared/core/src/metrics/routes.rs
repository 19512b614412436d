//! Route templates for the `route` label: every operation of the OpenAPI document (a
//! test keeps the list equal to it; building the document per instance would cost a
//! cold start milliseconds), so nothing else, such as a scanner's paths, adds a value.

/// The label of every path no template matches.
pub const OTHER: &str = "other";

/// The OpenAPI document's paths, and `/openapi.json`, served outside it.
pub const TEMPLATES: [&str; 48] = [
    "/admin/audit",
    "/admin/metrics",
    "/admin/models",
    "/admin/providers/health",
    "/admin/usage",
    "/admin/users",
    "/admin/users/{id}",
    "/admin/users/{id}/password-reset",
    "/auth/api-keys",
    "/auth/api-keys/{id}",
    "/auth/jwks.json",
    "/auth/login",
    "/auth/logins",
    "/auth/logins/{id}",
    "/auth/logout",
    "/auth/me",
    "/auth/mfa/recovery-codes",
    "/auth/mfa/totp/disable",
    "/auth/mfa/totp/enable",
    "/auth/mfa/totp/setup",
    "/auth/oidc/providers",
    "/auth/oidc/{provider}/callback",
    "/auth/oidc/{provider}/start",
    "/auth/password",
    "/auth/password/reset",
    "/auth/refresh",
    "/auth/register",
    "/chat/capabilities",
    "/chat/sessions/{id}/messages",
    "/chat/sessions/{id}/messages/{message_id}/cancel",
    "/chat/sessions/{id}/messages/{message_id}/regenerate",
    "/chat/sessions/{id}/messages/{message_id}/stream",
    "/chat/sessions/{id}/research",
    "/openapi.json",
    "/sessions",
    "/sessions/{id}",
    "/sessions/{id}/attachments",
    "/sessions/{id}/attachments/{attachment_id}",
    "/sessions/{id}/export",
    "/sessions/{id}/export/{token}",
    "/sessions/{id}/messages",
    "/sessions/{id}/share",
    "/shared/{token}",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/messages",
    "/v1/models",
    "/{function}/health",
];

pub struct RouteTemplates(Vec<(&'static str, Vec<Segment>)>);

enum Segment {
    Literal(&'static str),
    Parameter,
}

impl RouteTemplates {
    pub fn new(templates: impl IntoIterator<Item = &'static str>) -> Self {
        let parse = |t: &'static str| {
            let segments = t.trim_matches('/').split('/');
            segments
                .map(|s| if s.starts_with('{') { Segment::Parameter } else { Segment::Literal(s) })
                .collect()
        };
        RouteTemplates(templates.into_iter().map(|t| (t, parse(t))).collect())
    }

    /// The template `path` matches with the most literal segments (`/sessions/search`
    /// before `/sessions/{id}`), or [`OTHER`].
    pub fn template(&self, path: &str) -> &'static str {
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

impl Default for RouteTemplates {
    fn default() -> Self {
        RouteTemplates::new(TEMPLATES)
    }
}

fn matches(template: &[Segment], segments: &[&str]) -> bool {
    template.len() == segments.len()
        && template.iter().zip(segments).all(|(t, s)| match t {
            Segment::Literal(l) => l == s,
            Segment::Parameter => !s.is_empty(),
        })
}
