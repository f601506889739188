"""Signs in to a running rekey server with Debian's azure-identity
(1.13.0b2) and rotates an Azure ML endpoint key with
azure-mgmt-machinelearningservices, using no credential code of its own.
Usage: signin.py SERVER_URL TENANT CLIENT_ID; the client secret comes from
AZURE_CLIENT_SECRET, TLS trust from REQUESTS_CA_BUNDLE. Prints no secret or
token. Exits non-zero on the first failed check."""

import os
import sys

from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient

server, tenant, client_id = sys.argv[1], sys.argv[2], sys.argv[3]
secret = os.environ["AZURE_CLIENT_SECRET"]
sub, rg = "33333333-4444-5555-6666-777777777777", "pysignin"


def check(ok, what):
    if not ok:
        print("FAILED:", what)
        sys.exit(1)
    print("ok:", what)


def rotate(cred, name):
    ml = MachineLearningServicesMgmtClient(cred, sub, base_url=server)
    ml.workspaces.begin_create_or_update(rg, name, {"location": "eastus"}).result()
    ml.online_endpoints.begin_create_or_update(
        rg, name, name + "-ep", {"location": "eastus", "properties": {"authMode": "Key"}}).result()
    k0 = ml.online_endpoints.list_keys(rg, name, name + "-ep")
    ml.online_endpoints.begin_regenerate_keys(rg, name, name + "-ep", {"keyType": "Primary"}).result()
    k1 = ml.online_endpoints.list_keys(rg, name, name + "-ep")
    return k1.primary_key != k0.primary_key and k1.secondary_key == k0.secondary_key


# The tenant GUID with instance discovery off: this beta of azure-identity
# names the option instance_discovery (later versions:
# disable_instance_discovery=True).
cred = ClientSecretCredential(tenant, client_id, secret, authority=server, instance_discovery=False)
check(rotate(cred, "pyguid"), "ClientSecretCredential(tenant GUID, instance_discovery=False) rotates a key")

# The adfs tenant: MSAL skips instance discovery for it, no option needed.
cred = ClientSecretCredential("adfs", client_id, secret, authority=server)
check(rotate(cred, "pyadfs"), "ClientSecretCredential('adfs') rotates a key")

bad = ClientSecretCredential(tenant, client_id, "wrong-" + "x" * 30, authority=server, instance_discovery=False)
try:
    bad.get_token("https://management.azure.com/.default")
    check(False, "a wrong secret is refused")
except ClientAuthenticationError as e:
    check("AADSTS7000215" in str(e), "a wrong secret is refused with AADSTS7000215")
print("all checks passed")
