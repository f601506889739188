"""Signs in to a running rekey server with Debian's azure-identity and
drives azure-mgmt-machinelearningservices with the credential: the
ClientSecretCredential with rekey as the authority and instance discovery
disabled, then the adfs tenant without that option. Usage: signin.py
SERVER_URL TENANT CLIENT_ID CLIENT_SECRET. TLS trust comes from
REQUESTS_CA_BUNDLE. Exits non-zero on the first failed check."""

import inspect
import sys

from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient

server, tenant, client_id, secret = sys.argv[1:5]
sub, rg = "33333333-4444-5555-6666-777777777777", "pysignin"
scope = "https://management.azure.com/.default"


def check(ok, what):
    if not ok:
        print("FAILED:", what)
        sys.exit(1)
    print("ok:", what)


# azure-identity 1.13 names the option disable_instance_discovery=True;
# its beta 1.13.0b2, which Debian bookworm ships, instance_discovery=False.
from azure.identity._internal.msal_credentials import MsalCredential
if "disable_instance_discovery" in inspect.signature(MsalCredential.__init__).parameters:
    no_discovery = {"disable_instance_discovery": True}
else:
    no_discovery = {"instance_discovery": False}

cred = ClientSecretCredential(tenant, client_id, secret, authority=server, **no_discovery)
check(cred.get_token(scope).token.count(".") == 2, "ClientSecretCredential got a JWT from rekey")

ml = MachineLearningServicesMgmtClient(cred, sub, base_url=server, credential_scopes=[scope])
ml.workspaces.begin_create_or_update(rg, "pyws", {"location": "eastus"}).result()
ml.online_endpoints.begin_create_or_update(rg, "pyws", "py-ep", {"location": "eastus", "properties": {"authMode": "Key"}}).result()
k0 = ml.online_endpoints.list_keys(rg, "pyws", "py-ep")
ml.online_endpoints.begin_regenerate_keys(rg, "pyws", "py-ep", {"keyType": "Primary"}).result()
k1 = ml.online_endpoints.list_keys(rg, "pyws", "py-ep")
check(k1.primary_key != k0.primary_key, "primary key rotated with the service principal's token")

adfs = ClientSecretCredential("adfs", client_id, secret, authority=server)
check(adfs.get_token(scope).token.count(".") == 2, "the adfs tenant needs no discovery option")

try:
    ClientSecretCredential(tenant, client_id, "wrong-secret-0123456789", authority=server, **no_discovery).get_token(scope)
    check(False, "a wrong secret is refused")
except ClientAuthenticationError as e:
    check("AADSTS7000215" in str(e), "a wrong secret is refused with AADSTS7000215")
