//! AWS Organizations, read from the account drillbook runs in (the organization's management
//! account or a delegated administrator): the OUs under a parent and the accounts directly in
//! it, every page. A fleet's targets given as OUs are expanded with these (`app::targets`).
//!
//! Organizations is a global service whose endpoint is in us-east-1 ("AWS Organizations
//! endpoints and quotas", AWS General Reference).

use aws_sdk_organizations::types::{AccountState, AccountStatus, ChildType};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The Region Organizations' API is called in.
pub const ORGANIZATIONS_REGION: &str = "us-east-1";

/// An account directly in an OU, as ListAccountsForParent reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// Why it cannot run, when Organizations says it is suspended or closing: `Status`
    /// SUSPENDED or PENDING_CLOSURE, or `State` SUSPENDED, PENDING_CLOSURE or CLOSED
    /// (API reference, "Account"; "Closing a member account in your organization": a closed
    /// account stays SUSPENDED for up to 90 days).
    pub inactive: Option<String>,
}

/// Why a listing failed.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// `ParentNotFoundException`: no such OU or root in the caller's organization.
    #[error("no OU or root `{parent}` in this organization (AWS Organizations: {message})")]
    NotFound { parent: String, message: String },
    /// `AccessDeniedException`, `AWSOrganizationsNotInUseException`: the caller is not the
    /// management account or a delegated administrator, or not in an organization.
    #[error("AWS Organizations refused to list {parent}: {code}: {message}")]
    Denied {
        parent: String,
        code: String,
        message: String,
    },
    #[error("AWS Organizations could not list {parent}: {message}")]
    Other { parent: String, message: String },
}

fn org_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    parent: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> OrgError {
    let parent = parent.to_string();
    let code = e.code().unwrap_or_default().to_string();
    let message = e
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| aws_smithy_types::error::display::DisplayErrorContext(e).to_string());
    match code.as_str() {
        "ParentNotFoundException" | "ChildNotFoundException" => {
            OrgError::NotFound { parent, message }
        }
        "AccessDeniedException" | "AWSOrganizationsNotInUseException" => OrgError::Denied {
            parent,
            code,
            message,
        },
        "InvalidInputException" => OrgError::NotFound { parent, message },
        _ if code.is_empty() => OrgError::Other { parent, message },
        _ => OrgError::Other {
            parent,
            message: format!("{code}: {message}"),
        },
    }
}

/// The OUs directly under `parent` (ListChildren, ChildType ORGANIZATIONAL_UNIT).
pub async fn child_ous(
    client: &aws_sdk_organizations::Client,
    parent: &str,
) -> Result<Vec<String>, OrgError> {
    let mut pages = client
        .list_children()
        .parent_id(parent)
        .child_type(ChildType::OrganizationalUnit)
        .into_paginator()
        .send();
    let mut out = vec![];
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| org_error(parent, &e))?;
        out.extend(
            page.children()
                .iter()
                .filter_map(|c| c.id().map(str::to_string)),
        );
    }
    Ok(out)
}

/// The accounts directly in `parent` (ListAccountsForParent).
pub async fn accounts_in(
    client: &aws_sdk_organizations::Client,
    parent: &str,
) -> Result<Vec<OrgAccount>, OrgError> {
    let mut pages = client
        .list_accounts_for_parent()
        .parent_id(parent)
        .into_paginator()
        .send();
    let mut out = vec![];
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| org_error(parent, &e))?;
        for a in page.accounts() {
            let Some(id) = a.id() else { continue };
            let status = match a.status() {
                Some(s @ (AccountStatus::Suspended | AccountStatus::PendingClosure)) => {
                    Some(s.as_str())
                }
                _ => None,
            };
            let state = match a.state() {
                Some(
                    s @ (AccountState::Suspended
                    | AccountState::PendingClosure
                    | AccountState::Closed),
                ) => Some(s.as_str()),
                _ => None,
            };
            out.push(OrgAccount {
                id: id.to_string(),
                name: a.name().unwrap_or(id).to_string(),
                inactive: status.or(state).map(str::to_string),
            });
        }
    }
    Ok(out)
}
