"""IAM: SimulatePrincipalPolicy for the roles moto holds (moto 5.2.5 does not implement it).

A small, honest evaluation of a role's identity-based policies, as the IAM user guide's
"Policy evaluation logic" describes it for a request within one account:

- the policies evaluated are the role's inline policies and its attached managed policies
  (the default version of each): SimulatePrincipalPolicy simulates the policies attached to
  the principal (IAM API reference);
- a statement applies when its `Action` matches the action (or `NotAction` does not) and its
  `Resource` matches the resource (or `NotResource` does not), with the `*` and `?` wildcards;
  action names are not case-sensitive, resource ARNs are ("IAM JSON policy elements: Action",
  "... Resource");
- an explicit deny in any policy overrides every allow: any matching Deny gives
  `explicitDeny`; otherwise any matching Allow gives `allowed`; otherwise the default
  `implicitDeny` ("By default, all requests are implicitly denied").

What it does NOT evaluate, so a decision here can differ from AWS's: `Condition` blocks (a
statement with a condition is treated as not matching: nothing here knows the request's
context), policy variables (`${aws:username}`), permissions boundaries, session policies,
resource-based policies (`ResourcePolicy`), service control and resource control policies
(AWS Organizations), `PolicyInputList`, `ContextEntries` and paging (every result comes in one
page). Only roles are principals (`PolicySourceArn` of a role); anything else is
`NoSuchEntity`.

The answer has the shape of the IAM API reference's SimulatePrincipalPolicy response
(Query/XML): `EvaluationResults/member/{EvalActionName, EvalResourceName, EvalDecision,
MatchedStatements/member/{SourcePolicyId, SourcePolicyType}, MissingContextValues}`,
`IsTruncated` false, one result per (action, resource) pair.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from moto.core.responses import ActionResult
from moto.iam import responses as iam_responses
from moto.iam.exceptions import InvalidInput, NotFoundException


def _pattern(p: str, case_sensitive: bool) -> re.Pattern[str]:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p)
    return re.compile(f"^{rx}$", 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else [str(x) for x in v]


def _matches(patterns: list[str], value: str, case_sensitive: bool) -> bool:
    return any(_pattern(p, case_sensitive).match(value) for p in patterns)


def statement_applies(st: dict[str, Any], action: str, resource: str) -> bool:
    """Whether one policy statement applies to (action, resource). Conditions are not
    evaluated: a statement with one does not apply."""
    if st.get("Condition"):
        return False
    if "Action" in st:
        action_ok = _matches(_as_list(st["Action"]), action, False)
    elif "NotAction" in st:
        action_ok = not _matches(_as_list(st["NotAction"]), action, False)
    else:
        action_ok = False
    if "Resource" in st:
        resource_ok = _matches(_as_list(st["Resource"]), resource, True)
    elif "NotResource" in st:
        resource_ok = not _matches(_as_list(st["NotResource"]), resource, True)
    else:
        resource_ok = False
    return action_ok and resource_ok


def _document(doc: Any) -> dict[str, Any]:
    if isinstance(doc, dict):
        return doc
    text = str(doc)
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))


def _statements(doc: Any) -> list[dict[str, Any]]:
    st = _document(doc).get("Statement", [])
    return [st] if isinstance(st, dict) else list(st)


def role_policies(role: Any) -> list[tuple[str, str, Any]]:
    """(SourcePolicyId, SourcePolicyType, document) of every policy of `role`."""
    out: list[tuple[str, str, Any]] = []
    for name, doc in role.policies.items():
        out.append((name, "role", doc))
    for arn, policy in role.managed_policies.items():
        versions = [v for v in getattr(policy, "versions", []) if v.is_default]
        if not versions:
            continue
        kind = "aws-managed" if arn.split(":")[4] == "aws" else "user-managed"
        out.append((policy.name, kind, versions[0].document))
    return out


def evaluate(policies: list[tuple[str, str, Any]], action: str, resource: str) -> dict[str, Any]:
    """One EvaluationResult for (action, resource)."""
    allows: list[dict[str, str]] = []
    denies: list[dict[str, str]] = []
    for pid, ptype, doc in policies:
        for st in _statements(doc):
            if not statement_applies(st, action, resource):
                continue
            matched = {"SourcePolicyId": pid, "SourcePolicyType": ptype}
            (denies if st.get("Effect") == "Deny" else allows).append(matched)
    if denies:
        decision, matched = "explicitDeny", denies
    elif allows:
        decision, matched = "allowed", allows
    else:
        decision, matched = "implicitDeny", []
    return {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": decision,
        "MatchedStatements": matched,
        "MissingContextValues": [],
    }


def simulate_principal_policy(self: Any) -> ActionResult:
    source = self._get_param("PolicySourceArn") or ""
    actions = self._get_param("ActionNames", [])
    resources = self._get_param("ResourceArns", []) or ["*"]
    if not actions:
        raise InvalidInput("ActionNames must name at least one action")
    if ":role/" not in source:
        raise NotFoundException(
            f"PolicySourceArn {source} is not a role this emulator simulates (roles only)"
        )
    role = self.backend.get_role_by_arn(source)  # NoSuchEntity when unknown
    policies = role_policies(role)
    results = [evaluate(policies, a, r) for a in actions for r in resources]
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


iam_responses.IamResponse.simulate_principal_policy = simulate_principal_policy  # type: ignore[attr-defined]
