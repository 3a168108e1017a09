# Terraform and provider versions. Providers are pinned to a major version; `terraform init` writes the exact
# versions it picked to .terraform.lock.hcl: commit that file in your deployment repository.
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 8.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  # Every resource that takes labels gets these (the "app" label lets you find and bill docsbot's resources).
  default_labels = merge({ app = "docsbot" }, var.labels)
}
