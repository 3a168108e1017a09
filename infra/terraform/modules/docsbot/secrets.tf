# The five secrets docsbot needs. Terraform creates the secrets (the containers) but never their values: you
# add each value with `gcloud secrets versions add ... --data-file=-` (docs/deploy.md, step 3), so no key is
# ever in a .tfvars file, a plan, or the Terraform state. Every consumer reads the version "latest": rotating
# a key is adding a version (and, for the Qdrant keys, rebooting the VM).
locals {
  secrets = {
    discord_public_key = {
      id          = "${var.name_prefix}-discord-public-key"
      description = "Discord application public key (64 hex characters; developer portal, General Information)."
    }
    discord_bot_token = {
      id          = "${var.name_prefix}-discord-bot-token"
      description = "Discord bot token (developer portal, Bot, Reset Token)."
    }
    openai_api_key = {
      id          = "${var.name_prefix}-openai-api-key"
      description = "OpenAI API key (embeddings and answers)."
    }
    qdrant_api_key = {
      id          = "${var.name_prefix}-qdrant-api-key"
      description = "Qdrant read-write API key: the VM, the ingest function and the scrape job."
    }
    qdrant_read_only_api_key = {
      id          = "${var.name_prefix}-qdrant-read-only-api-key"
      description = "Qdrant read-only API key: the VM and the respond function."
    }
  }
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  secret_id = each.value.id
  annotations = {
    description = each.value.description
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}
