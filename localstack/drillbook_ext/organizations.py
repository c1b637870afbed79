"""AWS Organizations: what moto 5.2.5's backend does differently from AWS, and a way to
suspend a member account for tests.

moto already keeps an organization per management account: CreateOrganization,
CreateOrganizationalUnit, CreateAccount (each account gets its own id, and so its own backends:
moto keys every service's state by account), MoveAccount, ListChildren,
ListAccountsForParent and DescribeAccount (both with `Status`), CloseAccount (`SUSPENDED`).
Fixed here:

* The role CreateAccount makes in the new account (`RoleName`, default
  `OrganizationAccountAccessRole`) trusts the management account, as moto does, but moto gives
  it no permissions; AWS attaches the `AdministratorAccess` managed policy to it ("Accessing
  member accounts in your organization" and "Creating a member account in your organization",
  AWS Organizations user guide: the role "grants full administrative permissions"). So
  `iam:SimulatePrincipalPolicy` on it answers as on AWS.
* MoveAccount into the parent the account is already in succeeds in moto; AWS refuses it with
  `DuplicateAccountException` ("That account is already present in the specified
  destination", AWS Organizations API reference, MoveAccount, Errors).
* Not a behaviour: moto finds the account a request's access key belongs to by looking
  through every account's IAM backend, in every partition, for every request (and the
  extension asks again for CloudTrail and the faults). With 200 member accounts that was about
  a fifth of the server's time. The answer is remembered per access key (checked against that
  one account on each use), and a key found in no account is remembered as such until an access
  key of that id is made; moto's answer is unchanged.

Control route `/_drillbook/organizations/accounts` (tests):
  * POST `{"account_id": ID, "status": "SUSPENDED" | "ACTIVE"}` sets a member account's
    `Status` (and `State`) as DescribeAccount and ListAccountsForParent report it: a suspended
    account, one closed or suspended by AWS ("Closing a member account in your organization":
    closed accounts stay in the organization, SUSPENDED, for up to 90 days). CloseAccount
    does the same for good;
  * GET lists every account of every organization with its status.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import threading

from moto.iam import models as iam_models
from moto.iam.models import AWSManagedPolicy
from moto.organizations import models as org_models
from moto.organizations.exceptions import OrganizationsClientError

from . import control

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
_STATUSES = ("ACTIVE", "SUSPENDED")

_original_account_init = org_models.FakeAccount.__init__


def _account_init(self: Any, organization: Any, **kwargs: Any) -> None:
    _original_account_init(self, organization, **kwargs)
    from moto.iam import iam_backends

    role_name = kwargs.get("RoleName", "OrganizationAccountAccessRole")
    iam = iam_backends[self.id]["global"]
    if ADMINISTRATOR_ACCESS not in iam.managed_policies:
        # moto loads AWS's managed policies only with MOTO_IAM_LOAD_MANAGED_POLICIES (all of
        # them, for every account): this one is enough here.
        iam.managed_policies[ADMINISTRATOR_ACCESS] = AWSManagedPolicy.from_data(
            "AdministratorAccess", self.id, "global", _administrator_access())
    iam.attach_role_policy(ADMINISTRATOR_ACCESS, role_name)


@functools.lru_cache(maxsize=1)
def _administrator_access() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)["AdministratorAccess"]


org_models.FakeAccount.__init__ = _account_init  # type: ignore[method-assign]


class DuplicateAccountException(OrganizationsClientError):
    def __init__(self) -> None:
        super().__init__("DuplicateAccountException",
                         "That account is already present in the specified destination.")


_original_move = org_models.OrganizationsBackend.move_account


def _move_account(self: Any, **kwargs: Any) -> None:
    account = self.get_account_by_id(kwargs["AccountId"])
    if account.parent_id == kwargs.get("DestinationParentId"):
        raise DuplicateAccountException()
    _original_move(self, **kwargs)


org_models.OrganizationsBackend.move_account = _move_account  # type: ignore[method-assign]


def _all_accounts() -> list[Any]:
    out = []
    for by_account in list(org_models.organizations_backends.values()):
        for backend in list(by_account.values()):
            out.extend(backend.accounts)
    return out


def _route(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    if method == "POST":
        if not isinstance(body, dict) or not isinstance(body.get("account_id"), str):
            raise ValueError('body must be {"account_id": ID, "status": "SUSPENDED" | "ACTIVE"}')
        unknown = sorted(set(body) - {"account_id", "status"})
        if unknown:
            raise ValueError(f"unknown fields {unknown}; known: account_id, status")
        status = body.get("status", "SUSPENDED")
        if status not in _STATUSES:
            raise ValueError(f"status must be one of {list(_STATUSES)}, not {status!r}")
        found = [a for a in _all_accounts() if a.id == body["account_id"]]
        if not found:
            raise ValueError(f"no account {body['account_id']} in any organization")
        for a in found:
            a.status = status
            a.state = status
    return {"accounts": [{"id": a.id, "name": a.name, "status": a.status,
                          "parent_id": a.parent_id} for a in _all_accounts()]}


control.route("/_drillbook/organizations/accounts", _route)


# --------------------------------------------------------------- the account of an access key
_scan_account_of = iam_models.get_account_id_from
_KEY_LOCK = threading.Lock()
_KEY_ACCOUNT: dict[str, str] = {}  # access key -> the account moto's scan found it in
_KEY_NOWHERE: set[str] = set()  # access keys in no account (moto answers the default one)


def _holds(account_id: str, access_key: str) -> bool:
    account = iam_models.iam_backends.get(account_id)
    if account is None:
        return False
    return any(access_key in account[p].access_keys for p in list(account.keys()))


def _account_of(access_key: str) -> str:
    with _KEY_LOCK:
        known = _KEY_ACCOUNT.get(access_key)
        nowhere = access_key in _KEY_NOWHERE
    if known is not None and _holds(known, access_key):
        return known
    if nowhere:
        return iam_models.DEFAULT_ACCOUNT_ID
    found = _scan_account_of(access_key)
    with _KEY_LOCK:
        if _holds(found, access_key):
            _KEY_ACCOUNT[access_key] = found
        else:
            _KEY_ACCOUNT.pop(access_key, None)
            _KEY_NOWHERE.add(access_key)
    return found


_access_key_init = iam_models.AccessKey.__init__


@functools.wraps(_access_key_init)
def _new_access_key(self: Any, *args: Any, **kwargs: Any) -> None:
    # The key made now may be one remembered as in no account: forget it. (No request can carry
    # it before it is returned, so no scan can miss it once this has run.) It is made for an
    # account (`AccessKey(user_name, prefix, account_id, ...)`): remembered there, which each
    # use checks, so that an assumed role's first request needs no scan either.
    _access_key_init(self, *args, **kwargs)
    account_id = kwargs.get("account_id", args[2] if len(args) > 2 else None)
    key = getattr(self, "access_key_id", "")
    with _KEY_LOCK:
        _KEY_NOWHERE.discard(key)
        if isinstance(account_id, str):
            _KEY_ACCOUNT[key] = account_id


iam_models.AccessKey.__init__ = _new_access_key  # type: ignore[method-assign]
iam_models.get_account_id_from = _account_of
