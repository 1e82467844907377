#!/usr/bin/env python3
"""A REST client written from docs/rest-api.md alone, as a newcomer would: standard library only.

Run by harness/tests/json_contract.rs against a `rest` server it starts; by hand:
    cargo run -q -p paybench -- serve rest      # prints the address it listens on
    python3 harness/tests/json_contract_client.py 127.0.0.1:PORT

Sends each case once and prints one JSON object on stdout, {case: {"status": int, "body": ...}},
the body parsed as JSON (or left as text when it is not JSON). It asserts nothing itself: the Rust
test checks the answers, so a failure there shows the whole exchange.
"""

import copy
import json
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 5

# A valid payment in the documented shape: camelCase keys, int64 as JSON numbers, enums as
# lowercase words, RFC 3339 timestamps.
PAYMENT = {
    "paymentId": "pay_contract_base",
    "orderId": "ord_1",
    "idempotencyKey": "idem_1",
    "amountMinor": 4998,
    "currency": "EUR",
    "customer": {
        "id": "cus_1",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "address": {"line1": "1 Main St", "city": "Berlin", "postalCode": "10115", "country": "DE"},
    },
    "card": {"token": "tok_visa_4242", "last4": "4242", "brand": "visa", "expMonth": 12, "expYear": 2030},
    "lineItems": [{"sku": "sku_1", "name": "Widget", "quantity": 2, "unitPriceMinor": 2499}],
    "metadata": {"channel": "web"},
    "createdAt": "2026-01-01T10:00:00Z",
}


def without_optional_fields():
    """No createdAt and no card.brand: both optional in the .proto."""
    body = copy.deepcopy(PAYMENT)
    body["paymentId"] = "pay_contract_without_optional"
    del body["createdAt"]
    del body["card"]["brand"]
    return body


def created_at_null():
    body = copy.deepcopy(PAYMENT)
    body["paymentId"] = "pay_contract_created_at_null"
    body["createdAt"] = None
    return body


def canonical_proto3():
    """What protobuf's own JSON printer writes with preserving_proto_field_name (snake_case keys,
    int64 as strings, enums by proto name), plus a key this server does not know."""
    return {
        "payment_id": "pay_contract_canonical",
        "order_id": "ord_1",
        "idempotency_key": "idem_1",
        "amount_minor": "4998",
        "currency": "EUR",
        "customer": {
            "id": "cus_1",
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        },
        "card": {"token": "tok_visa_4242", "last4": "4242", "brand": "CARD_BRAND_VISA", "exp_month": 12,
                 "exp_year": 2030},
        "line_items": [{"sku": "sku_1", "name": "Widget", "quantity": 2, "unit_price_minor": "2499"}],
        "metadata": {"channel": "web"},
        "created_at": "2026-01-01T10:00:00.000Z",
        "loyalty_tier": "gold",
    }


def exchange(url, method="GET", body=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode("utf-8", "replace")
    try:
        return {"status": status, "body": json.loads(text)}
    except ValueError:
        return {"status": status, "body": text}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: json_contract_client.py HOST:PORT")
    base = "http://" + sys.argv[1]
    authorize = base + "/v1/payments/authorize"
    results = {
        "without_optional_fields": exchange(authorize, "POST", without_optional_fields()),
        "created_at_null": exchange(authorize, "POST", created_at_null()),
        "canonical_proto3": exchange(authorize, "POST", canonical_proto3()),
        "malformed": exchange(authorize, "POST", b'{"paymentId": "pay_broken", "amountMinor": '),
        "after_malformed": exchange(authorize, "POST", PAYMENT),
        "openapi": exchange(base + "/openapi.json"),
    }
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
