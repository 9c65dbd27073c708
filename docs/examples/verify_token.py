#!/usr/bin/env python3
"""Verify a Cordon task's identity token offline, as a host service would (docs/identity.md).

Usage: verify_token.py JWKS_FILE AUDIENCE < token
Prints the verified claims as JSON (exit 0), or why the token is rejected (exit 1).
Needs python3-jwt and python3-cryptography (Debian 12 packages).
"""
import json
import sys

import jwt  # PyJWT


def verify(token: str, jwks: dict, audience: str) -> dict:
    keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys}
    kid = jwt.get_unverified_header(token).get("kid")
    if kid not in keys:
        raise jwt.InvalidTokenError(f"no key {kid!r} in the key set")
    # The algorithm is fixed here, never taken from the token.
    return jwt.decode(token, keys[kid].key, algorithms=["EdDSA"], audience=audience,
                      options={"require": ["iss", "sub", "aud", "iat", "nbf", "exp", "jti"]})


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        jwks = json.load(f)
    token = sys.stdin.readline().strip()
    try:
        claims = verify(token, jwks, sys.argv[2])
    except jwt.InvalidTokenError as e:
        print(f"rejected: {e}", file=sys.stderr)
        return 1
    print(json.dumps(claims, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
