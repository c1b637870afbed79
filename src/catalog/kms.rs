//! The actions of AWS KMS.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "kms.assert_replica",
        summary: "Check that a multi-Region key has an Enabled copy in the Region.",
        service: Service::Kms,
        params: &[p(
            "key",
            K::String,
            true,
            None,
            "key id, key ARN or `alias/NAME`",
        )
        .scoped(S::KmsKey)],
        outputs: &[
            o("key_arn", "ARN of the key in this Region"),
            o("primary_region", "Region where the key is primary"),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["kms:DescribeKey"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "kms.replicate_key",
        summary: "Create a replica of a multi-Region key in another Region when missing (called in the primary's Region).",
        service: Service::Kms,
        params: &[
            p(
                "key",
                K::String,
                true,
                None,
                "key id, key ARN or `alias/NAME` in the step's Region (the primary)",
            )
            .scoped(S::KmsKey),
            p(
                "replica_region",
                K::Region,
                true,
                None,
                "Region to create the replica in",
            )
            .scoped(S::ReplicaRegion),
        ],
        outputs: &[o("replica_key_arn", "ARN of the replica")],
        default_estimate: secs(60),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &[
            "kms:DescribeKey",
            "kms:ReplicateKey",
            "kms:CreateKey",
            "kms:CreateAlias",
            "kms:TagResource",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "kms.promote",
        summary: "Make the step's Region the primary of a multi-Region key (UpdatePrimaryRegion on the current primary).",
        service: Service::Kms,
        params: &[
            p(
                "key",
                K::String,
                true,
                None,
                "key id, key ARN or `alias/NAME` as known in the step's Region (the new primary)",
            )
            .scoped(S::KmsKey),
            p(
                "optional",
                K::Bool,
                false,
                Some("false"),
                "report but do not fail the step when the current primary's Region cannot be reached",
            ),
        ],
        outputs: &[
            o(
                "primary_region",
                "Region where the key is primary afterwards",
            ),
            o("key_arn", "ARN of the key in the new primary Region"),
        ],
        default_estimate: secs(60),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["kms:DescribeKey", "kms:UpdatePrimaryRegion"],
        control_plane: ControlPlane::KeyPrimaryRegion,
    },
    ActionSpec {
        name: "kms.verify_crypto",
        summary: "Encrypt and decrypt a probe with the key in the Region.",
        service: Service::Kms,
        params: &[p(
            "key",
            K::String,
            true,
            None,
            "key id, key ARN or `alias/NAME`",
        )
        .scoped(S::KmsKey)],
        outputs: &[],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
        control_plane: ControlPlane::StepRegion,
    },
];
