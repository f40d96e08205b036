"""API keys on requests: ``Authorization: Bearer <key>`` (or Supabase's ``apikey`` header), scopes, restaurants."""

from __future__ import annotations

import uuid

from fastapi import Request

from tablemend import keys
from tablemend.api.service import Service
from tablemend.errors import AuthenticationRequired, InvalidApiKey, RestaurantForbidden, ScopeMissing


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("apikey") or None


def authenticate(service: Service, request: Request, scope: str) -> keys.ApiKey:
    """The request's key, which must hold ``scope``; 401 without a valid key, 403 without the scope."""
    secret = presented_key(request)
    if secret is None:
        raise AuthenticationRequired("an API key is required", hint="Send 'Authorization: Bearer <key>'; create "
                                     "one with `tablemend keys create`.")
    if not secret.startswith(keys.KEY_PREFIX) or len(secret) > 200:
        raise InvalidApiKey("invalid API key", hint="The key is unknown or revoked; see `tablemend keys list`.")
    with service.conn() as conn:
        key = keys.authenticate(conn, secret)
    if scope not in key.scopes:
        raise ScopeMissing(f"this key lacks the '{scope}' scope", details=f"key_id={key.id} scope={scope}",
                           hint=f"Use a key created with --scope {scope}.")
    request.state.key_id = str(key.id)
    return key


def require_restaurant(key: keys.ApiKey, restaurant_id: uuid.UUID) -> None:
    """403 when the key is not scoped to a restaurant the request names explicitly."""
    if not key.allows(restaurant_id):
        raise RestaurantForbidden(f"this key is not scoped to restaurant {restaurant_id}",
                                  details=f"key_id={key.id} restaurant_id={restaurant_id}",
                                  hint="Use a key created with --restaurant for it.")
