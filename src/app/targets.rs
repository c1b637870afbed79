//! Which accounts a fleet runs in: the file's `targets:` with the command line's flags over
//! it, and OUs expanded through AWS Organizations, called as the session's own identity (the
//! organization's management account or a delegated administrator; no target role). The
//! meaning is AWS Systems Manager Automation's (API reference, "TargetLocation"): `Accounts`
//! are account ids or OU ids; `IncludeChildOrganizationUnits` (default false) adds the
//! accounts of the OUs' child OUs; `ExcludeAccounts` are accounts or OUs left out of the
//! expanded targets. An account Organizations reports suspended or closing is not run: it is
//! listed as skipped, by id and name.

use std::collections::BTreeSet;
use std::path::Path;

use super::fleet::{Account, DEFAULT_ROLE_NAME, FleetSpec, Share, StopAlarm};
use super::{ExitCode, Failure, Session};
use crate::actions::organizations::{self, OrgAccount, OrgError};
pub use crate::checkpoint::fleet::Skipped;
pub use crate::runbook::Targets;

/// The `targets:` of a runbook or scenario file, or `None` (exit 2 with its problems, each at
/// its line and column, when they are wrong).
pub fn file_targets(path: &Path) -> Result<Option<Targets>, Failure> {
    let text = crate::runbook::load::read_text(path)?;
    Ok(crate::runbook::targets_of(path, &text)?)
}

/// The file's targets with each given flag over its field (as `--var` over `vars:`); `None`
/// when neither names any account, so the file runs once, as the caller.
pub fn merged(file: Option<Targets>, flags: Targets) -> Result<Option<Targets>, Failure> {
    let has_accounts = |t: &Targets| !t.accounts.is_empty() || !t.organizational_units.is_empty();
    if file.is_none() && !has_accounts(&flags) {
        let given = flags != Targets::default();
        if given {
            return Err(Failure::invalid(
                "--regions, --role-name, --exclude, --include-child-ous, --max-concurrency and --max-errors need accounts to run across",
            )
            .help("add `--accounts ID,...` or `--ou OU_ID,...`, or a `targets:` field in the file"));
        }
        return Ok(None);
    }
    let f = file.unwrap_or_default();
    let list = |flag: Vec<String>, file: Vec<String>| if flag.is_empty() { file } else { flag };
    // `--accounts` or `--ou` given: the flags say which accounts, both fields of the file give way.
    let (accounts, organizational_units) = if has_accounts(&flags) {
        (flags.accounts, flags.organizational_units)
    } else {
        (f.accounts, f.organizational_units)
    };
    Ok(Some(Targets {
        accounts,
        organizational_units,
        include_child_ous: flags.include_child_ous.or(f.include_child_ous),
        exclude: list(flags.exclude, f.exclude),
        regions: list(flags.regions, f.regions),
        role_name: flags.role_name.or(f.role_name),
        max_concurrency: flags.max_concurrency.or(f.max_concurrency),
        max_errors: flags.max_errors.or(f.max_errors),
        stop_alarm: flags.stop_alarm.or(f.stop_alarm),
    }))
}

/// Where accounts under an OU are listed (AWS Organizations; a table in tests).
pub(crate) trait Directory {
    /// The OUs directly under `parent`.
    async fn child_ous(&self, parent: &str) -> Result<Vec<String>, OrgError>;
    /// The accounts directly in `parent`.
    async fn accounts_in(&self, parent: &str) -> Result<Vec<OrgAccount>, OrgError>;
}

struct Organizations(aws_sdk_organizations::Client);

impl Directory for Organizations {
    async fn child_ous(&self, parent: &str) -> Result<Vec<String>, OrgError> {
        organizations::child_ous(&self.0, parent).await
    }
    async fn accounts_in(&self, parent: &str) -> Result<Vec<OrgAccount>, OrgError> {
        organizations::accounts_in(&self.0, parent).await
    }
}

/// The accounts to run and the ones skipped, in order (the accounts given first, then each
/// OU's, without repeats).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Expanded {
    pub run: Vec<Account>,
    pub skipped: Vec<Skipped>,
}

/// Every account under `ou`: directly in it, and, with `children`, in its child OUs, all the
/// way down (ListChildren with ChildType ORGANIZATIONAL_UNIT, then ListAccountsForParent).
async fn under(d: &impl Directory, ou: &str, children: bool) -> Result<Vec<OrgAccount>, OrgError> {
    let mut out = vec![];
    let mut parents = vec![ou.to_string()];
    let mut seen = BTreeSet::new();
    while let Some(p) = parents.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        out.extend(d.accounts_in(&p).await?);
        if children {
            let mut kids = d.child_ous(&p).await?;
            kids.reverse();
            parents.extend(kids);
        }
    }
    Ok(out)
}

/// Expands `t` into the accounts to run and those skipped.
pub(crate) async fn expand(d: &impl Directory, t: &Targets) -> Result<Expanded, OrgError> {
    let children = t.include_child_ous.unwrap_or(false);
    let mut excluded: BTreeSet<String> = BTreeSet::new();
    for e in &t.exclude {
        if crate::runbook::is_ou_id(e) {
            excluded.extend(under(d, e, children).await?.into_iter().map(|a| a.id));
        } else {
            excluded.insert(e.clone());
        }
    }
    let mut out = Expanded::default();
    let mut seen = BTreeSet::new();
    for a in &t.accounts {
        let (id, name) = match a.split_once('=') {
            Some((id, name)) => (id.trim(), name.trim()),
            None => (a.trim(), a.trim()),
        };
        if !excluded.contains(id) && seen.insert(id.to_string()) {
            out.run.push(Account {
                id: id.to_string(),
                name: name.to_string(),
            });
        }
    }
    for ou in &t.organizational_units {
        for a in under(d, ou, children).await? {
            if excluded.contains(&a.id) || !seen.insert(a.id.clone()) {
                continue;
            }
            match a.inactive {
                Some(status) => out.skipped.push(Skipped {
                    account: a.id,
                    name: a.name,
                    reason: format!("{status} in AWS Organizations"),
                }),
                None => out.run.push(Account {
                    id: a.id,
                    name: a.name,
                }),
            }
        }
    }
    Ok(out)
}

impl Session {
    /// The fleet `t` describes: its OUs listed through AWS Organizations (as this session's
    /// identity), before any target starts.
    pub async fn resolve_targets(&self, t: &Targets) -> Result<FleetSpec, Failure> {
        if t.regions.is_empty() {
            return Err(Failure::invalid("a run across accounts needs its Regions").help(
                "add `--regions ca-central-1,eu-west-1` or `regions:` to `targets:` (each account runs in each Region)",
            ));
        }
        for a in &t.accounts {
            let id = a.split_once('=').map_or(a.as_str(), |(id, _)| id).trim();
            if !crate::runbook::is_account_id(id) {
                return Err(Failure::invalid(format!(
                    "`{}` is not an AWS account id (12 digits)",
                    crate::report::sanitize::one_line(id)
                )));
            }
        }
        for ou in t.organizational_units.iter().chain(&t.exclude) {
            if !crate::runbook::is_account_id(ou) && !crate::runbook::is_ou_id(ou) {
                return Err(Failure::invalid(format!(
                    "`{}` is not an OU id",
                    crate::report::sanitize::one_line(ou)
                ))
                .help("give OU ids as AWS Organizations shows them (`ou-ab12-cdef3456`, or a root `r-ab12`), not OU names"));
            }
        }
        if let Some(a) = t
            .organizational_units
            .iter()
            .find(|o| crate::runbook::is_account_id(o))
        {
            return Err(
                Failure::invalid(format!("`{a}` is an account id, not an OU id"))
                    .help("give accounts with `--accounts` (or `targets.accounts`)"),
            );
        }
        let share = |s: &Option<String>, default: &str, what: &str| {
            Share::parse(s.as_deref().unwrap_or(default), what).map_err(Failure::invalid)
        };
        let max_concurrency = share(&t.max_concurrency, "10", "--max-concurrency")?;
        let max_errors = share(&t.max_errors, "0", "--max-errors")?;
        let expanded = if t.organizational_units.is_empty()
            && !t.exclude.iter().any(|e| crate::runbook::is_ou_id(e))
        {
            expand(&NoOrganizations, t).await
        } else {
            let client = self.aws(vec![]).await.organizations();
            expand(&Organizations(client), t).await
        }
        .map_err(org_failure)?;
        if expanded.run.is_empty() {
            let skipped = expanded.skipped.len();
            return Err(Failure::invalid(format!(
                "no account to run in ({skipped} skipped as suspended or closed)"
            ))
            .help("check the OUs and `--exclude`: every account they name was left out"));
        }
        let stop_alarm = match &t.stop_alarm {
            None => None,
            Some(s) => Some(self.stop_alarm(s, &t.regions[0]).await?),
        };
        Ok(FleetSpec {
            stop_alarm,
            accounts: expanded.run,
            regions: t.regions.clone(),
            role_name: t
                .role_name
                .clone()
                .unwrap_or_else(|| DEFAULT_ROLE_NAME.to_string()),
            max_concurrency,
            max_errors,
            skipped: expanded.skipped,
        })
    }
}

impl Session {
    /// The stop alarm `NAME[@REGION]` (the fleet's first Region by default), which must exist
    /// before any target starts.
    async fn stop_alarm(&self, spec: &str, first_region: &str) -> Result<StopAlarm, Failure> {
        let (name, region) = crate::runbook::split_alarm(spec);
        let alarm = StopAlarm {
            name: name.to_string(),
            region: region.unwrap_or(first_region).to_string(),
        };
        let aws = self.aws(vec![]).await;
        match crate::actions::cloudwatch::alarm_state(&aws, &alarm.region, &alarm.name).await {
            Ok(Some(_)) => Ok(alarm),
            Ok(None) => Err(Failure::invalid(format!(
                "stop alarm `{}` not found in {}",
                crate::report::sanitize::one_line(&alarm.name),
                alarm.region
            ))
            .help("name an alarm of the account drillbook runs in; `NAME@REGION` for one in another Region than the fleet's first")),
            Err(e) => Err(Failure::failed(format!(
                "cannot read stop alarm `{}` in {}: {e}",
                crate::report::sanitize::one_line(&alarm.name),
                alarm.region
            ))
            .help("drillbook reads the alarm as itself (cloudwatch:DescribeAlarms) before each target starts")),
        }
    }
}

/// No OU to list: only accounts given by id.
struct NoOrganizations;

impl Directory for NoOrganizations {
    async fn child_ous(&self, _: &str) -> Result<Vec<String>, OrgError> {
        Ok(vec![])
    }
    async fn accounts_in(&self, _: &str) -> Result<Vec<OrgAccount>, OrgError> {
        Ok(vec![])
    }
}

fn org_failure(e: OrgError) -> Failure {
    match &e {
        OrgError::NotFound { .. } => Failure::invalid(e.to_string()).help(
            "give OU ids of the organization drillbook's identity manages (`aws organizations list-organizational-units-for-parent --parent-id ROOT_ID` lists them); nothing was run",
        ),
        OrgError::Denied { .. } => Failure::new(ExitCode::Failed, e.to_string()).help(
            "run as the organization's management account or a delegated administrator for AWS Organizations (`--profile`), or list the accounts with `--accounts`; nothing was run",
        ),
        OrgError::Other { .. } => Failure::failed(e.to_string())
            .help("check the network and the AWS configuration, then run again; nothing was run"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// An organization in a table: OU -> (child OUs, accounts).
    struct Table(BTreeMap<&'static str, (Vec<&'static str>, Vec<OrgAccount>)>);

    fn acct(id: &str, name: &str, inactive: Option<&str>) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: name.into(),
            inactive: inactive.map(str::to_string),
        }
    }

    impl Directory for Table {
        async fn child_ous(&self, parent: &str) -> Result<Vec<String>, OrgError> {
            self.0
                .get(parent)
                .map(|(c, _)| c.iter().map(|s| s.to_string()).collect())
                .ok_or(OrgError::NotFound {
                    parent: parent.into(),
                    message: "none".into(),
                })
        }
        async fn accounts_in(&self, parent: &str) -> Result<Vec<OrgAccount>, OrgError> {
            self.0
                .get(parent)
                .map(|(_, a)| a.clone())
                .ok_or(OrgError::NotFound {
                    parent: parent.into(),
                    message: "none".into(),
                })
        }
    }

    fn org() -> Table {
        Table(BTreeMap::from([
            (
                "ou-aaaa-11111111",
                (
                    vec!["ou-aaaa-22222222"],
                    vec![
                        acct("111111111111", "dev", None),
                        acct("222222222222", "old", Some("SUSPENDED")),
                    ],
                ),
            ),
            (
                "ou-aaaa-22222222",
                (vec![], vec![acct("333333333333", "prod", None)]),
            ),
        ]))
    }

    fn ids(e: &Expanded) -> Vec<&str> {
        e.run.iter().map(|a| a.id.as_str()).collect()
    }

    #[tokio::test]
    async fn child_ous_only_when_asked_and_suspended_accounts_are_skipped() {
        let mut t = Targets {
            organizational_units: vec!["ou-aaaa-11111111".into()],
            ..Targets::default()
        };
        let e = expand(&org(), &t).await.unwrap();
        assert_eq!(ids(&e), ["111111111111"]);
        assert_eq!(
            e.skipped,
            [Skipped {
                account: "222222222222".into(),
                name: "old".into(),
                reason: "SUSPENDED in AWS Organizations".into()
            }]
        );
        t.include_child_ous = Some(true);
        assert_eq!(
            ids(&expand(&org(), &t).await.unwrap()),
            ["111111111111", "333333333333"]
        );
        // Excluding an OU leaves out its accounts; explicit accounts come first, once.
        t.exclude = vec!["ou-aaaa-22222222".into()];
        t.accounts = vec!["444444444444=extra".into(), "111111111111".into()];
        let e = expand(&org(), &t).await.unwrap();
        assert_eq!(ids(&e), ["444444444444", "111111111111"]);
        assert_eq!(e.run[0].name, "extra");
        t.exclude = vec!["111111111111".into()];
        assert_eq!(
            ids(&expand(&org(), &t).await.unwrap()),
            ["444444444444", "333333333333"]
        );
        t.organizational_units = vec!["ou-zzzz-99999999".into()];
        assert!(matches!(
            expand(&org(), &t).await,
            Err(OrgError::NotFound { .. })
        ));
    }

    #[test]
    fn an_unknown_ou_is_invalid_input_a_refusal_is_not() {
        let f = org_failure(OrgError::NotFound {
            parent: "ou-zzzz-99999999".into(),
            message: "You specified parent that doesn't exist.".into(),
        });
        assert_eq!(f.code, ExitCode::Invalid);
        assert!(
            f.to_string().contains("no OU or root `ou-zzzz-99999999`"),
            "{f}"
        );
        assert!(f.hint().is_some_and(|h| h.contains("nothing was run")));
        let f = org_failure(OrgError::Denied {
            parent: "ou-aaaa-11111111".into(),
            code: "AccessDeniedException".into(),
            message: "You don't have permissions".into(),
        });
        assert_eq!(f.code, ExitCode::Failed);
        assert!(f.to_string().contains("AccessDeniedException"), "{f}");
        assert!(f.hint().is_some_and(|h| h.contains("management account")));
    }

    #[test]
    fn flags_override_the_files_fields() {
        let file = Targets {
            organizational_units: vec!["ou-aaaa-11111111".into()],
            regions: vec!["eu-west-1".into()],
            max_errors: Some("1".into()),
            include_child_ous: Some(true),
            ..Targets::default()
        };
        let flags = Targets {
            regions: vec!["ca-central-1".into()],
            ..Targets::default()
        };
        let m = merged(Some(file.clone()), flags).unwrap().unwrap();
        assert_eq!(m.regions, ["ca-central-1"]);
        assert_eq!(m.organizational_units, ["ou-aaaa-11111111"]);
        assert_eq!(m.max_errors.as_deref(), Some("1"));
        let flags = Targets {
            accounts: vec!["111111111111".into()],
            include_child_ous: Some(false),
            ..Targets::default()
        };
        let m = merged(Some(file), flags).unwrap().unwrap();
        assert_eq!(m.accounts, ["111111111111"]);
        assert!(m.organizational_units.is_empty());
        assert_eq!(m.include_child_ous, Some(false));
        assert_eq!(merged(None, Targets::default()).unwrap(), None);
        let only_regions = Targets {
            regions: vec!["eu-west-1".into()],
            ..Targets::default()
        };
        assert!(merged(None, only_regions).is_err());
    }
}
