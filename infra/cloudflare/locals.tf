# Every value the rules are built from. Only variables here, no resources or data
# sources: infra/tests/test_cloudflare.py evaluates this file with `terraform console`
# when a terraform binary is at hand, without the provider.

locals {
  # Requests for the router's host names only.
  hosts = format("(http.host in {%s})", join(" ", [for h in var.hostnames : jsonencode(h)]))

  # The API, as the router and the core route it (Function::for_path in
  # shared/core/src/routes/mod.rs picks the function by the first path segment):
  # /<segment> and /<segment>/... for each of these, and /openapi.json itself.
  # infra/tests/test_cloudflare.py fails when the core's routing changes and this does not.
  api_segments  = ["auth", "chat", "v1", "sessions", "shared", "admin"]
  api_documents = ["/openapi.json"]
  api_path = format(
    "(http.request.uri.path in {%s} or %s)",
    join(" ", [for p in concat([for s in local.api_segments : "/${s}"], local.api_documents) : jsonencode(p)]),
    join(" or ", [for s in local.api_segments : format("starts_with(http.request.uri.path, %s)", jsonencode("/${s}/"))]),
  )

  # The web app (the router's static assets; shared/core/src/webapp.rs): its files under
  # /assets/, and any page a browser opens (it asks for text/html), by GET only.
  app_request = "(http.request.method eq \"GET\" and (starts_with(http.request.uri.path, \"/assets/\") or any(http.request.headers[\"accept\"][*] contains \"text/html\")))"

  # The methods the routes answer (GET, POST, PUT, PATCH, DELETE) and CORS preflights
  # (OPTIONS): shared/core/src/middleware/cors.rs ALLOW_METHODS. No HEAD, TRACE or CONNECT.
  allowed_methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
  method_allowed  = format("(http.request.method in {%s})", join(" ", [for m in local.allowed_methods : jsonencode(m)]))

  # Bodies over the cap. Below Enterprise, rules cannot see the body's size, only the
  # Content-Length header, compared as a string: more digits than the cap, or as many
  # digits and greater (same-length decimal strings order like numbers). A chunked upload
  # without Content-Length is let through here and cut off by the router at the same cap.
  # Attachment uploads (POST /sessions/<id>/attachments: http::is_attachment_upload in
  # shared/core/src/http/mod.rs) have their own, larger cap, on that path only.
  max_body          = tostring(var.max_body_bytes)
  content_length    = "http.request.headers[\"content-length\"][0]"
  attachment_upload = "(http.request.method eq \"POST\" and starts_with(http.request.uri.path, \"/sessions/\") and ends_with(http.request.uri.path, \"/attachments\"))"
  over_cap = {
    for name, cap in { body = local.max_body, attachment = tostring(var.max_attachment_bytes) } :
    name => var.body_size_field ? "(http.request.body.size gt ${cap})" : format(
      "(len(%s) gt %d or (len(%s) eq %d and %s gt %s))",
      local.content_length, length(cap), local.content_length, length(cap), local.content_length, jsonencode(cap),
    )
  }
  body_too_large = format(
    "((%s and %s) or (not %s and %s))",
    local.attachment_upload, local.over_cap.attachment, local.attachment_upload, local.over_cap.body,
  )

  # Login, registration and password reset: the endpoints worth guessing credentials or
  # creating accounts on.
  auth_sensitive_paths = ["/auth/login", "/auth/register", "/auth/password/reset"]
  auth_sensitive       = format("(http.request.uri.path in {%s})", join(" ", [for p in local.auth_sensitive_paths : jsonencode(p)]))

  # Per client address, as the router counts (it trusts CF-Connecting-IP). Cloudflare
  # requires the data center (cf.colo.id) among the characteristics: counters are per colo.
  per_ip = ["ip.src", "cf.colo.id"]

  # The app's error body (ErrorBody in shared/core/src/http/mod.rs, codes from
  # shared/core/src/error.rs), so clients parse one shape whoever answers.
  errors = {
    https_required     = { status = 403, type = "permission_error", message = "use HTTPS" }
    method_not_allowed = { status = 405, type = "invalid_request_error", message = "method not allowed" }
    not_found          = { status = 404, type = "not_found_error", message = "not found" }
    payload_too_large  = { status = 413, type = "invalid_request_error", message = "request body too large (at most ${var.max_body_bytes} bytes)" }
    rate_limited       = { status = 429, type = "rate_limit_error", message = "too many requests; try again later" }
  }
  error_response = {
    for code, e in local.errors : code => {
      response = {
        status_code  = e.status
        content_type = "application/json"
        content      = jsonencode({ error = { code = code, message = e.message, type = e.type } })
      }
    }
  }

  # Cloudflare's IDs for its managed rulesets (the same in every account).
  cloudflare_managed_ruleset = "efb7b8c949ac4650a09736fc376e9aee"
  owasp_core_ruleset         = "4814384a9e5d4991b9815dcfc25d2f1f"
  owasp_anomaly_rule         = "6179ae15870a4bb7b2d480d4843b323c"
}
