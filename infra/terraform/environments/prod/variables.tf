# What differs between installations of this environment (terraform.tfvars.example shows a filled-in set).
# Each is passed unchanged to the module input of the same name, which describes and validates it in full
# (modules/docsbot/variables.tf); only `labels`, used by the provider here, is validated in this file.

variable "project_id" {
  description = "The Google Cloud project to deploy into (its ID, not its name or number)."
  type        = string
}

variable "discord_application_id" {
  description = "The Discord application's ID (developer portal, General Information). Not a secret."
  type        = string
}

variable "region" {
  description = "Region of the functions, queue, scheduler, scrape job, Artifact Registry and the Qdrant VM's IP."
  type        = string
  default     = "us-central1"
}

variable "zone" {
  description = "Zone of the Qdrant VM and its data disk; must be in var.region."
  type        = string
  default     = "us-central1-a"
}

variable "name_prefix" {
  description = "Prefix of every resource name. Two environments in one project need different prefixes."
  type        = string
  default     = "docsbot"
}

variable "labels" {
  description = "Extra labels put on every resource that takes labels (an app = \"docsbot\" label is always added)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "Label keys must start with a lower-case letter; keys and values may hold lower-case letters, digits, _ and - (at most 63 characters)."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database (nam5, eur3 or a region). It cannot be changed later."
  type        = string
  default     = "nam5"
}

variable "deletion_protection" {
  description = "Protect the Firestore database, the Qdrant VM and the scrape job against deletion (false before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "qdrant_domain" {
  description = "The DNS name the Qdrant VM answers on over HTTPS, e.g. qdrant.example.com (unless qdrant_external_url is set)."
  type        = string
  default     = ""
}

variable "acme_email" {
  description = "Email address Let's Encrypt sends certificate expiry warnings to (unless qdrant_external_url is set)."
  type        = string
  default     = ""
}

variable "qdrant_sha256" {
  description = "SHA-256 of the Qdrant release the VM downloads; empty: not checked (docs/deploy.md shows how to get it)."
  type        = string
  default     = ""
}

variable "qdrant_external_url" {
  description = "Empty: run Qdrant on a VM. https://HOST:PORT of a Qdrant run elsewhere: no VM (docs/deploy.md, Outgrowing one VM)."
  type        = string
  default     = ""
}

variable "qdrant_data_disk_snapshot" {
  description = "Empty for a new data disk; a snapshot's name to recreate the disk from it (docs/deploy.md, Restoring the data disk)."
  type        = string
  default     = ""
}

variable "dns_managed_zone" {
  description = "Name of a Cloud DNS managed zone in this project holding qdrant_domain (Terraform creates the A record); empty: none."
  type        = string
  default     = ""
}

variable "interactions_min_instances" {
  description = "Instances of the interactions function kept warm (0 saves money and risks a slow first answer)."
  type        = number
  default     = 1
}

variable "ingest_invoker_service_accounts" {
  description = "Emails of the service accounts allowed to call the ingest function (your docs CI's). Empty: nobody can."
  type        = list(string)
  default     = []
}

variable "default_collection" {
  description = "Collection answered from when a channel is not mapped to one in the collections file (empty: none)."
  type        = string
  default     = ""
}

variable "staff_role_ids" {
  description = "Discord role IDs allowed to /solve, /close and /open any thread (besides the thread's author)."
  type        = list(string)
  default     = []
}

variable "scrape_image_tag" {
  description = "Tag of the scrape-job image to run (docs/deploy.md, step 5): use a new tag per build, such as the git commit."
  type        = string
  default     = "latest"
}

variable "allowed_guild_ids" {
  description = "The Discord servers (guild IDs) the bot answers in; empty: every server it is added to."
  type        = list(string)
  default     = []
}

variable "billing_account_id" {
  description = "The billing account paying for the project, for the budget alert; empty: no budget alert."
  type        = string
  default     = ""
}

variable "monthly_budget" {
  description = "The project's monthly budget in the billing account's currency (alerts at 50, 90 and 100 %)."
  type        = number
  default     = 50
}

variable "alert_emails" {
  description = "Email addresses told about the budget and about Discord's endpoint not answering."
  type        = list(string)
  default     = []
}

variable "enable_relay" {
  description = "Run the gateway relay, which answers new forum posts and mentions without a command (docs/deploy.md: it needs the Message Content intent and the relay image)."
  type        = bool
  default     = false
}

variable "relay_image_tag" {
  description = "Tag of the relay image to run when enable_relay is true (docs/deploy.md): use a new tag per build, such as the git commit."
  type        = string
  default     = "latest"
}

variable "digest_enabled" {
  description = "Post the weekly documentation-gaps digest to a staff channel (docs/learning.md; needs the Message Content intent: docs/deploy.md)."
  type        = bool
  default     = false
}

variable "digest_channel_id" {
  description = "The staff channel's id for the digest (required when digest_enabled)."
  type        = string
  default     = ""
}

variable "digest_collection" {
  description = "The collection whose gaps the digest reports (required when digest_enabled)."
  type        = string
  default     = ""
}
