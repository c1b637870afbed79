//! The actions of AWS Systems Manager Parameter Store.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "ssm.put_parameter",
        summary: "Set a Systems Manager parameter to a value (no call when it already has it); a SecureString's value is never shown or journaled.",
        service: Service::Ssm,
        params: &[
            p(
                "name",
                K::String,
                true,
                None,
                "the parameter's name (for example `/app/db/host`)",
            ),
            p("value", K::String, true, None, "the value wanted"),
            p(
                "type",
                K::Enum(&["String", "StringList", "SecureString"]),
                false,
                Some("String"),
                "the parameter's type, as AWS spells it",
            ),
        ],
        outputs: &[o("version", "the parameter's version afterwards")],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        // GetParameter WithDecryption of a SecureString also needs kms:Decrypt on its key
        // (Systems Manager user guide, "Restricting access to Parameter Store parameters
        // using IAM policies"); the default key aws/ssm needs none.
        iam: &["ssm:GetParameter", "ssm:PutParameter"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "ssm.assert_parameter",
        summary: "Check that a Systems Manager parameter has the expected value.",
        service: Service::Ssm,
        params: &[
            p("name", K::String, true, None, "the parameter's name"),
            p("expect", K::String, true, None, "the value it must have"),
        ],
        outputs: &[o("version", "the parameter's version")],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["ssm:GetParameter"],
        control_plane: ControlPlane::StepRegion,
    },
];
