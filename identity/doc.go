// Package identity is rekey's token service: service principals with
// client secrets, the tenant, RS256 signing keys sealed under the master
// key, the Entra-compatible HTTP endpoints that Azure's identity libraries
// call (OpenID discovery, JWKS, the v1 and v2 token endpoints, instance
// discovery, App Service managed identity), and the Verifier that ARM and
// the gateway use to check the tokens it issues.
//
// JWTs are signed and parsed with github.com/go-jose/go-jose/v4; nothing
// here implements a cryptographic primitive.
package identity
