variable "account_id" {
  type        = string
  description = "The Cloudflare account the Workers are deployed to; the zone must belong to it (checked at plan time)."

  validation {
    condition     = can(regex("^[0-9a-f]{32}$", var.account_id))
    error_message = "account_id is a 32-character hexadecimal Cloudflare account ID."
  }
}

variable "zone_id" {
  type        = string
  description = "The zone in front of the router (the zone of the router's custom domain in wrangler.toml)."

  validation {
    condition     = can(regex("^[0-9a-f]{32}$", var.zone_id))
    error_message = "zone_id is a 32-character hexadecimal Cloudflare zone ID."
  }
}

variable "environment" {
  type        = string
  description = "The wrangler environment these rules protect (wrangler.toml [env.<name>]); names the rulesets."

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment is staging or production (dev runs on workers.dev, where zone rules do not apply)."
  }
}

variable "hostnames" {
  type        = list(string)
  description = <<-EOT
    The router's custom domains in this zone (wrangler.toml routes, env.<environment>).
    Every rule is scoped to these hosts, so other sites in the zone are untouched. A zone
    has one entry-point ruleset per phase: when staging and production share a zone, apply
    once with both hostnames (infra/README.md).
  EOT

  validation {
    condition     = length(var.hostnames) > 0 && alltrue([for h in var.hostnames : can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", h))])
    error_message = "hostnames is a non-empty list of lowercase host names (no scheme, port or path)."
  }
}

variable "max_body_bytes" {
  type        = number
  default     = 1048576
  description = "Largest request body let through, in bytes: the router's CONFAB_MAX_BODY_BYTES (wrangler.toml)."

  validation {
    condition     = var.max_body_bytes >= 1024 && floor(var.max_body_bytes) == var.max_body_bytes
    error_message = "max_body_bytes is a whole number of bytes, at least 1024."
  }
}

variable "max_attachment_bytes" {
  type        = number
  default     = 5242880
  description = "Largest attachment upload let through, in bytes: the functions' CONFAB_MAX_ATTACHMENT_BYTES."

  validation {
    condition     = var.max_attachment_bytes >= 1024 && floor(var.max_attachment_bytes) == var.max_attachment_bytes
    error_message = "max_attachment_bytes is a whole number of bytes, at least 1024."
  }
}

variable "body_size_field" {
  type        = bool
  default     = false
  description = <<-EOT
    Compare http.request.body.size (the real body size, chunked uploads included) instead
    of the Content-Length header. The field needs an Enterprise plan with a paid add-on.
  EOT
}

variable "json_errors" {
  type        = bool
  default     = true
  description = "Answer blocked requests with the app's JSON error body instead of Cloudflare's HTML page (custom responses need a paid plan)."
}

# Rate limits. Periods and timeouts must be values Cloudflare offers: 10, 15, 20, 30, 40,
# 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600, 65535, 86400
# (Pro: periods up to 60 s and timeouts up to 1 h; Business: periods up to 10 min).
variable "rate_limit" {
  type = object({
    requests_per_period = number
    period              = number
    mitigation_timeout  = number
  })
  default = {
    # The router's PER_IP binding (wrangler.toml) allows 600 a minute per address; this
    # is the same limit, counted in the zone before the router runs at all.
    requests_per_period = 600
    period              = 60
    mitigation_timeout  = 60
  }
  description = "Every API request, per client IP."

  validation {
    condition     = contains([10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600, 65535, 86400], var.rate_limit.period) && contains([0, 10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600, 65535, 86400], var.rate_limit.mitigation_timeout)
    error_message = "rate_limit.period and rate_limit.mitigation_timeout must be periods Cloudflare supports (see the comment above)."
  }
}

variable "auth_rate_limit" {
  type = object({
    requests_per_period = number
    period              = number
    mitigation_timeout  = number
  })
  default = {
    # Password guessing and sign-up floods: 10 a minute per address, then 10 minutes out.
    # The auth function also throttles failed logins per account (README, "Auth in brief").
    requests_per_period = 10
    period              = 60
    mitigation_timeout  = 600
  }
  description = "Requests to /auth/login, /auth/register and /auth/password/reset, per client IP. Must be stricter than rate_limit."

  validation {
    condition     = contains([10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600, 65535, 86400], var.auth_rate_limit.period) && contains([0, 10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600, 65535, 86400], var.auth_rate_limit.mitigation_timeout)
    error_message = "auth_rate_limit.period and auth_rate_limit.mitigation_timeout must be periods Cloudflare supports."
  }
}
