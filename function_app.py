"""HTTP functions of the sample API. Wiring only: every auth decision lives in ``authorizer``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import azure.functions as func

import authorizer
from authorizer import allow_anonymous, require_auth
from shared import graph, sample_data
from shared.responses import bad_request, json_response

if TYPE_CHECKING:
    # Only for type checkers: the worker never sees the principal parameter or its annotation.
    from authorizer import Principal

# The roles-and-scopes model of the CRM sample: each scope implies the roles a user may exercise with it.
authorizer.define_permissions(
    {
        "Crm.Read.My": ["Contacts.Read.My"],
        "Crm.Read.Team": ["Accounts.Read.Team", "Contacts.Read.Team"],
        "Crm.Read.All": ["Accounts.Read.All", "Contacts.Read.All"],
        "Crm.ReadWrite.My": ["Contacts.Read.My", "Contacts.Write.My"],
        "Crm.ReadWrite.Team": [
            "Accounts.Read.Team",
            "Accounts.Write.Team",
            "Contacts.Read.Team",
            "Contacts.Write.Team",
        ],
        "Crm.ReadWrite.All": ["Accounts.Read.All", "Accounts.Write.All", "Contacts.Read.All", "Contacts.Write.All"],
        "Sales.ReadWrite.Team": ["Proposals.ReadWrite.Team"],
        "Sales.ReadWrite.All": ["Proposals.ReadWrite.All"],
    }
)

# host.json sets routePrefix to "" so that well-known documents can live at the site root;
# every API route therefore spells out its "api/" prefix.
app = authorizer.FunctionApp()


def _sample_for(principal: Principal) -> dict[str, object]:
    """Label sample answers as such, and show whom the authorizer let in."""
    return {
        "caller": {"oid": principal.oid, "client_app_id": principal.client_app_id},
        "note": sample_data.SAMPLE_NOTICE,
    }


@app.route(route="api/health", methods=["GET"])
@allow_anonymous
def health(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"status": "ok"})


@app.route(route="api/me", methods=["GET"])
@require_auth(allow_app_only=True)
async def me(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return json_response(
        {
            "oid": principal.oid,
            "tid": principal.tid,
            "name": principal.name,
            "preferred_username": principal.preferred_username,
            "client_app_id": principal.client_app_id,
            "scopes": sorted(principal.scopes),
            "roles": sorted(principal.roles),
            "app_only": principal.is_app_only,
            "token_version": principal.token_version,
        }
    )


@app.route(route="api/orders", methods=["GET"])
@require_auth(scopes=["Orders.Read"], app_roles=["Orders.Read.All"])
def list_orders(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return json_response({"orders": sample_data.list_orders(), **_sample_for(principal)})


# Each caller may create 10 orders a minute (per instance with the default memory store; set
# RATE_LIMIT_STORAGE_URL to a Redis to share the count between instances).
@app.route(route="api/orders", methods=["POST"])
@require_auth(scopes=["Orders.Write"], roles=["Orders.Writer"], app_roles=["Orders.Write.All"], rate_limit="10/minute")
def create_order(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    try:
        payload = req.get_json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return bad_request('Send {"item": "<name>", "quantity": <positive integer>}.')
    item, quantity = payload.get("item"), payload.get("quantity", 1)
    if not isinstance(item, str) or not item or type(quantity) is not int or quantity < 1:
        return bad_request('Send {"item": "<name>", "quantity": <positive integer>}.')
    order = sample_data.add_order(item, quantity, principal.oid)
    return json_response({"order": order, **_sample_for(principal)}, 201)


# A sensitive action: besides the scope, a step-up the tenant's Conditional Access ties to the
# authentication context c1 (MFA, say). Clients that declare the cp1 capability get a claims challenge.
@app.route(route="api/orders/{order_id}/approve", methods=["POST"])
@require_auth(scopes=["Orders.Write"], auth_context="c1")
def approve_order(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    order_id = req.route_params.get("order_id", "")
    order = sample_data.approve_order(int(order_id), principal.oid) if order_id.isdigit() else None
    if order is None:
        return json_response({"error": "not_found", "error_description": "There is no such order."}, 404)
    return json_response({"order": order, **_sample_for(principal)})


# Calling another API as the signed-in user (on-behalf-of): the profile Graph keeps, and mail, whose
# mailbox demands a stronger sign-in (authentication context c2); the challenge goes back to the SPA.
@app.route(route="api/me/profile", methods=["GET"])
@require_auth(scopes=["Profile.Read"])
def my_profile(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return graph.relay("/v1.0/me", principal.acquire_token([graph.USER_READ]))


@app.route(route="api/me/messages", methods=["GET"])
@require_auth(scopes=["Profile.Read"])
def my_messages(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return graph.relay("/v1.0/me/messages", principal.acquire_token([graph.MAIL_READ]))


crm = authorizer.Blueprint()


@crm.route(route="api/crm/accounts", methods=["GET"])
@require_auth(permissions=["Accounts.Read.Team", "Accounts.Read.All"])
def crm_list_accounts(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return json_response({"accounts": sample_data.ACCOUNTS, **_sample_for(principal)})


@crm.route(route="api/crm/accounts", methods=["POST"])
@require_auth(permissions=["Accounts.Write.Team", "Accounts.Write.All"])
def crm_create_account(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return json_response({"created": True, **_sample_for(principal)}, 201)


@crm.route(route="api/crm/contacts", methods=["GET"])
@require_auth(permissions=["Contacts.Read.My", "Contacts.Read.Team", "Contacts.Read.All"])
def crm_list_contacts(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return json_response({"contacts": sample_data.CONTACTS, **_sample_for(principal)})


@crm.route(route="api/crm/contacts", methods=["POST"])
@require_auth(permissions=["Contacts.Write.My", "Contacts.Write.Team", "Contacts.Write.All"])
def crm_create_contact(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return json_response({"created": True, **_sample_for(principal)}, 201)


@crm.route(route="api/crm/proposals", methods=["GET", "POST"])
@require_auth(permissions=["Proposals.ReadWrite.Team", "Proposals.ReadWrite.All"])
async def crm_proposals(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
    return json_response({"proposals": sample_data.PROPOSALS, **_sample_for(principal)})


app.register_functions(crm)

# RFC 9728: /.well-known/oauth-protected-resource tells OAuth clients which scopes to request.
app.serve_protected_resource_metadata()
