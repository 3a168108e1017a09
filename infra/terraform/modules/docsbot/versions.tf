# The module needs the google provider 7.x; the provider itself (project, region, default labels) is configured by
# the environment that calls the module (environments/*/versions.tf).
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 8.0"
    }
  }
}
