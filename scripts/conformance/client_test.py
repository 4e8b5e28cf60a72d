"""Drives the catalog and identity APIs through the gateway with the clients that
openapi-python-client generated from the committed documents (clients/python): what a consumer of
the published documents gets must work against the running system.

    python3 scripts/conformance/client_test.py <gateway URL> <admin access token>
"""

import sys
import uuid
from http import HTTPStatus

from flotilla_catalog import AuthenticatedClient as CatalogAdmin
from flotilla_catalog import Client as CatalogClient
from flotilla_catalog.api.catalog import (
    create_product,
    delete_product,
    get_product,
    list_products,
    replace_product,
)
from flotilla_catalog.models import Price, PriceCurrency, ProductPage, ProductRequest, ProductResponse, Problem
from flotilla_identity import Client as IdentityClient
from flotilla_identity.api.identity import register_user
from flotilla_identity.models import Registration, UserResponse


def expect(condition, message):
    if not condition:
        raise SystemExit(f"client test failed: {message}")


def main(gateway, token):
    anonymous = CatalogClient(base_url=gateway, raise_on_unexpected_status=True)
    admin = CatalogAdmin(base_url=gateway, token=token, raise_on_unexpected_status=True)

    page = list_products.sync(client=anonymous, limit=5)
    expect(isinstance(page, ProductPage) and page.items, f"a page of the catalogue, got {page!r}")
    first = page.items[0]
    read = get_product.sync_detailed(first.id, client=anonymous)
    expect(read.status_code == HTTPStatus.OK and isinstance(read.parsed, ProductResponse), f"{read!r}")

    sku = f"CLIENT-{uuid.uuid4().hex[:8].upper()}"
    body = ProductRequest(sku=sku, name="Generated-client kettle", category="kitchen",
                          price=Price(amount_minor=2500, currency=PriceCurrency.EUR))
    key = str(uuid.uuid4())
    created = create_product.sync_detailed(client=admin, body=body, idempotency_key=key)
    expect(created.status_code == HTTPStatus.CREATED, f"created, got {created.status_code}: {created.content!r}")
    product = created.parsed
    again = create_product.sync_detailed(client=admin, body=body, idempotency_key=key)
    expect(again.status_code == HTTPStatus.CREATED and again.parsed.id == product.id,
           "the same Idempotency-Key answers with the same product")

    body.name = "Generated-client kettle, renamed"
    replaced = replace_product.sync_detailed(product.id, client=admin, body=body,
                                             if_match=created.headers["etag"])
    expect(replaced.status_code == HTTPStatus.OK and replaced.parsed.name == body.name, f"{replaced!r}")
    stale = replace_product.sync_detailed(product.id, client=admin, body=body,
                                          if_match=created.headers["etag"])
    expect(stale.status_code == HTTPStatus.PRECONDITION_FAILED and isinstance(stale.parsed, Problem),
           f"a stale If-Match is a 412 problem, got {stale.status_code}")

    body.price = Price(amount_minor=-1, currency=PriceCurrency.EUR)
    refused = create_product.sync_detailed(client=admin, body=body)
    expect(refused.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, f"{refused.status_code}")
    pointers = [violation.pointer for violation in refused.parsed.errors]
    expect("#/price/amount_minor" in pointers, f"the violation points at the amount: {pointers}")

    gone = delete_product.sync_detailed(product.id, client=admin, if_match=replaced.headers["etag"])
    expect(gone.status_code == HTTPStatus.NO_CONTENT, f"deleted, got {gone.status_code}")

    identity = IdentityClient(base_url=gateway, raise_on_unexpected_status=True)
    email = f"client-{uuid.uuid4().hex[:12]}@example.com"
    registered = register_user.sync_detailed(
        client=identity, body=Registration(email=email, password="quiet harbour under copper skies"))
    expect(registered.status_code == HTTPStatus.CREATED and isinstance(registered.parsed, UserResponse)
           and registered.parsed.email == email, f"registered, got {registered.status_code}: {registered.content!r}")
    print("client test: the generated catalog and identity clients work through the gateway")


if __name__ == "__main__":
    main(*sys.argv[1:3])
