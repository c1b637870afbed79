//! `targets:` in a runbook or a scenario file: where the file runs when it runs across
//! accounts and Regions (a fleet), with the meaning AWS Systems Manager Automation gives its
//! `TargetLocations` (API reference, "TargetLocation": `Accounts` may be account ids or OU
//! ids, `ExcludeAccounts` takes accounts or OUs to leave out of the expanded targets,
//! `IncludeChildOrganizationUnits` (default false) adds the accounts of child OUs,
//! `TargetLocationMaxConcurrency` and `TargetLocationMaxErrors` are a number or a percentage).
//!
//! ```yaml
//! targets:
//!   organizational_units: [ou-ab12-cdef3456]   # or accounts: ["111111111111", "222222222222=staging"]
//!   include_child_ous: true
//!   exclude: ["333333333333"]
//!   regions: [ca-central-1, eu-west-1]
//!   role_name: OrganizationAccountAccessRole
//!   max_concurrency: "10%"
//!   max_errors: 1
//!   stop_alarm: drill-guardrail          # or NAME@REGION
//! ```
//!
//! Each command-line flag (`--accounts`, `--ou`, `--include-child-ous`, `--exclude`,
//! `--regions`, `--role-name`, `--max-concurrency`, `--max-errors`, `--stop-alarm`) overrides
//! its field. `stop_alarm` follows `TargetLocationAlarmConfiguration` (API reference,
//! "AlarmConfiguration": an alarm in OK or INSUFFICIENT_DATA lets the rollout go on; in ALARM,
//! or when its state cannot be read, it stops).

use super::read::did_you_mean;
use crate::runbook::diag::{Problem, Source};
use crate::runbook::regions;
use crate::runbook::yaml::{Node, Resolved, Span, Value};

/// The fields `targets:` may have.
pub(crate) const TARGET_KEYS: &[&str] = &[
    "accounts",
    "organizational_units",
    "include_child_ous",
    "exclude",
    "regions",
    "role_name",
    "max_concurrency",
    "max_errors",
    "stop_alarm",
];

const EXAMPLE: &str =
    "targets: { organizational_units: [ou-ab12-cdef3456], regions: [ca-central-1, eu-west-1] }";

/// A file's `targets:`, checked (see the module documentation). Empty lists and `None` are
/// fields the file does not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Account ids, each `ID` or `ID=NAME`.
    pub accounts: Vec<String>,
    /// OU ids (`ou-...`, or a root `r-...`): their accounts come from AWS Organizations.
    pub organizational_units: Vec<String>,
    pub include_child_ous: Option<bool>,
    /// Account ids or OU ids left out.
    pub exclude: Vec<String>,
    pub regions: Vec<String>,
    pub role_name: Option<String>,
    /// `N` or `N%`.
    pub max_concurrency: Option<String>,
    /// `N` or `N%`.
    pub max_errors: Option<String>,
    /// A CloudWatch alarm of the account drillbook runs in (`NAME`, or `NAME@REGION`; the
    /// fleet's first Region by default): in ALARM, no new target starts.
    pub stop_alarm: Option<String>,
}

/// `NAME` or `NAME@REGION` of a stop alarm, split (the Region when one is given).
pub fn split_alarm(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once('@') {
        Some((name, region)) if regions::is_known(region) => (name, Some(region)),
        _ => (s, None),
    }
}

/// Whether `s` is an AWS account id: 12 digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is an OU id or a root id, as AWS Organizations writes them (API reference,
/// "OrganizationalUnit": `^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`; "Root": `^r-[0-9a-z]{4,32}$`).
pub fn is_ou_id(s: &str) -> bool {
    let part = |p: &str, min: usize| {
        (min..=32).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    if let Some(rest) = s.strip_prefix("ou-") {
        return rest
            .split_once('-')
            .is_some_and(|(a, b)| part(a, 4) && part(b, 8));
    }
    s.strip_prefix("r-").is_some_and(|r| part(r, 4))
}

/// Whether `s` is an IAM role name (IAM API reference, "Role": `RoleName` is 1 to 64 of
/// `[\w+=,.@-]`).
pub(crate) fn is_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// Whether `s` is `N` or `N%` (at most 100%), as Systems Manager writes
/// `TargetLocationMaxConcurrency` and `TargetLocationMaxErrors`.
pub(crate) fn is_share(s: &str) -> bool {
    let s = s.trim();
    match s.strip_suffix('%') {
        Some(p) => p.parse::<u32>().is_ok_and(|p| p <= 100),
        None => s.parse::<usize>().is_ok(),
    }
}

/// Reads `targets:` (`key` and its value `node`), returning what it holds and every problem
/// found, each at its place in `src`.
pub(crate) fn read(src: &Source, key: &Node, node: &Node) -> (Option<Targets>, Vec<Problem>) {
    let mut r = Reader {
        src,
        problems: vec![],
    };
    let t = r.targets(key, node);
    let t = t.filter(|_| r.problems.is_empty());
    (t, r.problems)
}

struct Reader<'a> {
    src: &'a Source,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn report(&mut self, span: Span, message: String, label: &str, help: String) {
        self.problems
            .push(Problem::at(self.src, span, message, label, Some(help)));
    }

    /// The span to point at for a value of the wrong kind: the value when it is a scalar,
    /// else its key.
    fn at(key: &Node, node: &Node) -> Span {
        if node.scalar().is_some() {
            node.span
        } else {
            key.span
        }
    }

    fn targets(&mut self, key: &Node, node: &Node) -> Option<Targets> {
        let Value::Map(entries) = &node.value else {
            self.report(
                Self::at(key, node),
                format!("`targets` must be a mapping, found {}", node.kind_name()),
                "expected a mapping",
                format!("write it as `{EXAMPLE}`"),
            );
            return None;
        };
        let mut t = Targets::default();
        let mut seen: Vec<&str> = vec![];
        for (k, v) in entries {
            let Some(name) = k.scalar().map(|s| s.text.as_str()) else {
                self.report(
                    k.span,
                    "`targets` keys must be plain names".into(),
                    "not a name",
                    format!("write it as `{EXAMPLE}`"),
                );
                continue;
            };
            if !TARGET_KEYS.contains(&name) {
                let help = did_you_mean(name, TARGET_KEYS.iter().copied())
                    .unwrap_or_else(|| format!("allowed fields: {}", TARGET_KEYS.join(", ")));
                self.report(
                    k.span,
                    format!("unknown field `{name}` in `targets`"),
                    "unknown field",
                    help,
                );
                continue;
            }
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let what = format!("targets.{name}");
            match name {
                "accounts" => {
                    t.accounts = self.items(k, v, &what, |s| {
                        let id = s.split_once('=').map_or(s, |(id, _)| id).trim();
                        (!is_account_id(id)).then(|| {
                            (
                                format!("`{s}` in `targets.accounts` is not an AWS account id"),
                                "AWS account ids are exactly 12 digits, quoted to keep leading zeros (`\"012345678901\"`); `\"ID=NAME\"` names one".into(),
                            )
                        })
                    })
                }
                "organizational_units" => {
                    t.organizational_units = self.items(k, v, &what, |s| {
                        (!is_ou_id(s)).then(|| {
                            (
                                format!("`{s}` in `targets.organizational_units` is not an OU id"),
                                "write the OU's id as AWS Organizations shows it (`ou-ab12-cdef3456`, or a root `r-ab12`), not its name".into(),
                            )
                        })
                    })
                }
                "exclude" => {
                    t.exclude = self.items(k, v, &what, |s| {
                        (!is_account_id(s) && !is_ou_id(s)).then(|| {
                            (
                                format!("`{s}` in `targets.exclude` is neither an account id nor an OU id"),
                                "write 12-digit account ids (quoted) or OU ids (`ou-ab12-cdef3456`)".into(),
                            )
                        })
                    })
                }
                "regions" => {
                    t.regions = self.items(k, v, &what, |s| {
                        (!regions::is_known(s)).then(|| {
                            (
                                format!("unknown Region `{s}` in `targets.regions`"),
                                did_you_mean(s, regions::REGIONS.iter().copied()).unwrap_or_else(
                                    || "use a Region name such as `ca-central-1` or `eu-west-1`".into(),
                                ),
                            )
                        })
                    })
                }
                "include_child_ous" => match v.scalar().map(|s| s.resolve()) {
                    Some(Resolved::Bool(b)) => t.include_child_ous = Some(b),
                    _ => self.report(
                        Self::at(k, v),
                        format!("`{what}` must be `true` or `false`, found {}", v.kind_name()),
                        "expected a boolean",
                        "write `true` or `false` without quotes".into(),
                    ),
                },
                "stop_alarm" => {
                    t.stop_alarm = self.scalar(k, v, &what, |s| {
                        // CloudWatch API reference, "PutMetricAlarm": AlarmName is 1 to 255
                        // characters.
                        let (name, _) = split_alarm(s);
                        (name.is_empty() || name.len() > 255).then(|| {
                            (
                                format!("`{s}` is not a CloudWatch alarm name"),
                                "write the alarm's name, or `NAME@REGION` for an alarm in another Region than the fleet's first".into(),
                            )
                        })
                    })
                }
                "role_name" => {
                    t.role_name = self.scalar(k, v, &what, |s| {
                        (!is_role_name(s)).then(|| {
                            (
                                format!("`{s}` is not an IAM role name"),
                                "a role name is 1 to 64 letters, digits and `_+=,.@-` (the name, not the ARN)".into(),
                            )
                        })
                    })
                }
                _ => {
                    // max_concurrency, max_errors
                    let value = self.scalar(k, v, &what, |s| {
                        (!is_share(s)).then(|| {
                            (
                                format!("invalid `{what}` `{s}`"),
                                format!("write a number of targets (`{name}: 3`) or a share of them (`{name}: \"10%\"`, at most 100%)"),
                            )
                        })
                    });
                    if name == "max_concurrency" {
                        t.max_concurrency = value;
                    } else {
                        t.max_errors = value;
                    }
                }
            }
        }
        if t.accounts.is_empty()
            && t.organizational_units.is_empty()
            && !seen.contains(&"accounts")
            && !seen.contains(&"organizational_units")
        {
            self.report(
                key.span,
                "`targets` names no account: give `accounts` or `organizational_units`".into(),
                "no accounts",
                format!("write it as `{EXAMPLE}`"),
            );
        }
        if t.regions.is_empty() && !seen.contains(&"regions") {
            self.report(
                key.span,
                "`targets` needs `regions`".into(),
                "no regions",
                "add `regions: [ca-central-1, eu-west-1]` (each account runs in each Region)"
                    .into(),
            );
        }
        Some(t)
    }

    /// A scalar's text, checked by `bad` (which returns the message and help of a problem).
    fn scalar(
        &mut self,
        key: &Node,
        node: &Node,
        what: &str,
        bad: impl Fn(&str) -> Option<(String, String)>,
    ) -> Option<String> {
        match &node.value {
            Value::Scalar(s) if !matches!(s.resolve(), Resolved::Null) => {
                if let Some((message, help)) = bad(&s.text) {
                    self.report(node.span, message, "here", help);
                    return None;
                }
                Some(s.text.clone())
            }
            _ => {
                self.report(
                    Self::at(key, node),
                    format!("`{what}` must be a string, found {}", node.kind_name()),
                    "expected a string",
                    format!("write `{what}` as one value"),
                );
                None
            }
        }
    }

    /// A list of scalars, each checked by `bad`; an empty list is a problem.
    fn items(
        &mut self,
        key: &Node,
        node: &Node,
        what: &str,
        bad: impl Fn(&str) -> Option<(String, String)>,
    ) -> Vec<String> {
        let Value::Seq(items) = &node.value else {
            self.report(
                Self::at(key, node),
                format!("`{what}` must be a list, found {}", node.kind_name()),
                "expected a list",
                format!("write `{what}: [...]`, one entry or several"),
            );
            return vec![];
        };
        if items.is_empty() {
            self.report(
                node.span,
                format!("`{what}` is empty"),
                "empty list",
                format!("name at least one, or leave `{what}` out"),
            );
        }
        items
            .iter()
            .filter_map(|i| self.scalar(i, i, what, &bad))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn read_text(text: &str) -> Result<Targets, Vec<String>> {
        let parsed = crate::runbook::yaml::parse(text).unwrap();
        let root = parsed.root.unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("not a mapping")
        };
        let (k, v) = entries
            .iter()
            .find(|(k, _)| k.scalar().is_some_and(|s| s.text == "targets"))
            .unwrap();
        let src = Source::new("f.yaml", Arc::from(text));
        match read(&src, k, v) {
            (Some(t), p) if p.is_empty() => Ok(t),
            (_, p) => Err(p
                .iter()
                .map(|p| format!("{}: {}", p.location_string().unwrap_or_default(), p.message))
                .collect()),
        }
    }

    #[test]
    fn every_field_is_read() {
        let t = read_text(
            "targets:\n  accounts: [\"111111111111\", \"222222222222=staging\"]\n  organizational_units: [ou-ab12-cdef3456, r-ab12]\n  include_child_ous: true\n  exclude: [\"333333333333\", ou-ab12-zzzz9999]\n  regions: [ca-central-1, eu-west-1]\n  role_name: DrillRole\n  max_concurrency: \"10%\"\n  max_errors: 1\n",
        )
        .unwrap();
        assert_eq!(t.accounts, ["111111111111", "222222222222=staging"]);
        assert_eq!(t.organizational_units, ["ou-ab12-cdef3456", "r-ab12"]);
        assert_eq!(t.include_child_ous, Some(true));
        assert_eq!(t.exclude, ["333333333333", "ou-ab12-zzzz9999"]);
        assert_eq!(t.regions, ["ca-central-1", "eu-west-1"]);
        assert_eq!(t.role_name.as_deref(), Some("DrillRole"));
        assert_eq!(t.max_concurrency.as_deref(), Some("10%"));
        assert_eq!(t.max_errors.as_deref(), Some("1"));
    }

    #[test]
    fn problems_are_located_each_with_its_line_and_column() {
        let e = read_text(
            "version: 1\ntargets:\n  organizational_units: [Workloads]\n  regions: [eu-wst-1]\n  max_errors: \"5 %%\"\n  include_child_ous: yes please\n  role: x\n",
        )
        .unwrap_err();
        let all = e.join("\n");
        assert!(
            all.contains(
                "f.yaml:3:26: `Workloads` in `targets.organizational_units` is not an OU id"
            ),
            "{all}"
        );
        assert!(
            all.contains("f.yaml:4:13: unknown Region `eu-wst-1`"),
            "{all}"
        );
        assert!(
            all.contains("f.yaml:5:15: invalid `targets.max_errors`"),
            "{all}"
        );
        assert!(
            all.contains("f.yaml:6:22: `targets.include_child_ous` must be `true` or `false`"),
            "{all}"
        );
        assert!(
            all.contains("f.yaml:7:3: unknown field `role` in `targets`"),
            "{all}"
        );
        assert_eq!(e.len(), 5, "{all}");
    }

    #[test]
    fn targets_need_accounts_and_regions() {
        let all = read_text("targets: { include_child_ous: false }\n")
            .unwrap_err()
            .join("\n");
        assert!(all.contains("names no account"), "{all}");
        assert!(all.contains("needs `regions`"), "{all}");
        let all = read_text("targets: [\"111111111111\"]\n")
            .unwrap_err()
            .join("\n");
        assert!(
            all.contains("f.yaml:1:1: `targets` must be a mapping, found a list")
                || all.contains("must be a mapping"),
            "{all}"
        );
    }

    #[test]
    fn ids_follow_aws() {
        assert!(is_ou_id("ou-ab12-cdef3456"));
        assert!(is_ou_id("r-ab12"));
        assert!(!is_ou_id("ou-ab12-cde"));
        assert!(!is_ou_id("ou-AB12-cdef3456"));
        assert!(!is_ou_id("Workloads"));
        assert!(is_account_id("012345678901"));
        assert!(!is_account_id("12345678901"));
        assert!(is_share("10") && is_share("100%") && !is_share("101%") && !is_share("x"));
        assert!(is_role_name("OrganizationAccountAccessRole"));
        assert!(!is_role_name("arn:aws:iam::1:role/x"));
    }
}
