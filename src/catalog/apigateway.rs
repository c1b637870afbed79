//! The actions of Amazon API Gateway.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "apigateway.assert_ready",
        summary: "Check a REST API, its deployed stage, and optionally its custom domain and base path mapping.",
        service: Service::ApiGateway,
        params: &[
            p("rest_api", K::String, true, None, "REST API name or id"),
            p("stage", K::String, false, Some("prod"), "stage name"),
            p(
                "domain_name",
                K::String,
                false,
                None,
                "custom domain name that must map to the stage",
            ),
            p(
                "base_path",
                K::String,
                false,
                Some("(none)"),
                "base path of the mapping",
            ),
            p(
                "stage_variable",
                K::String,
                false,
                None,
                "a stage variable that must be set; its value is the `stage_variable` output",
            ),
        ],
        outputs: &[
            o("rest_api_id", "id of the REST API"),
            o(
                "stage_variable",
                "the value of `stage_variable` (when set), e.g. the table the API reads",
            ),
            o(
                "regional_domain_name",
                "the custom domain's Regional domain name (when `domain_name` is set)",
            ),
            o("invoke_url", "the stage's invoke URL"),
        ],
        default_estimate: secs(3),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["apigateway:GET"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "apigateway.update_stage",
        summary: "Set stage variables, for example to point the API at a restored table.",
        service: Service::ApiGateway,
        params: &[
            p("rest_api", K::String, true, None, "REST API name or id"),
            p("stage", K::String, false, Some("prod"), "stage name"),
            p(
                "variables",
                K::StringMap,
                true,
                None,
                "stage variables to set",
            ),
        ],
        outputs: &[o("rest_api_id", "id of the REST API")],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["apigateway:GET", "apigateway:PATCH"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "apigateway.map_domain",
        summary: "Point a custom domain's base path mapping at an API and stage.",
        service: Service::ApiGateway,
        params: &[
            p("domain_name", K::String, true, None, "custom domain name"),
            p("rest_api", K::String, true, None, "REST API name or id"),
            p("stage", K::String, false, Some("prod"), "stage name"),
            p(
                "base_path",
                K::String,
                false,
                Some("(none)"),
                "base path of the mapping",
            ),
        ],
        outputs: &[o("rest_api_id", "id of the REST API")],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["apigateway:GET", "apigateway:POST", "apigateway:PATCH"],
        control_plane: ControlPlane::StepRegion,
    },
];
