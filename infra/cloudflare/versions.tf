# The Cloudflare provider, v5 (attribute syntax: `rules = [{ ... }]`, not v4's blocks).
# The API token comes from the environment (CLOUDFLARE_API_TOKEN), never from a file:
# infra/README.md, "Edge (Cloudflare Workers)", lists the permissions it needs.
terraform {
  required_version = ">= 1.5"

  required_providers {
    cloudflare = {
      source  = "cloudflare/cloudflare"
      version = "~> 5.5"
    }
  }
}

provider "cloudflare" {}
